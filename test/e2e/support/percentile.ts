/**
 * The p-th percentile of values sorted ascending (the nearest rank at or below), NaN when there are none.
 *
 * @example
 * percentile([1, 2, 3, 4], 50) // 3
 */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}
