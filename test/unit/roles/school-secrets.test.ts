import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/index.ts';
import {
  certificateProblems,
  selfSignedCertificate,
  sshPublicKeyLine,
  type SecretShape,
  type Vault,
} from '../../../src/vault/index.ts';
import { SECRET_ALPHABET } from '../../../src/vault/random-secret.ts';
import { schoolInventory, type SchoolSite } from '../../../roles/school/inventory.ts';
import {
  ACCOUNT_PASSWORD_SHAPE,
  SCHOOL_SECRETS,
  accountSecretName,
  schoolCertificateNames,
  schoolSecretCatalog,
  schoolSecretNames,
  schoolSecrets,
} from '../../../roles/school/secrets.ts';
import { schoolDeployProblems } from '../../../roles/school/site-problems.ts';

const site: SchoolSite = {
  schoolName: 'SMA Harapan Bangsa',
  domain: 'smahb.sch.id',
  lanInterface: 'ens18',
  lanNetwork: '10.20.0.0/24',
  primaryAddress: '10.20.0.1',
  backupAddress: '10.20.0.2',
  vip: '10.20.0.254',
  router: '10.20.0.10',
  dhcpRange: { start: '10.20.0.100', end: '10.20.0.200' },
  accounts: [
    { name: 'kepsek', fullName: 'Kepala Sekolah' },
    { name: 'guru1', fullName: 'Guru 1' },
    { name: 'guru.mtk', fullName: 'Guru Matematika' },
  ],
};

/** A vault over fixed values that records every name (and shape) the inventory asks it for. */
function recordingVault(values: Readonly<Record<string, string>>) {
  const asked = new Map<string, SecretShape | undefined>();
  const vault: Vault = {
    path: 'memory',
    secret(name, shape) {
      asked.set(name, shape);
      return new Secret(() => {
        if (values[name] === undefined) throw new Error(`secret "${name}" is missing`);
        return values[name];
      });
    },
  };
  return { vault, asked };
}

/** Every Secret in a value (vars), with its path. */
function secretsIn(value: unknown, path = 'vars'): [string, Secret][] {
  if (value instanceof Secret) return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((item, index) => secretsIn(item, `${path}.${index}`));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([key, item]) => secretsIn(item, `${path}.${key}`));
  return [];
}

describe("the catalog of a school's secrets", () => {
  it('names exactly the secrets schoolInventory asks the vault for, with the same shapes', () => {
    const { vault, asked } = recordingVault({});
    schoolInventory(site, vault);
    expect([...asked.keys()].sort()).toEqual(schoolSecretNames(site.accounts).sort());
    for (const secret of schoolSecretCatalog(site.accounts)) {
      if (secret.source.kind === 'random') expect(asked.get(secret.name), secret.name).toEqual(secret.source.shape);
    }
  });

  it('has one password per account, after the shared secrets, and no name twice', () => {
    const names = schoolSecretNames(site.accounts);
    expect(names.slice(0, SCHOOL_SECRETS.length)).toEqual(SCHOOL_SECRETS.map((s) => s.name));
    expect(names.slice(SCHOOL_SECRETS.length)).toEqual(['account_kepsek', 'account_guru1', 'account_guru.mtk']);
    expect(new Set(names).size).toBe(names.length);
    expect(accountSecretName('guru1')).toBe('account_guru1');
    for (const secret of schoolSecretCatalog(site.accounts)) expect(secret.purpose, secret.name).not.toBe('');
  });
});

describe('schoolSecrets', () => {
  const values = schoolSecrets(site);

  it("makes every secret of the catalog, and every Secret in the inventory's vars reveals", () => {
    expect(Object.keys(values).sort()).toEqual(schoolSecretNames(site.accounts).sort());
    const { vault } = recordingVault(values);
    const inventory = schoolInventory(site, vault);
    const secrets = [...secretsIn(inventory.groups.servers.vars), ...secretsIn(inventory.hosts)];
    expect(secrets.length).toBe(schoolSecretNames(site.accounts).length);
    for (const [path, secret] of secrets) expect(() => secret.reveal(), path).not.toThrow();
  });

  it("makes random values of the catalog's shapes, new each time", () => {
    const again = schoolSecrets(site);
    for (const secret of schoolSecretCatalog(site.accounts)) {
      if (secret.source.kind !== 'random') continue;
      const value = values[secret.name];
      const shape = secret.source.shape;
      if ('base64Bytes' in shape) expect(Buffer.from(value, 'base64').length, secret.name).toBe(shape.base64Bytes);
      else
        expect([...value].every((c) => SECRET_ALPHABET.includes(c)) && value.length === shape.length, secret.name).toBe(
          true,
        );
      expect(again[secret.name], secret.name).not.toBe(value);
    }
    expect(values.account_guru1.length).toBe((ACCOUNT_PASSWORD_SHAPE as { length: number }).length);
  });

  it('makes a self-signed TLS certificate for mail., webmail., www., the domain and the VIP, with its key', () => {
    expect(schoolCertificateNames(site)).toEqual([
      'mail.smahb.sch.id',
      'webmail.smahb.sch.id',
      'www.smahb.sch.id',
      'smahb.sch.id',
      '10.20.0.254',
    ]);
    const certificate = new X509Certificate(values.tls_certificate);
    for (const name of ['mail.smahb.sch.id', 'webmail.smahb.sch.id', 'www.smahb.sch.id', 'smahb.sch.id'])
      expect(certificate.checkHost(name), name).toBe(name);
    expect(certificateProblems({ certificate: values.tls_certificate, key: values.tls_key }, [site.vip])).toEqual([]);
  });

  it('makes a replication certificate naming both servers, an ECDSA P-256 peer ban key and an RSA 2048 DKIM key', () => {
    expect(
      certificateProblems({ certificate: values.replication_certificate, key: values.replication_key }, [
        site.primaryAddress,
        site.backupAddress,
      ]),
    ).toEqual([]);
    expect(sshPublicKeyLine(values.peer_ban_key, 'test')).toMatch(/^ecdsa-sha2-nistp256 /);
    const dkim = createPrivateKey(values.dkim_key);
    expect(dkim.asymmetricKeyType).toBe('rsa');
    expect(dkim.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('keeps a given certificate and key instead of making one', () => {
    const own = selfSignedCertificate({
      commonName: 'mail.smahb.sch.id',
      names: ['mail.smahb.sch.id', 'webmail.smahb.sch.id'],
      days: 30,
    });
    const withOwn = schoolSecrets(site, { certificate: own });
    expect(withOwn.tls_certificate).toBe(own.certificate);
    expect(withOwn.tls_key).toBe(own.key);
  });

  it('is a vault a deploy accepts: the school playbook compiles over it (every role checked, every template rendered)', async () => {
    expect(await schoolDeployProblems(site, values)).toEqual([]);
  });

  it('is what a deploy refuses when a secret is missing, naming it', async () => {
    const { dkim_key: _, ...withoutDkim } = values;
    const problems = await schoolDeployProblems(site, withoutDkim);
    expect(problems.map((p) => p.message).join('\n')).toContain('dkim_key');
  });
});
