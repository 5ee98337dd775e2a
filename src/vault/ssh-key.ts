import { createPublicKey, generateKeyPairSync } from 'node:crypto';

/**
 * A new ECDSA P-256 key for ssh, as PKCS#8 PEM (which OpenSSH reads as an identity file).
 *
 * @example
 * const key = generateSshKey(); // '-----BEGIN PRIVATE KEY-----\n…'
 */
export function generateSshKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

/**
 * The OpenSSH public key line (`ecdsa-sha2-nistp256 AAAA… comment`) of a P-256 private key in PEM, for an
 * authorized_keys file. Throws on a key that is not P-256.
 */
export function sshPublicKeyLine(privateKeyPem: string, comment: string): string {
  const jwk = createPublicKey(privateKeyPem).export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('not an ECDSA P-256 key');
  const field = (data: Buffer) =>
    Buffer.concat([Buffer.from([0, 0, 0, 0].map((_, i) => (data.length >>> (24 - 8 * i)) & 0xff)), data]);
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  const blob = Buffer.concat([field(Buffer.from('ecdsa-sha2-nistp256')), field(Buffer.from('nistp256')), field(point)]);
  return `ecdsa-sha2-nistp256 ${blob.toString('base64')} ${comment}`;
}
