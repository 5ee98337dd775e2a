import { join } from 'node:path';
import { Secret } from 'play';

/**
 * The protocol-level service probe (`files/service-probe.py`, Python's standard library only) on the controller.
 * The keepalived role installs it on each server at {@link SERVICE_PROBE_PATH}; `play verify site` runs it
 * there, and the tests and benchmarks run this copy in the lab's client.
 */
export const SERVICE_PROBE_SOURCE = join(import.meta.dirname, 'files', 'service-probe.py');

/** Where the probe lives on a server (root's, for keepalived's `enable_script_security`). */
export const SERVICE_PROBE_PATH = '/usr/local/lib/play/service-probe';

/** One probe of a service the way its users use it; `label` names it in the results. */
export type ProbeCheck =
  | { kind: 'smtp'; host: string; port: number; tls?: boolean; label?: string; timeout?: number }
  | {
      kind: 'imap';
      host: string;
      port: number;
      tls?: boolean;
      user?: string;
      password?: string | Secret;
      label?: string;
      timeout?: number;
    }
  | {
      kind: 'https';
      host: string;
      port: number;
      servername?: string;
      path?: string;
      expect?: string;
      label?: string;
      timeout?: number;
    }
  | {
      kind: 'dns';
      host: string;
      port?: number;
      name: string;
      type?: 'A' | 'SOA' | 'MX' | 'NS' | 'AAAA';
      label?: string;
      timeout?: number;
    }
  | { kind: 'dhcp'; interface: string; servers?: number; label?: string; timeout?: number }
  | { kind: 'banner'; host: string; port: number; expect?: string; label?: string; timeout?: number };

/** What the probe found for one check: `ok`, what was seen or which step failed, and how long it took. */
export interface ProbeResult {
  readonly kind: ProbeCheck['kind'];
  readonly label?: string;
  /** The address probed (the interface, for DHCP). */
  readonly host: string;
  readonly port: number;
  readonly ok: boolean;
  /** What answered (`220 mail.x ESMTP; EHLO …`), or the step that failed and why (`banner: no answer within the deadline`). */
  readonly detail: string;
  readonly ms: number;
  /** DHCP: each offer, by the server that made it. */
  readonly offers?: readonly { server: string; address: string }[];
  /** With `every`: when this probe started (Unix time, seconds). */
  readonly at?: number;
}

/** A request for the probe; it reads it as JSON on stdin (so a password never appears on a command line). */
export interface ProbeRequest {
  /** Seconds each probe may take, all of its steps together. */
  readonly timeout: number;
  readonly checks: readonly ProbeCheck[];
  /** Log each failed probe to the journal under this name. */
  readonly syslog?: string;
  /** Start every check again each `every` seconds for `for` seconds, printing one JSON line per probe. */
  readonly every?: number;
  readonly for?: number;
}

/**
 * The request as the probe reads it, with each secret revealed: for a process's stdin only, never for a log.
 *
 * @example
 * connection.exec(sh`python3 -I ${SERVICE_PROBE_PATH}`, { stdin: probeInput({ timeout: 2, checks }) })
 */
export function probeInput(request: ProbeRequest): string {
  // A Secret turns into its mask through toJSON before a replacer sees it: reveal passwords before that.
  const checks = request.checks.map((c) =>
    'password' in c && c.password !== undefined
      ? { ...c, password: c.password instanceof Secret ? c.password.reveal() : c.password }
      : c,
  );
  return JSON.stringify({ ...request, checks });
}

/** Parses the probe's answer to a single run (`{ results: [...] }`). */
export function parseProbeOutput(stdout: string): ProbeResult[] {
  const parsed = JSON.parse(stdout) as { results?: ProbeResult[] };
  if (!Array.isArray(parsed.results)) throw new Error('the service probe printed no results');
  return parsed.results;
}

/** The school's services as a user on the LAN relies on them, at one address (a server's or the VIP). */
export interface UserServiceOptions {
  readonly domain: string;
  /** An account (and its password) for the IMAPS login; without one, IMAPS is probed up to CAPABILITY. */
  readonly login?: { readonly user: string; readonly password: string | Secret };
  /** Text the webmail's login page must contain. */
  readonly webmailMarker?: string;
}

/** The text of Roundcube's login form (its user field's id) that a working webmail page holds. */
export const WEBMAIL_LOGIN_MARKER = 'rcmloginuser';

/**
 * The probes of everything a teacher uses at one address: an SMTP banner and EHLO on 25, 587 and 465 (TLS),
 * IMAP's greeting and CAPABILITY on 143, a login over IMAPS on 993, Roundcube's login page over HTTPS, and a
 * DNS answer for the mail host. Each is labelled by service and port (`smtp 25`, `imaps 993`).
 *
 * @example
 * userServiceChecks('198.18.30.254', { domain: 'smknh.sch.id' })
 */
export function userServiceChecks(address: string, options: UserServiceOptions): (ProbeCheck & { label: string })[] {
  const mailHost = `mail.${options.domain}`;
  return [
    { kind: 'smtp', label: 'smtp 25', host: address, port: 25 },
    { kind: 'smtp', label: 'submission 587', host: address, port: 587 },
    { kind: 'smtp', label: 'smtps 465', host: address, port: 465, tls: true },
    { kind: 'imap', label: 'imap 143', host: address, port: 143 },
    {
      kind: 'imap',
      label: options.login ? 'imaps 993 login' : 'imaps 993',
      host: address,
      port: 993,
      tls: true,
      ...(options.login ?? {}),
    },
    {
      kind: 'https',
      label: 'webmail 443',
      host: address,
      port: 443,
      servername: mailHost,
      path: '/',
      expect: options.webmailMarker ?? WEBMAIL_LOGIN_MARKER,
    },
    { kind: 'dns', label: 'dns 53', host: address, name: mailHost, type: 'A' },
  ];
}
