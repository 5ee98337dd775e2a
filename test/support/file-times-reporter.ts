import { readFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

/** The machine's CPU time so far, in clock ticks: all of it, and the part spent idle or waiting for I/O. */
interface CpuTicks {
  total: number;
  idle: number;
}

/** Reads the first line of /proc/stat (every core together); undefined where there is none. */
function machineCpuTicks(): CpuTicks | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is inside user already)
    const ticks = fields.slice(0, 8);
    return { total: ticks.reduce((sum, t) => sum + t, 0), idle: (ticks[3] ?? 0) + (ticks[4] ?? 0) };
  } catch {
    return undefined;
  }
}

/**
 * Prints, once every test file has run, how long each one took (its tests and hooks), slowest first, with its
 * state, how busy the machine's CPUs were while it ran (every process: the lab's hosts too), and the sum: where the
 * time of `npm test` goes, and which files leave the cores idle.
 */
export default class FileTimesReporter implements Reporter {
  private readonly startTicks = new Map<string, CpuTicks>();
  private readonly busyShare = new Map<string, number>();

  onTestModuleStart(testModule: TestModule): void {
    const ticks = machineCpuTicks();
    if (ticks) this.startTicks.set(testModule.moduleId, ticks);
  }

  onTestModuleEnd(testModule: TestModule): void {
    const start = this.startTicks.get(testModule.moduleId);
    const end = machineCpuTicks();
    if (!start || !end || end.total <= start.total) return;
    const busy = end.total - end.idle - (start.total - start.idle);
    this.busyShare.set(testModule.moduleId, busy / (end.total - start.total));
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rows = testModules
      .map((m) => ({
        file: m.relativeModuleId,
        seconds: m.diagnostic().duration / 1000,
        state: m.state(),
        busy: this.busyShare.get(m.moduleId),
      }))
      .sort((a, b) => b.seconds - a.seconds);
    if (rows.length === 0) return;
    const total = rows.reduce((sum, r) => sum + r.seconds, 0);
    const width = Math.max(...rows.map((r) => r.file.length));
    const busy = (share: number | undefined) =>
      share === undefined ? '' : `  CPU ${(share * 100).toFixed(0).padStart(3)}% busy`;
    const lines = rows.map(
      (r) => `  ${r.file.padEnd(width)}  ${r.seconds.toFixed(1).padStart(8)} s  ${r.state.padEnd(7)}${busy(r.busy)}`,
    );
    process.stdout.write(
      `\nTime per test file (tests and hooks, slowest first; CPU: every core of the machine while the file ran):\n${lines.join('\n')}\n  ${'all files'.padEnd(width)}  ${total.toFixed(1).padStart(8)} s\n`,
    );
  }
}
