import { ShellCommand } from './sh.ts';
import { quote } from './sh.ts';

/**
 * The command run as root through `sudo -n` when `become` is set; otherwise the command itself.
 *
 * @example
 * becomeRoot(sh`id -u`, true).text // "sudo -n -- sh -c 'id -u'"
 */
export function becomeRoot(command: ShellCommand, become: boolean): ShellCommand {
  if (!become) return command;
  return new ShellCommand(
    `sudo -n -- sh -c ${quote(command.text)}`,
    `sudo -n -- sh -c ${quote(command.display)}`,
    command.secrets,
  );
}
