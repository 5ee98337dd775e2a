import { createPublicKey, generateKeyPairSync } from 'node:crypto';

/**
 * The school's mail authentication in its own zone: SPF (only the two servers and the VIP send as the school),
 * DMARC (p=reject: a receiver refuses mail that claims the school and passes neither aligned SPF nor aligned
 * DKIM) and the DKIM public key postfix's signing milter (opendkim) matches.
 */
export interface MailAuthSite {
  readonly domain: string;
  /** The addresses mail for the school leaves from: both servers and the VIP. */
  readonly senders: readonly string[];
  readonly dkimSelector: string;
}

/** The SPF record's text. */
export function spfText(site: MailAuthSite): string {
  return `v=spf1 ${site.senders.map((a) => `ip4:${a}`).join(' ')} -all`;
}

/** The DMARC record's text (at `_dmarc.<domain>`). */
export function dmarcText(site: MailAuthSite): string {
  return `v=DMARC1; p=reject; adkim=s; aspf=s; rua=mailto:postmaster@${site.domain}`;
}

/** The DKIM record's text (at `<selector>._domainkey.<domain>`) for an RSA private key in PEM. */
export function dkimText(privateKeyPem: string): string {
  const der = createPublicKey(privateKeyPem).export({ type: 'spki', format: 'der' });
  return `v=DKIM1; k=rsa; p=${der.toString('base64')}`;
}

/** A TXT record's data as a zone file writes it: quoted strings of at most 255 characters each. */
export function txtData(text: string): string {
  const chunks = text.match(/.{1,250}/g) ?? [''];
  return chunks.length === 1 ? `"${chunks[0]}"` : `( ${chunks.map((c) => `"${c}"`).join(' ')} )`;
}

/** A new 2048-bit RSA key for DKIM signing, PKCS#8 PEM (what opendkim reads). */
export function generateDkimKey(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

/** A TXT record as dig +short prints it, back to its text (quotes and the seams between strings removed). */
export function txtFromDig(output: string): string {
  return [...output.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]).join('');
}
