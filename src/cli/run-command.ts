import { ValidationError } from '../errors.ts';
import { compileRoleSchemas, compileRun } from '../engine/compile.ts';
import { executeRun } from '../engine/run.ts';
import { healthGate, verifyPlaybook } from '../engine/verify.ts';
import { ExitCode, exitCodeOf, type RunReport } from '../engine/report.ts';
import { vaultsUsedBy } from '../vault.ts';
import type { CliArgs } from './args.ts';
import { connector } from './connect.ts';
import { formatHostList, formatTaskList, listJson } from './listing.ts';
import { findPlaybook, type UserFileLoader } from './load.ts';
import { formatGate, formatStop, plainReporter } from './reporters/plain.ts';
import { formatHealthTable } from './reporters/health-table.ts';
import { formatRecap } from './reporters/recap.ts';
import type { CliStreams } from './main.ts';
import type { RunContext } from './run-context.ts';

/**
 * What `play PLAYBOOK` and `play verify PLAYBOOK` do once the arguments are parsed: load, compile, run (or list,
 * or verify) and report. Loaded by {@link main} only then, so `play --help` loads none of the engine.
 */
export async function runCommand(
  args: CliArgs,
  streams: CliStreams,
  helpers: { context: RunContext; loader: UserFileLoader },
): Promise<number> {
  const { profiler } = helpers.context;
  try {
    return await loadCompileRun(args, streams, helpers);
  } finally {
    if (args.profile) {
      profiler.mark('report');
      streams.stderr.write(`${profiler.format()}\n`);
    }
  }
}

async function loadCompileRun(
  args: CliArgs,
  streams: CliStreams,
  { context, loader }: { context: RunContext; loader: UserFileLoader },
): Promise<number> {
  const { profiler } = context;
  if (args.playbook === undefined) throw new ValidationError('no playbook given (play --help)');
  const playbookFile = findPlaybook(args.playbook);
  // One build for both (when they are TypeScript): a module both import, such as a school's roles, runs once.
  await loader.compile([
    { file: playbookFile, what: 'playbook' },
    ...(args.inventory ? [{ file: args.inventory, what: 'inventory' as const }] : []),
  ]);
  const playbook = await loader.loadPlaybook(playbookFile);
  profiler.mark('load playbook');
  const inventory = args.inventory ? await loader.loadInventory(args.inventory) : playbook.inventory;
  if (args.inventory) profiler.mark('load inventory');
  if (!inventory)
    throw new ValidationError('the playbook names no inventory; pass one with -i FILE', { file: playbook.source });
  const listing = args.listHosts || args.listTasks;
  // The vaults this run uses are the ones its inventory and plays hold secrets of (not those of an inventory
  // the playbook names when -i replaces it): they are read with this run's passphrases, and no other is opened.
  const vaults = vaultsUsedBy(inventory, playbook.plays);
  for (const vault of vaults) vault.useSession(context.vaults);
  // Secrets are revealed synchronously while vars are validated: an encrypted vault's passphrase is asked now,
  // on a terminal, when no password file gives it. Listing reads no secret and asks nothing.
  if (!listing) {
    const stdin = streams.stdin ?? process.stdin;
    await context.vaults.unlock(vaults, {
      interactive: !args.json && stdin.isTTY === true,
      stdin,
      stderr: streams.stderr,
    });
    // A vault's scrypt (0.2-0.4 s) runs off the main thread while the roles' schemas compile and the SSH library
    // loads; the vars are then validated with the keys at hand.
    const ahead = context.vaults.deriveKeysAhead(vaults);
    compileRoleSchemas(playbook);
    const overSsh = Object.values(inventory.hosts).some((host) => host.connection !== 'local');
    await Promise.all([ahead, overSsh ? import('node-ssh') : undefined]);
    profiler.mark('vault');
  }
  if (args.command === 'verify') {
    const connect = connector(inventory, {
      knownHostsFile: args.knownHosts,
      acceptNewHostKeys: args.acceptNewHostKeys,
    });
    const health = await verifyPlaybook(playbook, inventory, { limit: args.limit, connect, masks: context.masks });
    const shown = args.json
      ? JSON.stringify({ healthy: health.healthy, rows: health.rows, durationMs: Math.round(health.durationMs) })
      : formatHealthTable(health);
    streams.stdout.write(`${context.masks.mask(shown)}\n`);
    return health.healthy ? ExitCode.ok : ExitCode.failed;
  }
  const run = await compileRun(
    playbook,
    inventory,
    { limit: args.limit, tags: args.tags, skipTags: args.skipTags, extraVars: args.extraVars, render: !listing },
    context.masks,
  );
  profiler.mark('compile');
  if (listing) {
    const text = [args.listHosts ? formatHostList(run) : '', args.listTasks ? formatTaskList(run) : '']
      .filter(Boolean)
      .join('\n');
    streams.stdout.write(args.json ? `${JSON.stringify(listJson(run))}\n` : `${text}\n`);
    return ExitCode.ok;
  }
  const connect = connector(inventory, { knownHostsFile: args.knownHosts, acceptNewHostKeys: args.acceptNewHostKeys });
  // listr2 is loaded only for a terminal.
  const live =
    !args.json && streams.stdout.isTTY === true && !process.env.CI
      ? (await import('./reporters/live.ts')).liveReporter(run.hosts, { diff: args.diff })
      : undefined;
  const onEvent = args.json
    ? undefined
    : live
      ? live.onEvent
      : plainReporter({ write: (t) => streams.stdout.write(t) }, { diff: args.diff });
  const report = await executeRun(run, {
    check: args.check,
    forks: args.forks,
    connect,
    onEvent,
    forceHandlers: args.forceHandlers,
    flushHandlersOnly: args.flushHandlers,
    waitForLock: !args.noWait,
    profiler,
    gate: playbook.verify && !args.noGate ? healthGate(playbook, inventory, connect, run.masks) : undefined,
  });
  await live?.done();
  if (args.json) {
    streams.stdout.write(`${run.masks.mask(JSON.stringify(jsonReport(report)))}\n`);
  } else {
    if (live) printFailures(report, streams);
    if (live)
      for (const gate of report.gates.filter((g) => g.failed.length)) streams.stdout.write(`\n${formatGate(gate)}\n`);
    if (live && report.stop) streams.stdout.write(`\n${formatStop(report.stop)}\n`);
    streams.stdout.write(`\n${formatRecap(report)}\n`);
  }
  return exitCodeOf(report, { detailed: args.detailedExitcode });
}

function jsonReport(report: RunReport) {
  return {
    check: report.check,
    hosts: Object.fromEntries(
      Object.entries(report.hosts).map(([h, r]) => [
        h,
        {
          ok: r.ok,
          changed: r.changed,
          failed: r.failed,
          skipped: r.skipped,
          unreachable: r.unreachable,
          commands: r.commands,
          durationMs: Math.round(r.durationMs),
        },
      ]),
    ),
    tasks: report.tasks.map((t) => ({ ...t, durationMs: Math.round(t.durationMs) })),
    gates: report.gates,
    ...(report.stop ? { stopped: report.stop } : {}),
    durationMs: Math.round(report.durationMs),
  };
}

function printFailures(report: RunReport, streams: CliStreams): void {
  for (const t of report.tasks)
    if (t.error) streams.stdout.write(`\n${t.host} | ${t.status} | ${t.task}\n  ${t.error.split('\n').join('\n  ')}\n`);
}
