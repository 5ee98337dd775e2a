/**
 * Polls until the condition holds and returns the milliseconds since `since` (default: the call). Past the
 * timeout it throws, naming what it waited for and, when `state` is given, what the state was then.
 *
 * @example
 * await until('the backup to follow', () => serialOf(BACKUP, DOMAIN) === serial, 30_000);
 */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  options: { since?: number; intervalMs?: number; state?: () => string | Promise<string> } = {},
): Promise<number> {
  const since = options.since ?? performance.now();
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return Math.round(performance.now() - since);
    if (performance.now() > deadline) {
      const state = options.state ? ` (${await options.state()})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}
