import { describe, expect, it } from 'vitest';
import { sftpCommand, sftpDestination } from '../../../roles/backup/sftp.ts';

describe("an sftp: repository's ssh", () => {
  it("reads the destination from restic's two spellings, with the port a URL names", () => {
    expect(sftpDestination('sftp:play-backup@198.18.30.2:/var/backups/play/primary')).toEqual({
      target: 'play-backup@198.18.30.2',
    });
    expect(sftpDestination('sftp://backup@nas.example:2222/srv/restic')).toEqual({
      target: 'backup@nas.example',
      port: 2222,
    });
    expect(sftpDestination('sftp://nas.example/srv/restic')).toEqual({ target: 'nas.example' });
  });

  it("passes the URL's port to ssh (restic's sftp.command replaces the port restic would give), none otherwise", () => {
    const key = '/etc/play-backup/ssh.key';
    const knownHosts = '/etc/play-backup/known_hosts';
    const withPort = sftpCommand(sftpDestination('sftp://backup@nas.example:2222/srv/restic'), key, knownHosts);
    expect(withPort).toMatch(/ -p 2222 backup@nas\.example -s sftp$/);
    expect(withPort).toContain(`-i ${key} `);
    expect(withPort).toContain(`-o UserKnownHostsFile=${knownHosts} `);
    expect(sftpCommand({ target: 'play-backup@198.18.30.2' }, key, knownHosts)).not.toContain(' -p ');
  });
});
