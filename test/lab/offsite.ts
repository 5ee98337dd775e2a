import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, LAB_CLIENT, OFFSITE_DIR, OFFSITE_PORT } from './config.ts';
import { sshPublicKeyLine } from '../../src/vault/ssh-key.ts';
import { labSecret } from './lab-vault.ts';

/** The off-site server's host key: kept with the roots, so a site snapshot's recorded key stays right. */
const OFFSITE_HOST_KEY = join(CACHE_DIR, 'offsite_host_ed25519_key');

/**
 * Starts the lab's off-site backup server: OpenSSH's sshd in lab-client's namespace on {@link OFFSITE_PORT}, sftp
 * only (internal-sftp, starting in {@link OFFSITE_DIR}), for the servers' backup key only. It runs as a daemon in
 * that namespace, so `lab:down` ends it with the namespace's other processes.
 */
export function startOffsiteServer(): void {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  mkdirSync(OFFSITE_DIR, { recursive: true });
  if (!existsSync(OFFSITE_HOST_KEY))
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'play-lab-offsite', '-f', OFFSITE_HOST_KEY]);
  const authorizedKeys = join(OFFSITE_DIR, 'authorized_keys');
  writeFileSync(authorizedKeys, `${sshPublicKeyLine(labSecret('backup_ssh_key'), 'play-backup')}\n`, { mode: 0o600 });
  const config = join(OFFSITE_DIR, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress ${LAB_CLIENT.address}:${OFFSITE_PORT}`,
      `HostKey ${OFFSITE_HOST_KEY}`,
      `PidFile ${join(OFFSITE_DIR, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'AllowUsers root',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      // The state folder may lie under a world-writable /tmp (a CI clone): sshd's mode checks would refuse it.
      'StrictModes no',
      'AllowTcpForwarding no',
      'X11Forwarding no',
      // restic's ssh asks for the sftp subsystem; anything else it might ask for is sftp too.
      `Subsystem sftp internal-sftp -d ${OFFSITE_DIR}`,
      `ForceCommand internal-sftp -d ${OFFSITE_DIR}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  execFileSync('ip', [
    'netns',
    'exec',
    LAB_CLIENT.netns,
    '/usr/sbin/sshd',
    '-f',
    config,
    '-E',
    join(OFFSITE_DIR, 'sshd.log'),
  ]);
}
