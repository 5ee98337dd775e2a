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

/**
 * Where a command's phases start: at the process's own `node start` mark when that is the only one (the bin), else
 * after every mark there is (a later command in the same process profiles only its own phases).
 */
export function profileCommandStart(): number {
  return marks.length === 1 && marks[0].phase === 'node start' ? 0 : marks.length;
}

/**
 * The phases from the mark `since` on (default: all), each with the milliseconds it took; a process that runs
 * several commands (tests, a library user) drops the marks before `since`, so they never pile up.
 */
export function profilePhases(since = 0): { phase: string; ms: number }[] {
  const kept = marks.slice(since);
  const phases = kept.map((m, i) => ({ phase: m.phase, ms: m.at - (i === 0 ? (since > 0 ? marks[since - 1].at : 0) : kept[i - 1].at) }));
  if (since > 0) marks.splice(0, since);
  return phases;
}

/** The profile as a small table: one line per phase from the mark `since` on, its share and the total. */
export function formatProfile(since = 0): string {
  const phases = profilePhases(since);
  const total = phases.reduce((sum, p) => sum + p.ms, 0);
  const width = Math.max(...phases.map((p) => p.phase.length), 5);
  const lines = phases.map((p) => `  ${p.phase.padEnd(width)}  ${p.ms.toFixed(0).padStart(6)} ms  ${total > 0 ? ((p.ms / total) * 100).toFixed(0).padStart(3) : '  0'}%`);
  return ['profile (wall time of each phase):', ...lines, `  ${'total'.padEnd(width)}  ${total.toFixed(0).padStart(6)} ms`].join('\n');
}
