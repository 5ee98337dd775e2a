import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { newListenersFreeCheck, POSTFIX_ACTIVATE, POSTFIX_RESTORE, postfixTreeCheck, SMTP_BANNER_PROBE } from '../../../roles/postfix/config-set.ts';

describe('the postfix set\'s shell', () => {
  it('every command parses in /bin/sh, with an odd staging path', () => {
    for (const command of [postfixTreeCheck("/run/play stage/'x'"), newListenersFreeCheck('/run/x'), POSTFIX_ACTIVATE, POSTFIX_RESTORE, SMTP_BANNER_PROBE]) {
      expect(command.text).not.toContain('undefined');
      expect(() => execFileSync('sh', ['-n', '-c', command.text])).not.toThrow();
    }
  });
});
