import { dirname } from 'node:path';
import { command, opOnFact, PlayError, sh, task, ValidationError, type Probe, type Task } from 'play';
import { BACKUP_HELPER, BACKUP_SERVICE } from './index.ts';

/**
 * What `play-backup restore … --dry-run` finds: the messages it would put back, per folder, and where from: a
 * snapshot (its repository, id and time), or the account's expunged mail (`source: 'expunged'`).
 */
export interface RestorePlan {
  readonly account: string;
  readonly source?: 'expunged';
  readonly repository?: string;
  readonly snapshot?: string;
  readonly time?: string;
  readonly folders: Readonly<Record<string, number>>;
  readonly restored: number;
}

/**
 * Which account's mail to put back: from the backups (the default), from which folder only, as it was at which
 * time (the newest snapshot when not given); or, `from: 'expunged'`, what it expunged in the last days (Dovecot's
 * lazy_expunge keeps it), which comes back into one folder, RESTORED_FOLDER.
 */
export interface RestoreRequest {
  readonly account: string;
  readonly from?: 'backup' | 'expunged';
  readonly folder?: string;
  readonly at?: string;
  /** Only this repository (`peer` or `offsite`); by default the first that holds a snapshot (the peer's, then off-site). */
  readonly repository?: 'peer' | 'offsite';
}

function helperArgs(request: RestoreRequest): string[] {
  if (request.from === 'expunged') {
    if (request.folder || request.at || request.repository)
      throw new ValidationError(
        '-e from=expunged takes no folder, at or repository: expunged mail comes back whole, into one folder (Dovecot does not record the folder it was in), and from no backup',
      );
    return [request.account, '--from-expunged'];
  }
  return [
    request.account,
    ...(request.folder ? ['--folder', request.folder] : []),
    ...(request.at ? ['--at', request.at] : []),
    ...(request.repository ? ['--repository', request.repository] : []),
  ];
}

/** The restore the helper would make now (it restores the snapshot into a scratch folder and compares, read-only). */
function restorePlanProbe(request: RestoreRequest): Probe<RestorePlan> {
  return {
    id: { kind: 'backup-restore-plan', subject: JSON.stringify(request) },
    command: sh`${BACKUP_HELPER} restore ${helperArgs(request)} --dry-run 2>&1`,
    parse: (output) => {
      if (output.exitCode !== 0)
        throw new PlayError(output.stdout.trim().split('\n').slice(-3).join(' / ') || `${BACKUP_HELPER} failed`);
      return JSON.parse(output.stdout.trim().split('\n').at(-1) ?? '') as RestorePlan;
    },
  };
}

/** Where a plan's mail comes from, as the summary and the reason name it. */
function origin(plan: RestorePlan): string {
  return plan.source === 'expunged'
    ? 'its expunged mail'
    : `snapshot ${plan.snapshot} (${plan.time}, ${plan.repository})`;
}

function described(plan: RestorePlan): string {
  const folders = Object.entries(plan.folders)
    .filter(([, count]) => count > 0)
    .map(([folder, count]) => `${folder} ${count}`)
    .join(', ');
  return `${plan.restored} message${plan.restored === 1 ? '' : 's'} of ${plan.account} from ${origin(plan)}${folders ? `: ${folders}` : ''}`;
}

/**
 * Puts one account's mail back as it was in a backup: the messages of the snapshot that are no longer in the live
 * mailbox go back into their folders (a deleted folder comes back); what is still there is left alone, and so is
 * every other account. Planned from a dry run, so `--check` shows the snapshot and the counts; replication then
 * brings the restored mail to the other server.
 *
 * With `from: 'expunged'` it moves what the account expunged (kept by Dovecot's lazy_expunge, no backup involved)
 * back into the folder RESTORED_FOLDER; a second run finds nothing.
 *
 * @example
 * restoreMail({ account: 'guru2', folder: 'Projects', at: '2026-12-01T08:00:00Z' })
 * restoreMail({ account: 'guru2', from: 'expunged' })
 */
export function restoreMail(request: RestoreRequest): Task {
  const op = opOnFact({
    kind: 'restore',
    title: `restore the mail of ${request.account}`,
    fact: restorePlanProbe(request),
    plan: (plan) =>
      plan.restored === 0
        ? {
            changed: false,
            reason:
              plan.source === 'expunged'
                ? `nothing to restore: ${plan.account} has no expunged mail kept`
                : `nothing to restore: every message of snapshot ${plan.snapshot} (${plan.time}) is there`,
          }
        : {
            changed: true,
            summary: `restore ${described(plan)}`,
            steps: [
              {
                kind: 'exec',
                command: sh`${BACKUP_HELPER} restore ${helperArgs(request)}`,
                failure: 'the restore failed',
              },
            ],
            diffs: [],
          },
  });
  return task(op, { helperFile: import.meta.url });
}

/**
 * Runs the nightly backup now (the backup role's service) and waits for it; on failure the helper's last lines
 * from the journal are the error.
 *
 * With `marker`, the file is made once the backup succeeded, and the task does nothing while it exists (a backup
 * taken once for a whole upgrade, which a resumed run does not take again).
 *
 * @example
 * tasks: [backupNow()]
 */
export function backupNow(options: { readonly marker?: string } = {}): Task {
  const run = sh`systemctl start ${BACKUP_SERVICE} || { journalctl -u ${BACKUP_SERVICE} -n 12 -o cat --no-pager >&2; exit 1; }`;
  return command({
    name: 'back up now',
    cmd: options.marker ? sh`${run}\nmkdir -p ${dirname(options.marker)} && touch ${options.marker}` : run,
    ...(options.marker ? { creates: options.marker } : {}),
    helperFile: import.meta.url,
  });
}
