/**
 * Where a run's time goes, phase by phase (`play --profile`, or `PLAY_PROFILE=1`): node's own start (from the
 * process's start to the first line of play), loading the playbook and inventory (TypeScript included), the vault,
 * compiling (vars checked, templates rendered), connecting and reading facts, planning and applying, reporting.
 * Marks cost one `performance.now()` each and are always taken; only printing is optional.
 */
const marks: { phase: string; at: number }[] = [];

/** Marks the end of a phase: the time since the previous mark (or since the process started) is that phase's. */
export function profileMark(phase: string): void {
  marks.push({ phase, at: performance.now() });
}

/** The marks so far, each with the milliseconds its phase took. */
export function profilePhases(): { phase: string; ms: number }[] {
  return marks.map((m, i) => ({ phase: m.phase, ms: m.at - (i === 0 ? 0 : marks[i - 1].at) }));
}

/** The profile as a small table: one line per phase, its share and the total. */
export function formatProfile(): string {
  const phases = profilePhases();
  const total = phases.reduce((sum, p) => sum + p.ms, 0);
  const width = Math.max(...phases.map((p) => p.phase.length), 5);
  const lines = phases.map((p) => `  ${p.phase.padEnd(width)}  ${p.ms.toFixed(0).padStart(6)} ms  ${total > 0 ? ((p.ms / total) * 100).toFixed(0).padStart(3) : '  0'}%`);
  return ['profile (wall time of each phase):', ...lines, `  ${'total'.padEnd(width)}  ${total.toFixed(0).padStart(6)} ms`].join('\n');
}
