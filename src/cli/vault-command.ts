import { existsSync } from 'node:fs';
import { parseStrictArgs } from './strict-args.ts';
import { PlayError, ValidationError } from '../errors.ts';
import { MaskTable } from '../mask-table.ts';
import { MASK } from '../secret.ts';
import { parseVaultValues, type VaultValues } from '../vault/contents.ts';
import { EditorFailedError, editInRamFolder } from '../vault/edit-session.ts';
import { VaultLockedError, WrongVaultPassphraseError } from '../vault/errors.ts';
import {
  askHidden,
  askNewPassphrase,
  canAskHidden,
  readVaultPasswordFile,
  vaultPasswordFile,
  type PromptStreams,
} from '../vault/passphrase.ts';
import { rotatedSecrets, secretKindOf } from '../vault/rotate.ts';
import { readVaultFile, vaultFormat, writeVault, writeVaultFile, type VaultFileContents } from '../vault/vault-file.ts';

/**
 * Where `play vault` reads and writes; tests pass their own.
 *
 * @example
 * const streams: VaultCommandStreams = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
 */
export interface VaultCommandStreams {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Where `set` reads a value, and the terminal prompts read from. Default: `process.stdin`. */
  readonly stdin?: PromptStreams['stdin'];
}

/**
 * The usage text of `play vault`, printed by `play vault --help`.
 *
 * @example
 * process.stdout.write(`${VAULT_USAGE}\n`);
 */
export const VAULT_USAGE = `Usage: play vault COMMAND FILE [NAME] [options]

Keeps a vault: a file of named secrets, encrypted with AES-256-GCM under a passphrase (scrypt), committed
with the school's inventory. Secrets never appear in output, except with view --reveal.

Commands:
  create FILE           make a new, empty encrypted vault (refuses an existing file)
  encrypt FILE          encrypt a plain-text (JSON) vault in place
  view FILE [--reveal]  list the secrets' names, values masked; --reveal prints the JSON, values and all
  edit FILE             edit the JSON in $VISUAL or $EDITOR: a temporary file in memory, removed afterwards
  set FILE NAME         store a secret read from stdin (asked twice, without echo, on a terminal)
  rotate FILE NAME      replace a secret by a new random one of the same kind, for the next play run:
                        letters and digits, hex, base64, a PEM private key, a self-signed <x>_certificate
                        with its <x>_key (a certificate issued by a CA is refused: use set)
  rekey FILE            encrypt the vault under a new passphrase

Options:
      --vault-password-file FILE      read the passphrase from FILE (mode 0600; one trailing newline is dropped)
      --new-vault-password-file FILE  rekey: read the new passphrase from FILE
      --reveal                        view: print the values too
  -h, --help                          this help

Without a password file (the option, or PLAY_VAULT_PASSWORD_FILE), the passphrase is asked on the terminal;
create, encrypt and rekey ask for a new one twice.

Exit codes: 0 done; 1 failed (e.g. the editor); 2 invalid input, a wrong passphrase, or a vault changed since
it was written.`;

interface VaultArgs {
  readonly command: string;
  readonly file: string;
  readonly name?: string;
  readonly vaultPasswordFile?: string;
  readonly newVaultPasswordFile?: string;
  readonly reveal: boolean;
}

const ARITY: Record<string, readonly string[]> = {
  create: ['FILE'],
  encrypt: ['FILE'],
  view: ['FILE'],
  edit: ['FILE'],
  set: ['FILE', 'NAME'],
  rotate: ['FILE', 'NAME'],
  rekey: ['FILE'],
};

/**
 * Runs `play vault …` (the arguments after `vault`) and returns its exit code: 0 done, 1 failed, 2 invalid input,
 * a wrong passphrase, or a vault changed since it was written.
 *
 * @example
 * process.exitCode = await vaultCommand(['view', 'inventory/smknh.vault'], process);
 */
export async function vaultCommand(argv: readonly string[], io: VaultCommandStreams): Promise<number> {
  // The values the command reads, masked in all it says, its errors too.
  const masks = new MaskTable();
  try {
    const args = parseVaultArgs(argv);
    if (!args) {
      io.stdout.write(`${VAULT_USAGE}\n`);
      return 0;
    }
    const session = new VaultSession(args, io, masks);
    await session.run();
    return 0;
  } catch (error) {
    const message = masks.mask(
      error instanceof PlayError ? error.describe() : error instanceof Error ? error.message : String(error),
    );
    io.stderr.write(`play vault: ${message}\n`);
    if (error instanceof ValidationError) return 2;
    return error instanceof EditorFailedError && error.signal === 'SIGINT' ? 130 : 1;
  }
}

/** The parsed arguments, or undefined for `--help`; bad usage is a ValidationError. */
function parseVaultArgs(argv: readonly string[]): VaultArgs | undefined {
  const parsed = parseStrictArgs(
    argv,
    {
      'vault-password-file': { type: 'string' },
      'new-vault-password-file': { type: 'string' },
      reveal: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    (message) => new ValidationError(`${message} (see play vault --help)`),
  );
  const { values, positionals } = parsed;
  if (values.help) return undefined;
  const [command, ...rest] = positionals;
  if (!command)
    throw new ValidationError(
      'which vault command? create, encrypt, view, edit, set, rotate or rekey (see play vault --help)',
    );
  const arity = ARITY[command];
  if (!arity)
    throw new ValidationError(
      `unknown vault command "${command}": create, encrypt, view, edit, set, rotate or rekey (see play vault --help)`,
    );
  if (command === 'set' && rest.length > 2) {
    throw new ValidationError(
      'play vault set reads the value from stdin, never from the command line (where ps and the shell history would show it): play vault set FILE NAME < value-file',
    );
  }
  if (rest.length !== arity.length)
    throw new ValidationError(
      `usage: play vault ${command} ${arity.join(' ')}${command === 'view' ? ' [--reveal]' : ''}`,
    );
  if (values.reveal && command !== 'view') throw new ValidationError('--reveal is an option of play vault view only');
  if (values['new-vault-password-file'] && command !== 'rekey')
    throw new ValidationError('--new-vault-password-file is an option of play vault rekey only');
  const [file, name] = rest;
  if (name !== undefined && !/^[\w.-]+$/.test(name))
    throw new ValidationError(`secret name "${name}" must be letters, digits, _ . or -`);
  return {
    command,
    file,
    name,
    vaultPasswordFile: values['vault-password-file'],
    newVaultPasswordFile: values['new-vault-password-file'],
    reveal: values.reveal,
  };
}

/** One `play vault` command: its arguments and streams, and the steps every command shares. */
class VaultSession {
  readonly #args: VaultArgs;
  readonly #io: VaultCommandStreams;
  readonly #file: string;
  readonly #masks: MaskTable;

  constructor(args: VaultArgs, io: VaultCommandStreams, masks: MaskTable) {
    this.#args = args;
    this.#io = io;
    this.#masks = masks;
    this.#file = args.file;
  }

  async run(): Promise<void> {
    switch (this.#args.command) {
      case 'create':
        return this.create();
      case 'encrypt':
        return this.encrypt();
      case 'view':
        return this.view();
      case 'edit':
        return this.edit();
      case 'set':
        return this.set();
      case 'rotate':
        return this.rotate();
      case 'rekey':
        return this.rekey();
    }
  }

  async create(): Promise<void> {
    const file = this.#file;
    if (existsSync(file))
      throw new ValidationError(
        `vault ${file} exists already: change it with \`play vault edit ${file}\` or \`play vault set ${file} NAME\``,
      );
    writeVault(file, {}, await this.newPassphrase());
    this.say(
      `created the encrypted vault ${file}, empty: add secrets with \`play vault set ${file} NAME\` or \`play vault edit ${file}\``,
    );
  }

  async encrypt(): Promise<void> {
    const file = this.#file;
    if (vaultFormat(file) === 'encrypted')
      throw new ValidationError(`vault ${file} is encrypted already (a new passphrase: \`play vault rekey ${file}\`)`);
    const { values } = readVaultFile(file, () => undefined);
    this.remember(values);
    writeVault(file, values, await this.newPassphrase());
    this.say(
      `encrypted vault ${file} (${count(values)}); if its plain text was ever committed or copied, those values are still there: rotate them (\`play vault rotate ${file} NAME\`)`,
    );
  }

  async view(): Promise<void> {
    const { values } = await this.open();
    if (this.#args.reveal) {
      this.#io.stdout.write(`${JSON.stringify(values, null, 2)}\n`);
      return;
    }
    const lines = Object.entries(values).map(
      ([name, value]) => `${name}: ${MASK} (${[...value].length} characters${describeKind(value)})`,
    );
    this.say(lines.length > 0 ? lines.join('\n') : `vault ${this.#file} holds no secrets`);
  }

  async edit(): Promise<void> {
    const vault = await this.open();
    const before = `${JSON.stringify(vault.values, null, 2)}\n`;
    const after = await editInRamFolder(before);
    if (after === before) return this.say(`no change: vault ${this.#file} is as it was`);
    let values: VaultValues;
    try {
      values = parseVaultValues(this.#file, after);
    } catch (error) {
      throw new ValidationError(`${(error as Error).message}: the edit is not kept, nothing written`);
    }
    this.remember(values);
    const summary = changeSummary(vault.values, values);
    // Every write has a new salt and IV, so a write with nothing to say would still change every line in git.
    if (!summary) return this.say(`no change: vault ${this.#file} holds the same values`);
    writeVaultFile(this.#file, { ...vault, values });
    this.say(`vault ${this.#file}: ${summary}`);
  }

  /** The secret a command names (set and rotate take one; the argument check made sure it is there). */
  #secretName(): string {
    const name = this.#args.name;
    if (name === undefined) throw new ValidationError(`usage: play vault ${this.#args.command} FILE NAME`);
    return name;
  }

  async set(): Promise<void> {
    const name = this.#secretName();
    const vault = await this.open();
    const value = await this.readValue(name);
    if (vault.values[name] === value)
      return this.say(`no change: secret "${name}" in vault ${this.#file} has that value already`);
    const verb = name in vault.values ? 'changed' : 'added';
    writeVaultFile(this.#file, { ...vault, values: { ...vault.values, [name]: value } });
    this.say(
      `${verb} secret "${name}" in vault ${this.#file} (${[...value].length} characters): the next play run applies it`,
    );
  }

  async rotate(): Promise<void> {
    const name = this.#secretName();
    const vault = await this.open();
    const renewed = rotatedSecrets(vault.values, name, this.#file);
    this.remember(renewed);
    writeVaultFile(this.#file, { ...vault, values: { ...vault.values, ...renewed } });
    const names = Object.keys(renewed)
      .map((n) => `"${n}"`)
      .join(' and ');
    this.say(
      `rotated ${names} in vault ${this.#file}: the next play run applies ${Object.keys(renewed).length > 1 ? 'them' : 'it'}`,
    );
  }

  async rekey(): Promise<void> {
    const file = this.#file;
    if (vaultFormat(file) === 'plain')
      throw new ValidationError(
        `vault ${file} is plain text, with no passphrase to change: encrypt it with \`play vault encrypt ${file}\``,
      );
    const { values } = await this.open();
    const newFile = this.#args.newVaultPasswordFile;
    let passphrase: string;
    if (newFile) passphrase = readVaultPasswordFile({ path: newFile, source: '--new-vault-password-file' });
    else if (canAskHidden(this.#io.stdin ?? process.stdin))
      passphrase = await askNewPassphrase(this.prompts(), `New passphrase for vault ${file}`);
    else throw new ValidationError(`give the new passphrase of vault ${file} with --new-vault-password-file FILE`);
    writeVault(file, values, passphrase);
    this.say(`vault ${file} now opens with the new passphrase (${count(values)})`);
  }

  /** The vault read, with a passphrase from a file or the terminal (asked again, up to three times, when wrong). */
  async open(): Promise<VaultFileContents> {
    const file = this.#file;
    if (vaultFormat(file) === 'plain') {
      this.#io.stderr.write(
        `play: warning: vault ${file} is plain text: encrypt it with \`play vault encrypt ${file}\`\n`,
      );
      const contents = readVaultFile(file, () => undefined);
      this.remember(contents.values);
      return contents;
    }
    const fromFile = this.passwordFile();
    for (let attempt = 1; ; attempt++) {
      const passphrase = fromFile ? readVaultPasswordFile(fromFile) : await this.askPassphrase();
      try {
        const contents = readVaultFile(file, () => passphrase);
        this.remember(contents.values);
        return contents;
      } catch (error) {
        if (fromFile || !(error instanceof WrongVaultPassphraseError) || attempt === 3) throw error;
        this.#io.stderr.write(`play vault: wrong passphrase for vault ${file}, try again\n`);
      }
    }
  }

  /** The passphrase file: this command's option, else the environment's. */
  passwordFile() {
    const own = this.#args.vaultPasswordFile;
    return vaultPasswordFile(undefined, own);
  }

  async askPassphrase(): Promise<string> {
    if (!canAskHidden(this.#io.stdin ?? process.stdin)) throw new VaultLockedError(this.#file);
    return askHidden(`Vault passphrase for ${this.#file}: `, this.prompts());
  }

  /** A new vault's passphrase: from the password file, else asked twice on the terminal. */
  async newPassphrase(): Promise<string> {
    const file = this.passwordFile();
    if (file) return readVaultPasswordFile(file);
    if (!canAskHidden(this.#io.stdin ?? process.stdin)) {
      throw new ValidationError(
        `give the passphrase of vault ${this.#file} with --vault-password-file FILE or PLAY_VAULT_PASSWORD_FILE (or run this on a terminal)`,
      );
    }
    return askNewPassphrase(this.prompts(), `New passphrase for vault ${this.#file}`);
  }

  /**
   * A secret's new value: asked twice without echo on a terminal, else all of stdin, less one trailing newline
   * when the value is one line (a PEM key keeps its last newline).
   */
  async readValue(name: string): Promise<string> {
    const stdin = this.#io.stdin ?? process.stdin;
    let value: string;
    if (canAskHidden(stdin)) {
      value = await askHidden(`Value of "${name}": `, this.prompts());
      if (value !== '' && value !== (await askHidden(`Value of "${name}" (again): `, this.prompts()))) {
        throw new ValidationError(`the two values of "${name}" differ: nothing written`);
      }
    } else {
      const chunks: Buffer[] = [];
      for await (const chunk of stdin) chunks.push(Buffer.from(chunk));
      const text = Buffer.concat(chunks).toString('utf8');
      value = /^[^\n]*\r?\n$/.test(text) ? text.replace(/\r?\n$/, '') : text;
    }
    if (value === '') throw new ValidationError(`the value of "${name}" is empty (give it on stdin): nothing written`);
    this.remember({ [name]: value });
    return value;
  }

  prompts(): PromptStreams {
    return { stdin: this.#io.stdin, stderr: this.#io.stderr };
  }

  say(text: string): void {
    this.#io.stdout.write(`${this.#masks.mask(text)}\n`);
  }

  /**
   * Registers values for masking, so no later message can show one. Short values are left out: masking a
   * three-letter word everywhere would garble messages more than it protects.
   */
  remember(values: Readonly<VaultValues>): void {
    for (const value of Object.values(values)) if (value.length >= 8) this.#masks.add(value);
  }
}

function count(values: Readonly<VaultValues>): string {
  const n = Object.keys(values).length;
  return `${n} secret${n === 1 ? '' : 's'}`;
}

/** `, PEM private key` and the like, for `view`; nothing for a kind play does not know. */
function describeKind(value: string): string {
  if (value.includes('-----BEGIN CERTIFICATE-----')) return ', PEM certificate';
  const kind = secretKindOf(value);
  return kind ? `, ${kind.name}` : '';
}

/** Which names an edit added, changed and removed, e.g. `changed "a"; added "b"`; empty when none. */
function changeSummary(before: Readonly<VaultValues>, after: Readonly<VaultValues>): string {
  const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(', ');
  const parts = [
    ['changed', Object.keys(after).filter((n) => n in before && before[n] !== after[n])],
    ['added', Object.keys(after).filter((n) => !(n in before))],
    ['removed', Object.keys(before).filter((n) => !(n in after))],
  ] as const;
  const said = parts.filter(([, names]) => names.length > 0).map(([verb, names]) => `${verb} ${quoted([...names])}`);
  return said.join('; ');
}
