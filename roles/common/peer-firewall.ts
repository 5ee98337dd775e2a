import { command, file, packages, service, sh, type Task } from 'play';

/** TCP ports of a server that only its peer may reach, in an nftables table of their own. */
export interface PeerFirewall {
  /** What the ports are for, in the unit's description and the file's header, e.g. "Dovecot replication". */
  readonly purpose: string;
  /** The nftables table (inet), e.g. `dovecot_replication`. */
  readonly table: string;
  readonly ports: readonly number[];
  readonly peerAddress: string;
  /** Where the table's file and its oneshot unit go. */
  readonly nftPath: string;
  readonly unit: string;
  /** The service the table must be loaded before (its unit orders itself before it). */
  readonly before: string;
  /** The role's handler names for a daemon-reload and for reloading the table. */
  readonly handlers: { readonly reloadSystemd: string; readonly apply: string };
}

/** The table's text: the peer is accepted on the ports, everyone else gets a TCP reset. */
export function peerFirewallTable(spec: Pick<PeerFirewall, 'purpose' | 'table' | 'ports' | 'peerAddress'>): string {
  const ports = spec.ports.length === 1 ? String(spec.ports[0]) : `{ ${spec.ports.join(', ')} }`;
  return `#!/usr/sbin/nft -f
# Managed by play: only the peer server (${spec.peerAddress}) may reach ${spec.purpose} (TCP ${spec.ports.join(', ')});
# anyone else gets a reset. A table of its own, so other rules are left alone.
table inet ${spec.table}
delete table inet ${spec.table}
table inet ${spec.table} {
  chain input {
    type filter hook input priority filter; policy accept;
    tcp dport ${ports} ip saddr ${spec.peerAddress} accept
    tcp dport ${ports} reject with tcp reset
  }
}
`;
}

/**
 * The tasks that keep some TCP ports for the peer server only: nftables, the table's file (checked with `nft -c`
 * before it replaces the old one), a oneshot unit that loads it before the service, and the unit started and
 * enabled. The role must have the two handlers named in `spec.handlers` ({@link peerFirewallHandlers}).
 */
export function peerFirewallTasks(spec: PeerFirewall): Task[] {
  const unit = `# Managed by play.
[Unit]
Description=${spec.purpose}: its ports closed to all but the peer server
Before=${spec.before}

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f ${spec.nftPath}
ExecStop=/usr/sbin/nft delete table inet ${spec.table}

[Install]
WantedBy=multi-user.target
`;
  return [
    packages({ names: ['nftables'] }),
    file({
      path: spec.nftPath,
      content: peerFirewallTable(spec),
      mode: '0644',
      owner: 'root',
      group: 'root',
      validate: (p) => sh`nft -c -f ${p}`,
      notify: spec.handlers.apply,
    }),
    file({
      path: `/etc/systemd/system/${spec.unit}`,
      content: unit,
      mode: '0644',
      owner: 'root',
      group: 'root',
      notify: [spec.handlers.reloadSystemd, spec.handlers.apply],
    }),
    service({ name: spec.unit, state: 'started', enabled: true }),
  ];
}

/** The two handlers {@link peerFirewallTasks} notifies. */
export function peerFirewallHandlers(spec: Pick<PeerFirewall, 'unit' | 'handlers'>): Task[] {
  return [
    command({ name: spec.handlers.reloadSystemd, cmd: sh`systemctl daemon-reload` }),
    service({ taskName: spec.handlers.apply, name: spec.unit, state: 'restarted' }),
  ];
}
