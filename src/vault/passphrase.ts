import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PlayError, ValidationError } from '../errors.ts';
import { checkOwnerOnlyFile } from './owner-only-file.ts';

/**
 * A file that holds a vault's passphrase, and where play was told of it (for messages).
 *
 * @example
 * const file: VaultPasswordFile = { path: '/root/.vault-pass', source: 'PLAY_VAULT_PASSWORD_FILE' };
 */
export interface VaultPasswordFile {
  readonly path: string;
  readonly source:
    | '--vault-password-file'
    | '--new-vault-password-file'
    | 'PLAY_VAULT_PASSWORD_FILE'
    | 'the project setting';
}

/**
 * A terminal to ask on: input that can be put in raw mode, and where the question goes.
 *
 * @example
 * const streams: PromptStreams = { stdin: process.stdin, stderr: process.stderr };
 */
export interface PromptStreams {
  readonly stdin?: NodeJS.ReadableStream & { isTTY?: boolean; isRaw?: boolean; setRawMode?(raw: boolean): unknown };
  readonly stderr?: { write(text: string): unknown };
}

/**
 * The password file to use, in this order: the command line's (`--vault-password-file`, given as `fromFlag`), the
 * environment's `PLAY_VAULT_PASSWORD_FILE`, the project's own setting; undefined when none is given.
 *
 * @example
 * vaultPasswordFile('inventory/.vault-pass') // { path: '/root/.vault-pass', source: 'PLAY_VAULT_PASSWORD_FILE' } when that is set
 */
export function vaultPasswordFile(projectSetting?: string, fromFlag?: string): VaultPasswordFile | undefined {
  if (fromFlag) return { path: fromFlag, source: '--vault-password-file' };
  const fromEnv = process.env.PLAY_VAULT_PASSWORD_FILE;
  if (fromEnv) return { path: fromEnv, source: 'PLAY_VAULT_PASSWORD_FILE' };
  return projectSetting ? { path: projectSetting, source: 'the project setting' } : undefined;
}

/**
 * The passphrase in a password file: its text with one trailing newline removed. A missing or empty file, or one
 * that others may read or that belongs to someone else, is a ValidationError (exit code 2).
 *
 * @example
 * readVaultPasswordFile({ path: '/root/.vault-pass', source: '--vault-password-file' })
 */
export function readVaultPasswordFile(file: VaultPasswordFile): string {
  const what = `vault password file`;
  if (!existsSync(file.path)) throw new ValidationError(`${what} ${file.path} (from ${file.source}) does not exist`);
  checkOwnerOnlyFile(file.path, what);
  const passphrase = readFileSync(file.path, 'utf8').replace(/\r?\n$/, '');
  if (passphrase === '') throw new ValidationError(`${what} ${file.path} (from ${file.source}) is empty`);
  return passphrase;
}

/**
 * Where one run's vault passphrases come from: the command line's password file, then
 * `PLAY_VAULT_PASSWORD_FILE`, then a vault's own `passwordFile` setting, else one typed at a prompt earlier in the
 * run (kept in this object's memory only, so a run's typed passphrases end with it).
 *
 * @example
 * const passphrases = new PassphraseSource({ passwordFile: args.vaultPasswordFile });
 * passphrases.known('inventory/smknh.vault', '.vault-pass') // the passphrase, or undefined if it must be asked
 */
export class PassphraseSource {
  readonly #fromFlag: string | undefined;
  /** Passphrases typed at a prompt this run, by the vault's absolute path. */
  readonly #typed = new Map<string, string>();

  /** `passwordFile` is the command line's `--vault-password-file`: it wins over the environment and the setting. */
  constructor(options: { readonly passwordFile?: string } = {}) {
    this.#fromFlag = options.passwordFile;
  }

  /**
   * The password file for a vault with this project setting (see {@link vaultPasswordFile}).
   *
   * @example
   * passphrases.passwordFile('.vault-pass') // { path: '.vault-pass', source: 'the project setting' }
   */
  passwordFile(projectSetting?: string): VaultPasswordFile | undefined {
    return vaultPasswordFile(projectSetting, this.#fromFlag);
  }

  /**
   * The passphrase of a vault when play can have it without asking: from a password file, else one typed earlier
   * in this run; undefined otherwise.
   *
   * @example
   * const passphrase = passphrases.known('/etc/play/smknh.vault');
   */
  known(vaultPath: string, projectSetting?: string): string | undefined {
    const file = this.passwordFile(projectSetting);
    return file ? readVaultPasswordFile(file) : this.#typed.get(resolve(vaultPath));
  }

  /**
   * Keeps a passphrase typed at a prompt for a vault, in memory, for the rest of the run.
   *
   * @example
   * passphrases.remember(path, await askHidden(`Vault passphrase for ${path}: `));
   */
  remember(vaultPath: string, passphrase: string): void {
    this.#typed.set(resolve(vaultPath), passphrase);
  }
}

/**
 * Whether play can ask on this input: a terminal it can put in raw mode (no echo).
 *
 * @example
 * if (canAskHidden(process.stdin)) passphrase = await askHidden('Vault passphrase: ');
 */
export function canAskHidden(stdin: PromptStreams['stdin'] = process.stdin): boolean {
  return stdin?.isTTY === true && typeof stdin.setRawMode === 'function';
}

/**
 * Asks a question on the terminal and reads the answer without echoing it (raw mode: Enter ends, Backspace and
 * Ctrl-U edit, Ctrl-C aborts). The question goes to stderr, so stdout stays clean for pipes.
 *
 * @example
 * const passphrase = await askHidden('Vault passphrase for inventory/smknh.vault: ');
 */
export function askHidden(question: string, streams: PromptStreams = {}): Promise<string> {
  const stdin = streams.stdin ?? process.stdin;
  const stderr = streams.stderr ?? process.stderr;
  if (!canAskHidden(stdin))
    return Promise.reject(new ValidationError('cannot ask for a passphrase: stdin is not a terminal'));
  stderr.write(question);
  return new Promise((resolvePromise, reject) => {
    let answer: string[] = [];
    const wasRaw = stdin.isRaw === true;
    const finish = (error?: Error) => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(wasRaw);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolvePromise(answer.join(''));
    };
    const onData = (chunk: string | Buffer) => {
      for (const char of String(chunk)) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') return finish(new PlayError('interrupted at the passphrase prompt'));
        if (char === '\u007f' || char === '\b') answer = answer.slice(0, -1);
        else if (char === '\u0015') answer = [];
        else if (char >= ' ') answer.push(char);
      }
    };
    stdin.setRawMode?.(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}

/**
 * Asks for a new passphrase twice, without echo, and returns it; answers that differ or are empty are a
 * ValidationError and nothing is written.
 *
 * @example
 * const passphrase = await askNewPassphrase();
 */
export async function askNewPassphrase(streams: PromptStreams = {}, what = 'New vault passphrase'): Promise<string> {
  const first = await askHidden(`${what}: `, streams);
  if (first === '') throw new ValidationError('an empty passphrase protects nothing: nothing written');
  const second = await askHidden(`${what} (again): `, streams);
  if (first !== second) throw new ValidationError('the two passphrases differ: nothing written');
  return first;
}
