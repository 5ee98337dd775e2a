/**
 * The value a map holds for a key the caller knows it holds (the map was made from the same keys). A missing one
 * is a bug in play, not bad input: it fails with an error naming what was looked up.
 *
 * @example
 * const run = required(hostRuns, 'primary', 'host run');
 */
export function required<K, V>(map: ReadonlyMap<K, V>, key: K, what: string): V {
  const value = map.get(key);
  if (value === undefined) throw new Error(`play: no ${what} for ${String(key)} (a bug in play)`);
  return value;
}
