/** The ssh destination of an sftp: repository, and its port when the URL names one. */
export interface SftpDestination {
  readonly target: string;
  readonly port?: number;
}

/**
 * Where an sftp: repository lives, in restic's two spellings: `sftp:user@host:/path` (scp-like, port 22 or what
 * ~/.ssh/config says) and `sftp://user@host:port/path` (a URL, which may name a port).
 *
 * @example
 * sftpDestination('sftp://backup@nas.example:2222/srv/restic'); // { target: 'backup@nas.example', port: 2222 }
 */
export function sftpDestination(url: string): SftpDestination {
  if (url.startsWith('sftp://')) {
    const parsed = new URL(url);
    const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : '';
    return { target: `${user}${parsed.hostname}`, ...(parsed.port ? { port: Number(parsed.port) } : {}) };
  }
  return { target: url.slice('sftp:'.length).split(':')[0] };
}

/**
 * The ssh that restic's sftp backend runs to reach a repository (restic's `sftp.command`, which replaces the port
 * restic would pass itself): the backup key, the host recorded at first contact, a dead or hung host given up
 * within about 30 s.
 */
export function sftpCommand(destination: SftpDestination, key: string, knownHosts: string): string {
  const port = destination.port === undefined ? '' : ` -p ${destination.port}`;
  return `ssh -i ${key} -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10 -o ServerAliveInterval=10 -o ServerAliveCountMax=3 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=${knownHosts}${port} ${destination.target} -s sftp`;
}
