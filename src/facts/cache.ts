import type { Connection } from '../connection/connection.ts';
import { CommandError } from '../errors.ts';
import { MaskTable } from '../mask-table.ts';
import {
  parseProbeAnswer,
  probeBoundary,
  probeScript,
  type Probe,
  type ProbeFamily,
  type ProbeIdentity,
  type ProbeOutput,
} from './probe.ts';

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
  private readonly answers = new ProbeAnswers();
  /** Probes asked for by get() and not yet sent: those asked in the same turn of the event loop travel together. */
  private queued: Probe<unknown>[] = [];
  private sending?: Promise<void>;
  constructor(private readonly connection: Connection) {}

  /** Asks every probe not yet answered, all in one command. */
  async gather(probes: readonly Probe<unknown>[]): Promise<void> {
    const missing = unanswered(probes, this.answers);
    if (missing.length === 0) return;
    const list = groupFamilies(missing);
    const boundary = probeBoundary();
    const script = probeScript(
      list.map((entry) => entry.probe),
      boundary,
    );
    const result = await this.connection.exec(script);
    if (result.exitCode !== 0) {
      const asked = missing.map((p) => `${p.id.kind}:${p.id.subject}`);
      const masks = new MaskTable().addSecretsIn(script.secrets);
      const place = { host: this.connection.host };
      throw new CommandError(
        { ...result, command: `probe script (${asked.join(', ')})` },
        place,
        'reading facts failed',
        true,
        masks,
      );
    }
    const outputs = parseProbeAnswer(result.stdout, list.length, boundary);
    for (const [index, entry] of list.entries()) entry.store(outputs[index], this.answers);
  }

  /**
   * The answer to a probe, gathering it first when it is not cached. Probes missing when several planners ask at
   * once (tasks planned side by side, e.g. the old contents of a batch of changed files for their diffs) are sent
   * in one command, at the end of the current turn of the event loop.
   */
  async get<T>(probe: Probe<T>): Promise<T> {
    if (!this.answers.has(probe.id)) {
      this.queued.push(probe);
      this.sending ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        const probes = this.queued;
        this.queued = [];
        this.sending = undefined;
        return this.gather(probes);
      });
      await this.sending;
    }
    return this.answers.get(probe.id) as T;
  }

  /**
   * Forgets answers after a change. With `paths` (the change said which paths it touched), the facts about
   * other paths are kept: only those about these paths and what lies under them go (a fact's
   * {@link ProbeIdentity} names its path), and every fact that is not about one path (packages, services,
   * accounts, command checks), since a file can change any of those. Without `paths`, every answer goes.
   */
  invalidate(paths?: readonly string[]): void {
    if (!paths) {
      this.answers.clear();
      return;
    }
    this.answers.forget(
      (id) =>
        id.path === undefined ||
        paths.some((p) => id.path === p || (id.path ?? '').startsWith(p.endsWith('/') ? p : `${p}/`)),
    );
  }
}

/**
 * The probes of a list that `answers` does not hold, each identity once, in the order of the list.
 *
 * @example
 * unanswered([pathProbe('/etc/hosts'), pathProbe('/etc/hosts')], new ProbeAnswers()) // one probe
 */
export function unanswered(probes: readonly Probe<unknown>[], answers: ProbeAnswers): Probe<unknown>[] {
  const listed = new ProbeAnswers();
  const missing: Probe<unknown>[] = [];
  for (const probe of probes) {
    if (answers.has(probe.id) || listed.has(probe.id)) continue;
    listed.set(probe, undefined);
    missing.push(probe);
  }
  return missing;
}

/**
 * Answers by the identity of their probe: its kind, then its subject.
 *
 * @example
 * const answers = new ProbeAnswers();
 * answers.set(pathProbe('/etc/hosts'), state);
 * answers.get({ kind: 'path', subject: '/etc/hosts' }) // state
 */
export class ProbeAnswers {
  private readonly byKind = new Map<string, Map<string, { readonly probe: Probe<unknown>; readonly value: unknown }>>();

  has(id: ProbeIdentity): boolean {
    return this.byKind.get(id.kind)?.has(id.subject) ?? false;
  }
  get(id: ProbeIdentity): unknown {
    return this.byKind.get(id.kind)?.get(id.subject)?.value;
  }
  set(probe: Probe<unknown>, value: unknown): void {
    const subjects = this.byKind.get(probe.id.kind) ?? new Map();
    this.byKind.set(probe.id.kind, subjects);
    subjects.set(probe.id.subject, { probe, value });
  }
  /** Forgets the answers whose identity matches. */
  forget(matches: (id: ProbeIdentity) => boolean): void {
    for (const subjects of this.byKind.values())
      for (const [subject, entry] of subjects) if (matches(entry.probe.id)) subjects.delete(subject);
  }
  clear(): void {
    this.byKind.clear();
  }
}

/** One probe of a batch script: a probe as asked, or one standing for a family of them. */
export interface BatchEntry {
  readonly probe: Probe<unknown>;
  store(output: ProbeOutput, answers: ProbeAnswers): void;
}

/** Probes of one family (two or more) become one probe answering all of them; others stay as they are. */
export function groupFamilies(probes: readonly Probe<unknown>[]): BatchEntry[] {
  const entries: BatchEntry[] = [];
  const families = new Map<ProbeFamily<unknown>, { probe: Probe<unknown>; argument: string }[]>();
  for (const probe of probes) {
    if (probe.family)
      families.set(probe.family.kind, [
        ...(families.get(probe.family.kind) ?? []),
        { probe, argument: probe.family.argument },
      ]);
    else entries.push({ probe, store: (output, answers) => answers.set(probe, probe.parse(output)) });
  }
  for (const [family, members] of families) {
    if (members.length === 1) {
      const [{ probe }] = members;
      entries.push({ probe, store: (output, answers) => answers.set(probe, probe.parse(output)) });
      continue;
    }
    const args = members.map((m) => m.argument);
    const probe: Probe<unknown> = {
      id: { kind: 'family', subject: family.name },
      command: family.command(args),
      parse: () => undefined,
    };
    entries.push({
      probe,
      store: (output, answers) => {
        for (const [index, value] of family.parseAll(output, args).entries()) answers.set(members[index].probe, value);
      },
    });
  }
  return entries;
}
