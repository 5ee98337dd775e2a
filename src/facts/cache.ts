import type { Connection } from '../connection/connection.ts';
import { CommandError } from '../errors.ts';
import { parseProbeAnswer, probeBoundary, probeScript, type Probe, type ProbeFamily, type ProbeOutput } from './probe.ts';

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
  /** Probes asked for by get() and not yet sent: those asked in the same turn of the event loop travel together. */
  private readonly queued = new Map<string, Probe<unknown>>();
  private sending?: Promise<void>;
  constructor(private readonly connection: Connection) {}

  /** Asks every probe not yet answered, all in one command. */
  async gather(probes: readonly Probe<unknown>[]): Promise<void> {
    const missing = new Map<string, Probe<unknown>>();
    for (const probe of probes) if (!this.answers.has(probe.key)) missing.set(probe.key, probe);
    if (missing.size === 0) return;
    const list = groupFamilies([...missing.values()]);
    const boundary = probeBoundary();
    const result = await this.connection.exec(probeScript(list.map((entry) => entry.probe), boundary));
    if (result.exitCode !== 0) {
      throw new CommandError({ ...result, command: `probe script (${[...missing.keys()].join(', ')})` }, { host: this.connection.host }, 'reading facts failed');
    }
    const outputs = parseProbeAnswer(result.stdout, list.length, boundary);
    list.forEach((entry, index) => entry.store(outputs[index], this.answers));
  }

  /**
   * The answer to a probe, gathering it first when it is not cached. Probes missing when several planners ask at
   * once (tasks planned side by side, e.g. the old contents of a batch of changed files for their diffs) are sent
   * in one command, at the end of the current turn of the event loop.
   */
  async get<T>(probe: Probe<T>): Promise<T> {
    if (!this.answers.has(probe.key)) {
      this.queued.set(probe.key, probe);
      this.sending ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        const probes = [...this.queued.values()];
        this.queued.clear();
        this.sending = undefined;
        return this.gather(probes);
      });
      await this.sending;
    }
    return this.answers.get(probe.key) as T;
  }

  /**
   * Forgets answers after a change. With `paths` (the change said which paths it touched), the facts about
   * other paths are kept: only those about these paths and what lies under them go, and every fact that is not
   * about one path (packages, services, accounts, command checks), since a file can change any of those.
   * Without `paths`, every answer goes.
   */
  invalidate(paths?: readonly string[]): void {
    if (!paths) {
      this.answers.clear();
      return;
    }
    for (const key of [...this.answers.keys()]) {
      const path = /^(?:path|content):(.*)$/s.exec(key)?.[1];
      if (path === undefined || paths.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`))) this.answers.delete(key);
    }
  }
}

/** One probe of a batch script: a probe as asked, or one standing for a family of them. */
export interface BatchEntry {
  readonly probe: Probe<unknown>;
  store(output: ProbeOutput, answers: Map<string, unknown>): void;
}

/** Probes of one family (two or more) become one probe answering all of them; others stay as they are. */
export function groupFamilies(probes: readonly Probe<unknown>[]): BatchEntry[] {
  const entries: BatchEntry[] = [];
  const families = new Map<ProbeFamily<unknown>, Probe<unknown>[]>();
  for (const probe of probes) {
    if (probe.family) families.set(probe.family.kind, [...(families.get(probe.family.kind) ?? []), probe]);
    else entries.push({ probe, store: (output, answers) => answers.set(probe.key, probe.parse(output)) });
  }
  for (const [family, members] of families) {
    if (members.length === 1) {
      const [probe] = members;
      entries.push({ probe, store: (output, answers) => answers.set(probe.key, probe.parse(output)) });
      continue;
    }
    const args = members.map((m) => m.family!.argument);
    const probe: Probe<unknown> = { key: `family:${family.name}`, command: family.command(args), parse: () => undefined };
    entries.push({
      probe,
      store: (output, answers) => family.parseAll(output, args).forEach((value, index) => answers.set(members[index].key, value)),
    });
  }
  return entries;
}
