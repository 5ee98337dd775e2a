/**
 * Measures the school's backups in the lab at a school's size: 5 accounts with 2,000 messages each (text mail of
 * 2 to 30 KB, one in twenty with a 300 KB attachment; random bytes, which compress as badly as real attachments).
 * Prints the mail's size on disk, then on the primary: the first backup (everything), a nightly one (50 new
 * messages per account), the repository's size on the backup server, and `npx play restore` of one account whose
 * INBOX was emptied (until both servers have it back). Each backup run is the whole nightly job: backup, check of a
 * thirtieth of the repository, restore drill.
 *
 *   npm run bench:backup      (brings the lab up, deploys the site, takes the lab down; PLAY_KEEP_LAB=1 keeps it)
 */
import { raw, sh } from '../src/connection/sh.ts';
import { BACKUP_SERVICE, BACKUP_STORE } from '../roles/backup/index.ts';
import { REPLICATOR } from '../roles/dovecot/replicator-status.ts';
import { LAB_HOSTS } from '../test/lab/config.ts';
import { stdoutOf } from '../test/e2e/support/hosts.ts';
import { play } from '../test/e2e/support/play.ts';
import { until } from '../test/e2e/support/wait.ts';
import { inLab } from './lab-session.ts';
import { settle, SITE } from './settle.ts';

const [PRIMARY, BACKUP] = LAB_HOSTS;
const ACCOUNTS = ['kepsek', 'guru1', 'guru2', 'guru3', 'guru4'];
const MESSAGES = 2_000;
const NIGHTLY = 50;

// Writes COUNT messages into an account's INBOX as Dovecot names them (straight into the Maildir: doveadm save
// would take minutes), owned by the account. Then Dovecot indexes them (force-resync).
const FILL = String.raw`
import os, pwd, random, sys, time
account, count, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
user = pwd.getpwnam(account)
cur = os.path.join(user.pw_dir, 'Maildir', 'cur')
os.makedirs(cur, exist_ok=True)
for i in range(start, start + count):
    size = random.randint(2000, 30000)
    body = os.urandom(size * 3 // 4).hex()[:size]
    attachment = ''
    if i % 20 == 0:
        import base64
        attachment = '\n--b\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n' + base64.encodebytes(os.urandom(300000)).decode()
    text = ('From: bench@dinas.test\nTo: %s@smknh.sch.id\nSubject: bench %d\nMessage-ID: <bench-%s-%d@lab.test>\n'
            'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n%s%s\n--b--\n'
            % (account, i, account, i, body, attachment))
    name = '%d.M%dP%d.primary,S=%d:2,S' % (int(time.time()), i, os.getpid(), len(text))
    path = os.path.join(cur, name)
    with open(path, 'w') as f:
        f.write(text)
    os.chown(path, user.pw_uid, user.pw_gid)
`;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

async function timed(what: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await what();
  return performance.now() - started;
}

/** Fills every account on the primary and waits until the backup server has it all too. */
async function fill(count: number, start: number): Promise<void> {
  for (const account of ACCOUNTS) {
    await stdoutOf(
      PRIMARY.name,
      sh`python3 -c ${FILL} ${account} ${String(count)} ${String(start)} && doveadm force-resync -u ${account} INBOX && ${raw(REPLICATOR)} replicate -f ${account}`,
    );
  }
  // Messages start to start + count - 1 are written: that many and those before them.
  const total = start - 1 + count;
  for (const account of ACCOUNTS)
    await until(
      `${account}'s ${total} messages on the backup server`,
      async () => (await messagesIn(BACKUP.name, account)) >= total,
      600_000,
      { intervalMs: 2000 },
    );
}

/** How many messages an account's INBOX holds on a server (`messages=N` on Dovecot 2.3, `INBOX messages=N` on 2.4). */
async function messagesIn(host: string, account: string): Promise<number> {
  return Number((await stdoutOf(host, sh`doveadm mailbox status -u ${account} messages INBOX`)).split('=').pop());
}

async function backUp(): Promise<number> {
  return timed(() => stdoutOf(PRIMARY.name, sh`systemctl start ${BACKUP_SERVICE}`));
}

await inLab(async () => {
  const deployed = await play(SITE);
  if (deployed.code !== 0) throw new Error(`the site did not deploy: ${deployed.stderr.slice(-2000)}`);
  await settle();
  await fill(MESSAGES, 1);
  const mail = Number((await stdoutOf(PRIMARY.name, sh`du -sb --total /home/*/Maildir | tail -n 1 | cut -f1`)).trim());
  const first = await backUp();
  await fill(NIGHTLY, MESSAGES + 1);
  const nightly = await backUp();
  const repository = Number(
    (await stdoutOf(BACKUP.name, sh`du -sb ${`${BACKUP_STORE}/${PRIMARY.name}`} | cut -f1`)).trim(),
  );
  await stdoutOf(PRIMARY.name, sh`doveadm expunge -u guru2 mailbox INBOX all && ${raw(REPLICATOR)} replicate -f guru2`);
  await until(
    "guru2's INBOX empty on the backup server",
    async () => (await messagesIn(BACKUP.name, 'guru2')) === 0,
    300_000,
  );
  const restore = await timed(async () => {
    const restored = await play(['playbooks/restore.ts', '-i', 'inventory/lab.ts', '-e', 'account=guru2']);
    if (restored.code !== 0) throw new Error(`the restore failed: ${restored.stderr.slice(-2000)}`);
    await until(
      "guru2's INBOX back on the backup server",
      async () => (await messagesIn(BACKUP.name, 'guru2')) === MESSAGES + NIGHTLY,
      600_000,
      { intervalMs: 1000 },
    );
  });
  console.log(
    `backups of ${ACCOUNTS.length} accounts x ${MESSAGES} messages (${megabytes(mail)} of Maildir on the primary):`,
  );
  console.log(`  first backup (all of it), with check and drill:        ${seconds(first)}`);
  console.log(`  nightly backup (${NIGHTLY} new messages per account):      ${seconds(nightly)}`);
  console.log(`  repository on the backup server after both:            ${megabytes(repository)}`);
  console.log(
    `  npx play restore of guru2's ${MESSAGES + NIGHTLY} messages, until both servers have them: ${seconds(restore)}`,
  );
});
