import { configSet, defineRole, directory, packages, service, sh } from 'play';
import { SecretType, type ShellCommand, type Static, Type } from 'play';
import { checkSchoolVars, SchoolVars } from '../common/school.ts';
import { zoneFile, type ZoneContent, type ZoneRecord } from './zone.ts';
import { dkimText, dmarcText, spfText, txtData } from '../common/mail-auth.ts';

/** An extra record of the school zone, e.g. `{ name: 'intranet', type: 'A', value: '198.18.30.20' }`. */
export const DnsRecord = Type.Object(
  {
    name: Type.String({
      pattern:
        '^(@|\\*|(\\*\\.)?[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?(\\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*)$',
      description: 'owner, relative to the domain (@ for the domain itself)',
    }),
    type: Type.Union(['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SRV', 'CAA'].map((t) => Type.Literal(t))),
    value: Type.String({ minLength: 1, pattern: '^[^\\n;]*$', description: 'record data as in a zone file' }),
  },
  { additionalProperties: false },
);

/** The vars of the dns role: the school's shared vars, the TSIG key, and the role's own settings. */
export const DnsVars = Type.Composite([
  SchoolVars,
  Type.Object({
    tsigKey: SecretType(),
    dnsTsigKeyName: Type.String({ pattern: '^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$' }),
    dnsTtl: Type.Integer({ minimum: 60, maximum: 604800 }),
    dnsRecords: Type.Array(DnsRecord),
    /** The key postfix signs the school's mail with (PEM, RSA): its public half is published for DKIM. */
    dkimKey: Type.Optional(SecretType()),
    dkimSelector: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
  }),
]);
export type DnsVars = Static<typeof DnsVars>;

/** bind's configuration folder: the tree its config set stages whole. */
export const BIND_DIR = '/etc/bind';
const KEY_FILE = `${BIND_DIR}/play-tsig.key`;
const ZONES_DIR = `${BIND_DIR}/zones`;
/** Where the backup keeps the zones it transferred (named must be able to write there). */
const SECONDARY_DIR = '/var/lib/bind';

/**
 * named answers a query on loopback: on the primary, an authoritative answer with the school's SOA (its zone is
 * loaded); on the backup, any answer at all (its copy of the zone may still be on its way from the primary).
 */
export function dnsAnswerProbe(domain: string, authoritative: boolean): ShellCommand {
  return authoritative
    ? sh`out=$(dig +norec +time=1 +tries=1 @127.0.0.1 ${domain} SOA) && printf '%s\n' "$out" | grep -q 'status: NOERROR' && printf '%s\n' "$out" | grep -Eq 'flags:[a-z ]* aa[ ;]' && printf '%s\n' "$out" | grep -Eq ${`^${domain.replaceAll('.', '.')}.[[:space:]].*SOA`}`
    : sh`dig +norec +time=1 +tries=1 @127.0.0.1 ${domain} SOA | grep -q 'status: '`;
}

/** The reverse zone of a /8, /16 or /24 LAN, and the owner name of an address in it. */
export function reverseZone(lanNetwork: string): { origin: string; owner(address: string): string } {
  const [network, bits] = lanNetwork.split('/');
  const networkOctets = Number(bits) / 8;
  const octets = network.split('.');
  return {
    origin: `${octets.slice(0, networkOctets).reverse().join('.')}.in-addr.arpa`,
    owner: (address) => address.split('.').slice(networkOctets).reverse().join('.'),
  };
}

/** The two zones (forward and reverse) of the school, with the servers' names and the VIP's. */
export function schoolZones(vars: DnsVars): ZoneContent[] {
  const d = vars.domain;
  const primary = vars.haRole === 'primary' ? vars.lanAddress : vars.peerAddress;
  const backup = vars.haRole === 'primary' ? vars.peerAddress : vars.lanAddress;
  const mailAuth = { domain: d, senders: [primary, backup, vars.vip], dkimSelector: vars.dkimSelector };
  const timers = { ttl: vars.dnsTtl, refresh: 3600, retry: 600, expire: 1209600, negativeTtl: 300 };
  const soa = { primaryNs: `ns1.${d}.`, contact: `hostmaster.${d}.`, timers };
  const ns: ZoneRecord[] = [
    { name: '@', type: 'NS', value: `ns1.${d}.` },
    { name: '@', type: 'NS', value: `ns2.${d}.` },
  ];
  const dkimKey = vars.dkimKey;
  const forward: ZoneRecord[] = [
    ...ns,
    { name: '@', type: 'MX', value: `10 mail.${d}.` },
    { name: '@', type: 'A', value: vars.vip },
    { name: 'ns1', type: 'A', value: primary },
    { name: 'ns2', type: 'A', value: backup },
    { name: 'mail', type: 'A', value: vars.vip },
    { name: 'webmail', type: 'A', value: vars.vip },
    { name: 'www', type: 'A', value: vars.vip },
    // Mail authentication: only the two servers and the VIP send as the school, receivers refuse what fails.
    { name: '@', type: 'TXT', value: txtData(spfText(mailAuth)) },
    { name: '_dmarc', type: 'TXT', value: txtData(dmarcText(mailAuth)) },
    ...(dkimKey
      ? [
          {
            name: `${vars.dkimSelector}._domainkey`,
            type: 'TXT',
            value: () => txtData(dkimText(dkimKey.reveal())),
          },
        ]
      : []),
    ...vars.dnsRecords,
  ];
  const reverse = reverseZone(vars.lanNetwork);
  const ptr: ZoneRecord[] = [
    ...ns,
    { name: reverse.owner(primary), type: 'PTR', value: `ns1.${d}.` },
    { name: reverse.owner(backup), type: 'PTR', value: `ns2.${d}.` },
    { name: reverse.owner(vars.vip), type: 'PTR', value: `mail.${d}.` },
  ];
  return [
    { origin: d, ...soa, records: forward },
    { origin: reverse.origin, ...soa, records: ptr },
  ];
}

/**
 * bind9 authoritative for the school's zone and its reverse zone: the primary serves them from zone files
 * play writes (the SOA serial changes only when a record does), the backup as a secondary over TSIG-signed
 * transfers triggered by the primary's notifies. Recursion only for the LAN; no transfer without the key.
 */
export default defineRole({
  name: 'dns',
  dir: import.meta.dirname,
  schema: DnsVars,
  defaults: { dnsTsigKeyName: 'play-transfer', dnsTtl: 3600, dnsRecords: [], dkimSelector: 'mail' },
  check(vars) {
    const issues = checkSchoolVars(vars);
    const bits = Number(vars.lanNetwork.split('/')[1]);
    if (![8, 16, 24].includes(bits))
      issues.push({ path: 'vars.lanNetwork', message: `the reverse zone needs a /8, /16 or /24 LAN, got /${bits}` });
    const fixed = new Set(['@', 'ns1', 'ns2', 'mail', 'webmail', 'www']);
    vars.dnsRecords.forEach((record, index) => {
      if (fixed.has(record.name) && record.type === 'CNAME')
        issues.push({
          path: `vars.dnsRecords.${index}`,
          message: `${record.name} already has records; it cannot be a CNAME`,
        });
    });
    return issues;
  },
  tasks: ({ vars }) => {
    const primary = vars.haRole === 'primary';
    const zones = schoolZones(vars).map((zone) => ({
      zone,
      file: `${primary ? ZONES_DIR : SECONDARY_DIR}/db.${zone.origin}`,
    }));
    return [
      packages({ names: ['bind9', 'bind9-utils', 'bind9-dnsutils'] }),
      ...(primary
        ? [
            // setgid like /etc/bind itself (GNU chmod never clears a directory's setgid bit with an octal mode).
            directory({ path: ZONES_DIR, mode: '2755', owner: 'root', group: 'bind' }),
            ...zones.map(({ zone, file }) =>
              zoneFile({ path: file, zone, mode: '0644', owner: 'root', group: 'bind', notify: 'reload named' }),
            ),
          ]
        : []),
      // The options, the TSIG key and the zone list only make sense together (named.conf.local includes the key by
      // its absolute path): one set, checked in place by named-checkconf with a test load of every primary zone,
      // reloaded, probed with a DNS query, and rolled back as a whole if named does not take it.
      configSet({
        tree: BIND_DIR,
        files: [
          {
            path: `${BIND_DIR}/named.conf.options`,
            src: 'named.conf.options.ejs',
            mode: '0644',
            owner: 'root',
            group: 'bind',
          },
          { path: KEY_FILE, src: 'tsig.key.ejs', mode: '0640', owner: 'root', group: 'bind' },
          {
            path: `${BIND_DIR}/named.conf.local`,
            src: 'named.conf.local.ejs',
            mode: '0644',
            owner: 'root',
            group: 'bind',
            vars: { keyFile: KEY_FILE, zones: zones.map(({ zone, file }) => ({ origin: zone.origin, file })) },
          },
        ],
        checkInPlace: true,
        validate: (dir) => sh`named-checkconf -z ${`${dir}/named.conf`} >/dev/null`,
        // rndc reload (the unit's ExecReload) fails when named cannot load the new configuration, and named keeps
        // the old one; a stopped named is started.
        activate: sh`systemctl reload-or-restart named`,
        health: dnsAnswerProbe(vars.domain, primary),
        healthSeconds: 10,
      }),
      service({ name: 'named', state: 'started', enabled: true }),
    ];
  },
  handlers: () => [service({ taskName: 'reload named', name: 'named', state: 'reloaded' })],
});
