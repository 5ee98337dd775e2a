import type { ShellCommand } from '../connection/sh.ts';
import type { Probe } from './probe.ts';

/**
 * Whether a read-only check command succeeds (exit 0), e.g. a `command` op's `unless` guard.
 *
 * @example
 * const configured = await facts.get(commandSucceedsProbe(sh`grep -q ^relayhost /etc/postfix/main.cf`));
 */
export function commandSucceedsProbe(command: ShellCommand): Probe<boolean> {
  return {
    id: { kind: 'succeeds', subject: command.text },
    command,
    parse: (output) => output.exitCode === 0,
  };
}
