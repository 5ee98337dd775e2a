import type { HealthReport } from '../../engine/verify.ts';

/**
 * `play verify`'s table: one line per check with its host, OK or FAIL, and what was found; then a verdict.
 *
 * @example
 * formatHealthTable(report)
 * // CHECK      HOST     STATE  DETAIL
 * // vip holder  -       OK     primary
 * // ...
 * // healthy: 9 checks ok
 */
export function formatHealthTable(report: HealthReport): string {
  const lines = [
    ['CHECK', 'HOST', 'STATE', 'DETAIL'],
    ...report.rows.map((r) => [r.check, r.host ?? '-', r.ok ? 'OK' : 'FAIL', r.detail]),
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...lines.map((l) => l[i].length)));
  const table = lines.map((l) =>
    l
      .map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell))
      .join('  ')
      .trimEnd(),
  );
  const failed = report.rows.filter((r) => !r.ok);
  const verdict =
    failed.length === 0
      ? `healthy: ${report.rows.length} checks ok`
      : `NOT healthy: ${failed.length} of ${report.rows.length} checks failed (${[...new Set(failed.map((r) => r.check))].join(', ')})`;
  return `${table.join('\n')}\n\n${verdict}`;
}
