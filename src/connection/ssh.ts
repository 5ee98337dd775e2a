import { Readable } from 'node:stream';
import { NodeSSH } from 'node-ssh';
import type { Connection, ExecOptions, ExecResult } from './connection.ts';
import type { ShellCommand } from './sh.ts';
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
  private constructor(
    readonly host: string,
    private readonly ssh: NodeSSH,
    private readonly become: boolean,
  ) {}

  static async open(target: SshTarget): Promise<SshConnection> {
    const knownHosts = new KnownHostsFile(target.knownHostsFile);
    const name = knownHostsName(target.address, target.port);
    const knownTypes = [...new Set(knownHosts.keys(name).map((k) => k.type))];
    const serverHostKey = knownTypes.flatMap((t) => ALGORITHMS_FOR_KEY_TYPE[t] ?? []);
    let refusal: string | undefined;
    const ssh = new NodeSSH();
    try {
      await ssh.connect({
        host: target.address,
        port: target.port,
        username: target.user,
        ...(target.identityFile ? { privateKeyPath: target.identityFile } : { agent: process.env.SSH_AUTH_SOCK }),
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
      const reason = refusal ?? (error instanceof Error ? error.message : String(error));
      throw new ConnectError(`cannot connect to ${target.user}@${target.address}:${target.port}: ${reason}`, {
        host: target.host,
      }, { cause: error });
    }
    return new SshConnection(target.host, ssh, target.become);
  }

  async exec(command: ShellCommand, options: ExecOptions = {}): Promise<ExecResult> {
    this.commandCount++;
    const started = performance.now();
    const run = becomeRoot(command, this.become);
    const stdin = options.stdin === undefined ? undefined : typeof options.stdin === 'string' ? options.stdin : Readable.from([options.stdin]);
    let response;
    try {
      response = await this.ssh.execCommand(run.text, { stdin, noTrim: true });
    } catch (error) {
      throw new ConnectError(`connection lost while running: ${command.display}`, { host: this.host }, { cause: error });
    }
    return {
      command: command.display,
      exitCode: response.code,
      stdout: response.stdout,
      stderr: response.stderr,
      durationMs: performance.now() - started,
    };
  }

  async close(): Promise<void> {
    this.ssh.dispose();
  }
}
