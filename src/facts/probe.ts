import { ShellCommand, quote } from '../connection/sh.ts';

/** What one probe's command printed, as the batch brought it back. */
export interface ProbeOutput {
  readonly exitCode: number;
  readonly stdout: string;
  /** The same output as bytes, for contents that may not be text. */
  readonly bytes: Buffer;
}

/**
 * A read-only question to a host: a command and a pure parser of its output. Probes with the same key
 * ask the same question, so their answer is cached and shared.
 *
 * @example
 * const hostname: Probe<string> = { key: 'hostname', command: sh`uname -n`, parse: (o) => o.stdout.trim() };
 */
export interface Probe<T> {
  readonly key: string;
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

/** The marker that opens every batched probe script, so recordings can tell probes from changes. */
export const PROBE_MARKER = ': play-probe';

/**
 * One shell script that runs several probes and answers one JSON object: `{"0":[exitCode,"base64 stdout"],…}`.
 * Each probe runs in its own subshell with stderr discarded, so one failing probe never hides another.
 *
 * @example
 * const script = probeScript([hostnameProbe, filePr]);
 */
export function probeScript(probes: readonly Probe<unknown>[]): ShellCommand {
  // Each probe's text is eval'ed (so even a syntax error stays inside its subshell) and its output piped
  // straight into base64 (so NUL bytes survive: a shell variable cannot hold them); the exit code comes
  // back on fd 3 and follows the base64 text after a space (a character base64 never prints).
  const part = (index: number, text: string) =>
    `b=$( { r=$( { { ( eval ${quote(text)} ) 2>/dev/null; echo $? >&3; } | base64 -w0 >&4; } 3>&1 ); printf ' %s' "$r"; } 4>&1 ); ` +
    `printf '"${index}":[%d,"%s"],' "\${b##* }" "\${b% *}"`;
  const parts = probes.map(
    (probe, index) => new ShellCommand(part(index, probe.command.text), part(index, probe.command.display)),
  );
  const head = new ShellCommand(`${PROBE_MARKER}\nprintf '{'`, `${PROBE_MARKER}\nprintf '{'`);
  const tail = `printf '"-":0}\\n'`;
  return new ShellCommand(
    [head.text, ...parts.map((p) => p.text), tail].join('\n'),
    [head.display, ...parts.map((p) => p.display), tail].join('\n'),
  );
}

/** Reads the JSON a probe script printed back into one output per probe, in order. */
export function parseProbeAnswer(stdout: string, count: number): ProbeOutput[] {
  const answer = JSON.parse(stdout.trim()) as Record<string, [number, string]>;
  const outputs: ProbeOutput[] = [];
  for (let index = 0; index < count; index++) {
    const entry = answer[String(index)];
    if (!entry) throw new Error(`probe ${index} gave no answer`);
    // Like a shell's command substitution, final newlines are dropped (probes and parsers rely on it).
    let bytes = Buffer.from(entry[1], 'base64');
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0x0a) end--;
    bytes = bytes.subarray(0, end);
    outputs.push({ exitCode: entry[0], stdout: bytes.toString('utf8'), bytes });
  }
  return outputs;
}
