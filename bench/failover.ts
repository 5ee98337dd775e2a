/**
 * Measures failover of the school site in the lab: the primary's power cut, and its network link cut, several
 * times each. For every run: how long until the backup holds the VIP, and until a user gets service at the VIP
 * again, probed from lab-client the way their programs use it (an SMTP banner and EHLO on 25, a login over IMAPS,
 * the webmail's login page over HTTPS; a new probe every 0.2 s, each given 1 s). And of the messages sent through
 * the VIP across the fault (a client that retries a refused message, as mail clients and MTAs do): how many the
 * backup lacks while the primary is down (accepted by the primary just before the fault, still on it alone), how
 * many are missing once it is back (lost), and how many are there twice. Prints min, median and max per fault.
 *
 *   npm run bench:failover [-- runs]      (default 5 runs of each; brings the lab up and deploys the site)
 *
 * Times are measured from the moment the fault is made (SIGKILL of the host's PID 1; its veth set down).
 */
import { LAB_HOSTS, LAB_VIP } from '../test/lab/config.ts';
import { linkDown, linkUp, powerCut, powerOn } from '../test/lab/faults.ts';
import { inLab } from './lab-session.ts';
import { answersAtVip, untilVip, vipUserChecks } from '../test/e2e/support/failover.ts';
import { settle, SITE } from './settle.ts';
import { holdsVip } from '../test/e2e/support/hosts.ts';
import { password, py, token } from '../test/e2e/support/mail-client.ts';
import { percentile } from '../test/e2e/support/percentile.ts';
import { play } from '../test/e2e/support/play.ts';
import { until } from '../test/e2e/support/wait.ts';

const runs = Number(process.argv[2] ?? 5);
const [PRIMARY, BACKUP] = LAB_HOSTS;
const DOMAIN = 'smknh.sch.id';
/** Messages sent through the VIP across each fault, one every 0.1 s. */
const MESSAGES = 40;
/** Messages timed from their 250 on the primary to their arrival on the backup. */
const WINDOW_MESSAGES = 100;

interface Sample {
  vip: number;
  smtp: number;
  imaps: number;
  https: number;
  /** Messages the backup lacked while the primary was down. */
  waiting: number;
  /** How long before the fault the oldest of those was accepted (ms; 0 when none). */
  window: number;
  lost: number;
  twice: number;
  /** Of the messages there twice, those the client sent again after an attempt that got no 250 (SMTP's duplicate). */
  twiceResent: number;
}

const FAULTS: Record<string, { make: () => Promise<void> | void; undo: () => Promise<void> | void }> = {
  'power cut': { make: () => powerCut(PRIMARY.name), undo: () => powerOn(PRIMARY.name) },
  'link cut': { make: () => linkDown(PRIMARY.name), undo: () => linkUp(PRIMARY.name) },
};

async function measure(fault: (typeof FAULTS)[string]): Promise<Sample> {
  const subject = `Bench ${token()}`;
  const sending = py<{ sent: { subject: string; at: number; attempts: number }[] }>(
    {
      op: 'send-many',
      host: LAB_VIP,
      user: 'guru1',
      password: password('guru1'),
      from: `guru1@${DOMAIN}`,
      to: `kepsek@${DOMAIN}`,
      subject,
      count: MESSAGES,
      pace: 0.1,
    },
    { timeoutMs: 300_000 },
  );
  await new Promise((r) => setTimeout(r, 1500));
  const at = performance.now();
  const faultAt = Date.now() / 1000;
  const [, vip, answers] = await Promise.all([
    fault.make(),
    untilVip('the backup to hold the VIP', () => holdsVip(BACKUP.name), 30_000, at),
    answersAtVip(vipUserChecks(DOMAIN), at),
  ]);
  const { sent } = await sending;
  const atVip = async () =>
    (
      await py<{ subjects: string[] }>({
        op: 'imaps-subjects',
        host: LAB_VIP,
        user: 'kepsek',
        password: password('kepsek'),
        subject,
      })
    ).subjects;
  const during = new Set(await atVip());
  const waiting = sent.filter((m) => !during.has(m.subject));
  await fault.undo();
  await settle();
  // The primary's queue delivers what it held as soon as it is up; replication brings it to the backup.
  let after: string[] = [];
  await until(
    'every message at the VIP',
    async () => {
      after = await atVip();
      return new Set(after).size >= sent.length;
    },
    120_000,
  ).catch(() => undefined);
  return {
    vip,
    smtp: answers.smtp,
    imaps: answers.imaps,
    https: answers.https,
    waiting: waiting.length,
    window: Math.round(Math.max(0, ...waiting.map((m) => (faultAt - m.at) * 1000))),
    lost: sent.length - new Set(after).size,
    twice: after.length - new Set(after).size,
    twiceResent: new Set(
      after.filter(
        (subject, i) => after.indexOf(subject) !== i && (sent.find((m) => m.subject === subject)?.attempts ?? 0) > 1,
      ),
    ).size,
  };
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median =
    sorted.length % 2
      ? sorted[(sorted.length - 1) / 2]
      : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return [sorted[0], median, sorted[sorted.length - 1]].map((v) => String(Math.round(v))).join(' / ');
}

await inLab(async () => {
  const deployed = await play(SITE);
  if (deployed.code !== 0)
    throw new Error(`deploying the site failed (exit ${deployed.code}):\n${deployed.stdout.slice(-3000)}`);
  await settle();

  // The replication window: from a message's 250 at the primary until the backup has it (kepsek IDLEs there).
  const { ms: window } = await py<{ ms: number[] }>(
    {
      op: 'replication-window',
      host: PRIMARY.address,
      peer: BACKUP.address,
      user: 'guru1',
      password: password('guru1'),
      from: `guru1@${DOMAIN}`,
      to: `kepsek@${DOMAIN}`,
      to_user: 'kepsek',
      to_password: password('kepsek'),
      subject: `Window ${token()}`,
      count: WINDOW_MESSAGES,
      pace: 0.3,
    },
    { timeoutMs: 300_000 },
  );

  const results: Record<string, Sample[]> = {};
  for (const [kind, fault] of Object.entries(FAULTS)) {
    results[kind] = [];
    for (let i = 0; i < runs; i++) {
      const sample = await measure(fault);
      results[kind].push(sample);
      console.log(`${kind} ${i + 1}/${runs}: ${JSON.stringify(sample)}`);
    }
  }

  console.log(`\nfailover of the school site in the lab, ${runs} runs of each (min / median / max)\n`);
  console.log(
    `| fault | VIP on the backup (ms) | SMTP banner + EHLO (ms) | IMAPS login (ms) | webmail page (ms) | on the primary alone during the fault (of ${MESSAGES}) | accepted that long before the fault (ms) | lost after the return | twice after the return | of those, resent after an unanswered attempt |`,
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const [kind, samples] of Object.entries(results)) {
    const column = (key: keyof Sample) => summary(samples.map((s) => s[key]));
    console.log(
      `| ${kind} | ${column('vip')} | ${column('smtp')} | ${column('imaps')} | ${column('https')} | ${column('waiting')} | ${column('window')} | ${column('lost')} | ${column('twice')} | ${column('twiceResent')} |`,
    );
  }

  const sortedWindow = [...window].sort((a, b) => a - b);
  const windowAt = (p: number) => Math.round(percentile(sortedWindow, p));
  console.log(
    `\nreplication window (${window.length} messages, 250 at the primary → on the backup, ms): min ${Math.round(sortedWindow[0])}, p50 ${windowAt(50)}, p90 ${windowAt(90)}, p99 ${windowAt(99)}, max ${Math.round(sortedWindow[sortedWindow.length - 1])}`,
  );
});
