import { randomBytes } from 'node:crypto';
import { REMOTE_MARKER } from '../remote/protocol.ts';
import { ShellCommand, quote } from '../connection/sh.ts';

/** What one probe's command printed, as the batch brought it back. */
export interface ProbeOutput {
  readonly exitCode: number;
  readonly stdout: string;
  /** The same output as bytes, for contents that may not be text. */
  readonly bytes: Buffer;
}

/**
 * What a fact is about: its kind and, within the kind, its subject (a path, a unit, an account, a command). Probes
 * with the same identity ask the same question, so their answer is cached and shared. A fact about one path
 * names it in `path`: a change that says which paths it touched then forgets only the facts about those paths
 * (and what lies under them); a fact about no path is forgotten after every change.
 *
 * @example
 * const id: ProbeIdentity = { kind: 'content', subject: '/etc/hosts', path: '/etc/hosts' };
 */
export interface ProbeIdentity {
  readonly kind:
    | 'path'
    | 'content'
    | 'service'
    | 'user'
    | 'group'
    | 'packages'
    | 'succeeds'
    | 'os-release'
    | 'pending-handlers'
    | (string & {});
  readonly subject: string;
  readonly path?: string;
}

/**
 * A read-only question to a host: what it is about ({@link ProbeIdentity}), a command and a pure parser of its
 * output.
 *
 * @example
 * const hostname: Probe<string> = { id: { kind: 'hostname', subject: '' }, command: sh`uname -n`, parse: (o) => o.stdout.trim() };
 */
export interface Probe<T> {
  readonly id: ProbeIdentity;
  readonly command: ShellCommand;
  parse(output: ProbeOutput): T;
  /**
   * A family of probes that one command can answer together (e.g. one `stat` for many paths), with this
   * probe's argument in it. Several probes of a family in one batch are asked as one.
   */
  readonly family?: { readonly kind: ProbeFamily<T>; readonly argument: string };
}

/**
 * Probes that differ only in an argument and that one command answers for many arguments at once, so a
 * batch of 150 path probes costs a few processes on the host instead of several per path.
 */
export interface ProbeFamily<T> {
  readonly name: string;
  command(args: readonly string[]): ShellCommand;
  /** One answer per argument, in the order of `args`. */
  parseAll(output: ProbeOutput, args: readonly string[]): T[];
}

/** A fresh boundary for one probe script: 24 random hex digits that no probe's output can guess. */
export function probeBoundary(): string {
  return randomBytes(12).toString('hex');
}

/** The boundary as `printf` escapes (`\\061\\146…`), so the script's own text (visible in `ps`) never holds it. */
const escaped = (boundary: string) =>
  [...boundary].map((c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`).join('');

/**
 * One shell script that runs several probes and answers them all in one base64 text. Decoded, it is each
 * probe's output followed by a line `BOUNDARY EXIT_CODE`, in order:
 * `OUTPUT0\nBOUNDARY 0\nOUTPUT1\nBOUNDARY 3\n…`. Each probe runs in its own subshell with stderr discarded, so
 * one failing probe never hides another; one `base64` for the whole batch keeps NUL bytes and costs the host
 * one process, not several per probe. The boundary is random per script (see {@link probeBoundary}), so no
 * output, not even a file's contents that someone else wrote, can end a probe's answer early.
 *
 * @example
 * const boundary = probeBoundary();
 * const outputs = parseProbeAnswer((await connection.exec(probeScript(probes, boundary))).stdout, probes.length, boundary);
 */
export function probeScript(probes: readonly Probe<unknown>[], boundary: string): ShellCommand {
  // eval keeps even a syntax error inside the probe's subshell; the end line follows whatever the probe printed.
  const end = `printf '\\n${escaped(boundary)} %d\\n' "$?"`;
  const part = (text: string) => `( eval ${quote(text)} ) 2>/dev/null; ${end}`;
  const head = `${REMOTE_MARKER.probe}\n{`;
  const tail = '} | base64 -w0';
  return new ShellCommand(
    [head, ...probes.map((p) => part(p.command.text)), tail].join('\n'),
    [head, ...probes.map((p) => part(p.command.display)), tail].join('\n'),
    probes.flatMap((p) => p.command.secrets),
  );
}

/** Reads the answer of a {@link probeScript} with this boundary back into one output per probe, in order. */
export function parseProbeAnswer(stdout: string, count: number, boundary: string): ProbeOutput[] {
  const answer = Buffer.from(stdout.trim(), 'base64');
  const marker = Buffer.from(`\n${boundary} `);
  const outputs: ProbeOutput[] = [];
  let offset = 0;
  for (let index = 0; index < count; index++) {
    const at = answer.indexOf(marker, offset);
    const lineEnd = at < 0 ? -1 : answer.indexOf(0x0a, at + marker.length);
    if (lineEnd < 0) throw new Error(`probe ${index} gave no answer`);
    const exitCode = Number(answer.subarray(at + marker.length, lineEnd).toString('latin1'));
    // Like a shell's command substitution, final newlines are dropped (probes and parsers rely on it).
    let stop = at;
    while (stop > offset && answer[stop - 1] === 0x0a) stop--;
    const bytes = Buffer.from(answer.subarray(offset, stop));
    outputs.push({ exitCode, stdout: bytes.toString('utf8'), bytes });
    offset = lineEnd + 1;
  }
  return outputs;
}
