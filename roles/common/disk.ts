import type { HealthRow } from 'play';

/** A filesystem fuller than this (percent) is a failed check: mail, the spool and the backups need room. */
export const DISK_MAX_USED_PERCENT = 90;

/** The filesystems a school server fills: its root, the mailboxes, postfix's spool and the backups it stores. */
export const DISK_PATHS = ['/', '/home', '/var/spool/postfix', '/var/backups'];

/** One filesystem's use, as `df -P -B1` reports it. */
export interface DiskUse {
  readonly mount: string;
  readonly usedPercent: number;
  readonly freeBytes: number;
}

/** Bytes as people read them: `2.5 GB`, `900 B` (powers of 1000, as df -H and the disk makers count). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 && unit > 0 ? 1 : 0)} ${units[unit]}`;
}

/**
 * The state script's `disk=` value: `MOUNT USED% FREE_BYTES;` per filesystem (each mount once, whichever of
 * {@link DISK_PATHS} is on it).
 */
export function parseDiskUse(value: string): DiskUse[] {
  const seen = new Map<string, DiskUse>();
  for (const entry of value.split(';')) {
    const match = /^(\S+) (\d+)% (\d+)$/.exec(entry.trim());
    if (match) seen.set(match[1], { mount: match[1], usedPercent: Number(match[2]), freeBytes: Number(match[3]) });
  }
  return [...seen.values()];
}

/**
 * The server's disk row: each filesystem's use and free space, red when one is fuller than
 * {@link DISK_MAX_USED_PERCENT}% (not part of the health gate: a deploy does not fill a disk).
 *
 * @example
 * diskRow('primary', [{ mount: '/', usedPercent: 23, freeBytes: 77e9 }]) // { check: 'disk', ok: true, detail: '/ 23% used, 77 GB free', … }
 */
export function diskRow(host: string, disks: readonly DiskUse[]): HealthRow {
  if (disks.length === 0) return { check: 'disk', host, gate: false, ok: false, detail: 'df printed nothing usable' };
  const full = disks.filter((d) => d.usedPercent > DISK_MAX_USED_PERCENT);
  const detail = disks.map((d) => `${d.mount} ${d.usedPercent}% used, ${formatBytes(d.freeBytes)} free`).join('; ');
  return {
    check: 'disk',
    host,
    gate: false,
    ok: full.length === 0,
    detail: full.length ? `${detail}: ${full.map((d) => d.mount).join(', ')} over ${DISK_MAX_USED_PERCENT}%` : detail,
  };
}
