import { PlayError, ValidationError, TemplateError } from '../errors.ts';
import { compileRun, type CompiledRun } from '../engine/compile.ts';
import { executeRun } from '../engine/run.ts';
import { healthGate, verifyPlaybook } from '../engine/verify.ts';
import { ExitCode, exitCodeOf, type RunReport } from '../engine/report.ts';
import { playPackage } from '../package-info.ts';
import { mask } from '../secret.ts';
import { setVaultPasswordFile, unlockVaults } from '../vault.ts';
import { parseCliArgs, USAGE, type CliArgs } from './args.ts';
import { connector } from './connect.ts';
import { findPlaybook, loadInventory, loadPlaybook } from './load.ts';
import { liveReporter } from './reporters/live.ts';
import { formatGate, plainReporter } from './reporters/plain.ts';
import { formatHealthTable } from './reporters/health-table.ts';
import { formatRecap } from './reporters/recap.ts';

/** Where the CLI writes; tests pass their own. */
export interface CliStreams {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown };
  /** The terminal a passphrase or `play init`'s questions are asked on; process.stdin by default. */
  readonly stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };
}

/** The `--list-hosts` text: each play and the hosts it would run on, in batches. */
export function formatHostList(run: CompiledRun): string {
  return run.plays
    .map((play) => `play "${play.name}" (${play.batches.flat().length} hosts):\n${play.batches.map((b, i) => `  ${play.batches.length > 1 ? `batch ${i + 1}: ` : ''}${b.join(', ')}`).join('\n')}`)
    .join('\n');
}

/** The `--list-tasks` text: for each play and host, its tasks with role, tags and declaring line. */
export function formatTaskList(run: CompiledRun): string {
  const lines: string[] = [];
  for (const play of run.plays) {
    lines.push(`play "${play.name}":`);
    for (const [host, work] of play.work) {
      lines.push(`  ${host}:`);
      for (const bound of work.tasks) {
        const tags = bound.tags.length ? ` [${bound.tags.join(', ')}]` : '';
        lines.push(`    ${[bound.role, bound.task.name].filter(Boolean).join(' › ')}${tags}${bound.task.declaredAt ? `  (${bound.task.declaredAt})` : ''}`);
      }
      if (work.handlers.length) lines.push(`    handlers: ${work.handlers.map((h) => h.task.name).join(', ')}`);
    }
  }
  return lines.join('\n');
}

function jsonReport(report: RunReport) {
  return {
    check: report.check,
    hosts: Object.fromEntries(Object.entries(report.hosts).map(([h, r]) => [h, { ok: r.ok, changed: r.changed, failed: r.failed, skipped: r.skipped, unreachable: r.unreachable, commands: r.commands, durationMs: Math.round(r.durationMs) }])),
    tasks: report.tasks.map((t) => ({ ...t, durationMs: Math.round(t.durationMs) })),
    gates: report.gates,
    durationMs: Math.round(report.durationMs),
  };
}

/**
 * Runs the `play` command and returns its exit code (0 ok, 1 failed/unreachable, 2 invalid input,
 * 3 changes pending under --check --detailed-exitcode).
 *
 * @example
 * process.exitCode = await main(['site.ts', '--check']);
 */
export async function main(argv: readonly string[], streams: CliStreams = process): Promise<number> {
  // The subcommands with flags of their own, loaded only when asked for.
  if (argv[0] === 'vault') return (await import('./vault-command.ts')).vaultCommand(argv.slice(1), { ...streams, stdin: streams.stdin ?? process.stdin });
  if (argv[0] === 'init') return (await import('../../roles/school/init.ts')).initCommand(argv.slice(1), { ...streams, stdin: streams.stdin ?? process.stdin });
  let args: CliArgs | undefined;
  try {
    args = parseCliArgs(argv);
    setVaultPasswordFile(args.vaultPasswordFile);
    if (args.help) {
      streams.stdout.write(`${USAGE}\n`);
      return ExitCode.ok;
    }
    if (args.version) {
      streams.stdout.write(`play ${playPackage().version}\n`);
      return ExitCode.ok;
    }
    const playbook = await loadPlaybook(findPlaybook(args.playbook!));
    const inventory = args.inventory ? await loadInventory(args.inventory) : playbook.inventory;
    if (!inventory) throw new ValidationError('the playbook names no inventory; pass one with -i FILE', { file: playbook.source });
    const listing = args.listHosts || args.listTasks;
    // Secrets are revealed synchronously while vars are validated: an encrypted vault's passphrase is asked now,
    // on a terminal, when no password file gives it. Listing reads no secret and asks nothing.
    if (!listing) {
      const stdin = streams.stdin ?? process.stdin;
      await unlockVaults({ interactive: !args.json && stdin.isTTY === true, stdin, stderr: streams.stderr });
    }
    if (args.command === 'verify') {
      const connect = connector(inventory, { knownHostsFile: args.knownHosts, acceptNewHostKeys: args.acceptNewHostKeys });
      const health = await verifyPlaybook(playbook, inventory, { limit: args.limit, connect });
      streams.stdout.write(args.json ? `${mask(JSON.stringify({ healthy: health.healthy, rows: health.rows, durationMs: Math.round(health.durationMs) }))}\n` : `${mask(formatHealthTable(health))}\n`);
      return health.healthy ? ExitCode.ok : ExitCode.failed;
    }
    const run = await compileRun(playbook, inventory, { limit: args.limit, tags: args.tags, skipTags: args.skipTags, render: !listing });
    if (listing) {
      const text = [args.listHosts ? formatHostList(run) : '', args.listTasks ? formatTaskList(run) : ''].filter(Boolean).join('\n');
      streams.stdout.write(args.json ? `${JSON.stringify(listJson(run))}\n` : `${text}\n`);
      return ExitCode.ok;
    }
    const connect = connector(inventory, { knownHostsFile: args.knownHosts, acceptNewHostKeys: args.acceptNewHostKeys });
    const live = !args.json && streams.stdout.isTTY === true && !process.env.CI ? liveReporter(run.hosts, { diff: args.diff }) : undefined;
    const onEvent = args.json ? undefined : live ? live.onEvent : plainReporter({ write: (t) => streams.stdout.write(t) }, { diff: args.diff });
    const report = await executeRun(run, {
      check: args.check,
      forks: args.forks,
      connect,
      onEvent,
      forceHandlers: args.forceHandlers,
      flushHandlersOnly: args.flushHandlers,
      waitForLock: !args.noWait,
      gate: playbook.verify && !args.noGate ? healthGate(playbook, inventory, connect) : undefined,
    });
    await live?.done();
    if (args.json) {
      streams.stdout.write(`${mask(JSON.stringify(jsonReport(report)))}\n`);
    } else {
      if (live) printFailures(report, streams);
      if (live) for (const gate of report.gates.filter((g) => g.failed.length)) streams.stdout.write(`\n${formatGate(gate)}\n`);
      streams.stdout.write(`\n${formatRecap(report)}\n`);
    }
    return exitCodeOf(report, { detailed: args.detailedExitcode });
  } catch (error) {
    const invalid = error instanceof ValidationError || error instanceof TemplateError;
    const message = error instanceof PlayError ? error.describe() : mask(error instanceof Error ? (error.stack ?? error.message) : String(error));
    if (args?.json) streams.stdout.write(`${JSON.stringify({ error: message, exitCode: invalid ? ExitCode.invalid : ExitCode.failed })}\n`);
    streams.stderr.write(`play: ${invalid ? 'invalid input: ' : ''}${message}\n`);
    return invalid ? ExitCode.invalid : ExitCode.failed;
  }
}

function printFailures(report: RunReport, streams: CliStreams): void {
  for (const t of report.tasks.filter((t) => t.error)) streams.stdout.write(`\n${t.host} | ${t.status} | ${t.task}\n  ${t.error!.split('\n').join('\n  ')}\n`);
}

function listJson(run: CompiledRun) {
  return {
    plays: run.plays.map((p) => ({
      name: p.name,
      batches: p.batches,
      hosts: Object.fromEntries([...p.work].map(([h, w]) => [h, { tasks: w.tasks.map((t) => ({ role: t.role, task: t.task.name, tags: t.tags, declaredAt: t.task.declaredAt })), handlers: w.handlers.map((t) => t.task.name) }])),
    })),
  };
}
