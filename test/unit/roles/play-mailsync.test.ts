import { afterEach, describe, expect, it } from 'vitest';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The real daemon (roles/dovecot/files/play-mailsync.py) under python3, against a fake doveadm that records every
// call and does what the test tells it (per user: `ok SECONDS`, `exit CODE`, `hang`, `exit2once`).
const DAEMON = fileURLToPath(new URL('../../../roles/dovecot/files/play-mailsync.py', import.meta.url));
const USERS = ['guru1', 'guru2', 'kepsek'];

const FAKE_DOVEADM = `#!/bin/sh
d=$(dirname "$0")
user=$3
kind=fast
case " $* " in *" -f "*) kind=full;; esac
echo "start $$ $user $(date +%s%3N) $kind \${LISTEN_FDS:-none} $*" >> "$d/calls"
mode=$(cat "$d/mode.$user" 2>/dev/null || cat "$d/mode" 2>/dev/null || echo "ok 0")
set -- $mode
rc=0
case $1 in
  ok) sleep "$2";;
  exit) rc=$2;;
  hang) sleep 1000 & echo "child $$ $!" >> "$d/calls"; wait;;
  exit2once) if [ -e "$d/e2.$user" ]; then rc=0; else : > "$d/e2.$user"; rc=2; fi;;
esac
echo "end $$ $user $(date +%s%3N) $rc" >> "$d/calls"
exit $rc
`;

/** What play-mailsync's status file says of each user (the fields these tests read). */
interface MailsyncStatus {
  daemonStarted?: number;
  startPassDone?: number;
  users: Record<
    string,
    {
      lastOk?: number;
      lastFullOk?: number;
      failed?: boolean;
      pending?: boolean;
      running?: boolean;
      exitCode?: number;
      lastError?: string | null;
    }
  >;
}

interface Call {
  pid: number;
  user: string;
  start: number;
  full: boolean;
  listenFds: string;
  args: string;
  end?: number;
  rc?: number;
  child?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Whether a live (not zombie) process of this process group exists (a zombie is dead, only not yet reaped). */
function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
  }
  return false;
}

/** An event line as Dovecot 2.4.1's exporter writes it (event-exporter-fmt-json.c: name under "event"). */
function eventLine(user: string, name = 'mail_delivery_finished'): string {
  const now = Date.now() / 1000;
  return `${JSON.stringify({
    event: name,
    hostname: 'mail1',
    start_time: now - 0.01,
    end_time: now,
    categories: ['lda', 'mail', 'mailbox'],
    fields: {
      user,
      mailbox: 'INBOX',
      message_id: '<x@y>',
      ...(name === 'imap_command_finished' ? { cmd_name: 'STORE', tagged_reply_state: 'OK' } : {}),
    },
  })}\n`;
}

const labs: Lab[] = [];

class Lab {
  readonly dir = mkdtempSync(join(tmpdir(), 'play-mailsync-'));
  readonly config: Record<string, unknown>;
  readonly configPath: string;
  daemon?: ChildProcess;
  stderr = '';
  exit?: Promise<{ code: number | null; signal: string | null; at: number }>;

  constructor(overrides: Record<string, unknown> = {}) {
    labs.push(this);
    writeFileSync(join(this.dir, 'doveadm'), FAKE_DOVEADM);
    chmodSync(join(this.dir, 'doveadm'), 0o755);
    writeFileSync(
      join(this.dir, 'users'),
      ['# the school', ...USERS.map((u) => `${u}:{CRYPT}$2y$x:5000:5000::/home/${u}::`), ''].join('\n'),
    );
    this.config = {
      peer: '192.0.2.2',
      port: 12345,
      usersFile: join(this.dir, 'users'),
      eventsSocket: join(this.dir, 'events.sock'),
      controlSocket: join(this.dir, 'control.sock'),
      statusFile: join(this.dir, 'status.json'),
      doveadm: join(this.dir, 'doveadm'),
      concurrency: 4,
      debounceMs: 50,
      syncTimeoutSeconds: 2,
      backoffMaxSeconds: 2,
      periodicSeconds: 3600,
      connectPassSeconds: 0,
      ...overrides,
    };
    this.configPath = join(this.dir, 'play-mailsync.json');
    writeFileSync(this.configPath, JSON.stringify(this.config));
  }

  mode(user: string | undefined, mode: string) {
    writeFileSync(join(this.dir, user ? `mode.${user}` : 'mode'), `${mode}\n`);
  }

  /** Starts the daemon (optionally through a wrapper command) and waits until its control socket answers. */
  async start(wrapper: string[] = [], env: NodeJS.ProcessEnv = {}, controlPath = this.config.controlSocket as string) {
    this.stderr = '';
    const daemon = spawn(
      wrapper[0] ?? 'python3',
      [...wrapper.slice(1), DAEMON, 'daemon', '--config', this.configPath],
      {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    this.daemon = daemon;
    daemon.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exit = new Promise((resolve) =>
      daemon.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
    );
    await waitFor('the daemon to listen', () => existsSync(controlPath) || daemon.exitCode !== null);
    expect(daemon.exitCode, this.stderr).toBe(null);
  }

  calls(): Call[] {
    let text = '';
    try {
      text = readFileSync(join(this.dir, 'calls'), 'utf8');
    } catch {
      return [];
    }
    const byPid = new Map<number, Call>();
    for (const line of text.split('\n')) {
      const f = line.split(' ');
      if (f[0] === 'start') {
        byPid.set(Number(f[1]), {
          pid: Number(f[1]),
          user: f[2],
          start: Number(f[3]),
          full: f[4] === 'full',
          listenFds: f[5],
          args: f.slice(6).join(' '),
        });
      } else if (f[0] === 'end' && byPid.has(Number(f[1]))) {
        Object.assign(byPid.get(Number(f[1]))!, { end: Number(f[3]), rc: Number(f[4]) });
      } else if (f[0] === 'child' && byPid.has(Number(f[1]))) {
        byPid.get(Number(f[1]))!.child = Number(f[2]);
      }
    }
    return [...byPid.values()].sort((a, b) => a.start - b.start);
  }

  of(user: string, after = 0): Call[] {
    return this.calls().filter((c) => c.user === user && c.start >= after);
  }

  /** Waits for the start-up pass: one finished sync of every user. */
  async startPass() {
    await waitFor('the start-up pass', () => USERS.every((u) => this.of(u).some((c) => c.end !== undefined)));
    await waitFor('the status after the pass', () => USERS.every((u) => this.status()?.users?.[u]?.lastOk));
  }

  /** The daemon's status file as it is now, or undefined while it has written none (or is writing it). */
  status(): MailsyncStatus | undefined {
    try {
      return JSON.parse(readFileSync(this.config.statusFile as string, 'utf8')) as MailsyncStatus;
    } catch {
      return undefined;
    }
  }

  /** The daemon's status file, which must be there. */
  written(): MailsyncStatus {
    const status = this.status();
    if (!status) throw new Error(`play-mailsync wrote no status to ${String(this.config.statusFile)}`);
    return status;
  }

  cli(...args: string[]) {
    return spawnSync('python3', [DAEMON, '--config', this.configPath, ...args], { encoding: 'utf8', timeout: 15_000 });
  }

  /** `status '*'` read as the shell readers do: $1, $(NF-1) as an H:M:S age, $NF. */
  rows() {
    const result = this.cli('status', '*');
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`${'username'.padEnd(62)} priority fast sync full sync success sync failed`);
    return lines.slice(1).map((line) => {
      const f = line.trim().split(/\s+/);
      const age = f[f.length - 2];
      return {
        user: f[0],
        fields: f,
        success: age === '-' ? undefined : age.split(':').reduce((s, x) => s * 60 + Number(x), 0),
        failed: f[f.length - 1],
      };
    });
  }

  async send(lines: string[], path = this.config.eventsSocket as string) {
    const socket = createConnection(path);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    for (const line of lines) socket.write(line);
    await new Promise<void>((resolve) => socket.end(resolve));
  }

  async stop() {
    if (this.daemon && this.daemon.exitCode === null && this.daemon.signalCode === null) {
      this.daemon.kill('SIGKILL');
      await this.exit;
    }
  }
}

afterEach(async () => {
  for (const lab of labs.splice(0)) {
    await lab.stop();
    for (const call of lab.calls()) {
      for (const pid of [call.pid, call.child]) {
        try {
          if (pid) process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    rmSync(lab.dir, { recursive: true, force: true });
  }
});

describe('play-mailsync', { timeout: 30_000 }, () => {
  it('syncs a user soon after a delivery event, and reports it as doveadm replicator did', async () => {
    const lab = new Lab();
    await lab.start();
    await lab.startPass();
    const before = lab.calls().length;

    const sent = Date.now();
    await lab.send([eventLine('guru1')]);
    const call = await waitFor('the sync of guru1', () => lab.of('guru1', sent).find((c) => c.end !== undefined));
    expect(call.start - sent).toBeLessThan(50 + 200);
    expect(call.args).toBe('sync -u guru1 -N -l 30 -T 45 tcps:192.0.2.2:12345');
    await sleep(300);
    expect(lab.calls().length).toBe(before + 1); // that user only, once

    const status = await waitFor('guru1 ok in the status', () => {
      const s = lab.written();
      return (s.users.guru1.lastOk ?? 0) >= call.start / 1000 - 0.1 && s;
    });
    expect(status.users.guru1).toMatchObject({
      failed: false,
      pending: false,
      running: false,
      exitCode: 0,
      lastError: null,
    });
    expect(status.daemonStarted).toBeTypeOf('number');
    expect(status.startPassDone).toBeTypeOf('number');

    const rows = lab.rows();
    expect(rows.map((r) => r.user)).toEqual([...USERS].sort());
    for (const row of rows) {
      expect(row.failed).toBe('-');
      expect(row.success).toBeLessThan(10);
      expect(row.fields[1]).toBe('none');
    }
    const overview = lab.cli('status');
    expect(overview.status).toBe(0);
    expect(overview.stdout).toBe(
      [
        "Queued 'sync' requests        0",
        "Queued 'high' requests        0",
        "Queued 'low' requests         0",
        "Queued 'failed' requests      0",
        "Queued 'full resync' requests 0",
        "Waiting 'failed' requests     0",
        'Total number of known users   3',
        '',
      ].join('\n'),
    );
    expect(lab.stderr).not.toMatch(/failed/); // successful syncs are not logged
  });

  it('under a flood of events never runs two syncs of one user at once, and syncs after the last event', async () => {
    const lab = new Lab();
    lab.mode('guru1', 'ok 0.1');
    await lab.start();
    await lab.startPass();
    const from = Date.now();

    const socket = createConnection(lab.config.eventsSocket as string);
    await new Promise((resolve) => socket.once('connect', resolve));
    let last = 0;
    for (let i = 0; i < 200; i++) {
      socket.write(eventLine('guru1', i % 2 ? 'imap_command_finished' : 'mail_delivery_finished'));
      last = Date.now();
      await sleep(20);
    }
    socket.end();
    const after = await waitFor('a sync after the last event', () =>
      lab.of('guru1', last).find((c) => c.end !== undefined),
    );
    await sleep(500);

    const calls = lab.of('guru1', from);
    expect(calls.every((c) => c.rc === 0)).toBe(true);
    for (let i = 1; i < calls.length; i++) expect(calls[i].start).toBeGreaterThanOrEqual(calls[i - 1].end!);
    expect(calls.length).toBeLessThan(100);
    expect(calls.length).toBeGreaterThan(5); // it kept syncing during the flood, not only at its end
    expect(after.start).toBeGreaterThanOrEqual(last);
    expect(lab.of('guru2', from)).toEqual([]);
  });

  it('retries a dead peer with a growing, capped backoff, shows the user failed, and recovers', async () => {
    const lab = new Lab({ backoffMaxSeconds: 2 });
    lab.mode('guru1', 'exit 75');
    await lab.start();
    await waitFor('5 attempts', () => lab.of('guru1').length >= 5 && lab.of('guru1'), 15_000);

    const starts = lab.of('guru1').map((c) => c.start);
    const gaps = starts.slice(1).map((s, i) => s - starts[i]);
    // 1 s, 2 s, then capped at 2 s (each plus the fake's own run time).
    expect(gaps[0]).toBeGreaterThanOrEqual(900);
    expect(gaps[0]).toBeLessThan(1800);
    for (const gap of gaps.slice(1)) {
      expect(gap).toBeGreaterThanOrEqual(1900);
      expect(gap).toBeLessThan(3000);
    }
    expect(lab.rows().find((r) => r.user === 'guru1')!.failed).toBe('y');
    expect(lab.rows().find((r) => r.user === 'guru2')!.failed).toBe('-');
    expect(lab.written().users.guru1).toMatchObject({ failed: true, exitCode: 75 });
    expect(lab.cli('status').stdout).toMatch(/^Queued 'failed' requests +1$/m);
    expect(lab.stderr).toMatch(/guru1: sync failed \(exit 75/);

    lab.mode('guru1', 'ok 0');
    const healed = Date.now();
    await waitFor('the recovery', () => lab.of('guru1', healed).find((c) => c.rc === 0), 5000);
    await waitFor('y cleared', () => lab.rows().find((r) => r.user === 'guru1')!.failed === '-');
    expect(lab.written().users.guru1).toMatchObject({ failed: false, exitCode: 0, lastError: null });
    // stderr comes through a pipe, read apart from the status file: wait for it rather than race it.
    await waitFor('the recovery logged', () => /guru1: synced again after \d+ failed attempts/.test(lab.stderr));
  });

  it('kills a hung sync with its process group, counts it failed, retries it, and keeps syncing other users', async () => {
    const lab = new Lab({ syncTimeoutSeconds: 1 });
    lab.mode('guru1', 'hang');
    await lab.start();
    const hung = await waitFor('the hung sync', () => lab.of('guru1').find((c) => c.child));
    // Meanwhile, another user's event is served at once.
    const sent = Date.now();
    await lab.send([eventLine('guru2')]);
    const other = await waitFor('guru2 synced', () => lab.of('guru2', sent).find((c) => c.end !== undefined));
    expect(other.start - sent).toBeLessThan(500);

    await waitFor('the hung sync killed', () => !groupAlive(hung.pid), 5000);
    const retry = await waitFor('a retry', () => lab.of('guru1', hung.start + 1).find((c) => c.child), 6000);
    expect(retry.start - hung.start).toBeGreaterThanOrEqual(1000 + 900); // timeout, then backoff
    const status = await waitFor('failed in the status', () => lab.status()?.users.guru1.failed && lab.status());
    expect(status.users.guru1.lastError).toMatch(/killed after 1s/);
    expect(lab.rows().find((r) => r.user === 'guru1')!.failed).toBe('y');
    expect(hung.end).toBeUndefined();
  });

  it('gives a sync killed at its time limit twice the time on the next attempt, so a big one completes, then the limit is back', async () => {
    // A sync that needs 1.5 s (a restore of thousands of messages, in the lab minutes) against a 1 s limit: killed
    // once, then run with 2 s and done. Killed at the same point each time, it would never complete.
    const lab = new Lab({ syncTimeoutSeconds: 1, backoffMaxSeconds: 1 });
    lab.mode('guru1', 'ok 1.5');
    await lab.start();
    const done = await waitFor('a sync of guru1 that completed', () => lab.of('guru1').find((c) => c.rc === 0), 10_000);
    const killed = lab.of('guru1').filter((c) => c.start < done.start);
    expect(killed.length).toBeGreaterThanOrEqual(1);
    for (const call of killed) expect(call.end).toBeUndefined();
    expect(done.end! - done.start).toBeGreaterThanOrEqual(1400);
    await waitFor('the kill logged with the next limit', () =>
      /guru1: sync failed \(killed after 1s \(hung, or bigger than that: the next attempt may take 2s\)\)/.test(
        lab.stderr,
      ),
    );
    await waitFor('ok in the status', () => lab.status()?.users.guru1.failed === false);
    // Back to 1 s after the success: a sync that hangs now is killed after 1 s again, not 2.
    lab.mode('guru1', 'hang');
    const sent = Date.now();
    await lab.send([eventLine('guru1')]);
    const hung = await waitFor('the hung sync', () => lab.of('guru1', sent).find((c) => c.child));
    await waitFor('the hung sync killed', () => !groupAlive(hung.pid), 5000);
    await waitFor('killed after 1 s again', () => /killed after 1s[\s\S]*killed after 1s/.test(lab.stderr));
  });

  it('runs a sync that exits 2 (changed meanwhile) again at once, without calling it failed, 5 times at most', async () => {
    const lab = new Lab();
    lab.mode('guru1', 'exit2once');
    lab.mode('guru2', 'exit 2');
    await lab.start();
    const [first, second] = await waitFor(
      'the rerun to end',
      () => lab.of('guru1')[1]?.end !== undefined && lab.of('guru1'),
    );
    expect(first.rc).toBe(2);
    expect(second.rc).toBe(0);
    expect(second.start - first.end!).toBeLessThan(500); // at once, not after a 1 s backoff
    await waitFor('guru1 ok', () => lab.status()?.users.guru1.lastOk);
    expect(lab.written().users.guru1.failed).toBe(false);
    expect(lab.stderr).not.toMatch(/guru1/);

    // A user whose mailbox keeps changing: 1 + 5 reruns, then a failure with backoff.
    await waitFor('guru2 failed', () => lab.status()?.users.guru2.failed);
    const runs = lab.of('guru2');
    expect(runs.length).toBe(6);
    for (let i = 1; i < runs.length; i++) expect(runs[i].start - runs[i - 1].end!).toBeLessThan(500);
    await waitFor('the failure logged', () =>
      /guru2: sync failed \(exit 2 .*6 times in a row\); retry in 1s/.test(lab.stderr),
    );
  });

  it('stops within 2 s on SIGTERM, killing a running sync, and syncs every user again on the next start', async () => {
    const lab = new Lab({ syncTimeoutSeconds: 30 });
    lab.mode('guru1', 'hang');
    await lab.start();
    const hung = await waitFor('the hung sync', () => lab.of('guru1').find((c) => c.child));
    expect(groupAlive(hung.pid)).toBe(true);

    const sent = Date.now();
    lab.daemon!.kill('SIGTERM');
    const exit = await lab.exit!;
    expect(exit.code).toBe(0);
    expect(exit.at - sent).toBeLessThan(2000);
    await waitFor('the fake process group gone', () => !groupAlive(hung.pid), 1000);

    lab.mode('guru1', 'ok 0');
    const restarted = Date.now();
    await lab.start();
    await waitFor('a pass over every user', () => USERS.every((u) => lab.of(u, restarted).some((c) => c.rc === 0)));
  });

  it('syncs every user when an exporter (re)connects, since Dovecot drops the event that made it reconnect', async () => {
    const lab = new Lab({ connectPassSeconds: 2 });
    await lab.start();
    await lab.startPass();
    const from = Date.now();
    await lab.send([eventLine('guru1')]);
    await waitFor('a pass over every user', () => USERS.every((u) => lab.of(u, from).some((c) => c.rc === 0)));
    await sleep(300); // the event's own follow-up sync of guru1, if the pass took guru1 first
    // A second connection soon after, with no event: one more pass, but not before connectPassSeconds after the last.
    const again = Date.now();
    await lab.send([]);
    await waitFor('the next pass', () => USERS.every((u) => lab.of(u, again).some((c) => c.rc === 0)), 5000);
    expect(Math.min(...USERS.map((u) => lab.of(u, again)[0].start)) - from).toBeGreaterThanOrEqual(1900);
  });

  it('ignores broken, garbage, over-long and unknown-user lines and keeps serving', async () => {
    const lab = new Lab();
    await lab.start();
    await lab.startPass();
    const from = Date.now();

    // A writer that dies mid-line (the line names guru1: it must not count).
    const dying = createConnection(lab.config.eventsSocket as string);
    await new Promise((resolve) => dying.once('connect', resolve));
    // Several writers at once, one of them with a line split across writes.
    const steady = createConnection(lab.config.eventsSocket as string);
    await new Promise((resolve) => steady.once('connect', resolve));
    const half = eventLine('guru1');
    dying.write(half.slice(0, 40));
    steady.write(eventLine('kepsek').slice(0, 30));
    dying.destroy();
    await lab.send([
      'not json at all\n',
      '[1, 2, 3]\n',
      '{"event": "mail_delivery_finished"}\n',
      '{"event": "mail_delivery_finished", "fields": "guru1"}\n',
      `{"event": "mail_delivery_finished", "fields": {"user": "guru1", "pad": "${'x'.repeat(100 * 1024)}"}}\n`,
      eventLine('nobody'),
      eventLine('guru1', 'imap_command_started'),
      `{"event": "mail_delivery_finished", "fields": {"user": "guru1", "pad": "${'y'.repeat(100 * 1024)}`,
      '"}}\n',
      '\n',
    ]);
    await sleep(800);
    expect(lab.calls().filter((c) => c.start >= from)).toEqual([]);

    steady.write(eventLine('kepsek').slice(30));
    steady.end();
    await waitFor('kepsek synced', () => lab.of('kepsek', from).find((c) => c.end !== undefined));
    await lab.send([eventLine('guru2')]);
    await waitFor('guru2 synced', () => lab.of('guru2', from).find((c) => c.end !== undefined));
    await sleep(300);
    expect(lab.of('guru1', from)).toEqual([]);
    expect(lab.daemon!.exitCode).toBe(null);
    expect(lab.stderr).toMatch(/not a JSON object/);
    expect(lab.stderr).toMatch(/dropped a line of/);
    expect(lab.cli('status').status).toBe(0);
  });

  it('runs a full sync of every user on replicate -f, and the CLI gives up on a dead daemon with exit 75', async () => {
    const lab = new Lab();
    await lab.start();
    await lab.startPass();
    expect(lab.calls().every((c) => !c.full)).toBe(true);
    const from = Date.now();

    const asked = lab.cli('replicate', '-f', '*');
    expect(asked).toMatchObject({ status: 0, stdout: '', stderr: '' });
    await waitFor('a full sync of every user', () =>
      USERS.every((u) => lab.of(u, from).some((c) => c.full && c.rc === 0)),
    );
    expect(lab.of('guru1', from)[0].args).toBe('sync -u guru1 -N -l 30 -T 45 -f tcps:192.0.2.2:12345');
    await waitFor('lastFullOk', () => USERS.every((u) => lab.written().users[u].lastFullOk));
    expect(lab.rows().every((r) => /^\d\d:\d\d:\d\d$/.test(r.fields[3]))).toBe(true); // the full-sync column
    expect(lab.cli('replicate', 'nobody').status).toBe(67);

    // No daemon at all: refused at once.
    await lab.stop();
    let t = Date.now();
    const refused = lab.cli('status');
    expect(refused.status).toBe(75);
    expect(refused.stderr).toMatch(/play-mailsync: the daemon does not answer on .*control\.sock/);
    expect(Date.now() - t).toBeLessThan(3000);

    // A socket that accepts and never answers (a hung daemon): 75 after the 3 s timeout.
    rmSync(lab.config.controlSocket as string, { force: true });
    const mute: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => mute.listen(lab.config.controlSocket as string, resolve));
    try {
      t = Date.now();
      const silent = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn('python3', [DAEMON, '--config', lab.configPath, 'status', '*'], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
      expect(silent.code).toBe(75);
      expect(silent.stderr).toMatch(/no answer within 3s/);
      expect(Date.now() - t).toBeGreaterThanOrEqual(2900);
      expect(Date.now() - t).toBeLessThan(6000);
    } finally {
      mute.close();
    }
  });

  it('uses the sockets systemd passes (socket activation, LISTEN_FDNAMES order) and does not hand them to doveadm', async () => {
    const lab = new Lab();
    const events = join(lab.dir, 'activated-events.sock');
    const control = join(lab.dir, 'activated-control.sock');
    // What systemd does: bind the sockets, put them at fds 3 and 4 and exec the daemon with LISTEN_* set. Here in
    // the order control, events, so that only LISTEN_FDNAMES tells them apart.
    const wrapper = `
import os, socket, sys
socks = []
for path in (${JSON.stringify(control)}, ${JSON.stringify(events)}):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    socks.append(s)
for fd, s in zip((3, 4), socks):
    if s.fileno() != fd:
        os.dup2(s.fileno(), fd)
    os.set_inheritable(fd, True)
os.environ.update(LISTEN_FDS='2', LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES='control:events')
os.execvp('python3', ['python3'] + sys.argv[1:])
`;
    await lab.start(['python3', '-c', wrapper], {}, control);
    await lab.startPass();
    // It bound nothing itself.
    expect(existsSync(lab.config.eventsSocket as string)).toBe(false);
    expect(existsSync(lab.config.controlSocket as string)).toBe(false);

    const from = Date.now();
    await lab.send([eventLine('kepsek')], events);
    const call = await waitFor('kepsek synced', () => lab.of('kepsek', from).find((c) => c.end !== undefined));
    expect(call.listenFds).toBe('none');
    expect(lab.calls().every((c) => c.listenFds === 'none')).toBe(true);

    writeFileSync(lab.configPath, JSON.stringify({ ...lab.config, controlSocket: control }));
    const rows = lab.rows();
    expect(rows.map((r) => r.user)).toEqual([...USERS].sort());
  });
});
