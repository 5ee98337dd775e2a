import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  newListenersFreeCheck,
  postfixActivate,
  postfixFilesCool,
  postfixRestore,
  postfixTreeCheck,
  SMTP_BANNER_PROBE,
} from '../../../roles/postfix/config-set.ts';

describe("the postfix set's shell", () => {
  it('every command parses in /bin/sh, with an odd staging path', () => {
    for (const command of [
      postfixTreeCheck("/run/play stage/'x'"),
      newListenersFreeCheck('/run/x'),
      postfixActivate('postfix@-'),
      postfixRestore('postfix'),
      SMTP_BANNER_PROBE,
      postfixFilesCool("/etc/post fix/'x'"),
    ]) {
      expect(command.text).not.toContain('undefined');
      expect(() => execFileSync('sh', ['-n', '-c', command.text])).not.toThrow();
    }
  });

  it('the cool-down returns only once every file of the folder is 2 s old, so postfix reads each once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'play-cool-'));
    try {
      writeFileSync(join(dir, 'old-table'), 'a b\n');
      utimesSync(join(dir, 'old-table'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      writeFileSync(join(dir, 'school-recipients'), 'guru1 ok\n');
      const written = statSync(join(dir, 'school-recipients')).mtimeMs;
      execFileSync('sh', ['-c', postfixFilesCool(dir).text]);
      // postfix rereads a file whose mtime second is at least (now - 1 s); 2 s after the write it no longer is.
      expect(Date.now() - written).toBeGreaterThanOrEqual(2000);
      expect(Math.floor(Date.now() / 1000) - 1).toBeGreaterThan(Math.floor(written / 1000));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
