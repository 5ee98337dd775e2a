import { parseStrictArgs } from './strict-args.ts';
import { ValidationError } from '../errors.ts';
import { parseExtraVarArgs } from '../model/extra-vars.ts';

/** The command line of a `play` run, parsed. */
export interface CliArgs {
  /** `run` (the default: apply the playbook) or `verify` (its health check, read-only). */
  readonly command: 'run' | 'verify';
  readonly playbook?: string;
  readonly inventory?: string;
  readonly check: boolean;
  readonly diff: boolean;
  readonly limit?: string;
  readonly tags?: string[];
  readonly skipTags?: string[];
  /** `-e NAME=VALUE` and `-e JSON`, in order (a later one wins); the playbook's `extraVars` types them. */
  readonly extraVars: Readonly<Record<string, unknown>>;
  readonly forks: number;
  readonly json: boolean;
  readonly listHosts: boolean;
  readonly listTasks: boolean;
  readonly detailedExitcode: boolean;
  readonly acceptNewHostKeys: boolean;
  readonly knownHosts?: string;
  /** Run the handlers notified so far even when a task fails. */
  readonly forceHandlers: boolean;
  /** Run only the handlers an earlier run left pending on the hosts. */
  readonly flushHandlers: boolean;
  /** Skip the health gate between serial batches. */
  readonly noGate: boolean;
  /** Print where the time went, phase by phase, on stderr (also `PLAY_PROFILE=1`). */
  readonly profile: boolean;
  /** Fail at once (exit 1) when another run holds a host's lock, instead of waiting. */
  readonly noWait: boolean;
  /** The file holding the vaults' passphrase (`--vault-password-file`). */
  readonly vaultPasswordFile?: string;
  readonly help: boolean;
  readonly version: boolean;
}

/**
 * How many hosts a run works on at once unless `--forks` says otherwise. `npm run bench:scale` measured the no-op
 * of 100 hosts on a 2-core controller with 10, 25, 50 and 100: 25 was the fastest (median 4.95 s, against 5.28 s
 * with 10 and 5.43 s with 50, and 6.35 s with 100, where the handshakes all compete at once).
 */
export const DEFAULT_FORKS = 25;

/** The usage text, also docs/cli.md's flag table in short. */
export const USAGE = `Usage: play PLAYBOOK [options]
       play verify PLAYBOOK [-i FILE] [-l PATTERN] [--json]
       play init DIR --school NAME --domain DOMAIN …   (a new school's project: play init --help)
       play vault create|view|edit|set|rotate|rekey|encrypt FILE …   (encrypted vaults: play vault --help)

Runs a playbook (a .ts file; a bare name is looked up in the current folder, then in playbooks/).
\`play verify\` runs the playbook's health check on the deployed hosts instead: read-only, a table of checks,
exit 0 only when every check is ok (1 otherwise).

Options:
  -i, --inventory FILE        run against this inventory instead of the playbook's own
  -C, --check                 plan and show every change, change nothing
  -D, --diff                  show unified diffs of changed files (on by default; kept for Ansible habits)
      --no-diff               do not show diffs
  -l, --limit PATTERN         only these hosts (names, groups, globs, a:b, !x, &x)
  -t, --tags TAGS             only tasks with one of these tags (comma-separated)
      --skip-tags TAGS        skip tasks with one of these tags
  -e, --extra-vars VARS       NAME=VALUE or a JSON object, for the vars the playbook declares (extraVars);
                              repeatable, a later one wins; they override every other var
  -f, --forks N               hosts run at once (default ${DEFAULT_FORKS})
      --json                  print one JSON report on stdout, nothing else there
      --list-hosts            print the hosts each play would run on, connect to nothing
      --list-tasks            print the tasks each host would run, connect to nothing
      --detailed-exitcode     with --check: exit 3 when something would change
      --accept-new-host-keys  trust and record keys of hosts not yet in known_hosts
      --known-hosts FILE      known_hosts file (default ~/.ssh/known_hosts)
      --force-handlers        run the handlers notified so far even when a task fails
      --flush-handlers        run only the handlers an earlier run left pending (a failed or killed run), no tasks
      --no-wait               when another run holds a host's lock, fail at once (exit 1) instead of waiting
      --no-gate               do not run the playbook's health check after each serial batch that changed something
      --profile               print on stderr where the time went: node start, load, vault, compile, connect and
                              read facts, plan and apply, report (also PLAY_PROFILE=1)
      --vault-password-file FILE
                              the encrypted vaults' passphrase (else PLAY_VAULT_PASSWORD_FILE, the
                              inventory's own passwordFile, or a prompt on a terminal)
  -h, --help                  this help
      --version               print the version

Exit codes: 0 success; 1 a task failed or a host was unreachable; 2 invalid input (usage, playbook,
inventory, role vars, template), found before any host is touched; 3 with --check --detailed-exitcode:
something would change.`;

function list(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
}

/**
 * Parses `play`'s arguments; bad usage is a {@link ValidationError} (exit code 2).
 *
 * @example
 * parseCliArgs(['site.ts', '--check', '-l', 'primary'])
 */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  const parsed = parseStrictArgs(
    argv,
    {
      inventory: { type: 'string', short: 'i' },
      check: { type: 'boolean', short: 'C', default: false },
      diff: { type: 'boolean', short: 'D', default: true },
      'no-diff': { type: 'boolean', default: false },
      limit: { type: 'string', short: 'l' },
      tags: { type: 'string', short: 't' },
      'skip-tags': { type: 'string' },
      'extra-vars': { type: 'string', short: 'e', multiple: true },
      forks: { type: 'string', short: 'f' },
      json: { type: 'boolean', default: false },
      'list-hosts': { type: 'boolean', default: false },
      'list-tasks': { type: 'boolean', default: false },
      'detailed-exitcode': { type: 'boolean', default: false },
      'accept-new-host-keys': { type: 'boolean', default: false },
      'known-hosts': { type: 'string' },
      'vault-password-file': { type: 'string' },
      'force-handlers': { type: 'boolean', default: false },
      'flush-handlers': { type: 'boolean', default: false },
      'no-wait': { type: 'boolean', default: false },
      'no-gate': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      version: { type: 'boolean', default: false },
    },
    (message) => new ValidationError(`${message}\n\n${USAGE}`),
  );
  const { values } = parsed;
  let positionals = parsed.positionals;
  const command = positionals[0] === 'verify' ? 'verify' : 'run';
  if (command === 'verify') {
    positionals = positionals.slice(1);
    const runOnly = (
      [
        'check',
        'list-hosts',
        'list-tasks',
        'detailed-exitcode',
        'tags',
        'skip-tags',
        'force-handlers',
        'flush-handlers',
        'no-wait',
        'no-gate',
        'extra-vars',
      ] as const
    ).filter((k) => values[k] !== undefined && values[k] !== false);
    if (runOnly.length) throw new ValidationError(`play verify only reads: --${runOnly[0]} has no meaning there`);
  }
  if (positionals.length > 1)
    throw new ValidationError(`expected one playbook, got ${positionals.length}: ${positionals.join(' ')}`);
  const forks = values.forks === undefined ? DEFAULT_FORKS : Number(values.forks);
  if (!Number.isInteger(forks) || forks < 1)
    throw new ValidationError(`--forks must be a positive integer, got ${JSON.stringify(values.forks)}`);
  if (values['detailed-exitcode'] && !values.check) throw new ValidationError('--detailed-exitcode needs --check');
  if (values.limit !== undefined && values.limit.trim() === '')
    throw new ValidationError(
      '--limit was given an empty pattern: name hosts or groups (or leave --limit out to run on all)',
    );
  if (!values.help && !values.version && positionals.length === 0)
    throw new ValidationError(`no playbook given\n\n${USAGE}`);
  return {
    command,
    playbook: positionals[0],
    inventory: values.inventory,
    check: values.check ?? false,
    diff: !values['no-diff'],
    limit: values.limit,
    tags: list(values.tags),
    skipTags: list(values['skip-tags']),
    extraVars: parseExtraVarArgs(values['extra-vars'] ?? []),
    forks,
    json: values.json ?? false,
    listHosts: values['list-hosts'] ?? false,
    listTasks: values['list-tasks'] ?? false,
    detailedExitcode: values['detailed-exitcode'] ?? false,
    acceptNewHostKeys: values['accept-new-host-keys'] ?? false,
    knownHosts: values['known-hosts'],
    vaultPasswordFile: values['vault-password-file'],
    forceHandlers: values['force-handlers'] ?? false,
    flushHandlers: values['flush-handlers'] ?? false,
    noWait: values['no-wait'] ?? false,
    noGate: values['no-gate'] ?? false,
    profile: (values.profile ?? false) || process.env.PLAY_PROFILE === '1',
    help: values.help ?? false,
    version: values.version ?? false,
  };
}
