import { describe, expect, it } from 'vitest';
import { roundcubeMailHost, webmailUsersSql } from '../../../roles/roundcube/database.ts';

describe("roundcube's database: webmail users made before the first login", () => {
  it('files users under the IMAP host without scheme or port, as Roundcube does', () => {
    expect(roundcubeMailHost('ssl://localhost:993')).toBe('localhost');
    expect(roundcubeMailHost('tls://mail.smknh.sch.id:143')).toBe('mail.smknh.sch.id');
    expect(roundcubeMailHost('localhost')).toBe('localhost');
  });

  it("makes each present account's row and identity once, in one transaction, and leaves absent accounts out", () => {
    const sql = webmailUsersSql({
      accounts: [
        { name: 'kepsek', fullName: "Kepala Sekolah 'Pak' Budi" },
        { name: 'guru9', fullName: 'Guru Lama', state: 'absent' },
      ],
      domain: 'smknh.sch.id',
      imapHost: 'ssl://localhost:993',
    });
    const lines = sql.trim().split('\n');
    expect(lines[0]).toBe('USE `roundcube`;');
    expect(lines[1]).toBe('START TRANSACTION;');
    expect(lines.at(-1)).toBe('COMMIT;');
    expect(sql).toContain(
      "INSERT IGNORE INTO users (username, mail_host, created) VALUES ('kepsek', 'localhost', NOW());",
    );
    // The full name is a SQL literal: its quotes cannot end it.
    expect(sql).toContain("'Kepala Sekolah \\'Pak\\' Budi', 'kepsek@smknh.sch.id' FROM users u");
    // An identity only where the user has none in use: a user's own edits stay.
    expect(sql).toMatch(/AND NOT EXISTS \(SELECT 1 FROM identities i WHERE i\.user_id = u\.user_id AND i\.del = 0\);/);
    expect(sql).not.toContain('guru9');
  });
});
