import { ShellCommand, quote, sh } from '../connection/sh.ts';
import type { Probe, ProbeFamily } from './probe.ts';

/** What a host's init system knows of a service. */
export interface ServiceState {
  /** `systemd` when systemd is PID 1, else `sysv` (init scripts). */
  readonly manager: 'systemd' | 'sysv';
  /** false when no unit or init script of that name exists. */
  readonly exists: boolean;
  readonly active: boolean;
  readonly enabled: boolean;
}

/** Turns the `Key=value` lines of {@link serviceProbe}'s command into a {@link ServiceState}. */
export function parseServiceState(stdout: string): ServiceState {
  const lines = stdout.split('\n');
  const manager = lines[0] === 'systemd' ? 'systemd' : 'sysv';
  const fields = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const load = fields.get('LoadState') ?? 'not-found';
  const unitFileState = fields.get('UnitFileState') ?? '';
  return {
    manager,
    exists: load === 'loaded',
    active: ['active', 'activating', 'reloading'].includes(fields.get('ActiveState') ?? ''),
    enabled: ['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated'].includes(unitFileState),
  };
}

/**
 * The state of a service under systemd when it runs, else under its init script.
 *
 * @example
 * const state = await facts.get(serviceProbe('bind9'));
 */
export function serviceProbe(name: string): Probe<ServiceState> {
  const unit = name.includes('.') ? name : `${name}.service`;
  return {
    id: { kind: 'service', subject: name },
    command: sh`if [ -d /run/systemd/system ]; then echo systemd; systemctl show -p LoadState -p ActiveState -p UnitFileState -- ${unit}
elif [ -x /etc/init.d/${name} ]; then echo sysv; echo LoadState=loaded
  if /etc/init.d/${name} status >/dev/null 2>&1; then echo ActiveState=active; else echo ActiveState=inactive; fi
  if ls /etc/rc[2345].d/S[0-9][0-9]${name} >/dev/null 2>&1; then echo UnitFileState=enabled; else echo UnitFileState=disabled; fi
else echo sysv; echo LoadState=not-found; fi`,
    parse: (output) => parseServiceState(output.stdout),
    family: { kind: servicesFamily, argument: name },
  };
}

/**
 * Every service probe of a batch in one `systemctl show` (its blocks come in the order of the units, separated
 * by an empty line); without systemd, each init script in turn, in the same form.
 */
export const servicesFamily: ProbeFamily<ServiceState> = {
  name: 'services',
  command(args) {
    const units = args.map((name) => quote(name.includes('.') ? name : `${name}.service`)).join(' ');
    const text = `if [ -d /run/systemd/system ]; then echo systemd; systemctl show -p LoadState -p ActiveState -p UnitFileState -- ${units}
else echo sysv; first=1; for name in ${args.map(quote).join(' ')}; do [ -n "$first" ] || echo; first=
  if [ -x "/etc/init.d/$name" ]; then echo LoadState=loaded
    if "/etc/init.d/$name" status >/dev/null 2>&1; then echo ActiveState=active; else echo ActiveState=inactive; fi
    if ls /etc/rc[2345].d/S[0-9][0-9]"$name" >/dev/null 2>&1; then echo UnitFileState=enabled; else echo UnitFileState=disabled; fi
  else echo LoadState=not-found; fi
done; fi`;
    return new ShellCommand(text, text);
  },
  parseAll(output, args) {
    const [manager, ...rest] = output.stdout.split('\n');
    const blocks = rest.join('\n').split(/\n\n/);
    return args.map((_, i) => parseServiceState(`${manager}\n${(blocks[i] ?? '').trim()}`));
  },
};
