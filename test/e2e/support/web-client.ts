import { expect } from 'vitest';
import { fromClient } from './client.ts';

/**
 * curl from lab-client with a host name resolved to one server (on ports 80 and 443), as a LAN browser would
 * after DNS: returns what `-w` and the body print; a failing curl fails the test.
 */
export function curlAt(address: string, hostName: string, args: readonly string[]): string {
  const resolve = [80, 443].flatMap((port) => ['--resolve', `${hostName}:${port}:${address}`]);
  const result = fromClient('curl', ['-sS', '--max-time', '20', ...resolve, ...args]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

/** A TLS handshake from lab-client to a server's 443 offering only one protocol version. */
export function httpsHandshake(
  address: string,
  hostName: string,
  version: 'tls1_1' | 'tls1_2',
): { code: number | null; output: string } {
  // OpenSSL 3 refuses to offer TLS 1.1 at its default security level: level 0 makes the client really try,
  // so a failure is the server's refusal.
  const result = fromClient(
    'openssl',
    ['s_client', '-connect', `${address}:443`, '-servername', hostName, `-${version}`, '-cipher', 'DEFAULT@SECLEVEL=0'],
    { input: 'Q\n' },
  );
  return { code: result.code, output: result.stdout + result.stderr };
}
