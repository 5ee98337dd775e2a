import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints, once every test file has run, how long each one took (its tests and hooks), slowest first, with its
 * state and the sum: where the time of `npm test` goes. Used beside vitest's default reporter.
 */
export default class FileTimesReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rows = testModules
      .map((m) => ({ file: m.relativeModuleId, seconds: m.diagnostic().duration / 1000, state: m.state() }))
      .sort((a, b) => b.seconds - a.seconds);
    if (rows.length === 0) return;
    const total = rows.reduce((sum, r) => sum + r.seconds, 0);
    const width = Math.max(...rows.map((r) => r.file.length));
    const lines = rows.map((r) => `  ${r.file.padEnd(width)}  ${r.seconds.toFixed(1).padStart(8)} s  ${r.state}`);
    process.stdout.write(
      `\nTime per test file (tests and hooks, slowest first):\n${lines.join('\n')}\n  ${'all files'.padEnd(width)}  ${total.toFixed(1).padStart(8)} s\n`,
    );
  }
}
