import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesOf, helper, local, restic, root, status, useScratchServer, writeConfig } from './scratch-server.ts';

useScratchServer();

describe('play-backup drill', { timeout: 180_000 }, () => {
  const canaries = () => filesOf(join(root, 'state', 'canary', 'Maildir', 'cur'));

  it('each run plants a new canary, backs it up and restores it from every repository: status records the drill', () => {
    writeConfig([local('peer'), local('offsite')]);
    expect(helper('run').code).toBe(0);
    const first = canaries();
    expect(first).toHaveLength(1);
    for (const name of ['peer', 'offsite']) {
      const entry = status().repositories[name];
      expect(entry.drill).toMatchObject({ ok: true, snapshot: entry.snapshot, imap: false });
      expect(restic(join(root, `repo-${name}`), 'ls', 'latest').stdout).toContain(first[0]);
    }
    expect(helper('run').code).toBe(0);
    const second = canaries();
    expect(second).toHaveLength(1);
    expect(second[0]).not.toBe(first[0]);
    // The drill alone (as after a repair) restores the newest canary again.
    const alone = helper('drill');
    expect(alone.code, alone.stderr).toBe(0);
    expect(status().repositories.peer.drill).toMatchObject({ ok: true, snapshot: status().repositories.peer.snapshot });
  });

  it("a damaged repository fails the drill (exit 1, the journal's line and the status say which); the other passes", () => {
    writeConfig([local('peer'), local('offsite')]);
    expect(helper('run').code).toBe(0);
    // Every pack of the peer's repository zeroed, as a failing disk returns them (its size kept).
    const data = join(root, 'repo-peer', 'data');
    for (const dir of readdirSync(data)) {
      for (const pack of readdirSync(join(data, dir))) {
        const path = join(data, dir, pack);
        writeFileSync(path, Buffer.alloc(readFileSync(path).length));
      }
    }
    const drill = helper('drill');
    expect(drill.code).toBe(1);
    expect(drill.stderr).toMatch(/restore drill from peer FAILED: /);
    expect(status().repositories.peer.drill).toMatchObject({ ok: false });
    expect(status().repositories.peer.drill.error).toBeTruthy();
    expect(status().repositories.offsite.drill).toMatchObject({ ok: true });
  });

  it('before any run there is no canary: the drill says so and fails', () => {
    writeConfig([local('peer')]);
    const drill = helper('drill');
    expect(drill.code).toBe(1);
    expect(status().repositories.peer.drill).toMatchObject({ ok: false, error: expect.stringContaining('no canary') });
  });

  it('reads the restored canary over IMAP with the configured command, and fails when it cannot', () => {
    // The command here stands in for Dovecot's preauth imap (the lab's e2e runs the real one): it serves the one
    // message of the Maildir it is given, as imap answers FETCH BODY[], with CRLF line ends.
    const server = join(root, 'imap.py');
    writeFileSync(
      server,
      [
        'import os, sys',
        'cur = os.path.join(sys.argv[1], "cur")',
        'body = open(os.path.join(cur, os.listdir(cur)[0]), "rb").read().replace(b"\\n", b"\\r\\n")',
        'sys.stdin.buffer.read()',
        'sys.stdout.buffer.write(b"* PREAUTH\\r\\n* 1 FETCH (BODY[] {%d}\\r\\n" % len(body) + body + b")\\r\\nb OK\\r\\n")',
      ].join('\n'),
    );
    writeConfig([local('peer')], { imapCommand: ['python3', server, '{maildir}'] });
    const run = helper('run');
    expect(run.code, run.stderr).toBe(0);
    expect(status().repositories.peer.drill).toMatchObject({ ok: true, imap: true });
    writeConfig([local('peer')], { imapCommand: ['false', '{maildir}'] });
    expect(helper('drill').code).toBe(1);
    expect(status().repositories.peer.drill.error).toMatch(/IMAP read found no message/);
  });
});
