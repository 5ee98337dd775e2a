import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SSHD = '/usr/sbin/sshd';
const START_TIMEOUT_MS = 10_000;

/** A throwaway OpenSSH server on 127.0.0.1 that accepts one client key for root. */
export interface TestSshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: 'root';
  /** The client's private key (ed25519, no passphrase), authorized for root. */
  readonly identityFile: string;
  /** Holds the server's real key as `[127.0.0.1]:PORT ssh-ed25519 …`. */
  readonly knownHostsFile: string;
  /** Holds a different ed25519 key under the same name: a "changed" host key. */
  readonly wrongKnownHostsFile: string;
  /** A path in the folder where no file exists yet (each call of startSshd gives a fresh one). */
  readonly emptyKnownHostsFile: string;
  /** The folder holding every file above. */
  readonly dir: string;
  /** Everything sshd wrote to stderr so far (`-e`: its log, e.g. `Accepted publickey for root …`). */
  log(): string;
  /** Kills sshd and removes the folder. Safe to call more than once. */
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function keygen(path: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], { stdio: 'pipe' });
}

/** `ssh-ed25519 AAAA…` of a public key file, without its comment. */
function publicKey(path: string): string {
  return readFileSync(path, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

/**
 * Starts a real OpenSSH sshd (`sshd -D -e -f CONFIG`, a foreground child process) on 127.0.0.1 at a free
 * high port, with its keys, config and known_hosts files in a fresh temporary folder.
 * Call `stop()` from `afterAll`; a process exit also kills sshd and removes the folder.
 *
 * Root's login shell is bash, and bash sources ~/.bashrc even for `bash -c CMD` when it sees `SSH_CLIENT`
 * (Debian builds it with SSH_SOURCE_BASHRC); on this machine that init costs about 0.5-2 s per command.
 * bash only does this for a top-level shell (`shell_level < 2`), so the config sets `SetEnv SHLVL=1`: the
 * login shell then counts itself as level 2 and skips ~/.bashrc. Nothing wraps the command (no forced
 * `command=`), so exit codes, stdin, stdout and stderr reach the client exactly as sshd produces them;
 * the only trace is SHLVL=2 in the remote command's environment.
 *
 * @example
 * let sshd: TestSshd;
 * beforeAll(async () => { sshd = await startSshd(); });
 * afterAll(() => sshd?.stop());
 */
export async function startSshd(): Promise<TestSshd> {
  if (!existsSync(SSHD)) {
    throw new Error(`${SSHD} not found: the SSH tests need OpenSSH's server (apt-get install openssh-server)`);
  }
  // The privilege separation directory sshd insists on.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const dir = mkdtempSync(join(tmpdir(), 'play-sshd-'));
  let child: ChildProcess | undefined;
  let stderr = '';
  let stopped = false;
  const cleanupSync = (): void => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanupSync);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', cleanupSync);
    const running = child;
    if (running && running.exitCode === null && running.signalCode === null) {
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.kill('SIGTERM');
      const timer = setTimeout(() => running.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const hostKey = join(dir, 'ssh_host_ed25519_key');
    const identityFile = join(dir, 'id_ed25519');
    const otherKey = join(dir, 'other_host_ed25519_key');
    keygen(hostKey, 'play-test-host');
    keygen(identityFile, 'play-test-client');
    keygen(otherKey, 'play-test-other-host');

    const authorizedKeys = join(dir, 'authorized_keys');
    writeFileSync(authorizedKeys, `${readFileSync(`${identityFile}.pub`, 'utf8').trim()}\n`, { mode: 0o600 });

    const port = await freePort();
    const name = `[127.0.0.1]:${port}`;
    const knownHostsFile = join(dir, 'known_hosts');
    const wrongKnownHostsFile = join(dir, 'known_hosts.wrong');
    writeFileSync(knownHostsFile, `${name} ${publicKey(`${hostKey}.pub`)}\n`, { mode: 0o600 });
    writeFileSync(wrongKnownHostsFile, `${name} ${publicKey(`${otherKey}.pub`)}\n`, { mode: 0o600 });

    const config = join(dir, 'sshd_config');
    writeFileSync(
      config,
      [
        'ListenAddress 127.0.0.1',
        `Port ${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'PermitRootLogin prohibit-password',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        `AuthorizedKeysFile ${authorizedKeys}`,
        'Subsystem sftp internal-sftp',
        'PrintMotd no',
        'PrintLastLog no',
        'AcceptEnv none',
        'PermitUserEnvironment no',
        // Keeps bash from sourcing root's ~/.bashrc for every command: see the comment on startSshd.
        'SetEnv SHLVL=1',
        '',
      ].join('\n'),
    );

    const sshd = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = sshd;
    sshd.stderr?.setEncoding('utf8');
    sshd.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    let spawnError: Error | undefined;
    sshd.once('error', (error) => {
      spawnError = error;
    });

    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (spawnError) throw new Error(`cannot start ${SSHD}: ${spawnError.message}`);
      if (sshd.exitCode !== null || sshd.signalCode !== null) {
        throw new Error(`${SSHD} exited (${sshd.exitCode ?? sshd.signalCode}) before listening:\n${stderr}`);
      }
      if (await accepts('127.0.0.1', port)) break;
      if (Date.now() > deadline) {
        throw new Error(`${SSHD} did not listen on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms:\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    return {
      host: '127.0.0.1',
      port,
      user: 'root',
      identityFile,
      knownHostsFile,
      wrongKnownHostsFile,
      emptyKnownHostsFile: join(dir, 'known_hosts.empty'),
      dir,
      log: () => stderr,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
