import { join } from 'node:path';

/** The control-socket client (`files/kea-control.py`, Python's standard library only) on the controller. */
export const KEA_CONTROL_SOURCE = join(import.meta.dirname, 'files', 'kea-control.py');

/**
 * Where the dhcp role installs it on each server: `kea-control ha-status` prints the HA state for `play verify`,
 * `kea-control lease4-get '{"ip-address": "…"}'` asks Kea anything its control socket answers.
 *
 * @example
 * sh`${KEA_CONTROL_PATH} ha-status`
 */
export const KEA_CONTROL_PATH = '/usr/local/lib/play/kea-control';

/**
 * What Kea's `status-get` says about the HA relationship of one server, as `kea-control ha-status` prints it.
 *
 * @example
 * const state: DhcpHaState = { mode: 'hot-standby', role: 'primary', state: 'hot-standby', partnerRole: 'standby', partnerState: 'hot-standby', partnerReachable: true, sockets: 'ready', error: '' };
 */
export interface DhcpHaState {
  readonly mode: string;
  readonly role: string;
  readonly state: string;
  readonly partnerRole: string;
  /** The partner's state as last heard (Kea keeps the last one heard while the partner is out of touch). */
  readonly partnerState: string;
  /** Heard from lately: its last state is not `unavailable` and Kea sees no communication interruption. */
  readonly partnerReachable: boolean;
  /** `ready`, or why Kea could not open its DHCP sockets. */
  readonly sockets: string;
  /** Why Kea could not be asked (not running, no socket), or empty. */
  readonly error: string;
}

/**
 * The state of a hot-standby pair that serves as designed: the primary answers clients and sends every lease to
 * the standby. Every other state (waiting, syncing, ready, partner-down, terminated, …) is a pair that is
 * starting, recovering or missing a server.
 */
export const HA_NORMAL_STATE = 'hot-standby';

/**
 * Reads the `dhcp_ha_*` values `kea-control ha-status` printed (empty when missing).
 *
 * @example
 * dhcpHaState((key) => values.get(key) ?? '')
 */
export function dhcpHaState(get: (key: string) => string): DhcpHaState {
  return {
    mode: get('dhcp_ha_mode'),
    role: get('dhcp_ha_role'),
    state: get('dhcp_ha_state'),
    partnerRole: get('dhcp_ha_partner_role'),
    partnerState: get('dhcp_ha_partner_state'),
    partnerReachable: get('dhcp_ha_partner_reachable') === 'yes',
    sockets: get('dhcp_ha_sockets'),
    error: get('dhcp_ha_error'),
  };
}

/**
 * Whether a server's HA state is healthy (both servers in the normal hot-standby state, in touch, the DHCP socket
 * open), and what to show: `hot-standby, primary: hot-standby, partner: hot-standby`, or during a fault
 * `hot-standby, standby: partner-down, partner: unavailable (out of touch)`.
 *
 * @example
 * dhcpHaVerdict(state) // { ok: true, detail: 'hot-standby, primary: hot-standby, partner: hot-standby' }
 */
export function dhcpHaVerdict(state: DhcpHaState): { ok: boolean; detail: string } {
  if (state.error) return { ok: false, detail: `Kea does not answer: ${state.error}` };
  if (!state.state) return { ok: false, detail: 'no HA state' };
  const partner = `${state.partnerState || 'unknown'}${state.partnerReachable ? '' : ' (out of touch)'}`;
  const sockets = state.sockets && state.sockets !== 'ready' ? `; DHCP socket: ${state.sockets}` : '';
  const ok =
    state.state === HA_NORMAL_STATE && state.partnerState === HA_NORMAL_STATE && state.partnerReachable && !sockets;
  return {
    ok,
    detail: `${state.mode || 'no mode'}, ${state.role || 'no role'}: ${state.state}, partner: ${partner}${sockets}`,
  };
}
