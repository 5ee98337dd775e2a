/**
 * Where a run's time goes, phase by phase (`play --profile`, or `PLAY_PROFILE=1`): node's own start (from the
 * process's start to the first line of play), loading the playbook and inventory (TypeScript included), the vault,
 * compiling (vars checked, templates rendered), connecting and reading facts, planning and applying, reporting.
 * Marks cost one `performance.now()` each and are always taken; only printing is optional. One profiler belongs
 * to one command: the bin makes it, and whatever runs the command is given it.
 *
 * @example
 * const profiler = new Profiler();
 * profiler.mark('load playbook');
 * stderr.write(profiler.format());
 */
export class Profiler {
  readonly #marks: { phase: string; at: number }[] = [];
  /** When the first phase began: the process's start (0) for the bin, else when the profiler was made. */
  readonly #start: number;

  constructor(options: { fromProcessStart?: boolean } = {}) {
    this.#start = options.fromProcessStart ? 0 : performance.now();
  }

  /** Marks the end of a phase: the time since the previous mark (or since the start) is that phase's. */
  mark(phase: string): void {
    this.#marks.push({ phase, at: performance.now() });
  }

  /** The phases so far, each with the milliseconds it took. */
  phases(): { phase: string; ms: number }[] {
    return this.#marks.map((m, i) => ({ phase: m.phase, ms: m.at - (i === 0 ? this.#start : this.#marks[i - 1].at) }));
  }

  /** The profile as a small table: one line per phase, its share and the total. */
  format(): string {
    const phases = this.phases();
    const total = phases.reduce((sum, p) => sum + p.ms, 0);
    const width = Math.max(...phases.map((p) => p.phase.length), 5);
    const lines = phases.map(
      (p) =>
        `  ${p.phase.padEnd(width)}  ${p.ms.toFixed(0).padStart(6)} ms  ${total > 0 ? ((p.ms / total) * 100).toFixed(0).padStart(3) : '  0'}%`,
    );
    return [
      'profile (wall time of each phase):',
      ...lines,
      `  ${'total'.padEnd(width)}  ${total.toFixed(0).padStart(6)} ms`,
    ].join('\n');
  }
}
