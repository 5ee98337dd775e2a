import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../src/connection/sh.ts';
import { LAB_HOSTS } from '../lab/config.ts';
import { BACKUP_HELPER, BACKUP_STORE, RESTORED_FOLDER } from '../../roles/backup/index.ts';
import { EXPUNGED_MAILBOX } from '../../roles/dovecot/index.ts';
import { client, password, token } from './support/mail-client.ts';
import { stdoutOf } from './support/hosts.ts';
import { freshLab } from './support/lab.ts';
import { play, playJson } from './support/play.ts';
import { until } from './support/wait.ts';

const LAB = ['-i', 'inventory/lab.ts'];
/** A repository's part of the backup row after a good night: its newest snapshot and a passed drill. */
const BACKED_UP = (repository: string) =>
  `${repository}: newest \\d+ min ago \\(snapshot [0-9a-f]{8}, [\\d.]+ [KMG]?B stored\\), drill ok \\d+ min ago`;
/** `npx play restore` of guru2's mail on the lab, and the flags that make it a dry run that says whether it would change. */
const RESTORE_GURU2 = ['playbooks/restore.ts', ...LAB, '-e', 'account=guru2'];
const UNDO_GURU2 = [...RESTORE_GURU2, '-e', 'from=expunged'];
const CHECK = ['--check', '--detailed-exitcode'];
const [PRIMARY, BACKUP] = LAB_HOSTS;

// A mail client for what this file does to guru2's mailbox over IMAPS: append messages into a folder (made when
// missing), expunge every message of INBOX, delete a folder. Run in lab-client; the request comes on stdin.
const IMAP = String.raw`
import imaplib, json, ssl, sys
req = json.load(sys.stdin)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL(req['host'], 993, ssl_context=ctx)
m.login(req['user'], req['password'])
if req['op'] == 'append':
    for folder, messages in req['folders'].items():
        if folder != 'INBOX': m.create(folder)
        for text in messages:
            typ, _ = m.append(folder, '', None, text.replace('\n', '\r\n').encode())
            assert typ == 'OK', typ
elif req['op'] == 'expunge-all':
    m.select('INBOX')
    m.store('1:*', '+FLAGS', '(\\Deleted)')
    m.expunge()
elif req['op'] == 'expunge-subject':
    m.select('INBOX')
    found = m.search(None, 'SUBJECT', '"%s"' % req['subject'])[1][0].split()
    assert found, 'nothing in INBOX with that subject'
    m.store(b','.join(found).decode(), '+FLAGS', '(\\Deleted)')
    m.expunge()
elif req['op'] == 'delete':
    typ, data = m.delete(req['folder'])
    assert typ == 'OK', data
listed = [line.decode().rsplit(' ', 1)[-1].strip('"') for line in m.list()[1]]
m.logout()
print(json.dumps({'folders': listed}))
`;

/** Does one thing to guru2's mailbox over IMAPS at the primary; returns the folders the client then lists. */
async function imap(request: Record<string, unknown>): Promise<{ folders: string[] }> {
  const done = await client(['/usr/bin/python3', '-c', IMAP], {
    stdin: JSON.stringify({ host: PRIMARY.address, user: 'guru2', password: password('guru2'), ...request }),
  });
  expect(done.code, done.output).toBe(0);
  return JSON.parse(done.stdout.trim().split('\n').at(-1) ?? '') as { folders: string[] };
}

/**
 * Every message of an account on a server, as the account sees it: its folder, Message-ID and a hash of its body,
 * sorted. The hidden folder of expunged mail (lazy_expunge's) is not the user's, so it is left out.
 */
async function mailOf(host: string, account: string): Promise<string[]> {
  const rows = JSON.parse(
    await stdoutOf(host, sh`doveadm -f json fetch -u ${account} 'mailbox hdr.message-id body' ALL`),
  ) as Record<string, string>[];
  return rows
    .filter((r) => r.mailbox !== EXPUNGED_MAILBOX)
    .map(
      (r) =>
        `${r.mailbox} ${r['hdr.message-id'].trim()} ${createHash('sha256').update(r.body).digest('hex').slice(0, 16)}`,
    )
    .sort();
}

/** kepsek's whole mailbox on a server, every message's full text, as one hash: it must not change. */
async function kepsekDigest(host: string): Promise<string> {
  const text = await stdoutOf(host, sh`doveadm -f flow fetch -u kepsek 'mailbox guid flags text' ALL`);
  return createHash('sha256').update(text).digest('hex');
}

interface BackupRow {
  check: string;
  host?: string;
  ok: boolean;
  detail: string;
}

async function backupRows(): Promise<BackupRow[]> {
  const result = await play(['verify', 'playbooks/backup.ts', ...LAB, '--json']);
  return (JSON.parse(result.stdout) as { rows: BackupRow[] }).rows.filter((r) => r.check === 'backup');
}

/** Zeroes each file it is given, its size kept (a failing disk's answer). */
const DAMAGE = `
import os, sys
for path in sys.argv[1:]:
    size = os.path.getsize(path)
    with open(path, 'wb') as f:
        f.write(bytes(size))
`;

const message = (id: string, subject: string, body: string) =>
  `From: Guru Dua <guru2@smknh.sch.id>\nTo: guru2@smknh.sch.id\nSubject: ${subject}\nMessage-ID: <${id}@lab.test>\n\n${body}\n`;

describe('backups: a teacher deletes mail; npx play restore brings it back on both servers', () => {
  beforeAll(() => freshLab({ from: 'site' }), 1_500_000);

  it('play verify shows each server backing up to the other and off-site (sftp on lab-client, port 2222): none yet before the first night, then the snapshots', async () => {
    for (const row of await backupRows())
      expect(row).toMatchObject({ ok: true, detail: expect.stringContaining('peer: none yet') });
    const backup = await playJson(['playbooks/backup.ts', ...LAB]);
    expect(backup.code, backup.stdout).toBe(0);
    const rows = await backupRows();
    expect(rows.map((r) => r.host)).toEqual([PRIMARY.name, BACKUP.name]);
    for (const row of rows)
      expect(row).toMatchObject({
        ok: true,
        detail: expect.stringMatching(new RegExp(`^${['peer', 'offsite'].map(BACKED_UP).join('; ')}$`)),
      });
  });

  it('every message expunged and a folder deleted, then restored: the same Message-IDs and bodies on both servers; kepsek untouched; --check shows it first', async () => {
    const t = token();
    await imap({
      op: 'append',
      folders: {
        INBOX: [1, 2, 3].map((i) => message(`inbox-${i}-${t}`, `Rapor ${i} ${t}`, `nilai rapor ${i} ${t}`)),
        [`Projects-${t}`]: [1, 2].map((i) => message(`project-${i}-${t}`, `Proyek ${i} ${t}`, `lampiran proyek ${i}`)),
      },
    });
    await until(
      'the messages on the backup too',
      async () => (await mailOf(BACKUP.name, 'guru2')).length === (await mailOf(PRIMARY.name, 'guru2')).length,
      30_000,
    );
    const before = await mailOf(PRIMARY.name, 'guru2');
    expect(before.filter((m) => m.includes(t))).toHaveLength(5);
    const kepsek = { primary: await kepsekDigest(PRIMARY.name), backup: await kepsekDigest(BACKUP.name) };
    const backup = await playJson(['playbooks/backup.ts', ...LAB]);
    expect(backup.code).toBe(0);

    await imap({ op: 'expunge-all' });
    await imap({ op: 'delete', folder: `Projects-${t}` });
    for (const host of [PRIMARY.name, BACKUP.name])
      await until(
        `guru2's mail gone on ${host}`,
        async () => !(await mailOf(host, 'guru2')).some((m) => m.includes(t)),
        30_000,
      );

    const check = await play([...RESTORE_GURU2, ...CHECK]);
    expect(check.code, check.stdout + check.stderr).toBe(3);
    expect(check.stdout).toMatch(
      new RegExp(
        `would change \\| restore the mail of guru2 \\(restore 5 messages of guru2 from snapshot [0-9a-f]{8} \\([^)]+, peer\\): INBOX 3, Projects-${t} 2\\)`,
      ),
    );
    expect((await mailOf(PRIMARY.name, 'guru2')).some((m) => m.includes(t))).toBe(false);

    const restored = await play(RESTORE_GURU2);
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    for (const host of [PRIMARY.name, BACKUP.name]) {
      await until(
        `guru2's mail back on ${host}`,
        async () => (await mailOf(host, 'guru2')).filter((m) => m.includes(t)).length >= 5,
        60_000,
      );
      expect(await mailOf(host, 'guru2'), `guru2 on ${host}`).toEqual(before);
    }
    expect({ primary: await kepsekDigest(PRIMARY.name), backup: await kepsekDigest(BACKUP.name) }).toEqual(kepsek);

    // Nothing left to bring back: a second restore changes nothing.
    const again = await play([...RESTORE_GURU2, ...CHECK]);
    expect(again.code, again.stdout).toBe(0);
  });

  it('undo without a backup: mail expunged a moment ago comes back from the hidden folder (lazy_expunge) into Restored, on both servers; the client never lists that folder; a second run finds nothing', async () => {
    const t = token();
    await imap({
      op: 'append',
      folders: {
        INBOX: [1, 2].map((i) => message(`undo-${i}-${t}`, `Undangan ${i} ${t}`, `undangan rapat ${i} ${t}`)),
      },
    });
    const mine = async (host: string) => (await mailOf(host, 'guru2')).filter((m) => m.includes(t));
    await until('the messages on the backup too', async () => (await mine(BACKUP.name)).length === 2, 30_000);
    const before = await mine(PRIMARY.name);
    expect(before.map((m) => m.split(' ')[0])).toEqual(['INBOX', 'INBOX']);

    const { folders } = await imap({ op: 'expunge-subject', subject: t });
    expect(folders).toContain('INBOX');
    expect(folders, 'the folders the client lists').not.toContain(EXPUNGED_MAILBOX);
    for (const host of [PRIMARY.name, BACKUP.name])
      await until(`guru2's mail gone on ${host}`, async () => (await mine(host)).length === 0, 30_000);

    const check = await play([...UNDO_GURU2, ...CHECK]);
    expect(check.code, check.stdout + check.stderr).toBe(3);
    expect(check.stdout).toContain(
      `restore the mail of guru2 (restore 2 messages of guru2 from its expunged mail: ${RESTORED_FOLDER} 2)`,
    );
    const restored = await play(UNDO_GURU2);
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    const back = before.map((m) => m.replace(/^INBOX /, `${RESTORED_FOLDER} `));
    for (const host of [PRIMARY.name, BACKUP.name])
      await until(
        `guru2's mail back in ${RESTORED_FOLDER} on ${host}`,
        async () => {
          const now = await mine(host);
          return now.length === 2 && now.join() === back.join();
        },
        30_000,
      );
    expect((await imap({ op: 'list' })).folders).toContain(RESTORED_FOLDER);
    const again = await play([...UNDO_GURU2, ...CHECK]);
    expect(again.code, again.stdout).toBe(0);
  });

  it('-e at= takes an older snapshot: mail that came after it is not restored', async () => {
    const t = token();
    await imap({ op: 'append', folders: { INBOX: [message(`old-${t}`, `Lama ${t}`, 'lama')] } });
    await playJson(['playbooks/backup.ts', ...LAB]);
    const between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await imap({ op: 'append', folders: { INBOX: [message(`new-${t}`, `Baru ${t}`, 'baru')] } });
    await playJson(['playbooks/backup.ts', ...LAB]);
    await imap({ op: 'expunge-all' });
    for (const host of [PRIMARY.name, BACKUP.name])
      await until(
        `guru2's INBOX empty on ${host}`,
        async () => !(await mailOf(host, 'guru2')).some((m) => m.startsWith('INBOX ')),
        30_000,
      );
    const restored = await play([...RESTORE_GURU2, '-e', `at=${between}`]);
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    await until(
      'the older mail back on the backup',
      async () => (await mailOf(BACKUP.name, 'guru2')).some((m) => m.includes(`old-${t}`)),
      60_000,
    );
    for (const host of [PRIMARY.name, BACKUP.name]) {
      const mail = await mailOf(host, 'guru2');
      expect(
        mail.some((m) => m.includes(`old-${t}`)),
        host,
      ).toBe(true);
      expect(
        mail.some((m) => m.includes(`new-${t}`)),
        host,
      ).toBe(false);
    }
  });

  it("off-site: with the other server's copy gone (its disk died), the restore takes the off-site repository alone and says so", async () => {
    const t = token();
    const mine = [message(`offsite-${t}`, `luar ${t}`, 'only off-site now')];
    await imap({ op: 'append', folders: { INBOX: mine } });
    const backup = await playJson(['playbooks/backup.ts', ...LAB, '-l', PRIMARY.name]);
    expect(backup.code, backup.stdout).toBe(0);
    const before = await mailOf(PRIMARY.name, 'guru2');
    expect(before.some((m) => m.includes(`<offsite-${t}@lab.test>`))).toBe(true);
    await stdoutOf(BACKUP.name, sh`rm -rf ${`${BACKUP_STORE}/${PRIMARY.name}`}`);
    await imap({ op: 'expunge-subject', subject: `luar ${t}` });
    await until(
      'the expunge replicated',
      async () => !(await mailOf(BACKUP.name, 'guru2')).some((m) => m.includes(`<offsite-${t}@lab.test>`)),
      60_000,
    );
    const restored = await play(RESTORE_GURU2);
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/, offsite\)/);
    for (const host of [PRIMARY.name, BACKUP.name])
      await until(
        `guru2's mail back on ${host}`,
        async () => JSON.stringify(await mailOf(host, 'guru2')) === JSON.stringify(before),
        60_000,
      );
    // Asked for the peer's copy alone, it says that copy is gone.
    const peerOnly = await play([...RESTORE_GURU2, '-e', 'repository=peer']);
    expect(peerOnly.code).toBe(1);
    expect(peerOnly.stdout + peerOnly.stderr).toContain('nothing to restore from: peer: restic snapshots');
    // The next night makes the other server's copy afresh.
    const again = await playJson(['playbooks/backup.ts', ...LAB, '-l', PRIMARY.name]);
    expect(again.code, again.stdout).toBe(0);
  });

  it("the restore drill after each backup reads the canary back over Dovecot's IMAP; a damaged repository fails it and play verify turns red", async () => {
    const status = async (host: string) =>
      JSON.parse(await stdoutOf(host, sh`${BACKUP_HELPER} status`)).repositories.peer as {
        snapshot: string;
        drill: { ok: boolean; snapshot?: string; imap?: boolean; error?: string };
      };
    for (const host of [PRIMARY.name, BACKUP.name]) {
      const peer = await status(host);
      expect(peer.drill, host).toMatchObject({ ok: true, snapshot: peer.snapshot, imap: true });
    }
    // The primary's repository on the backup server, every pack zeroed (a failing disk).
    await stdoutOf(BACKUP.name, sh`find ${BACKUP_STORE}/${PRIMARY.name}/data -type f -exec python3 -c ${DAMAGE} {} +`);
    const drill = await stdoutOf(PRIMARY.name, sh`${BACKUP_HELPER} drill; echo "exit $?"`);
    expect(drill).toContain('exit 1');
    expect(await status(PRIMARY.name)).toMatchObject({ drill: { ok: false } });
    const [primaryRow, backupRow] = await backupRows();
    expect(primaryRow).toMatchObject({ ok: false, detail: expect.stringContaining('peer: restore drill failed: ') });
    expect(backupRow, backupRow.detail).toMatchObject({ ok: true });
  });

  it('bad input is refused with exit 2 before any host is touched', async () => {
    const unknown = await play(['playbooks/restore.ts', ...LAB, '-e', 'acount=guru2']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('-e acount: is not an extra var of this playbook');
    const missing = await play(['playbooks/restore.ts', ...LAB]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('-e account: is required');
    const time = await play([...RESTORE_GURU2, '-e', 'at=yesterday']);
    expect(time.code).toBe(2);
    expect(time.stderr).toContain('-e at:');
    const expunged = await play([...UNDO_GURU2, '-e', 'at=2026-12-01T08:00:00Z']);
    expect(expunged.code, expunged.stdout + expunged.stderr).toBe(2);
    expect(expunged.stderr).toContain('-e from=expunged takes no folder, at or repository');
  });
});
