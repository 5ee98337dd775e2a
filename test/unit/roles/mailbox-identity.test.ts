import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mailboxIdentity, SCHOOL_MAILBOXES, seedScript } from '../../../roles/dovecot/mailbox-identity.ts';

describe('mailbox identity', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is the same for the same school, account and mailbox, and differs otherwise', () => {
    const a = mailboxIdentity('smknh.sch.id', 'kepsek', 'INBOX');
    expect(a).toEqual(mailboxIdentity('smknh.sch.id', 'kepsek', 'INBOX'));
    expect(a.guid).toMatch(/^[0-9a-f]{32}$/);
    expect(a.uidValidity).toBeGreaterThan(0);
    expect(a.uidValidity).toBeLessThan(2 ** 31);
    const others = [
      mailboxIdentity('smknh.sch.id', 'kepsek', 'Sent'),
      mailboxIdentity('smknh.sch.id', 'guru1', 'INBOX'),
      mailboxIdentity('other.sch.id', 'kepsek', 'INBOX'),
    ];
    for (const other of others) expect(other.guid).not.toBe(a.guid);
  });

  it('seeds the missing mailboxes of a Maildir as Dovecot writes them, and never touches one that exists', () => {
    dir = mkdtempSync(join(tmpdir(), 'play-maildir-'));
    const maildir = join(dir, 'Maildir');
    execFileSync('install', [
      '-d',
      '-m',
      '0700',
      maildir,
      join(maildir, 'cur'),
      join(maildir, 'new'),
      join(maildir, 'tmp'),
    ]);
    // Sent already exists (Dovecot made it): its uidlist must stay as it is.
    execFileSync('install', ['-d', '-m', '0700', join(maildir, '.Sent')]);
    writeFileSync(join(maildir, '.Sent/dovecot-uidlist'), '3 V42 N7 Gffffffffffffffffffffffffffffffff\n');
    const { cmd, done: unless } = seedScript('smknh.sch.id', { name: 'root', maildir });
    expect(() => execFileSync('sh', ['-c', unless.text])).toThrow();
    execFileSync('sh', ['-c', cmd.text]);
    execFileSync('sh', ['-c', unless.text]);
    for (const mailbox of SCHOOL_MAILBOXES) {
      const folder = mailbox === 'INBOX' ? maildir : join(maildir, `.${mailbox}`);
      if (mailbox === 'Sent') continue;
      for (const sub of ['cur', 'new', 'tmp']) expect(statSync(join(folder, sub)).isDirectory()).toBe(true);
      const { guid, uidValidity } = mailboxIdentity('smknh.sch.id', 'root', mailbox);
      expect(readFileSync(join(folder, 'dovecot-uidlist'), 'utf8')).toBe(`3 V${uidValidity} N1 G${guid}\n`);
      expect(statSync(join(folder, 'dovecot-uidlist')).mode & 0o777).toBe(0o600);
      expect(existsSync(join(folder, 'maildirfolder'))).toBe(mailbox !== 'INBOX');
    }
    expect(readFileSync(join(maildir, '.Sent/dovecot-uidlist'), 'utf8')).toBe(
      '3 V42 N7 Gffffffffffffffffffffffffffffffff\n',
    );
  });
});
