import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node';
import {
  DecryptCommand,
  type DecryptCommandInput,
  EncryptCommand,
  type EncryptCommandInput,
  GenerateDataKeyCommand,
  type GenerateDataKeyCommandInput,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { GRANTEE, KEY_MANAGER } from '@eaas/aws-local';
import {
  DataKeyCache,
  decryptMessage,
  type EaasClient,
  encryptMessage,
  encryptStream,
  type Requester,
} from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Data-key caching in the client against the local stack: the API calls a run of messages costs,
 * counted on the way out, and the messages read by @aws-crypto/client-node's own KMS keyring
 * against the local KMS.
 */
const KEY = 'alias/eaas-default';
const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
let t: TestStack;

beforeAll(async () => {
  // A grant revoked is refused at once (no authorization cache in the functions).
  t = await startTestStack({ env: { EAAS_AUTHZ_CACHE_SECONDS: '0' } });
});
afterAll(() => t?.stop());

function kmsFacade(kms: KMSClient) {
  return {
    generateDataKey: (a: GenerateDataKeyCommandInput) => kms.send(new GenerateDataKeyCommand(a)),
    encrypt: (a: EncryptCommandInput) => kms.send(new EncryptCommand(a)),
    decrypt: (a: DecryptCommandInput) => kms.send(new DecryptCommand(a)),
  } as never;
}

/** The client, its calls counted by route as they leave this process. */
function counted(client: EaasClient) {
  const calls: string[] = [];
  const requester: Requester = {
    request: (method, path, body, query) => {
      calls.push(path);
      return client.request(method, path, body, query);
    },
    raw: (...a) => client.raw(...a),
    rawBytes: (...a) => client.rawBytes(...a),
  };
  return { requester, count: (path: string) => calls.filter((p) => p === path).length };
}

describe('DataKeyCache against the local stack', () => {
  it('without a cache, 10 messages cost 10 data keys; with one, 50 cost 1, and KmsKeyringNode reads them all', async () => {
    const off = counted(t.client());
    for (let i = 0; i < 10; i++)
      await encryptMessage(off.requester, {
        keyId: KEY,
        plaintext: randomBytes(1024),
        encryptionContext: { n: 'x' },
      });
    expect(off.count('/v1/data-keys')).toBe(10);

    const on = counted(t.client());
    const cache = new DataKeyCache({ maxAgeSeconds: 60 });
    const plaintexts = Array.from({ length: 50 }, () => randomBytes(1024));
    const messages = [];
    for (const plaintext of plaintexts)
      messages.push(
        await encryptMessage(on.requester, {
          keyId: KEY,
          plaintext,
          encryptionContext: { tenant: 'acme' },
          cache,
        }),
      );
    expect(on.count('/v1/data-keys')).toBe(1);
    expect(messages[0]?.keyId).toMatch(/^arn:aws:kms:/);

    const keyring = new KmsKeyringNode({ discovery: true, clientProvider: () => kmsFacade(t.kms()) });
    for (const [i, m] of messages.entries()) {
      const opened = await esdk.decrypt(keyring, m.ciphertext);
      expect(opened.plaintext.equals(plaintexts[i] as Buffer)).toBe(true);
      expect(opened.messageHeader.encryptionContext).toMatchObject({ tenant: 'acme' });
      expect(opened.messageHeader.suiteId).toBe(0x0478);
    }
  });

  it('a stream with its length given shares the cached data key; KmsKeyringNode reads it', async () => {
    const on = counted(t.client());
    const cache = new DataKeyCache({ maxAgeSeconds: 60 });
    const plaintext = randomBytes(200_000);
    const made: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await encryptStream(on.requester, { keyId: KEY, cache, plaintextLength: plaintext.length });
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      const ended = new Promise((ok, fail) => s.on('end', ok).on('error', fail));
      s.end(plaintext);
      await ended;
      made.push(Buffer.concat(chunks));
    }
    expect(on.count('/v1/data-keys')).toBe(1);
    const keyring = new KmsKeyringNode({ discovery: true, clientProvider: () => kmsFacade(t.kms()) });
    for (const m of made) expect((await esdk.decrypt(keyring, m)).plaintext.equals(plaintext)).toBe(true);
  });

  it('repeat decrypts of one message unwrap its data key once; another context is refused unasked', async () => {
    const api = counted(t.client());
    const plaintext = randomBytes(1024);
    const { ciphertext } = await encryptMessage(api.requester, {
      keyId: KEY,
      plaintext,
      encryptionContext: { tenant: 'acme' },
    });
    const cache = new DataKeyCache({ maxAgeSeconds: 60 });
    for (let i = 0; i < 10; i++) {
      const out = await decryptMessage(api.requester, { ciphertext, context: { tenant: 'acme' }, cache });
      expect(out.plaintext.equals(plaintext)).toBe(true);
    }
    expect(api.count('/v1/decrypt')).toBe(1);
    await expect(
      decryptMessage(api.requester, { ciphertext, context: { tenant: 'globex' }, cache }),
    ).rejects.toThrow();
    expect(api.count('/v1/decrypt')).toBe(1);
  });

  it('a revoked grant still encrypts from the cache until maxAge, then is refused (the documented trade-off)', async () => {
    const manager = t.client(KEY_MANAGER);
    const { grantId } = await manager.keys.createGrant(KEY, {
      grantee: t.principal(GRANTEE).arn,
      operations: ['GenerateDataKey'],
    });
    const grantee = counted(t.client(GRANTEE));
    const cache = new DataKeyCache({ maxAgeSeconds: 1.5 });
    const encrypt = () =>
      encryptMessage(grantee.requester, {
        keyId: KEY,
        plaintext: randomBytes(64),
        encryptionContext: {},
        cache,
      });
    await encrypt();
    expect(grantee.count('/v1/data-keys')).toBe(1);
    await manager.keys.revokeGrant(KEY, grantId);
    // Without the cache the grantee is refused now...
    await expect(
      encryptMessage(grantee.requester, { keyId: KEY, plaintext: randomBytes(64) }),
    ).rejects.toThrow();
    // ...with it, the cached data key still serves, the API not asked...
    await encrypt();
    expect(grantee.count('/v1/data-keys')).toBe(2);
    // ...until the entry expires.
    await sleep(1600);
    await expect(encrypt()).rejects.toThrow();
    expect(grantee.count('/v1/data-keys')).toBe(3);
  });
});
