/**
 * Measures failover of the school site in the lab: the primary's power cut, and its network link cut, several
 * times each. For every run: how long until the backup holds the VIP, until SMTP (25), IMAPS (993) and HTTPS
 * (443) answer at the VIP again (seen from lab-client, probing every ~20 ms), and how many of the messages sent
 * through the VIP during the fault are missing afterwards (a client that retries a refused message, as mail
 * clients and MTAs do), and how many are there twice once the primary is back and holds the VIP again. Prints
 * min, median and max per kind of fault.
 *
 *   npm run bench:failover [-- runs]      (default 5 runs of each; brings the lab up and deploys the site)
 *
 * Times are measured from the moment the fault is made (SIGKILL of the host's PID 1; its veth set down).
 */
import { LAB_HOSTS, LAB_VIP } from '../test/lab/config.ts';
import { linkDown, linkUp, powerCut, powerOn } from '../test/lab/faults.ts';
import { labUp } from '../test/lab/lab.ts';
import { firstAnswerAtVip, onlyHolder, untilVip } from '../test/e2e/support/failover.ts';
import { holdsVip } from '../test/e2e/support/hosts.ts';
import { password, py, token } from '../test/e2e/support/mail-client.ts';
import { play } from '../test/e2e/support/play.ts';
import { until } from '../test/e2e/support/wait.ts';

const runs = Number(process.argv[2] ?? 5);
const SITE = ['playbooks/site.ts', '-i', 'inventory/lab.ts'];
const [PRIMARY, BACKUP] = LAB_HOSTS;
const DOMAIN = 'smknh.sch.id';
const PORTS = { smtp: 25, imaps: 993, https: 443 } as const;
/** Messages sent through the VIP across each fault, one every 0.1 s. */
const MESSAGES = 40;

interface Sample {
  vip: number;
  smtp: number;
  imaps: number;
  https: number;
  lost: number;
  twice: number;
}

const FAULTS: Record<string, { make: () => Promise<void> | void; undo: () => Promise<void> | void }> = {
  'power cut': { make: () => powerCut(PRIMARY.name), undo: () => powerOn(PRIMARY.name) },
  'link cut': { make: () => linkDown(PRIMARY.name), undo: () => linkUp(PRIMARY.name) },
};

/** The rows `play verify` does not pass, as text; empty when the pair is healthy. */
async function unhealthy(): Promise<string> {
  const result = await play(['verify', ...SITE, '--json']);
  if (result.code === 0) return '';
  try {
    const rows = (JSON.parse(result.stdout) as { rows: { check: string; host?: string; ok: boolean; detail: string }[] }).rows;
    return rows.filter((r) => !r.ok).map((r) => `${r.check}${r.host ? ` ${r.host}` : ''}: ${r.detail}`).join('; ');
  } catch {
    return `play verify exited ${result.code}`;
  }
}

async function settle(): Promise<void> {
  await untilVip('the primary to hold the VIP', onlyHolder(PRIMARY.name), 180_000, performance.now(), 250);
  let last = '';
  await until('play verify to say healthy', async () => (last = await unhealthy()) === '', 300_000, { intervalMs: 2000, state: () => last });
}

async function measure(fault: (typeof FAULTS)[string]): Promise<Sample> {
  const subject = `Bench ${token()}`;
  // Each 250 comes once the message is on both servers (about 0.6 s; 2 s more while the peer is away).
  const sending = py<{ sent: { subject: string }[] }>(
    { op: 'send-many', host: LAB_VIP, user: 'guru1', password: password('guru1'), from: `guru1@${DOMAIN}`, to: `kepsek@${DOMAIN}`, subject, count: MESSAGES, pace: 0.1 },
    { timeoutMs: 300_000 },
  );
  await new Promise((r) => setTimeout(r, 1500));
  const at = performance.now();
  const [, vip, smtp, imaps, https] = await Promise.all([
    fault.make(),
    untilVip('the backup to hold the VIP', () => holdsVip(BACKUP.name), 30_000, at),
    ...Object.values(PORTS).map((port) => new Promise((r) => setTimeout(r, 100)).then(() => firstAnswerAtVip(port, at))),
  ]);
  const { sent } = await sending;
  const atVip = () => py<{ subjects: string[] }>({ op: 'imaps-subjects', host: LAB_VIP, user: 'kepsek', password: password('kepsek'), subject });
  const lost = sent.length - new Set((await atVip()).subjects).size;
  await fault.undo();
  await settle();
  const after = (await atVip()).subjects;
  return { vip, smtp, imaps, https, lost, twice: after.length - new Set(after).size };
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return [sorted[0], median, sorted[sorted.length - 1]].map((v) => String(Math.round(v))).join(' / ');
}

await labUp();
const deployed = await play(SITE);
if (deployed.code !== 0) throw new Error(`deploying the site failed (exit ${deployed.code}):\n${deployed.stdout.slice(-3000)}`);
await settle();

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
console.log('| fault | VIP on the backup (ms) | SMTP answers (ms) | IMAPS answers (ms) | HTTPS answers (ms) | messages lost (of ' + MESSAGES + ') | messages twice after the return |');
console.log('|---|---|---|---|---|---|---|');
for (const [kind, samples] of Object.entries(results)) {
  const column = (key: keyof Sample) => summary(samples.map((s) => s[key]));
  console.log(`| ${kind} | ${column('vip')} | ${column('smtp')} | ${column('imaps')} | ${column('https')} | ${column('lost')} | ${column('twice')} |`);
}
