import { execFileSync, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KnownHostsFile, keysFor, keyTypeOf, knownHostsName, verdictFor } from '../../../src/connection/known-hosts.ts';

/** A fake but well-formed SSH public key blob: string type, then random bytes. */
function blob(type: string, seed = randomBytes(32)): Buffer {
  const name = Buffer.from(type, 'ascii');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length);
  const keyLength = Buffer.alloc(4);
  keyLength.writeUInt32BE(seed.length);
  return Buffer.concat([length, name, keyLength, seed]);
}

const keyA = blob('ssh-ed25519');
const keyB = blob('ssh-ed25519');
const keyC = blob('ecdsa-sha2-nistp256');
const b64 = (key: Buffer) => key.toString('base64');

function hashedName(name: string, salt = randomBytes(20)): string {
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

const hasSshKeygen = spawnSync('ssh-keygen', ['-?']).error === undefined;

describe('knownHostsName', () => {
  it.each([
    ['example.org', 22, 'example.org'],
    ['127.0.0.1', 2222, '[127.0.0.1]:2222'],
    ['10.0.0.5', 22, '10.0.0.5'],
  ])('%s port %d is %s', (address, port, name) => {
    expect(knownHostsName(address, port)).toBe(name);
  });
});

describe('keyTypeOf', () => {
  it('reads the type string of a key blob', () => {
    expect(keyTypeOf(keyA)).toBe('ssh-ed25519');
    expect(keyTypeOf(keyC)).toBe('ecdsa-sha2-nistp256');
  });
});

describe('keysFor', () => {
  const text = [
    '# a comment line',
    '',
    `web1.example.org ssh-ed25519 ${b64(keyA)}`,
    `[127.0.0.1]:2222 ssh-ed25519 ${b64(keyB)} comment here`,
    `db1,db2,10.0.0.7 ssh-ed25519 ${b64(keyC)}`,
    `*.lab.example,!secret.lab.example ssh-ed25519 ${b64(keyA)}`,
    `${hashedName('hashed.example.org')} ssh-ed25519 ${b64(keyB)}`,
    `${hashedName('[hashed.example.org]:2200')} ssh-ed25519 ${b64(keyC)}`,
    `@revoked old.example.org ssh-ed25519 ${b64(keyC)}`,
    `@cert-authority *.example.org ssh-ed25519 ${b64(keyB)}`,
    `   indented.example.org   ssh-ed25519   ${b64(keyA)}   `,
    'broken-line-without-key',
  ].join('\n');

  it.each([
    ['web1.example.org', [keyA]],
    ['WEB1.example.org', [keyA]],
    ['web1', []],
    ['[127.0.0.1]:2222', [keyB]],
    ['127.0.0.1', []],
    ['[127.0.0.1]:2223', []],
    ['db1', [keyC]],
    ['db2', [keyC]],
    ['10.0.0.7', [keyC]],
    ['db3', []],
    ['node.lab.example', [keyA]],
    ['secret.lab.example', []],
    ['hashed.example.org', [keyB]],
    ['[hashed.example.org]:2200', [keyC]],
    ['other.example.org', []],
    ['indented.example.org', [keyA]],
    ['broken-line-without-key', []],
  ])('%s has the expected keys', (name, expected) => {
    const keys = keysFor(text, name);
    expect(keys.map((k) => k.key)).toEqual(expected);
    expect(keys.every((k) => !k.revoked)).toBe(true);
  });

  it('marks @revoked keys as revoked', () => {
    expect(keysFor(text, 'old.example.org')).toEqual([{ type: 'ssh-ed25519', key: keyC, revoked: true }]);
  });

  it('skips @cert-authority lines', () => {
    // *.example.org would match web1.example.org, but only as a CA: web1 keeps only its own key.
    expect(keysFor(text, 'web1.example.org').map((k) => k.key)).toEqual([keyA]);
    expect(keysFor(text, 'anything.example.org')).toEqual([]);
  });

  it('keeps the type of each key', () => {
    expect(keysFor(text, 'db1')[0].type).toBe('ssh-ed25519');
  });

  it('does not treat regexp characters in patterns as regexp', () => {
    const t = `a.b ssh-ed25519 ${b64(keyA)}\nx+y ssh-ed25519 ${b64(keyB)}`;
    expect(keysFor(t, 'axb')).toEqual([]);
    expect(keysFor(t, 'a.b').map((k) => k.key)).toEqual([keyA]);
    expect(keysFor(t, 'x+y').map((k) => k.key)).toEqual([keyB]);
    expect(keysFor(t, 'xxy')).toEqual([]);
  });

  it('matches ? as one character', () => {
    const t = `web? ssh-ed25519 ${b64(keyA)}`;
    expect(keysFor(t, 'web1')).toHaveLength(1);
    expect(keysFor(t, 'web12')).toHaveLength(0);
  });
});

describe.skipIf(!hasSshKeygen)('hashed entries written by ssh-keygen -H', () => {
  let dir: string;
  let pub: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'play-kh-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')]);
    pub = readFileSync(join(dir, 'key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    writeFileSync(join(dir, 'known_hosts'), `plain.example.org ${pub}\n[10.1.2.3]:2222 ${pub}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', join(dir, 'known_hosts')], { stdio: 'ignore' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are hashed, and found by name', () => {
    const text = readFileSync(join(dir, 'known_hosts'), 'utf8');
    expect(text).not.toContain('plain.example.org');
    expect(
      text
        .split('\n')
        .filter(Boolean)
        .every((l) => l.startsWith('|1|')),
    ).toBe(true);
    const key = Buffer.from(pub.split(' ')[1], 'base64');
    expect(keysFor(text, 'plain.example.org')).toEqual([{ type: 'ssh-ed25519', key, revoked: false }]);
    expect(keysFor(text, '[10.1.2.3]:2222')).toEqual([{ type: 'ssh-ed25519', key, revoked: false }]);
    expect(keysFor(text, '10.1.2.3')).toEqual([]);
    expect(keysFor(text, 'other.example.org')).toEqual([]);
  });
});

describe('verdictFor', () => {
  const k = (key: Buffer, revoked = false) => ({ type: keyTypeOf(key), key, revoked });
  it.each([
    ['no keys: unknown', [], keyA, 'unknown'],
    ['same key: known', [k(keyA)], keyA, 'known'],
    ['one of several: known', [k(keyB), k(keyA)], keyA, 'known'],
    ['other key: changed', [k(keyB)], keyA, 'changed'],
    ['revoked key: revoked', [k(keyA, true)], keyA, 'revoked'],
    ['revoked even when also listed as trusted', [k(keyA), k(keyA, true)], keyA, 'revoked'],
    ['only a revoked other key: unknown', [k(keyB, true)], keyA, 'unknown'],
    ['revoked other key and a trusted other: changed', [k(keyB, true), k(keyC)], keyA, 'changed'],
  ] as const)('%s', (_, known, presented, verdict) => {
    expect(verdictFor(known, presented)).toBe(verdict);
  });
});

describe('KnownHostsFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'play-khf-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing file knows nothing', () => {
    const file = new KnownHostsFile(join(dir, 'missing', 'known_hosts'));
    expect(file.keys('x')).toEqual([]);
    expect(file.verdict('x', keyA)).toBe('unknown');
  });

  it('add writes a line that keysFor reads back (creating the folder)', () => {
    const path = join(dir, 'sub', '.ssh', 'known_hosts');
    const file = new KnownHostsFile(path);
    file.add('[127.0.0.1]:2222', keyA);
    expect(readFileSync(path, 'utf8')).toBe(`[127.0.0.1]:2222 ssh-ed25519 ${b64(keyA)}\n`);
    expect(keysFor(readFileSync(path, 'utf8'), '[127.0.0.1]:2222')).toEqual([
      { type: 'ssh-ed25519', key: keyA, revoked: false },
    ]);
    expect(file.verdict('[127.0.0.1]:2222', keyA)).toBe('known');
    expect(file.verdict('[127.0.0.1]:2222', keyB)).toBe('changed');
    expect(file.verdict('127.0.0.1', keyA)).toBe('unknown');
  });

  it('reads the file again once another writer changed it after a lookup (appended, or replaced by a rename)', () => {
    const path = join(dir, 'known_hosts_changing');
    writeFileSync(path, `web1 ssh-ed25519 ${b64(keyA)}\n`);
    const file = new KnownHostsFile(path);
    expect(file.verdict('web1', keyA)).toBe('known');
    expect(file.verdict('web2', keyB)).toBe('unknown');
    appendFileSync(path, `web2 ssh-ed25519 ${b64(keyB)}\n`);
    expect(new KnownHostsFile(path).verdict('web2', keyB)).toBe('known');
    writeFileSync(`${path}.new`, `web1 ssh-ed25519 ${b64(keyB)}\n`);
    renameSync(`${path}.new`, path);
    expect(file.verdict('web1', keyA)).toBe('changed');
    expect(file.verdict('web2', keyB)).toBe('unknown');
  });

  it('add appends after a last line without newline', () => {
    const path = join(dir, 'known_hosts_nonl');
    writeFileSync(path, `web1 ssh-ed25519 ${b64(keyB)}`);
    const file = new KnownHostsFile(path);
    file.add('web2', keyC);
    expect(file.keys('web1').map((k) => k.key)).toEqual([keyB]);
    expect(file.keys('web2')).toEqual([{ type: 'ecdsa-sha2-nistp256', key: keyC, revoked: false }]);
  });
});
