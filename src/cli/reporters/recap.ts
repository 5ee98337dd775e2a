import type { RunReport } from '../../engine/report.ts';

/**
 * The PLAY RECAP block: one line per host with its counts, the commands sent and the time taken.
 *
 * @example
 * formatRecap(report) // 'PLAY RECAP\nprimary  ok=12 changed=0 failed=0 skipped=0 unreachable=0 commands=2 time=0.4s'
 */
export function formatRecap(report: RunReport): string {
  const names = Object.keys(report.hosts);
  const width = Math.max(...names.map((n) => n.length), 4);
  const lines = names.map((name) => {
    const r = report.hosts[name];
    return `${name.padEnd(width)}  ok=${r.ok} changed=${r.changed} failed=${r.failed} skipped=${r.skipped} unreachable=${r.unreachable} commands=${r.commands} time=${(r.durationMs / 1000).toFixed(1)}s`;
  });
  const mode = report.check ? ' (check mode: nothing was changed)' : '';
  return [`PLAY RECAP${mode}`, ...lines, `total time ${(report.durationMs / 1000).toFixed(1)}s`].join('\n');
}
