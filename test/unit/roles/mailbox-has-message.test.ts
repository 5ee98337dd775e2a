import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = join(import.meta.dirname, '../../../roles/postfix/files/mailbox-has-message.sh');

// A stand-in doveadm on PATH: records its arguments (one per line) and finds a message when told to.
const dir = mkdtempSync(join(tmpdir(), 'has-message-'));
const argsFile = join(dir, 'args');
writeFileSync(join(dir, 'doveadm'), `#!/bin/sh\nprintf '%s\\n' "$@" > ${argsFile}\n[ "$FOUND" = 1 ] && echo "f00d 7"\nexit 0\n`);
chmodSync(join(dir, 'doveadm'), 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The helper's answer to one line, and the arguments doveadm got (none if it was not run). */
function ask(line: string, found = false): { answer: string; doveadm: string[] } {
  rmSync(argsFile, { force: true });
  const result = spawnSync('sh', [SCRIPT], { input: line, encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin`, FOUND: found ? '1' : '0' } });
  expect(result.status).toBe(0);
  return { answer: result.stdout, doveadm: existsSync(argsFile) ? readFileSync(argsFile, 'utf8').split('\n').slice(0, -1) : [] };
}

describe('mailbox-has-message (the milter\'s helper, roles/postfix/files)', () => {
  it('asks doveadm about the account\'s INBOX of the last hour, the Message-ID as one argument, and answers yes or no', () => {
    const query = ['search', '-u', 'kepsek', 'mailbox', 'INBOX', 'savedsince', '1h', 'header', 'Message-ID', '<a.1@lab.test>'];
    expect(ask('kepsek <a.1@lab.test>\r\n', true)).toEqual({ answer: 'yes\n', doveadm: query });
    expect(ask('kepsek <a.1@lab.test>\n', false)).toEqual({ answer: 'no\n', doveadm: query });
  });

  it.each([
    ['an empty line', '\n'],
    ['no Message-ID', 'kepsek\n'],
    ['an account name with capitals', 'Kepsek <a@b>\n'],
    ['an account name with a path', '../root <a@b>\n'],
    ['a Message-ID without angle brackets', 'kepsek a@b\n'],
    ['an empty Message-ID', 'kepsek <>\n'],
    ['a quote in the Message-ID', 'kepsek <a"@b>\n'],
    ['a backslash in the Message-ID', 'kepsek <a\\@b>\n'],
    ['a non-ASCII Message-ID', 'kepsek <é@b>\n'],
    ['a third word', 'kepsek <a@b> ; rm -rf /\n'],
    ['nothing at all', ''],
  ])('refuses %s with "invalid", and never runs doveadm', (_, line) => {
    expect(ask(line, true)).toEqual({ answer: 'invalid\n', doveadm: [] });
  });
});
