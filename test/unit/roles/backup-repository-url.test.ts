import { describe, expect, it } from 'vitest';
import { hostRepositoryUrl } from '../../../roles/backup/repository-url.ts';

describe("each server's own off-site repository", () => {
  it("puts the server's name under the URL the inventory gives, in each of restic's URL forms", () => {
    const cases: [string, string][] = [
      ['sftp://backup@nas.example:2222/srv/restic', 'sftp://backup@nas.example:2222/srv/restic/primary'],
      ['sftp://backup@nas.example:2222//srv/restic/', 'sftp://backup@nas.example:2222//srv/restic/primary'],
      ['sftp:backup@nas.example:/srv/restic', 'sftp:backup@nas.example:/srv/restic/primary'],
      ['sftp:backup@nas.example:', 'sftp:backup@nas.example:primary'],
      ['rest:https://user:pw@backup.example:8000/smknh', 'rest:https://user:pw@backup.example:8000/smknh/primary'],
      ['s3:s3.amazonaws.com/bucket/smknh', 's3:s3.amazonaws.com/bucket/smknh/primary'],
      ['b2:school-backups', 'b2:school-backups:primary'],
      ['b2:school-backups:smknh', 'b2:school-backups:smknh/primary'],
      ['gs:bucket:/smknh', 'gs:bucket:/smknh/primary'],
    ];
    for (const [url, wanted] of cases) expect(hostRepositoryUrl(url, 'primary'), url).toBe(wanted);
  });
});
