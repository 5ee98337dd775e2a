import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import type { NodeSSH, SSHExecCommandResponse } from 'node-ssh';
import type { Connection, ExecOptions, ExecResult, HeldCommand, HoldOptions } from './connection.ts';
import { ShellCommand, quote } from './sh.ts';
import { becomeRoot } from './become.ts';
import { KnownHostsFile, keyTypeOf, knownHostsName } from './known-hosts.ts';
import { ConnectError } from '../errors.ts';

/** Where and how to reach one host over SSH. */
export interface SshTarget {
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** A private key file; without it the SSH agent (`SSH_AUTH_SOCK`) is used. */
  readonly identityFile?: string;
  readonly become: boolean;
  readonly knownHostsFile: string;
  /** The known_hosts file as an object shared by a run's connections (parsed once); else one of its own. */
  readonly knownHosts?: KnownHostsFile;
  /** Trust and record the key of a host known_hosts has never seen (ssh's `accept-new`). */
  readonly acceptNewHostKeys: boolean;
  readonly timeoutMs?: number;
}

// The host key algorithms ssh2 may negotiate for each key type known_hosts can hold.
const ALGORITHMS_FOR_KEY_TYPE: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/**
 * One SSH connection to one host, opened once and reused for every command of a run.
 * The server's host key is checked against known_hosts before anything is sent.
 *
 * @example
 * const connection = await SshConnection.open({ host: 'primary', address: '198.18.30.1', port: 22, user: 'root', ... });
 */
export class SshConnection implements Connection {
  commandCount = 0;
  /** Why the connection broke, once it has (an error or close after the handshake). */
  private lost: Error | undefined;
  private constructor(
    readonly host: string,
    private readonly ssh: NodeSSH,
    private readonly become: boolean,
  ) {}

  static async open(target: SshTarget): Promise<SshConnection> {
    const knownHosts = target.knownHosts ?? new KnownHostsFile(target.knownHostsFile);
    const name = knownHostsName(target.address, target.port);
    const knownTypes = [...new Set(knownHosts.keys(name).map((k) => k.type))];
    const serverHostKey = knownTypes.flatMap((t) => ALGORITHMS_FOR_KEY_TYPE[t] ?? []);
    let refusal: string | undefined;
    // node-ssh (and ssh2 under it) is loaded with the first connection, not with the engine.
    const ssh = new (await import('node-ssh')).NodeSSH();
    // The socket is play's own, with TCP_NODELAY from the first byte: ssh2's would have Nagle's algorithm on
    // during the handshake, whose small packets then wait on the server's delayed ACKs (a connection to a
    // loopback sshd: ready after 80 ms with it, 37 ms without).
    let privateKey: string | undefined;
    try {
      privateKey = target.identityFile ? readFileSync(target.identityFile, 'utf8') : undefined;
    } catch (error) {
      throw new ConnectError(
        `cannot connect to ${target.user}@${target.address}:${target.port}: cannot read the identity file ${target.identityFile}: ${(error as Error).message}`,
        { host: target.host },
        { cause: error },
      );
    }
    const sock = new Socket().setNoDelay(true);
    try {
      // With the key already read, node-ssh hands the socket to ssh2 before its first await, so ssh2 listens
      // to it before it can connect, fail or close.
      await ssh.connect({
        sock: sock.connect({ host: target.address, port: target.port }),
        host: target.address,
        port: target.port,
        username: target.user,
        ...(privateKey !== undefined ? { privateKey } : { agent: process.env.SSH_AUTH_SOCK }),
        // Straight to the key: no "none" request first to learn the server's methods (one round trip less).
        authHandler: [privateKey !== undefined ? 'publickey' : 'agent'],
        readyTimeout: target.timeoutMs ?? 15_000,
        ...(serverHostKey.length > 0 ? { algorithms: { serverHostKey: serverHostKey as never } } : {}),
        hostVerifier: (key: Buffer) => {
          const verdict = knownHosts.verdict(name, key);
          if (verdict === 'known') return true;
          if (verdict === 'unknown' && target.acceptNewHostKeys) {
            knownHosts.add(name, key);
            return true;
          }
          refusal =
            verdict === 'unknown'
              ? `host key of ${name} (${keyTypeOf(key)}) is not in ${target.knownHostsFile}; ` +
                'add it with ssh-keyscan, or run with --accept-new-host-keys'
              : verdict === 'revoked'
                ? `host key of ${name} is marked @revoked in ${target.knownHostsFile}`
                : `host key of ${name} has CHANGED (${keyTypeOf(key)} key differs from ${target.knownHostsFile}): ` +
                  'refusing to connect; if the host was rebuilt, remove its old line with ssh-keygen -R';
          return false;
        },
      });
    } catch (error) {
      ssh.dispose();
      sock.destroy();
      const reason = refusal ?? (error instanceof Error ? error.message : String(error));
      throw new ConnectError(
        `cannot connect to ${target.user}@${target.address}:${target.port}: ${reason}`,
        {
          host: target.host,
        },
        { cause: error },
      );
    }
    const connection = new SshConnection(target.host, ssh, target.become);
    // node-ssh stops listening for 'error' once connected: an unhandled ECONNRESET would crash the process.
    ssh.connection?.on('error', (error: Error) => {
      connection.lost ??= error;
    });
    ssh.connection?.on('close', () => {
      connection.lost ??= new Error('connection closed');
    });
    return connection;
  }

  async exec(command: ShellCommand, options: ExecOptions = {}): Promise<ExecResult> {
    this.commandCount++;
    const started = performance.now();
    // Always POSIX sh, whatever the user's login shell is (bash, zsh, fish): probes and writes are sh scripts.
    const run = this.become
      ? becomeRoot(command, true)
      : new ShellCommand(`/bin/sh -c ${quote(command.text)}`, command.display, command.secrets);
    const stdin =
      options.stdin === undefined
        ? undefined
        : typeof options.stdin === 'string'
          ? options.stdin
          : Readable.from([options.stdin]);
    // node-ssh decodes each packet on its own, which garbles a UTF-8 character split across two packets:
    // keep the raw chunks and decode each stream once, whole.
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let response: SSHExecCommandResponse;
    try {
      const broken = this.brokenBy();
      if (broken) throw broken;
      response = await this.ssh.execCommand(run.text, {
        stdin,
        noTrim: true,
        onStdout: (chunk) => stdout.push(chunk),
        onStderr: (chunk) => stderr.push(chunk),
      });
    } catch (error) {
      const reason = error instanceof Error ? `: ${error.message}` : '';
      throw new ConnectError(
        `connection lost while running: ${command.display}${reason}`,
        { host: this.host },
        {
          cause: error,
        },
      );
    }
    // OpenSSH always reports an exit status or a signal; neither means the channel died with the connection,
    // which must not pass for a command that failed (a failed `test -f` reads as "absent").
    if (response.code === null && response.signal === null) {
      const lost = this.brokenBy();
      const reason = lost ? `: ${lost.message}` : '';
      throw new ConnectError(
        `connection lost while running: ${command.display}${reason}`,
        { host: this.host },
        {
          cause: lost,
        },
      );
    }
    return execResult(command, response.code, stdout, stderr, started);
  }

  hold(command: ShellCommand, options: HoldOptions = {}): HeldCommand {
    this.commandCount++;
    const started = performance.now();
    const run = this.become
      ? becomeRoot(command, true)
      : new ShellCommand(`/bin/sh -c ${quote(command.text)}`, command.display, command.secrets);
    // stdin stays open until release(): the command holds what it holds until then, or until sshd sees the
    // connection close (the controller killed) and closes the command's stdin.
    const stdin = new PassThrough();
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const exited = (async (): Promise<ExecResult> => {
      const broken = this.brokenBy();
      if (broken)
        throw new ConnectError(`connection lost before: ${command.display}: ${broken.message}`, { host: this.host });
      let response: SSHExecCommandResponse;
      try {
        response = await this.ssh.execCommand(run.text, {
          stdin,
          noTrim: true,
          onStdout: (chunk) => {
            stdout.push(chunk);
            options.onStdout?.(chunk.toString('utf8'));
          },
          onStderr: (chunk) => stderr.push(chunk),
        });
      } catch (error) {
        throw new ConnectError(
          `connection lost while running: ${command.display}`,
          { host: this.host },
          { cause: error },
        );
      }
      if (response.code === null && response.signal === null) {
        throw new ConnectError(
          `connection lost while running: ${command.display}`,
          { host: this.host },
          { cause: this.brokenBy() },
        );
      }
      return execResult(command, response.code, stdout, stderr, started);
    })();
    exited.catch(() => undefined);
    return {
      exited,
      release: async () => {
        stdin.end();
        await exited.catch(() => undefined);
      },
    };
  }

  /** The error or close that broke the connection, if it is broken (a method: read afresh after each await). */
  private brokenBy(): Error | undefined {
    return this.lost;
  }

  async close(): Promise<void> {
    this.ssh.dispose();
  }
}

/** A finished command's result: its output streams decoded whole (a UTF-8 character may span two chunks). */
function execResult(
  command: ShellCommand,
  exitCode: number | null,
  stdout: readonly Buffer[],
  stderr: readonly Buffer[],
  started: number,
): ExecResult {
  return {
    command: command.display,
    exitCode,
    stdout: Buffer.concat(stdout).toString('utf8'),
    stderr: Buffer.concat(stderr).toString('utf8'),
    durationMs: performance.now() - started,
  };
}
