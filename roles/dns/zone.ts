import { contentProbe, pathProbe, planFile, sh, task, type Op, type Plan, type Task, type TaskOptions } from 'play';

/** One resource record of a zone: owner name relative to the origin (`@` for the apex), type and data. */
export interface ZoneRecord {
  readonly name: string;
  readonly type: string;
  /** The record's data; a function is called when the zone is planned (data derived from a secret, e.g. a DKIM key). */
  readonly value: string | (() => string);
}

/** The SOA timers of a zone, in seconds. */
export interface SoaTimers {
  readonly ttl: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly negativeTtl: number;
}

/** What a zone file holds besides its serial. */
export interface ZoneContent {
  /** The zone's name without the final dot, e.g. `smknh.sch.id`. */
  readonly origin: string;
  /** The primary name server and the contact mailbox, as absolute names with the final dot. */
  readonly primaryNs: string;
  readonly contact: string;
  readonly timers: SoaTimers;
  readonly records: readonly ZoneRecord[];
}

const SERIAL_LINE = /^\s+(\d{1,10}) ; serial$/m;

/**
 * The text of a zone file. The serial sits on a line of its own (`<serial> ; serial`) so that the serial of
 * a zone file this function wrote can be read back ({@link zoneSerial}).
 *
 * @example
 * zoneText({ origin: 'smknh.sch.id', primaryNs: 'ns1.smknh.sch.id.', contact: 'hostmaster.smknh.sch.id.', timers, records }, 2025010100)
 */
export function zoneText(zone: ZoneContent, serial: number): string {
  const width = Math.max(1, ...zone.records.map((r) => r.name.length));
  const lines = [
    `; ${zone.origin}: managed by play. The serial changes when, and only when, the records change.`,
    `$ORIGIN ${zone.origin}.`,
    `$TTL ${zone.timers.ttl}`,
    `@ IN SOA ${zone.primaryNs} ${zone.contact} (`,
    `        ${serial} ; serial`,
    `        ${zone.timers.refresh} ; refresh`,
    `        ${zone.timers.retry} ; retry`,
    `        ${zone.timers.expire} ; expire`,
    `        ${zone.timers.negativeTtl} ) ; negative caching TTL`,
    ...zone.records.map(
      (r) => `${r.name.padEnd(width)} IN ${r.type.padEnd(5)} ${typeof r.value === 'function' ? r.value() : r.value}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/** The serial of a zone file written by {@link zoneText}, or `undefined` when there is none. */
export function zoneSerial(text: string | undefined): number | undefined {
  const match = text === undefined ? null : SERIAL_LINE.exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * The serial a changed zone gets: the date-based `YYYYMMDD00` of `now` (UTC), or the current serial plus one
 * when that is not greater (several changes on one day, or a serial already ahead of the date), so a
 * secondary always sees it increase.
 *
 * @example
 * nextSerial(undefined, new Date('2025-01-02T10:00:00Z')) // 2025010200
 * nextSerial(2025010200, new Date('2025-01-02T11:00:00Z')) // 2025010201
 */
export function nextSerial(current: number | undefined, now: Date): number {
  const dated = Number(
    `${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}${String(now.getUTCDate()).padStart(2, '0')}00`,
  );
  const next = current === undefined ? dated : Math.max(current + 1, dated);
  // Serial arithmetic (RFC 1982) allows an increase of at most 2^31 - 1; a zone file only play writes never
  // gets near the 32-bit limit with date-based serials before the year 4294.
  if (next > 0xffffffff) throw new Error(`zone serial ${next} exceeds 32 bits`);
  return next;
}

/**
 * The serial to write: the host's current one when the zone file it has is exactly what these records give with
 * that serial (nothing changed), else the next one.
 */
export function chooseSerial(zone: ZoneContent, currentText: string | undefined, now: Date): number {
  const current = zoneSerial(currentText);
  if (current !== undefined && zoneText(zone, current) === currentText) return current;
  return nextSerial(current, now);
}

/** Parameters of {@link zoneFile}. */
export interface ZoneFileParams extends TaskOptions {
  readonly path: string;
  readonly zone: ZoneContent;
  readonly mode?: string;
  readonly owner?: string;
  readonly group?: string;
}

/**
 * A primary zone file whose SOA serial changes when, and only when, its records change. The planner reads the
 * host's copy (a fact): if the host's file is what the records give with the serial it already has, nothing
 * changes; otherwise the file is rewritten with {@link nextSerial} (date-based, always above the old serial).
 * No state is kept anywhere but in the zone file itself; the new file is checked with `named-checkzone`
 * before it replaces the old one. A custom op built from play's public API (`task`, `pathProbe`,
 * `contentProbe`, `planFile`).
 *
 * @example
 * zoneFile({ path: '/etc/bind/zones/db.smknh.sch.id', zone, notify: 'reload named' })
 */
export function zoneFile(params: ZoneFileParams): Task {
  const validate = (temp: string) => sh`named-checkzone -q ${params.zone.origin} ${temp}`;
  const op: Op = {
    kind: 'zone',
    title: `zone ${params.zone.origin}`,
    // The same two facts planFile reads: the path's state and checksum, and (here always) its content.
    probes: () => [pathProbe(params.path), contentProbe(params.path)],
    async plan(context): Promise<Plan> {
      const current = (await context.facts.get(contentProbe(params.path)))?.toString('utf8');
      const serial = chooseSerial(params.zone, current, new Date());
      const content = Buffer.from(zoneText(params.zone, serial));
      return planFile(
        { path: params.path, content, mode: params.mode, owner: params.owner, group: params.group, validate },
        context,
      );
    },
  };
  return task(op, { ...params, helperFile: import.meta.url });
}
