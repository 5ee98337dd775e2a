import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { editInRamFolder, editorCommand, EditorFailedError, ramFolder } from '../../../src/vault/edit-session.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-edit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** An editor: a shell script that records the file it got, and the modes of it and its folder, then runs `body`. */
function editorScript(body: string): string {
  const path = join(dir, 'editor.sh');
  writeFileSync(
    path,
    `#!/bin/sh\necho "$1" > '${dir}/edited-path'\nstat -c '%a' "$(dirname "$1")" "$1" | tr '\\n' ' ' > '${dir}/modes'\n${body}\n`,
  );
  chmodSync(path, 0o755);
  return path;
}
const editedPath = () => readFileSync(join(dir, 'edited-path'), 'utf8').trim();

describe('editorCommand', () => {
  it.each([
    [{ VISUAL: 'code --wait', EDITOR: 'nano' }, ['code', '--wait']],
    [{ EDITOR: 'nano' }, ['nano']],
    [{ EDITOR: `"/opt/my editor/bin/ed" -n 'a b' c\\ d` }, ['/opt/my editor/bin/ed', '-n', 'a b', 'c d']],
    [{ EDITOR: '', PATH: '/nowhere' }, ['vi']],
  ])('%j runs %j', (env, command) => {
    expect(editorCommand(env)).toEqual(command);
  });
});

describe('ramFolder', () => {
  it('is /dev/shm on Linux, else $XDG_RUNTIME_DIR', () => {
    expect(ramFolder({})).toBe('/dev/shm');
  });
});

describe('editInRamFolder', () => {
  it('hands the editor a file of mode 0600 in a new folder of mode 0700 in memory, returns the edit, and removes the folder', async () => {
    const editor = editorScript(`sed -i 's/old/new/' "$1"`);
    expect(await editInRamFolder('{"a": "old"}\n', { editor: [editor] })).toBe('{"a": "new"}\n');
    expect(editedPath().startsWith('/dev/shm/play-vault-')).toBe(true);
    expect(readFileSync(join(dir, 'modes'), 'utf8').trim()).toBe('700 600');
    expect(existsSync(dirname(editedPath()))).toBe(false);
  });

  it('removes the folder, and what the editor left in it, when the editor fails', async () => {
    const editor = editorScript(`touch "$(dirname "$1")/.vault.json.swp"; exit 3`);
    const error = await editInRamFolder('{}', { editor: [editor] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EditorFailedError);
    expect((error as Error).message).toBe(`the editor ${editor} exited with code 3: nothing written`);
    expect(existsSync(dirname(editedPath()))).toBe(false);
  });

  it('says so when the editor cannot start', async () => {
    await expect(editInRamFolder('{}', { editor: [join(dir, 'no-such-editor')] })).rejects.toThrow(
      /cannot run the editor .*no-such-editor: .*ENOENT/,
    );
  });
});
