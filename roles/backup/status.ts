import type { HealthRow } from 'play';

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
  if (bytes === undefined) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `, ${value.toFixed(value < 10 && unit > 0 ? 1 : 0)} ${units[unit]} stored`;
}

function age(hours: number): string {
  return hours < 1 ? `${Math.max(0, Math.round(hours * 60))} min` : `${Math.round(hours)} h`;
}

/**
 * One repository's verdict: its newest backup younger than {@link BACKUP_MAX_AGE_HOURS} hours, its last run and
 * its last check without error. A server that has never backed up is fine for the first 26 hours after its
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
  if (hours > BACKUP_MAX_AGE_HOURS)
    return { ok: false, text: `${name}: ${newest}, older than ${BACKUP_MAX_AGE_HOURS} h` };
  return { ok: true, text: `${name}: ${newest}` };
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
