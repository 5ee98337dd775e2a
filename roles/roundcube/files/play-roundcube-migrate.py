#!/usr/bin/python3
"""Copies Roundcube's data from the SQLite database of an earlier deploy into MariaDB (role roundcube, play).

    play-roundcube-migrate SQLITE_FILE [--database NAME] [--mariadb CMD]

What is copied: users, identities (signatures), contacts and their groups, collected addresses, saved responses
and searches, the dictionary and the filestore. Not copied: sessions (users log in again) and caches (remade).

All of it goes in as one transaction, with a marker row (`system.play-sqlite-migration`) in the same transaction:
 - an interrupted copy (killed, power cut, a failed statement) commits nothing, and the next run starts over;
 - a second run finds the marker and does nothing (exit 0, "already migrated");
 - a database with no users copies nothing but the marker;
 - a MariaDB database that already has users (Roundcube was used on it) is refused (exit 3): merging two
   histories of user ids is not something to do unattended.
A missing SQLite file is nothing to migrate (exit 0).
"""
import argparse
import os
import shlex
import sqlite3
import subprocess
import sys

MARKER = 'play-sqlite-migration'
# Parents before children (foreign keys), as Roundcube's schema orders them.
TABLES = ['users', 'identities', 'contacts', 'contactgroups', 'contactgroupmembers', 'collected_addresses',
          'responses', 'searches', 'dictionary', 'filestore']


def sql_value(value):
    """A MariaDB literal for a value SQLite returned."""
    if value is None:
        return 'NULL'
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, bytes):
        return "X'%s'" % value.hex() if value else "''"
    text = str(value)
    for a, b in (('\\', '\\\\'), ("'", "\\'"), ('\0', '\\0'), ('\n', '\\n'), ('\r', '\\r'), ('\x1a', '\\Z')):
        text = text.replace(a, b)
    return "'%s'" % text


def query(mariadb, database, sql):
    done = subprocess.run(mariadb + ['-N', '--batch', database, '-e', sql], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit('play-roundcube-migrate: %s' % done.stderr.strip())
    return [line.split('\t') for line in done.stdout.splitlines()]


def migration_sql(source, mariadb_columns):
    """The whole copy as one SQL script: one transaction, the marker inside it."""
    lines = ['SET NAMES utf8mb4;', 'SET FOREIGN_KEY_CHECKS=0;', 'START TRANSACTION;']
    counts = {}
    present = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    for table in TABLES:
        if table not in present or table not in mariadb_columns:
            continue
        sqlite_columns = [r[1] for r in source.execute('PRAGMA table_info("%s")' % table)]
        columns = [c for c in sqlite_columns if c in mariadb_columns[table]]
        rows = source.execute('SELECT %s FROM "%s"' % (', '.join('"%s"' % c for c in columns), table)).fetchall()
        counts[table] = len(rows)
        names = ', '.join('`%s`' % c for c in columns)
        for start in range(0, len(rows), 200):
            values = ',\n'.join('(%s)' % ', '.join(sql_value(v) for v in row) for row in rows[start:start + 200])
            lines.append('INSERT INTO `%s` (%s) VALUES\n%s;' % (table, names, values))
    summary = ' '.join('%s=%d' % kv for kv in counts.items())
    lines.append("INSERT INTO `system` (`name`, `value`) VALUES (%s, %s);" % (sql_value(MARKER), sql_value(summary)))
    lines.append('COMMIT;')
    return '\n'.join(lines) + '\n', summary


def main(argv=None):
    parser = argparse.ArgumentParser(prog='play-roundcube-migrate')
    parser.add_argument('sqlite')
    parser.add_argument('--database', default='roundcube')
    parser.add_argument('--mariadb', default='mariadb', help='the client command (split like a shell would)')
    args = parser.parse_args(argv)
    mariadb = shlex.split(args.mariadb)
    if not os.path.exists(args.sqlite):
        print('nothing to migrate: %s does not exist' % args.sqlite)
        return 0
    done = query(mariadb, args.database, "SELECT `value` FROM `system` WHERE `name` = %s" % sql_value(MARKER))
    if done:
        print('already migrated: %s' % done[0][0])
        return 0
    users = int(query(mariadb, args.database, 'SELECT COUNT(*) FROM `users`')[0][0])
    if users:
        print('play-roundcube-migrate: %s already has %d users of its own: not merging %s into it' % (
            args.database, users, args.sqlite), file=sys.stderr)
        return 3
    mariadb_columns = {}
    for table, column in query(mariadb, args.database,
                               "SELECT table_name, column_name FROM information_schema.columns "
                               "WHERE table_schema = %s" % sql_value(args.database)):
        mariadb_columns.setdefault(table, set()).add(column)
    # Read-only, so a Roundcube still writing to it is not disturbed.
    source = sqlite3.connect('file:%s?mode=ro' % args.sqlite, uri=True)
    source.text_factory = lambda b: b.decode('utf-8', errors='surrogateescape')
    script, summary = migration_sql(source, mariadb_columns)
    copy = subprocess.run(mariadb + ['--batch', args.database], input=script.encode('utf-8', 'surrogateescape'),
                          capture_output=True)
    if copy.returncode != 0:
        print('play-roundcube-migrate: nothing copied (rolled back): %s' % copy.stderr.decode(errors='replace').strip(),
              file=sys.stderr)
        return 1
    print('migrated: %s' % summary)
    return 0


if __name__ == '__main__':
    sys.exit(main())
