import { MaskTable } from '../mask-table.ts';
import { Profiler } from '../profile.ts';
import { VaultSession } from '../vault/session.ts';

/**
 * What one run of `play` carries from the command line down to the engine, made once by {@link main} and passed
 * down explicitly: no module keeps any of it. Its profiler times the run's phases; its vault session holds where
 * passphrases come from (`--vault-password-file`, `PLAY_VAULT_PASSWORD_FILE`, a vault's own `passwordFile`, the
 * ones typed at its prompt), the keys derived ahead, and where vault warnings go. The vaults a run uses are found
 * in its inventory and plays and given this session; no other vault is read. Its mask table gathers the secrets the
 * run meets (compiling, planning, verifying) and masks everything the run shows: reports, `--json`, errors.
 *
 * @example
 * const context = new RunContext({ profiler, vaultPasswordFile: args.vaultPasswordFile, stderr: process.stderr });
 * await runCommand(args, streams, { context, loader });
 */
export class RunContext {
  /** Times the run's phases (`--profile`). */
  readonly profiler: Profiler;
  /** How this run reaches the vaults it uses. */
  readonly vaults: VaultSession;
  /** The secrets this run met, masked in all it shows. */
  readonly masks = new MaskTable();

  constructor(
    options: {
      readonly profiler?: Profiler;
      readonly vaultPasswordFile?: string;
      readonly stderr?: { write(text: string): unknown };
    } = {},
  ) {
    this.profiler = options.profiler ?? new Profiler();
    const stderr = options.stderr ?? process.stderr;
    this.vaults = new VaultSession({
      passwordFile: options.vaultPasswordFile,
      warn: (line) => stderr.write(`${line}\n`),
    });
  }
}
