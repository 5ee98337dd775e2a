import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshConnection, type SshTarget } from '../../../src/connection/ssh.ts';
import { sh } from '../../../src/connection/sh.ts';
import { becomeRoot } from '../../../src/connection/become.ts';
import { ConnectError } from '../../../src/errors.ts';
import { MASK, secret } from '../../../src/secret.ts';
import { startSshd, type TestSshd } from '../../support/sshd.ts';

function commandExists(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const hasSudo = commandExists('sudo');

let sshd: TestSshd;
let fresh = 0;

beforeAll(async () => {
  sshd = await startSshd();
}, 20_000);

afterAll(async () => {
  await sshd?.stop();
});

function target(overrides: Partial<SshTarget> = {}): SshTarget {
  return {
    host: 'testhost',
    address: sshd.host,
    port: sshd.port,
    user: sshd.user,
    identityFile: sshd.identityFile,
    become: false,
    knownHostsFile: sshd.knownHostsFile,
    acceptNewHostKeys: false,
    timeoutMs: 10_000,
    ...overrides,
  };
}

/** A known_hosts path in the sshd folder that does not exist yet. */
function freshKnownHosts(): string {
  fresh++;
  return join(sshd.dir, `known_hosts.fresh-${fresh}`);
}

function acceptedLogins(): number {
  return sshd
    .log()
    .split('\n')
    .filter((line) => line.includes('Accepted publickey for root')).length;
}

async function openError(t: SshTarget): Promise<ConnectError> {
  const error = await SshConnection.open(t).then(
    async (connection) => {
      await connection.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

describe('SshConnection against a real sshd', () => {
  describe('one open connection', () => {
    let connection: SshConnection;
    let loginsBefore: number;

    beforeAll(async () => {
      loginsBefore = acceptedLogins();
      connection = await SshConnection.open(target());
    });

    afterAll(async () => {
      await connection?.close();
    });

    it('runs a command and returns stdout, stderr and the exit code', async () => {
      const result = await connection.exec(sh`printf 'out\n'; printf 'err\n' >&2; printf '%s' ${'two words'}`);
      expect(result).toMatchObject({ exitCode: 0, stdout: 'out\ntwo words', stderr: 'err\n' });
      expect(result.command).toBe(`printf 'out\n'; printf 'err\n' >&2; printf '%s' 'two words'`);
      expect(result.durationMs).toBeGreaterThan(0);
    });

    it('keeps leading and trailing whitespace of the output', async () => {
      const result = await connection.exec(sh`printf '  a  \n\n'`);
      expect(result.stdout).toBe('  a  \n\n');
    });

    it('reports a non-zero exit code without throwing', async () => {
      const result = await connection.exec(sh`echo failing >&2; exit 7`);
      expect(result.exitCode).toBe(7);
      expect(result.stderr).toBe('failing\n');
      expect(result.stdout).toBe('');
    });

    it('reports the exit code of a command that does not exist', async () => {
      const result = await connection.exec(sh`play-no-such-command-xyz`);
      expect(result.exitCode).toBe(127);
      expect(result.stderr).toContain('play-no-such-command-xyz');
    });

    it('pipes a string to stdin', async () => {
      const text = 'first line\nsecond line with ünïcödé\n';
      const result = await connection.exec(sh`tee /dev/stderr | wc -c`, { stdin: text });
      expect(result.exitCode).toBe(0);
      expect(result.stdout.trim()).toBe(String(Buffer.byteLength(text)));
      expect(result.stderr).toBe(text);
    });

    it('pipes binary bytes 0..255 from a Buffer to stdin unchanged', async () => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const sha = await connection.exec(sh`sha256sum`, { stdin: bytes });
      expect(sha.exitCode).toBe(0);
      expect(sha.stdout).toBe(`${createHash('sha256').update(bytes).digest('hex')}  -\n`);

      const dump = await connection.exec(sh`od -An -v -tu1`, { stdin: bytes });
      const values = dump.stdout.trim().split(/\s+/).map(Number);
      expect(values).toEqual([...bytes]);
    });

    it('pipes a large Buffer (1 MiB) to stdin', async () => {
      const bytes = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
      const result = await connection.exec(sh`sha256sum; echo done >&2`, { stdin: bytes });
      expect(result.stdout).toBe(`${createHash('sha256').update(bytes).digest('hex')}  -\n`);
      expect(result.stderr).toBe('done\n');
    });

    it('gives the command an empty stdin when none is passed', async () => {
      const result = await connection.exec(sh`wc -c`);
      expect(result.stdout.trim()).toBe('0');
    });

    it('decodes multi-byte UTF-8 output that spans many packets', async () => {
      // 200000 × "é€" (5 bytes each): chunk boundaries will fall inside characters.
      const result = await connection.exec(
        sh`awk 'BEGIN { for (i = 0; i < 200000; i++) printf "é€"; for (i = 0; i < 50000; i++) printf "ü€" > "/dev/stderr" }'`,
      );
      expect(result.exitCode).toBe(0);
      expect(result.stdout.length).toBe(400_000);
      expect(result.stdout).toBe('é€'.repeat(200_000));
      expect(result.stderr).toBe('ü€'.repeat(50_000));
    });

    it('runs through a POSIX shell and as root', async () => {
      const result = await connection.exec(sh`id -u; echo "$((6 * 7))"`);
      expect(result.stdout).toBe('0\n42\n');
    });

    it("runs commands through /bin/sh, not the login shell (root's is bash here)", async () => {
      const login = execFileSync('getent', ['passwd', 'root'], { encoding: 'utf8' }).trim().split(':').at(-1);
      const result = await connection.exec(sh`readlink -f /proc/$$/exe`);
      expect(result.stdout.trim()).toBe(realpathSync('/bin/sh'));
      expect(result.stdout.trim()).not.toBe(realpathSync(login!));
    });

    it('runs many commands over one connection, counting them', async () => {
      const before = connection.commandCount;
      const results = [];
      for (let i = 0; i < 20; i++) results.push(await connection.exec(sh`echo ${i}`));
      expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
      // Several commands at once share the connection too (one channel each).
      const parallel = await Promise.all(Array.from({ length: 5 }, (_, i) => connection.exec(sh`echo p${i}`)));
      expect(parallel.map((r) => r.stdout)).toEqual(['p0\n', 'p1\n', 'p2\n', 'p3\n', 'p4\n']);
      expect(connection.commandCount).toBe(before + 25);
      // sshd logged exactly one login for everything this connection ran.
      expect(acceptedLogins()).toBe(loginsBefore + 1);
    });

    it('keeps the host name of the inventory', () => {
      expect(connection.host).toBe('testhost');
    });
  });

  describe('host keys', () => {
    it('accepts the host when known_hosts holds its key', async () => {
      const connection = await SshConnection.open(target());
      try {
        expect((await connection.exec(sh`echo ok`)).stdout).toBe('ok\n');
      } finally {
        await connection.close();
      }
    });

    it('refuses an unknown host key, naming the file and suggesting --accept-new-host-keys', async () => {
      const knownHostsFile = freshKnownHosts();
      const logins = acceptedLogins();
      const error = await openError(target({ knownHostsFile }));
      expect(error.message).toContain(`[127.0.0.1]:${sshd.port}`);
      expect(error.message).toContain(knownHostsFile);
      expect(error.message).toContain('--accept-new-host-keys');
      expect(error.message).toContain('ssh-ed25519');
      expect(error.place.host).toBe('testhost');
      // Refused before authenticating, and nothing was written.
      expect(existsSync(knownHostsFile)).toBe(false);
      expect(acceptedLogins()).toBe(logins);
    });

    it('with acceptNewHostKeys, trusts and records a new key, then knows it on the next connection', async () => {
      const knownHostsFile = sshd.emptyKnownHostsFile;
      expect(existsSync(knownHostsFile)).toBe(false);

      const first = await SshConnection.open(target({ knownHostsFile, acceptNewHostKeys: true }));
      try {
        expect((await first.exec(sh`echo first`)).stdout).toBe('first\n');
      } finally {
        await first.close();
      }
      const recorded = readFileSync(knownHostsFile, 'utf8');
      expect(recorded).toBe(readFileSync(sshd.knownHostsFile, 'utf8'));
      expect(recorded).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 \\S+\\n$`));

      const second = await SshConnection.open(target({ knownHostsFile, acceptNewHostKeys: false }));
      try {
        expect((await second.exec(sh`echo second`)).stdout).toBe('second\n');
      } finally {
        await second.close();
      }
      // Known now: not appended a second time.
      expect(readFileSync(knownHostsFile, 'utf8')).toBe(recorded);
    });

    it('refuses a changed host key with CHANGED in the message, even with acceptNewHostKeys', async () => {
      const before = readFileSync(sshd.wrongKnownHostsFile, 'utf8');
      const logins = acceptedLogins();
      for (const acceptNewHostKeys of [false, true]) {
        const error = await openError(target({ knownHostsFile: sshd.wrongKnownHostsFile, acceptNewHostKeys }));
        expect(error.message).toContain('CHANGED');
        expect(error.message).toContain(`[127.0.0.1]:${sshd.port}`);
        expect(error.message).toContain(sshd.wrongKnownHostsFile);
      }
      expect(readFileSync(sshd.wrongKnownHostsFile, 'utf8')).toBe(before);
      expect(acceptedLogins()).toBe(logins);
    });
  });

  describe('connect failures', () => {
    it('gives a ConnectError naming host and port when nothing listens', async () => {
      // Stop a throwaway sshd so that its port is known to be closed.
      const other = await startSshd();
      const closedPort = other.port;
      await other.stop();
      const error = await openError(target({ port: closedPort }));
      expect(error.message).toContain(`127.0.0.1:${closedPort}`);
      expect(error.message).toContain('root@');
      expect(error.place.host).toBe('testhost');
    });

    it('gives a ConnectError when the key is not authorized', async () => {
      const error = await openError(target({ identityFile: join(sshd.dir, 'other_host_ed25519_key') }));
      expect(error.message).toContain(`root@127.0.0.1:${sshd.port}`);
      expect(error.message).toMatch(/authentication/i);
    });

    it('names the identity file it cannot read', async () => {
      const missing = join(sshd.dir, 'no-such-key');
      const error = await openError(target({ identityFile: missing }));
      expect(error.message).toContain(`root@127.0.0.1:${sshd.port}`);
      expect(error.message).toContain(`cannot read the identity file ${missing}`);
    });

    it('gives up on a server that accepts the TCP connection but never speaks SSH, at the timeout', async () => {
      const silent = createServer(() => {});
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const port = (silent.address() as AddressInfo).port;
        const error = await openError(target({ port, timeoutMs: 500 }));
        expect(error.message).toContain(`127.0.0.1:${port}`);
        expect(error.message).toMatch(/timed out/i);
      } finally {
        silent.close();
      }
    });
  });

  describe('a connection that breaks', () => {
    it('returns a null exit code for a command killed by a signal, and stays usable', async () => {
      const connection = await SshConnection.open(target());
      try {
        const result = await connection.exec(sh`echo before; kill -9 $$`);
        expect(result.exitCode).toBeNull();
        expect(result.stdout).toBe('before\n');
        expect((await connection.exec(sh`echo still`)).stdout).toBe('still\n');
      } finally {
        await connection.close();
      }
    });

    it('throws a ConnectError, not a failed result, when the server side goes away mid-command', async () => {
      const connection = await SshConnection.open(target());
      try {
        // $PPID of the command's shell is sshd's session process: killing it drops the connection.
        const error = await connection.exec(sh`kill -9 $PPID; sleep 5`).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(ConnectError);
        expect((error as ConnectError).message).toContain('connection lost while running: kill -9 $PPID; sleep 5');
        expect((error as ConnectError).place.host).toBe('testhost');
        const next = await connection.exec(sh`echo next`).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(next).toBeInstanceOf(ConnectError);
      } finally {
        await connection.close();
      }
    });

    it('survives a TCP reset of an idle connection and reports it on the next command', async () => {
      // A proxy in front of sshd whose client side can be reset (RST, ECONNRESET at the client). Without an
      // 'error' listener on the ssh2 client, the reset is an unhandled error (vitest reports it and fails).
      const clientSides: Socket[] = [];
      const proxy = createServer((client) => {
        const upstream = netConnect({ host: sshd.host, port: sshd.port });
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        clientSides.push(client);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const proxyPort = (proxy.address() as AddressInfo).port;
      const knownHostsFile = freshKnownHosts();
      try {
        const connection = await SshConnection.open(
          target({ port: proxyPort, knownHostsFile, acceptNewHostKeys: true }),
        );
        try {
          expect((await connection.exec(sh`echo via proxy`)).stdout).toBe('via proxy\n');
          expect(clientSides).toHaveLength(1);
          clientSides[0].resetAndDestroy();
          await new Promise((resolve) => setTimeout(resolve, 200));
          const error = await connection.exec(sh`echo after reset`).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(ConnectError);
          expect((error as ConnectError).message).toContain('connection lost while running: echo after reset');
        } finally {
          await connection.close();
        }
      } finally {
        await new Promise((resolve) => proxy.close(resolve));
      }
    });
  });

  describe('become', () => {
    it('wraps the command in sudo -n sh -c, quoted, and masks the displayed form', () => {
      const command = sh`echo ${"it's"} > /tmp/x`;
      expect(becomeRoot(command, false)).toBe(command);
      const wrapped = becomeRoot(command, true);
      expect(wrapped.text).toBe(`sudo -n -- sh -c 'echo '\\''it'\\''\\'\\'''\\''s'\\'' > /tmp/x'`);
      // The wrapped text, run by a shell, runs exactly the original command text.
      const unwrapped = execFileSync('sh', ['-c', `printf '%s' ${wrapped.text.slice('sudo -n -- sh -c '.length)}`], {
        encoding: 'utf8',
      });
      expect(unwrapped).toBe(command.text);

      const withSecret = becomeRoot(sh`echo ${secret('hunter2-ssh-test')}`, true);
      expect(withSecret.text).toBe(`sudo -n -- sh -c 'echo hunter2-ssh-test'`);
      expect(withSecret.display).toBe(`sudo -n -- sh -c 'echo ${MASK}'`);
    });

    it.runIf(hasSudo)('runs commands as root through sudo when become is set', async () => {
      const connection = await SshConnection.open(target({ become: true }));
      try {
        const result = await connection.exec(sh`id -u; echo "$SUDO_USER"; exit 3`);
        expect(result.stdout).toBe('0\nroot\n');
        expect(result.exitCode).toBe(3);
        const stdin = await connection.exec(sh`cat`, { stdin: 'through sudo\n' });
        expect(stdin.stdout).toBe('through sudo\n');
      } finally {
        await connection.close();
      }
    });
  });
});
