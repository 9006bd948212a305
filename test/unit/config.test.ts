import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('gives the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      dataDir: '.eaas',
      host: '127.0.0.1',
      kmsPort: 4599,
      accountId: '111122223333',
      region: 'us-east-1',
      rootKey: undefined,
      sigv4MaxSkewSeconds: 300,
      s3Port: 4569,
      vaultBucket: 'eaas-vault',
      stagingBucket: 'eaas-staging',
      objectPrefix: '',
    });
  });

  it('takes the local S3 settings', () => {
    expect(
      loadConfig({
        EAAS_S3_PORT: '4570',
        EAAS_VAULT_BUCKET: 'my.vault-1',
        EAAS_STAGING_BUCKET: 'my-staging',
        EAAS_OBJECT_PREFIX: 'eaas/docs/',
      }),
    ).toMatchObject({
      s3Port: 4570,
      vaultBucket: 'my.vault-1',
      stagingBucket: 'my-staging',
      objectPrefix: 'eaas/docs/',
    });
  });

  it.each([
    ['EAAS_VAULT_BUCKET', 'ab'],
    ['EAAS_VAULT_BUCKET', 'Upper-Case'],
    ['EAAS_VAULT_BUCKET', 'under_score'],
    ['EAAS_VAULT_BUCKET', '-starts-with-hyphen'],
    ['EAAS_VAULT_BUCKET', 'two..dots'],
    ['EAAS_VAULT_BUCKET', '192.168.1.1'],
    ['EAAS_VAULT_BUCKET', 'xn--punycode'],
    ['EAAS_VAULT_BUCKET', 'alias-s3alias'],
    ['EAAS_VAULT_BUCKET', 'a'.repeat(64)],
    ['EAAS_STAGING_BUCKET', '../escape'],
    ['EAAS_STAGING_BUCKET', 'eaas-vault'],
    ['EAAS_OBJECT_PREFIX', '/absolute/'],
    ['EAAS_OBJECT_PREFIX', 'spaces are not safe/'],
    ['EAAS_S3_PORT', '0'],
  ])('fails fast on a bad %s (%s), naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });

  it('bounds the local gateway body budget between one Lambda payload and 1 GiB (issue 12, finding 7)', () => {
    expect(loadConfig({}).gatewayBodyBytesInFlight).toBe(64 * 1024 * 1024);
    expect(loadConfig({ EAAS_GATEWAY_BODY_BYTES_IN_FLIGHT: '8388608' }).gatewayBodyBytesInFlight).toBe(
      8388608,
    );
    for (const bad of ['1000', String(2 * 1024 ** 3), 'lots'])
      expect(() => loadConfig({ EAAS_GATEWAY_BODY_BYTES_IN_FLIGHT: bad })).toThrow(
        /EAAS_GATEWAY_BODY_BYTES_IN_FLIGHT/,
      );
  });

  it('is frozen', () => {
    expect(Object.isFrozen(loadConfig({}))).toBe(true);
  });

  it.each([
    ['EAAS_KMS_PORT', 'abc'],
    ['EAAS_KMS_PORT', '70000'],
    ['EAAS_ACCOUNT_ID', '123'],
    ['EAAS_REGION', 'mars'],
    ['EAAS_ROOT_KEY', Buffer.alloc(16).toString('base64')],
    ['EAAS_HOST', '0.0.0.0'],
  ])('fails fast on a bad %s, naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });

  it('decodes a root key', () => {
    const key = Buffer.alloc(32, 1);
    expect(loadConfig({ EAAS_ROOT_KEY: key.toString('base64') }).rootKey?.equals(key)).toBe(true);
  });
});
