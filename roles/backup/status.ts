import type { HealthRow } from 'play';
import { formatBytes } from '../common/disk.ts';

/** A backup older than this (hours) is a failed check: the nightly run has missed a night. */
export const BACKUP_MAX_AGE_HOURS = 26;

/** One repository's last run, as the helper records it (files/play-backup.py). */
export interface RepositoryStatus {
  readonly lastAttempt?: string;
  readonly lastSuccess?: string;
  readonly error?: string | null;
  readonly snapshot?: string;
  readonly files?: number;
  readonly repositoryBytes?: number;
  readonly check?: { readonly at: string; readonly subset: string; readonly ok: boolean; readonly error?: string };
  /** The last restore drill: the canary restored from the newest snapshot and read over IMAP. */
  readonly drill?: { readonly at: string; readonly ok: boolean; readonly snapshot?: string; readonly error?: string };
}

/** What `play-backup status` prints. */
export interface BackupStatus {
  readonly now: string;
  readonly installedAt: string;
  readonly repositoryNames: readonly string[];
  readonly repositories: Readonly<Record<string, RepositoryStatus>>;
}

/** The helper's one line of JSON, or undefined when it printed nothing usable (not installed, or it failed). */
export function parseBackupStatus(text: string): BackupStatus | undefined {
  if (!text.trim()) return undefined;
  try {
    const status = JSON.parse(text) as BackupStatus;
    return Array.isArray(status.repositoryNames) && status.repositories ? status : undefined;
  } catch {
    return undefined;
  }
}

const hoursBetween = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 3_600_000;

function size(bytes: number | undefined): string {
  return bytes === undefined ? '' : `, ${formatBytes(bytes)} stored`;
}

function age(hours: number): string {
  return hours < 1 ? `${Math.max(0, Math.round(hours * 60))} min` : `${Math.round(hours)} h`;
}

/**
 * One repository's verdict: its newest backup younger than {@link BACKUP_MAX_AGE_HOURS} hours, its last run, its
 * last check and its last restore drill without error. A server that has never backed up is fine for the first 26 hours after its
 * first deploy (the first run is that night).
 */
function repositoryVerdict(name: string, repo: RepositoryStatus | undefined, status: BackupStatus) {
  if (!repo?.lastSuccess) {
    const since = hoursBetween(status.installedAt, status.now);
    if (repo?.error) return { ok: false, text: `${name}: never succeeded: ${repo.error}` };
    return since < BACKUP_MAX_AGE_HOURS
      ? { ok: true, text: `${name}: none yet (the first runs tonight, or now with play backup)` }
      : { ok: false, text: `${name}: no backup in the ${age(since)} since it was set up` };
  }
  const hours = hoursBetween(repo.lastSuccess, status.now);
  const newest = `newest ${age(hours)} ago (snapshot ${repo.snapshot ?? '?'}${size(repo.repositoryBytes)})`;
  if (repo.error) return { ok: false, text: `${name}: last run failed: ${repo.error}; ${newest}` };
  if (repo.check && !repo.check.ok)
    return { ok: false, text: `${name}: check of ${repo.check.subset} failed: ${repo.check.error ?? '?'}; ${newest}` };
  if (repo.drill && !repo.drill.ok)
    return { ok: false, text: `${name}: restore drill failed: ${repo.drill.error ?? '?'}; ${newest}` };
  if (hours > BACKUP_MAX_AGE_HOURS)
    return { ok: false, text: `${name}: ${newest}, older than ${BACKUP_MAX_AGE_HOURS} h` };
  const drilled = repo.drill ? `, drill ok ${age(hoursBetween(repo.drill.at, status.now))} ago` : '';
  return { ok: true, text: `${name}: ${newest}${drilled}` };
}

/**
 * The server's backup row: every repository's newest backup, its age and size, and what failed (not part of the
 * health gate between serial batches: a deploy does not back up).
 *
 * @example
 * backupRow('primary', parseBackupStatus(line)) // { check: 'backup', host: 'primary', ok: true, detail: 'peer: newest 3 h ago (snapshot 1a2b3c4d, 12 MB stored)' }
 */
export function backupRow(host: string, status: BackupStatus | undefined): HealthRow {
  if (!status)
    return {
      check: 'backup',
      host,
      gate: false,
      ok: false,
      detail: 'play-backup status did not answer (is the backup role deployed?)',
    };
  const verdicts = status.repositoryNames.map((name) => repositoryVerdict(name, status.repositories[name], status));
  return {
    check: 'backup',
    host,
    gate: false,
    ok: verdicts.every((v) => v.ok),
    detail: verdicts.map((v) => v.text).join('; '),
  };
}
