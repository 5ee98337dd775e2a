import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import {
  certificateProblems,
  issuedCertificate,
  selfSignedCertificate,
  type CertificatePair,
} from '../../src/vault/certificate.ts';
import { readVault, writeVault } from '../../src/vault.ts';
import { schoolCertificateNames, schoolSecrets } from '../../roles/school/secrets.ts';
import { LAB_CA_CERTIFICATE, LAB_CA_KEY, LAB_SITE, LAB_VAULT, LAB_VAULT_PASSWORD_FILE, STATE_DIR } from './config.ts';

/** The lab vault's passphrase: made once, random, kept beside the vault (mode 0600, git-ignored state). */
function labPassphrase(): string {
  if (!existsSync(LAB_VAULT_PASSWORD_FILE)) {
    mkdirSync(STATE_DIR, { recursive: true });
    writeFileSync(LAB_VAULT_PASSWORD_FILE, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  }
  return readFileSync(LAB_VAULT_PASSWORD_FILE, 'utf8').replace(/\n$/, '');
}

/** The lab's CA (see {@link LAB_CA_CERTIFICATE}): made once, then read from the state folder. */
function labCertificateAuthority(): CertificatePair {
  if (!existsSync(LAB_CA_CERTIFICATE) || !existsSync(LAB_CA_KEY)) {
    mkdirSync(STATE_DIR, { recursive: true });
    const ca = selfSignedCertificate({ organization: 'play lab', commonName: 'play lab CA', names: [], days: 3650 });
    writeFileSync(LAB_CA_KEY, ca.key, { mode: 0o600 });
    writeFileSync(LAB_CA_CERTIFICATE, ca.certificate);
  }
  return { certificate: readFileSync(LAB_CA_CERTIFICATE, 'utf8'), key: readFileSync(LAB_CA_KEY, 'utf8') };
}

/**
 * The lab's vault, made by the code `play init` uses (the school's secret catalog, written encrypted), with the
 * school's certificate issued by the lab's CA (with a CRL URL, as a public CA's would be) instead of self-signed.
 * Kept across lab:up runs: only what is missing or no longer fits (a certificate of another CA, a replication
 * certificate not naming both servers) is made again.
 */
export function writeLabVault(): void {
  const passphrase = labPassphrase();
  const kept = existsSync(LAB_VAULT) ? readVault(LAB_VAULT, passphrase) : {};
  const ca = labCertificateAuthority();
  const servers = [LAB_SITE.primaryAddress, LAB_SITE.backupAddress];
  const tlsFits = kept.tls_key && kept.tls_certificate?.endsWith(ca.certificate);
  const replicationFits =
    kept.replication_key &&
    kept.replication_certificate &&
    certificateProblems({ certificate: kept.replication_certificate, key: kept.replication_key }, servers).length === 0;
  const fresh = schoolSecrets(LAB_SITE, {
    certificate: tlsFits
      ? { certificate: kept.tls_certificate, key: kept.tls_key }
      : issuedCertificate(
          {
            organization: LAB_SITE.domain,
            commonName: `mail.${LAB_SITE.domain}`,
            names: schoolCertificateNames(LAB_SITE),
            days: 825,
          },
          ca,
          'http://ca.lab.test/lab.crl',
        ),
  });
  const values = { ...fresh, ...kept };
  if (!replicationFits)
    Object.assign(values, {
      replication_certificate: fresh.replication_certificate,
      replication_key: fresh.replication_key,
    });
  if (!tlsFits) Object.assign(values, { tls_certificate: fresh.tls_certificate, tls_key: fresh.tls_key });
  if (JSON.stringify(values) !== JSON.stringify(kept)) writeVault(LAB_VAULT, values, passphrase);
}

let cached: Record<string, string> | undefined;

/**
 * A secret of the lab's vault, for the tests' own clients (an account's password, the TSIG key); read once per
 * process, never written anywhere.
 *
 * @example
 * swaks(['--auth-password', labSecret('account_guru1')])
 */
export function labSecret(name: string): string {
  cached ??= readVault(LAB_VAULT, labPassphrase());
  const value = cached[name];
  if (!value) throw new Error(`the lab vault has no ${name}`);
  return value;
}
