import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../src/connection/sh.ts';
import inventory from '../../inventory/lab.ts';
import { LAB_HOSTS, LAB_VIP } from '../lab/config.ts';
import { powerCut, powerOn } from '../lab/faults.ts';
import { MIGRATE_HELPER, MIGRATION_MARKER } from '../../roles/roundcube/database.ts';
import type { Page } from 'playwright-core';
import { launchBrowser, type LabBrowser } from './support/browser.ts';
import { onlyHolder, untilVip } from './support/failover.ts';
import { stdoutOf } from './support/hosts.ts';
import { freshLab } from './support/lab.ts';
import { play } from './support/play.ts';
import { password, token } from './support/mail-client.ts';
import { until } from './support/wait.ts';
import {
  webmailAddContact,
  webmailAddIdentity,
  webmailContactNames,
  webmailIdentities,
  webmailLogin,
} from './support/webmail.ts';

const { domain } = inventory.groups!.servers.vars as { domain: string };
const MAIL = `mail.${domain}`;
const WEBMAIL = `https://${MAIL}/`;
const [PRIMARY, BACKUP] = LAB_HOSTS;

/**
 * The webmail at one address (a server's own, or the VIP), logged in as `user` in a browser of its own. Chromium
 * drops a page load with ERR_NETWORK_CHANGED when this machine's interfaces change (another lab beside this one
 * adding or removing its links): such a login is tried again, up to three times.
 */
async function webmailAt(address: string, user: string): Promise<{ lab: LabBrowser; page: Page }> {
  for (let attempt = 1; ; attempt++) {
    const lab = await launchBrowser({ hosts: { [MAIL]: address } });
    try {
      const page = await lab.newSession();
      await webmailLogin(page, WEBMAIL, user, password(user));
      return { lab, page };
    } catch (error) {
      await lab.close();
      if (attempt >= 3 || !String(error).includes('ERR_NETWORK_CHANGED')) throw error;
    }
  }
}

/** Waits (up to `ms`) until the address book at `address` lists `name` for `user`. */
async function untilContactAt(address: string, user: string, name: string, ms = 20_000): Promise<void> {
  const { lab, page } = await webmailAt(address, user);
  try {
    let seen: string[] = [];
    await until(
      `${name} in ${user}'s address book at ${address}`,
      async () => {
        seen = await webmailContactNames(page, WEBMAIL);
        return seen.includes(name);
      },
      ms,
      { intervalMs: 500, state: () => `listed: ${seen.join(', ') || 'nothing'}` },
    );
  } finally {
    await lab.close();
  }
}

/** Both replication threads of a server's replica of its peer, as SHOW SLAVE STATUS says them. */
async function replicaThreads(host: string): Promise<string> {
  const status = await stdoutOf(host, sh`mariadb -e ${'SHOW SLAVE STATUS\\G'}`);
  return ['Slave_IO_Running', 'Slave_SQL_Running']
    .map((field) => new RegExp(`${field}: (\\S+)`).exec(status)?.[1] ?? '?')
    .join(' ');
}

const untilReplicating = (host: string, ms = 60_000) =>
  until(`${host}'s replica to run both threads`, async () => (await replicaThreads(host)) === 'Yes Yes', ms, {
    intervalMs: 1000,
    state: async () => (await stdoutOf(host, sh`mariadb -e ${'SHOW SLAVE STATUS\\G'}`)).slice(0, 3000),
  });

describe("webmail data (Roundcube's MariaDB) on both servers", () => {
  beforeAll(() => freshLab({ from: 'site' }), 1_800_000);

  it('replicates both ways over TLS, with distinct ids and GTID domains', async () => {
    for (const [host, id] of [
      [PRIMARY.name, '1'],
      [BACKUP.name, '2'],
    ] as const) {
      await untilReplicating(host);
      const vars = await stdoutOf(
        host,
        sh`mariadb -N --batch -e ${'SELECT @@server_id, @@gtid_domain_id, @@auto_increment_increment, @@auto_increment_offset, @@binlog_format, @@slave_exec_mode'}`,
      );
      expect(vars.trim()).toBe(`${id}\t${id}\t2\t${id}\tROW\tIDEMPOTENT`);
      const slave = await stdoutOf(host, sh`mariadb -e ${'SHOW SLAVE STATUS\\G'}`);
      expect(slave).toMatch(/Using_Gtid: Slave_Pos/);
      expect(slave).toMatch(/Master_SSL_Allowed: Yes/);
      expect(slave).toMatch(/Master_SSL_Verify_Server_Cert: Yes/);
    }
    const verify = await play(['verify', 'playbooks/site.ts', '-i', 'inventory/lab.ts']);
    for (const [host, peer] of [
      [PRIMARY.name, BACKUP.address],
      [BACKUP.name, PRIMARY.address],
    ])
      expect(verify.stdout).toMatch(
        new RegExp(
          `webmail data\\s+${host}\\s+OK\\s+replicating from ${peer.replaceAll('.', '\\.')}: IO Yes, SQL Yes, \\d+ s behind`,
        ),
      );
  });

  it('a contact and an identity made in the browser on the primary are in the browser on the backup within seconds, and the reverse', async () => {
    const first = `Rina${token().slice(0, 6)}`;
    const { lab, page } = await webmailAt(PRIMARY.address, 'guru1');
    try {
      await webmailAddContact(page, WEBMAIL, { firstName: first, surname: 'Primary', email: `${first}@example.org` });
      await webmailAddIdentity(page, WEBMAIL, { name: `Guru Satu ${first}`, email: `guru1@${domain}` });
    } finally {
      await lab.close();
    }
    await untilContactAt(BACKUP.address, 'guru1', `${first} Primary`);
    const onBackup = await webmailAt(BACKUP.address, 'guru1');
    try {
      expect(await webmailIdentities(onBackup.page, WEBMAIL)).toContain(`Guru Satu ${first} <guru1@${domain}>`);
      await webmailAddContact(onBackup.page, WEBMAIL, {
        firstName: first,
        surname: 'Backup',
        email: `${first}.b@example.org`,
      });
    } finally {
      await onBackup.lab.close();
    }
    await untilContactAt(PRIMARY.address, 'guru1', `${first} Backup`);
  });

  it('after a power cut of the primary the backup shows the contacts; one added there is still there once the primary is back and holds the VIP again', async () => {
    const name = `Budi${token().slice(0, 6)}`;
    const before = await webmailAt(LAB_VIP, 'guru2');
    try {
      await webmailAddContact(before.page, WEBMAIL, {
        firstName: name,
        surname: 'Sebelum',
        email: `${name}@example.org`,
      });
    } finally {
      await before.lab.close();
    }
    // Semi-synchronous: the backup has it once the browser's save returned; a moment for the replica to apply it.
    await until(
      'the contact on the backup',
      async () =>
        (
          await stdoutOf(
            BACKUP.name,
            sh`mariadb -N --batch -e ${`SELECT COUNT(*) FROM roundcube.contacts WHERE firstname='${name}'`}`,
          )
        ).trim() === '1',
      10_000,
    );
    await powerCut(PRIMARY.name);
    try {
      await untilVip('the backup to hold the VIP', onlyHolder(BACKUP.name), 60_000, performance.now(), 250);
      await untilContactAt(LAB_VIP, 'guru2', `${name} Sebelum`, 30_000);
      const during = await webmailAt(LAB_VIP, 'guru2');
      try {
        await webmailAddContact(during.page, WEBMAIL, {
          firstName: name,
          surname: 'Selama',
          email: `${name}.s@example.org`,
        });
      } finally {
        await during.lab.close();
      }
    } finally {
      await powerOn(PRIMARY.name);
    }
    await untilVip('the primary to take the VIP back', onlyHolder(PRIMARY.name), 180_000, performance.now(), 250);
    await untilReplicating(PRIMARY.name, 120_000);
    await untilReplicating(BACKUP.name, 120_000);
    await untilContactAt(LAB_VIP, 'guru2', `${name} Selama`, 60_000);
    await untilContactAt(LAB_VIP, 'guru2', `${name} Sebelum`, 10_000);
  });

  it('a first login on both servers while they cannot see each other (split brain) finds the one row play made at deploy: replication goes on, the ids agree, and what the user adds afterwards reaches the other server', async () => {
    // guru4 has never logged in, yet its users row and identity are there, the same on both servers: the roundcube
    // role made them on the primary at deploy, and they were replicated.
    const accounts = inventory.groups!.servers.vars!.accounts as { name: string; fullName: string }[];
    const { fullName } = accounts.find((a) => a.name === 'guru4')!;
    const rowOf = (host: string) =>
      stdoutOf(
        host,
        sh`mariadb -N --batch roundcube -e ${"SELECT u.user_id, i.name, i.email FROM users u JOIN identities i USING (user_id) WHERE u.username = 'guru4' AND i.del = 0"}`,
      );
    const before = await rowOf(PRIMARY.name);
    expect(before).toMatch(new RegExp(`^\\d+\t${fullName}\tguru4@${domain.replaceAll('.', '\\.')}\n$`));
    expect(await rowOf(BACKUP.name)).toBe(before);
    await Promise.all(LAB_HOSTS.map((h) => stdoutOf(h.name, sh`mariadb -e ${'STOP SLAVE'}`)));
    try {
      for (const host of LAB_HOSTS) {
        const { lab } = await webmailAt(host.address, 'guru4');
        await lab.close();
      }
    } finally {
      await Promise.all(LAB_HOSTS.map((h) => stdoutOf(h.name, sh`mariadb -e ${'START SLAVE'}`)));
    }
    for (const host of LAB_HOSTS) await untilReplicating(host.name, 30_000);
    // Replication stays up for what comes after.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    for (const host of LAB_HOSTS) expect(await replicaThreads(host.name)).toBe('Yes Yes');
    // One row, one id, on both servers: nothing was swapped, and play verify's 'webmail users' row is green.
    for (const host of LAB_HOSTS) expect(await rowOf(host.name)).toBe(before);
    const verify = await play(['verify', 'playbooks/site.ts', '-i', 'inventory/lab.ts']);
    expect(verify.stdout).toMatch(/webmail users\s+-\s+OK/);
    // What guru4 adds on the primary now is seen on the backup (with swapped rows it never was).
    const name = `Sari${token().slice(0, 6)}`;
    const { lab, page } = await webmailAt(PRIMARY.address, 'guru4');
    try {
      expect(await webmailIdentities(page, WEBMAIL)).toEqual([`${fullName} <guru4@${domain}>`]);
      await webmailAddContact(page, WEBMAIL, { firstName: name, surname: 'Sesudah', email: `${name}@example.org` });
    } finally {
      await lab.close();
    }
    await untilContactAt(BACKUP.address, 'guru4', `${name} Sesudah`);
  });
});

describe('play-roundcube-migrate (SQLite of an earlier deploy into MariaDB), on a scratch database', () => {
  const DB = 'migrate_scratch';
  // Nothing of the scratch database reaches the binlog: the peer never sees it.
  const MARIADB = "mariadb --init-command='SET sql_log_bin=0'";
  const SQLITE = '/root/migrate-scratch.sqlite';
  const sql = (query: string) =>
    stdoutOf(PRIMARY.name, sh`mariadb --init-command=${'SET sql_log_bin=0'} -N --batch ${DB} -e ${query}`);
  const migrate = () =>
    stdoutOf(PRIMARY.name, sh`${MIGRATE_HELPER} --database ${DB} --mariadb ${MARIADB} ${SQLITE} 2>&1; echo "exit=$?"`);

  /** A fresh scratch MariaDB database with Roundcube's schema, and a SQLite one with `contacts` contacts of guru1. */
  async function scratch(contacts: number, users = 1): Promise<void> {
    await stdoutOf(
      PRIMARY.name,
      sh`mariadb --init-command=${'SET sql_log_bin=0'} -e ${`DROP DATABASE IF EXISTS ${DB}; CREATE DATABASE ${DB}`} && mariadb --init-command=${'SET sql_log_bin=0'} ${DB} < /usr/share/roundcube/SQL/mysql.initial.sql`,
    );
    const script = `
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executescript(open('/usr/share/roundcube/SQL/sqlite.initial.sql').read())
for u in range(1, ${users} + 1):
    c.execute("INSERT INTO users (user_id, username, mail_host, created, language, preferences) VALUES (?, ?, 'localhost', '2026-01-01 00:00:00', 'id_ID', 'a:0:{}')", (u, 'guru%d' % u))
    c.execute("INSERT INTO identities (user_id, changed, del, standard, name, email, signature) VALUES (?, '2026-01-01 00:00:00', 0, 1, 'Guru', 'guru@x', 'Salam, ''Bu'' \\\\ Guru\\nbaris dua')", (u,))
for i in range(${contacts}):
    c.execute("INSERT INTO contacts (changed, del, name, email, firstname, surname, vcard, words, user_id) VALUES ('2026-01-01 00:00:00', 0, ?, ?, ?, 'Kontak', ?, '', 1)", ('Kontak %d' % i, 'k%d@example.org' % i, 'K%d' % i, 'BEGIN:VCARD\\n' + 'X' * 800 + '\\nEND:VCARD'))
c.commit()
`;
    await stdoutOf(PRIMARY.name, sh`rm -f ${SQLITE} && python3 -c ${script} ${SQLITE}`);
  }

  afterAll(async () => {
    await stdoutOf(
      PRIMARY.name,
      sh`mariadb --init-command=${'SET sql_log_bin=0'} -e ${`DROP DATABASE IF EXISTS ${DB}`}; rm -f ${SQLITE}`,
    );
  });

  it('copies users, identities (signatures byte for byte) and contacts; a second run changes nothing', async () => {
    await scratch(3);
    expect(await migrate()).toMatch(/migrated: users=1 identities=1 contacts=3 .*\nexit=0/);
    expect((await sql('SELECT username FROM users')).trim()).toBe('guru1');
    expect((await sql('SELECT COUNT(*) FROM contacts')).trim()).toBe('3');
    expect((await sql('SELECT HEX(signature) FROM identities')).trim()).toBe(
      Buffer.from("Salam, 'Bu' \\ Guru\nbaris dua").toString('hex').toUpperCase(),
    );
    expect(await migrate()).toMatch(/already migrated: users=1 .*\nexit=0/);
    expect((await sql('SELECT COUNT(*) FROM contacts')).trim()).toBe('3');
  });

  it('an empty SQLite database copies nothing but the marker; a missing one is nothing to do', async () => {
    await scratch(0, 0);
    expect(await migrate()).toMatch(/migrated: users=0 .*\nexit=0/);
    expect((await sql(`SELECT COUNT(*) FROM \`system\` WHERE name='${MIGRATION_MARKER}'`)).trim()).toBe('1');
    await stdoutOf(PRIMARY.name, sh`rm -f ${SQLITE}`);
    expect(await migrate()).toMatch(/nothing to migrate.*\nexit=0/);
  });

  it('a copy that fails half-way commits nothing; fixed, the next run copies everything', async () => {
    await scratch(500);
    // A contact too long for MariaDB's column (strict mode refuses it), after the first 200-row insert went in.
    await stdoutOf(
      PRIMARY.name,
      sh`python3 -c ${'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("UPDATE contacts SET email=? WHERE contact_id=400", (\'x\'*300000,)); c.commit()'} ${SQLITE}`,
    );
    expect(await migrate()).toMatch(/nothing copied \(rolled back\).*\nexit=1/s);
    expect((await sql('SELECT COUNT(*) FROM users')).trim()).toBe('0');
    expect((await sql('SELECT COUNT(*) FROM contacts')).trim()).toBe('0');
    await stdoutOf(
      PRIMARY.name,
      sh`python3 -c ${'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("UPDATE contacts SET email=\'k399@example.org\' WHERE contact_id=400"); c.commit()'} ${SQLITE}`,
    );
    expect(await migrate()).toMatch(/migrated: users=1 identities=1 contacts=500 .*\nexit=0/);
  });

  it('a copy killed mid-way (the controller or the server goes down) is all or nothing; the next run finishes it', async () => {
    await scratch(20_000);
    // The helper and its mariadb client in a session of their own, killed together after a moment.
    await stdoutOf(
      PRIMARY.name,
      sh`setsid ${MIGRATE_HELPER} --database ${DB} --mariadb ${MARIADB} ${SQLITE} >/dev/null 2>&1 & pid=$!; sleep 2; kill -KILL -- -$pid; sleep 1; true`,
    );
    const contacts = Number((await sql('SELECT COUNT(*) FROM contacts')).trim());
    const marker = Number((await sql(`SELECT COUNT(*) FROM \`system\` WHERE name='${MIGRATION_MARKER}'`)).trim());
    expect([`${contacts} ${marker}`]).toEqual([expect.stringMatching(/^(0 0|20000 1)$/)]);
    expect(await migrate()).toMatch(marker ? /already migrated/ : /migrated: users=1 identities=1 contacts=20000 /);
    expect((await sql('SELECT COUNT(*) FROM contacts')).trim()).toBe('20000');
  });
});
