import type { Connection } from '../connection/connection.ts';
import { CommandError } from '../errors.ts';
import { parseProbeAnswer, probeScript, type Probe } from './probe.ts';

/**
 * The facts known about one host: answers to probes, gathered in batches (one round trip for many probes),
 * cached until a change is applied to the host.
 *
 * @example
 * const facts = new FactCache(connection);
 * await facts.gather([fileProbe('/etc/hosts'), packagesProbe(['bind9'])]); // one round trip
 * const hosts = await facts.get(fileProbe('/etc/hosts'));                   // from the cache
 */
export class FactCache {
  private readonly answers = new Map<string, unknown>();
  constructor(private readonly connection: Connection) {}

  /** Asks every probe not yet answered, all in one command. */
  async gather(probes: readonly Probe<unknown>[]): Promise<void> {
    const missing = new Map<string, Probe<unknown>>();
    for (const probe of probes) if (!this.answers.has(probe.key)) missing.set(probe.key, probe);
    if (missing.size === 0) return;
    const list = [...missing.values()];
    const result = await this.connection.exec(probeScript(list));
    if (result.exitCode !== 0) {
      throw new CommandError({ ...result, command: `probe script (${list.map((p) => p.key).join(', ')})` }, { host: this.connection.host }, 'reading facts failed');
    }
    const outputs = parseProbeAnswer(result.stdout, list.length);
    list.forEach((probe, index) => this.answers.set(probe.key, probe.parse(outputs[index])));
  }

  /** The answer to a probe, gathering it first when it is not cached. */
  async get<T>(probe: Probe<T>): Promise<T> {
    if (!this.answers.has(probe.key)) await this.gather([probe]);
    return this.answers.get(probe.key) as T;
  }

  /** Forgets every answer: called after a change, since any fact may have moved. */
  invalidate(): void {
    this.answers.clear();
  }
}
