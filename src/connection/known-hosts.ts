import { createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
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
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 'i');
}

/** A known_hosts host field (patterns with `*`, `?` and `!`, or a hashed name) as a test of a host name. */
function hostFieldTest(field: string): (name: string) => boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return () => false;
    const key = Buffer.from(salt, 'base64');
    return (name) => createHmac('sha1', key).update(name).digest('base64') === hash;
  }
  const patterns = field.split(',').map((pattern) => {
    const negated = pattern.startsWith('!');
    return { negated, regExp: globToRegExp(negated ? pattern.slice(1) : pattern) };
  });
  return (name) => {
    let matched = false;
    for (const { negated, regExp } of patterns) {
      if (!regExp.test(name)) continue;
      if (negated) return false;
      matched = true;
    }
    return matched;
  };
}

/** One key line of a known_hosts text, with its host field ready to test names against. */
interface KnownHostLine extends KnownHostKey {
  readonly matches: (name: string) => boolean;
}

/** The key lines of a known_hosts text (comments, `@cert-authority` lines and lines without a key left out). */
function parseKnownHosts(knownHostsText: string): KnownHostLine[] {
  const lines: KnownHostLine[] = [];
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
    if (!hosts || !type || !key) continue;
    lines.push({ type, key: Buffer.from(key, 'base64'), revoked, matches: hostFieldTest(hosts) });
  }
  return lines;
}

const keysOf = (lines: readonly KnownHostLine[], name: string): KnownHostKey[] =>
  lines.filter((line) => line.matches(name)).map(({ type, key, revoked }) => ({ type, key, revoked }));

/**
 * The keys a known_hosts text holds for a host name (`host` or `[host]:port`).
 *
 * @example
 * keysFor(readFileSync('~/.ssh/known_hosts', 'utf8'), '[127.0.0.1]:2222')
 */
export function keysFor(knownHostsText: string, name: string): KnownHostKey[] {
  return keysOf(parseKnownHosts(knownHostsText), name);
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

/** A parsed known_hosts file and the stat (inode, size, mtime) it was parsed at. */
interface ParsedFile {
  readonly stamp: string;
  readonly lines: KnownHostLine[];
  /** The keys already looked up, by host name (a connection looks its name up twice). */
  readonly keysByName: Map<string, KnownHostKey[]>;
}

/**
 * A known_hosts file: looks keys up, and appends a new one (ssh's `accept-new`). It is parsed once per object:
 * a run that connects to 100 hosts listed in one file shares one object and parses the file once, not twice per
 * host. A file whose inode, size or mtime changed is parsed again.
 *
 * @example
 * const file = new KnownHostsFile(`${homedir()}/.ssh/known_hosts`);
 * file.verdict('[127.0.0.1]:2222', presentedKey)
 */
export class KnownHostsFile {
  #parsed: ParsedFile | undefined;
  constructor(readonly path: string) {}

  private parsed(): ParsedFile | undefined {
    const stat = statSync(this.path, { throwIfNoEntry: false, bigint: true });
    if (!stat) return undefined;
    const stamp = `${stat.ino}:${stat.size}:${stat.mtimeNs}`;
    if (this.#parsed?.stamp === stamp) return this.#parsed;
    this.#parsed = { stamp, lines: parseKnownHosts(readFileSync(this.path, 'utf8')), keysByName: new Map() };
    return this.#parsed;
  }

  keys(name: string): KnownHostKey[] {
    const parsed = this.parsed();
    if (!parsed) return [];
    const known = parsed.keysByName.get(name);
    if (known) return known;
    const keys = keysOf(parsed.lines, name);
    parsed.keysByName.set(name, keys);
    return keys;
  }

  verdict(name: string, presented: Buffer): HostKeyVerdict {
    return verdictFor(this.keys(name), presented);
  }

  add(name: string, presented: Buffer): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const text = existsSync(this.path) ? readFileSync(this.path, 'utf8') : '';
    const prefix = text && !text.endsWith('\n') ? '\n' : '';
    appendFileSync(this.path, `${prefix}${name} ${keyTypeOf(presented)} ${presented.toString('base64')}\n`, {
      mode: 0o600,
    });
  }
}
