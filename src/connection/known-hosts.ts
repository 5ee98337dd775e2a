import { createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** One key line of an OpenSSH known_hosts file. */
export interface KnownHostKey {
  readonly type: string;
  readonly key: Buffer;
  readonly revoked: boolean;
}

/** The verdict on a key a server presented. */
export type HostKeyVerdict = 'known' | 'unknown' | 'changed' | 'revoked';

/** The name a host has in known_hosts: `host` on port 22, `[host]:port` elsewhere (as OpenSSH writes it). */
export function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

function globToRegExp(pattern: string): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 'i');
}

function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of field.split(',')) {
    if (pattern.startsWith('!')) {
      if (globToRegExp(pattern.slice(1)).test(name)) return false;
    } else if (globToRegExp(pattern).test(name)) {
      matched = true;
    }
  }
  return matched;
}

/**
 * The keys a known_hosts text holds for a host name (`host` or `[host]:port`).
 *
 * @example
 * keysFor(readFileSync('~/.ssh/known_hosts', 'utf8'), '[127.0.0.1]:2222')
 */
export function keysFor(knownHostsText: string, name: string): KnownHostKey[] {
  const keys: KnownHostKey[] = [];
  for (const rawLine of knownHostsText.split('\n')) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0].startsWith('@')) {
      const marker = fields.shift();
      if (marker === '@cert-authority') continue;
      revoked = marker === '@revoked';
    }
    const [hosts, type, key] = fields;
    if (!hosts || !type || !key || !hostFieldMatches(hosts, name)) continue;
    keys.push({ type, key: Buffer.from(key, 'base64'), revoked });
  }
  return keys;
}

/** Compares a presented key blob with what known_hosts holds for the host. */
export function verdictFor(known: readonly KnownHostKey[], presented: Buffer): HostKeyVerdict {
  if (known.some((k) => k.revoked && k.key.equals(presented))) return 'revoked';
  const trusted = known.filter((k) => !k.revoked);
  if (trusted.some((k) => k.key.equals(presented))) return 'known';
  return trusted.length === 0 ? 'unknown' : 'changed';
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string {
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('ascii');
}

/**
 * A known_hosts file: looks keys up, and appends a new one (ssh's `accept-new`).
 *
 * @example
 * const file = new KnownHostsFile(`${homedir()}/.ssh/known_hosts`);
 * file.verdict('[127.0.0.1]:2222', presentedKey)
 */
export class KnownHostsFile {
  constructor(readonly path: string) {}

  private text(): string {
    return existsSync(this.path) ? readFileSync(this.path, 'utf8') : '';
  }

  keys(name: string): KnownHostKey[] {
    return keysFor(this.text(), name);
  }

  verdict(name: string, presented: Buffer): HostKeyVerdict {
    return verdictFor(this.keys(name), presented);
  }

  add(name: string, presented: Buffer): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const text = this.text();
    const prefix = text && !text.endsWith('\n') ? '\n' : '';
    appendFileSync(this.path, `${prefix}${name} ${keyTypeOf(presented)} ${presented.toString('base64')}\n`, { mode: 0o600 });
  }
}
