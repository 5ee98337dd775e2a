import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PlayError } from '../errors.ts';

/**
 * An editor that failed or was stopped: nothing of the edit is kept. Exit code 1 (130 when stopped by SIGINT).
 *
 * @example
 * throw new EditorFailedError('the editor vi exited with code 1: nothing written');
 */
export class EditorFailedError extends PlayError {
  constructor(
    message: string,
    /** The signal that stopped the editor (or play), when one did. */
    readonly signal?: NodeJS.Signals,
  ) {
    super(message);
  }
}

/**
 * A folder in memory for decrypted secrets: `/dev/shm`, else `$XDG_RUNTIME_DIR`. With neither, a PlayError: play
 * does not write decrypted secrets where they would reach a disk.
 *
 * @example
 * const dir = mkdtempSync(join(ramFolder(), 'play-vault-'));
 */
export function ramFolder(env: NodeJS.ProcessEnv = process.env): string {
  for (const folder of ['/dev/shm', env.XDG_RUNTIME_DIR]) {
    if (!folder) continue;
    try {
      if (statSync(folder).isDirectory()) {
        accessSync(folder, constants.W_OK);
        return folder;
      }
    } catch {
      // Not there, or not ours to write: try the next.
    }
  }
  throw new PlayError(
    'no folder in memory to decrypt into (/dev/shm or $XDG_RUNTIME_DIR): play vault edit does not put secrets on a disk; use `play vault view --reveal` and `play vault set` instead',
  );
}

/**
 * The editor to run, as a command and its arguments: `$VISUAL`, else `$EDITOR` (split like a shell would split
 * words, quotes included, so `code --wait` works), else `editor` when it is on the PATH, else `vi`.
 *
 * @example
 * editorCommand({ EDITOR: 'code --wait' }) // ['code', '--wait']
 */
export function editorCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  const chosen = env.VISUAL || env.EDITOR;
  if (chosen) return shellWords(chosen);
  const onPath = (env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, 'editor')));
  return [onPath ? 'editor' : 'vi'];
}

/** Words as `sh` splits them: on blanks, with '…', "…" and backslash quoting. No expansions. */
function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "'") {
      const end = text.indexOf("'", i + 1);
      word = (word ?? '') + text.slice(i + 1, end < 0 ? undefined : end);
      i = end < 0 ? text.length : end;
    } else if (char === '"') {
      word ??= '';
      for (i++; i < text.length && text[i] !== '"'; i++)
        word += text[i] === '\\' && /["\\$`]/.test(text[i + 1] ?? '') ? text[++i] : text[i];
    } else if (char === '\\') {
      word = (word ?? '') + (text[++i] ?? '');
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * How {@link editInRamFolder} runs.
 *
 * @example
 * await editInRamFolder(text, { editor: ['code', '--wait'], parent: process.env.XDG_RUNTIME_DIR } satisfies EditOptions);
 */
export interface EditOptions {
  /** The editor and its arguments; the file's path is added last. Default: {@link editorCommand}. */
  readonly editor?: readonly string[];
  /** Where the private folder is made. Default: {@link ramFolder}. */
  readonly parent?: string;
}

/**
 * Lets the user edit a text in their editor, in a file of mode 0600 inside a new folder of mode 0700 in memory,
 * and returns the edited text. The folder, and whatever the editor left in it (swap files), is removed before this
 * returns or throws: when the editor exits non-zero or cannot start ({@link EditorFailedError}), and when play gets
 * SIGTERM or SIGHUP (the editor is stopped too, the folder removed, then play ends by that signal). SIGINT goes
 * to the editor, which decides, as with git: an editor in a terminal gets Ctrl-C itself, and vi ignores it.
 *
 * @example
 * const edited = await editInRamFolder(`${JSON.stringify(values, null, 2)}\n`);
 */
export async function editInRamFolder(text: string, options: EditOptions = {}): Promise<string> {
  const [command, ...args] = options.editor ?? editorCommand();
  if (!command) throw new EditorFailedError('no editor: set $VISUAL or $EDITOR');
  const folder = mkdtempSync(join(options.parent ?? ramFolder(), 'play-vault-'));
  const removeFolder = () => rmSync(folder, { recursive: true, force: true });
  try {
    const file = join(folder, 'vault.json');
    writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
    await runEditor(command, [...args, file], removeFolder);
    return readFileSync(file, 'utf8');
  } finally {
    removeFolder();
  }
}

/** Runs the editor on the terminal; resolves when it exits 0. `removeFolder` runs before play ends by a signal. */
function runEditor(command: string, args: readonly string[], removeFolder: () => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    const forwardInterrupt = () => child.kill('SIGINT');
    const endBy = (signal: NodeJS.Signals) => {
      child.kill(signal);
      removeFolder();
      detach();
      process.kill(process.pid, signal);
    };
    const onTerminate = () => endBy('SIGTERM');
    const onHangUp = () => endBy('SIGHUP');
    // The last resort, should play end some other way while the editor runs.
    const onExit = () => removeFolder();
    const detach = () => {
      process.removeListener('SIGINT', forwardInterrupt);
      process.removeListener('SIGTERM', onTerminate);
      process.removeListener('SIGHUP', onHangUp);
      process.removeListener('exit', onExit);
    };
    process.on('SIGINT', forwardInterrupt);
    process.on('SIGTERM', onTerminate);
    process.on('SIGHUP', onHangUp);
    process.on('exit', onExit);
    child.on('error', (error) => {
      detach();
      reject(new EditorFailedError(`cannot run the editor ${command}: ${error.message}: nothing written`));
    });
    child.on('exit', (code, signal) => {
      detach();
      if (code === 0) resolvePromise();
      else if (signal)
        reject(new EditorFailedError(`the editor ${command} was stopped by ${signal}: nothing written`, signal));
      else reject(new EditorFailedError(`the editor ${command} exited with code ${code}: nothing written`));
    });
  });
}
