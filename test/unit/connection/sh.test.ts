import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { joinCommands, quote, raw, sh, ShellCommand } from '../../../src/connection/sh.ts';
import { MASK, secret } from '../../../src/secret.ts';

/** Runs a command text through a real /bin/sh and returns its stdout. */
function runSh(text: string): string {
  return execFileSync('/bin/sh', ['-c', text], { encoding: 'utf8' });
}

describe('quote', () => {
  it.each([
    ['', `''`],
    ['plain', 'plain'],
    ['/etc/motd', '/etc/motd'],
    ['a-b_c.d,e:f=g+h@i%j', 'a-b_c.d,e:f=g+h@i%j'],
    ['two words', `'two words'`],
    ["it's", `'it'\\''s'`],
    ['$(id)', `'$(id)'`],
    ['`id`', "'`id`'"],
    ['a\nb', `'a\nb'`],
    ['a;b', `'a;b'`],
    ['*.conf', `'*.conf'`],
    ['file?', `'file?'`],
    ['[ab]', `'[ab]'`],
    ['~root', `'~root'`],
    ['$HOME', `'$HOME'`],
    ['a&&b', `'a&&b'`],
    ['a|b', `'a|b'`],
    ['a>b', `'a>b'`],
    ['"dq"', `'"dq"'`],
    ['back\\slash', `'back\\slash'`],
    ['tab\there', `'tab\there'`],
  ])('quote(%j) is %s', (input, expected) => {
    expect(quote(input)).toBe(expected);
  });
});

describe('sh', () => {
  it('quotes each interpolated string as one word', () => {
    expect(sh`install -d -m ${'0755'} ${'/srv/my dir'}`.text).toBe(`install -d -m 0755 '/srv/my dir'`);
  });

  it('inserts numbers as they are', () => {
    expect(sh`exit ${3}`.text).toBe('exit 3');
  });

  it('turns an array into several quoted words', () => {
    const command = sh`apt-get install -y ${['bind9', 'dns utils', "it's"]}`;
    expect(command.text).toBe(`apt-get install -y bind9 'dns utils' 'it'\\''s'`);
    expect(runSh(sh`printf '<%s>' ${['a b', '$(x)', '']}`.text)).toBe('<a b><$(x)><>');
  });

  it('inserts a nested ShellCommand as it is, not quoted', () => {
    const inner = sh`grep -q ${'a b'} ${'/etc/x'}`;
    const outer = sh`if ${inner}; then echo yes; fi`;
    expect(outer.text).toBe(`if grep -q 'a b' /etc/x; then echo yes; fi`);
    expect(outer.display).toBe(outer.text);
  });

  it('inserts raw shell unquoted', () => {
    expect(sh`a ${raw('&&')} b`.text).toBe('a && b');
  });

  it('masks a Secret in display and reveals it (quoted) in text', () => {
    const password = secret('p@ss word$1');
    const command = sh`chpasswd-like ${'user'} ${password}`;
    expect(command.text).toBe(`chpasswd-like user 'p@ss word$1'`);
    expect(command.display).toBe(`chpasswd-like user ${MASK}`);
    expect(String(command)).toBe(command.display);
    expect(command.display).not.toContain('p@ss');
  });

  it('masks a Secret inside an array and inside a nested command', () => {
    const token = secret('tok en');
    const inner = sh`curl -H ${['x', token]}`;
    const outer = sh`${inner} && echo done`;
    expect(outer.text).toBe(`curl -H x 'tok en' && echo done`);
    expect(outer.display).toBe(`curl -H x ${MASK} && echo done`);
  });

  it('joinCommands joins text and display', () => {
    const s = secret('hunter2-join');
    const joined = joinCommands([sh`echo ${s}`, sh`echo b`], ' && ');
    expect(joined).toBeInstanceOf(ShellCommand);
    expect(joined.text).toBe('echo hunter2-join && echo b');
    expect(joined.display).toBe(`echo ${MASK} && echo b`);
  });

  it('refuses values it cannot interpolate', () => {
    expect(() => sh`echo ${{} as unknown as string}`).toThrow(TypeError);
  });

  const hostile = [
    '',
    ' ',
    'two  spaces',
    "single ' quote",
    "''",
    "'\\''",
    '"double" quotes',
    '$(touch /tmp/play-pwned)',
    '`touch /tmp/play-pwned`',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion that sh must quote, on purpose
    '${HOME}',
    '$HOME',
    '$$ $? $! $0 $@ $*',
    'a;b;c',
    'a && b || c',
    'a | b > c < d',
    'line1\nline2\n',
    '\n\n',
    '*',
    '/*',
    '?',
    '[a-z]*',
    '~',
    '~root',
    'tab\tsep',
    'back\\slash\\',
    '-n',
    '-e \\n',
    '--',
    '#comment',
    'a=b',
    '{a,b}',
    '!',
    '%s %d %%',
    'ünïcödé ✓ 日本',
    '\u0001\u0002\u007f',
    "'; rm -rf / #",
  ];

  it.each(hostile)('a real /bin/sh prints %j exactly', (value) => {
    expect(runSh(sh`printf %s ${value}`.text)).toBe(value);
  });

  it('a real /bin/sh passes hostile array words one by one', () => {
    const printed = runSh(sh`for w in ${hostile}; do printf '%s\\0' "$w"; done`.text);
    expect(printed.split('\0').slice(0, -1)).toEqual(hostile);
  });

  it('a real /bin/sh gets a Secret exactly', () => {
    const value = "s3cr'et $(id) `id` \n;*";
    expect(runSh(sh`printf %s ${secret(value)}`.text)).toBe(value);
  });
});

describe('sh and escapes', () => {
  it('refuses a template whose text has an escape it cannot read, instead of running "undefined"', () => {
    // String.raw keeps the bad escape as the template would see it; the tag gets an undefined cooked piece.
    const strings = Object.assign([undefined as unknown as string], { raw: ["sed 's/\\(x\\)/\\1/'"] });
    expect(() => sh(strings as unknown as TemplateStringsArray)).toThrow(/invalid escape .*double the backslash/);
  });
});
