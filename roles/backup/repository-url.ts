/** restic backends whose URL is `SCHEME:BUCKET:PATH`: a bucket alone takes its path after another colon. */
const BUCKET_BACKENDS = ['b2', 'gs', 'azure', 'swift', 'rclone'];

/**
 * The repository one server keeps under the off-site URL the inventory names: `<url>/<host>`, in the URL's own
 * form. Each server writes only its own, as with the repositories on the peer: the two never wait for each other's
 * exclusive locks (restic's check and prune) and a lock left by a killed run is theirs to remove. The price: the
 * mail, the same on both servers, is stored twice off-site.
 *
 * @example
 * hostRepositoryUrl('sftp://backup@nas.example:2222/srv/restic', 'primary'); // 'sftp://backup@nas.example:2222/srv/restic/primary'
 * hostRepositoryUrl('b2:school-backups', 'backup'); // 'b2:school-backups:backup'
 */
export function hostRepositoryUrl(url: string, host: string): string {
  const colon = url.indexOf(':');
  const scheme = url.slice(0, colon);
  const rest = url.slice(colon + 1);
  if (BUCKET_BACKENDS.includes(scheme) && !rest.includes(':')) return `${url}:${host}`;
  if (url.endsWith(':')) return `${url}${host}`;
  return `${url.replace(/\/+$/, '')}/${host}`;
}
