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
    });
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
