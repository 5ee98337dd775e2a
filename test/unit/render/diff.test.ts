import { describe, expect, it } from 'vitest';
import { MaskTable } from '../../../src/mask-table.ts';
import { MAX_DIFF_EDITS, formatDiff } from '../../../src/render/diff.ts';
import { MASK, secret } from '../../../src/secret.ts';

/** No secret known: what a table adds is tested where it is given one. */
const masks = new MaskTable();

describe('formatDiff', () => {
  it('shows ---/+++ headers and a hunk for a content change', () => {
    const text = formatDiff({ path: '/etc/motd', before: 'one\ntwo\nthree\n', after: 'one\nTWO\nthree\n' }, masks);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^--- \/etc\/motd \(before\)/);
    expect(lines[1]).toMatch(/^\+\+\+ \/etc\/motd \(after\)/);
    expect(lines).toContain('@@ -1,3 +1,3 @@');
    expect(lines).toContain('-two');
    expect(lines).toContain('+TWO');
    expect(lines).toContain(' one');
    expect(lines).toContain(' three');
    expect(text).not.toMatch(/^={5}/m);
    expect(text).not.toMatch(/^Index:/m);
  });

  it('a new file shows every line added', () => {
    const text = formatDiff({ path: '/etc/new', before: '', after: 'a\nb\n' }, masks);
    expect(text).toContain('@@ -0,0 +1,2 @@');
    expect(text).toContain('+a\n+b');
  });

  it('keeps empty context lines of the hunk', () => {
    const text = formatDiff({ path: '/f', before: 'a\n\nb\n', after: 'a\n\nc\n' }, masks);
    expect(text.split('\n')).toContain(' ');
  });

  it('shows only context of three lines around a change', () => {
    const before = `${Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n')}\n`;
    const after = before.replace('line 10\n', 'line ten\n');
    const text = formatDiff({ path: '/f', before, after }, masks);
    expect(text).toContain('@@ -7,7 +7,7 @@');
    expect(text).not.toContain('line 3\n');
  });

  it('says when a file has no final newline', () => {
    const text = formatDiff({ path: '/f', before: 'a', after: 'b\n' }, masks);
    expect(text).toContain('\\ No newline at end of file');
  });

  it('lists attribute changes after the content', () => {
    const text = formatDiff(
      {
        path: '/etc/shadow',
        before: 'x\n',
        after: 'y\n',
        attributes: [
          { name: 'mode', before: '0644', after: '0640' },
          { name: 'group', before: 'root', after: 'shadow' },
        ],
      },
      masks,
    );
    const lines = text.split('\n');
    expect(lines.at(-2)).toBe('mode 0644 → 0640 (/etc/shadow)');
    expect(lines.at(-1)).toBe('group root → shadow (/etc/shadow)');
  });

  it('shows only attributes when the content does not change', () => {
    const text = formatDiff(
      { path: '/srv', attributes: [{ name: 'owner', before: 'root', after: 'www-data' }] },
      masks,
    );
    expect(text).toBe('owner root → www-data (/srv)');
  });

  it('says a binary file differs instead of printing it', () => {
    const text = formatDiff({ path: '/bin/x', before: 'a\u0000b', after: 'a\u0000c' }, masks);
    expect(text).toBe('Binary file /bin/x differs');
  });

  it('masks a secret value inside the contents', () => {
    const password = secret('diff-pass-1');
    const text = formatDiff(
      { path: '/etc/app.conf', before: 'password = old\n', after: `password = ${password.reveal()}\n` },
      new MaskTable().add(password),
    );
    expect(text).not.toContain('diff-pass-1');
    expect(text).toContain(`+password = ${MASK}`);
  });

  it('masks contents given as secrets', () => {
    const text = formatDiff(
      { path: '/etc/key', before: secret('old-key-value-x'), after: secret('new-key-value-y') },
      masks,
    );
    expect(text).not.toContain('old-key-value-x');
    expect(text).not.toContain('new-key-value-y');
    expect(text).toContain('/etc/key');
    expect(text).toMatch(/secret content changed/);
    expect(formatDiff({ path: '/etc/key', before: '', after: secret('created-key-z') }, masks)).not.toContain(
      'created-key-z',
    );
  });

  it('masks a multi-line secret, whose lines the diff prefixes one by one', () => {
    const key = secret('-----BEGIN KEY-----\nMIIEsecretline1\nMIIEsecretline2\n-----END KEY-----\n');
    const inline = formatDiff(
      { path: '/etc/dkim.conf', before: 'key:\n', after: `key:\n${key.reveal()}` },
      new MaskTable().add(key),
    );
    expect(inline).not.toContain('MIIEsecretline1');
    expect(inline).not.toContain('MIIEsecretline2');
    const whole = formatDiff({ path: '/etc/dkim.key', before: '', after: key }, masks);
    expect(whole).not.toContain('MIIEsecretline1');
    expect(whole).not.toContain('MIIEsecretline2');
  });
});

describe('large rewrites', () => {
  it('summarises a diff with more than MAX_DIFF_EDITS changed lines instead of computing it', () => {
    const before = 'A\n'.repeat(5000);
    const after = 'B\n'.repeat(5000);
    const text = formatDiff({ path: '/srv/big', before, after }, masks);
    expect(text).toBe(`/srv/big: 5000 → 5000 lines; more than ${MAX_DIFF_EDITS} lines differ, not shown`);
  });

  it('still shows a diff of a few changed lines in a large file', () => {
    const before = `${Array.from({ length: 5000 }, (_, i) => `line ${i}`).join('\n')}\n`;
    const after = before.replace('line 2500\n', 'line 2500 changed\n');
    const text = formatDiff({ path: '/srv/big', before, after }, masks);
    expect(text).toContain('-line 2500\n+line 2500 changed');
  });
});
