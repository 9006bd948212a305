import { randomBytes } from 'node:crypto';
import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node';
import {
  CreateKeyCommand,
  DecryptCommand,
  type DecryptCommandInput,
  DisableKeyCommand,
  EncryptCommand,
  type EncryptCommandInput,
  GenerateDataKeyCommand,
  type GenerateDataKeyCommandInput,
  type KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { GRANTEE, KEY_MANAGER, KEY_USER } from '@eaas/aws-local';
import { EaasError } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INLINE_LIMIT } from '../../src/services/crypto.js';
import { demoKey } from '../helpers/keys.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

let t: TestStack;
const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

async function apiError(p: Promise<unknown>): Promise<EaasError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof EaasError) return e;
    throw e;
  }
  throw new Error('expected an API error');
}

beforeAll(async () => {
  // Each function keeps its own authorization cache, as each Lambda does: a change made through
  // the keys function reaches the others within EAAS_AUTHZ_CACHE_SECONDS. These tests check each
  // decision at once, so they keep none.
  t = await startTestStack({ env: { EAAS_AUTHZ_CACHE_SECONDS: '0' } });
});
afterAll(() => t.stop());

describe('POST /v1/encrypt and /v1/decrypt', () => {
  it('100 bytes go to KMS Encrypt and come back', async () => {
    const api = t.client();
    const plaintext = randomBytes(100);
    const enc = await api.encrypt({ keyId: 'alias/eaas-default', plaintext, context: { tenant: 'acme' } });
    expect(enc.format).toBe('kms');
    expect(enc.keyId).toMatch(/^arn:aws:kms:us-east-1:111122223333:key\//);
    const dec = await api.decrypt({ ciphertext: enc.ciphertext, context: { tenant: 'acme' } });
    expect(dec.plaintext.equals(plaintext)).toBe(true);
    expect(dec.format).toBe('kms');
  });

  it('4096 bytes are still KMS; 4097 bytes become an Encryption SDK message', async () => {
    const api = t.client();
    expect((await api.encrypt({ keyId: 'alias/eaas-default', plaintext: randomBytes(4096) })).format).toBe(
      'kms',
    );
    const big = await api.encrypt({ keyId: 'alias/eaas-default', plaintext: randomBytes(4097) });
    expect(big.format).toBe('aws-encryption-sdk');
    expect(big.ciphertext[0]).toBe(0x02);
    expect(big.ciphertext.readUInt16BE(1)).toBe(0x0478);
  });

  it('1 MiB round-trips as an Encryption SDK message with 64 KiB frames', async () => {
    const api = t.client();
    const plaintext = randomBytes(1024 * 1024);
    const enc = await api.encrypt({ keyId: 'alias/eaas-default', plaintext, context: { doc: 'x' } });
    const dec = await api.decrypt({ ciphertext: enc.ciphertext, context: { doc: 'x' } });
    expect(dec.plaintext.equals(plaintext)).toBe(true);
    expect(dec.format).toBe('aws-encryption-sdk');
  });

  it('messages made by the API decrypt with @aws-crypto/client-node used directly, and vice versa', async () => {
    const api = t.client();
    const kms = t.kms();
    const keyring = new KmsKeyringNode({ discovery: true, clientProvider: () => kmsFacade(kms) });
    const plaintext = randomBytes(10_000);
    const enc = await api.encrypt({ keyId: 'alias/eaas-default', plaintext, context: { who: 'api' } });
    const opened = await esdk.decrypt(keyring, enc.ciphertext);
    expect(opened.plaintext.equals(plaintext)).toBe(true);
    expect(opened.messageHeader.encryptionContext).toMatchObject({ who: 'api' });

    const generator = new KmsKeyringNode({
      generatorKeyId: 'alias/eaas-default',
      clientProvider: () => kmsFacade(kms),
    });
    const own = randomBytes(20_000);
    const { result } = await esdk.encrypt(generator, own, { encryptionContext: { who: 'sdk' } });
    const dec = await api.decrypt({ ciphertext: result, context: { who: 'sdk' } });
    expect(dec.plaintext.equals(own)).toBe(true);
  });

  it("authorizes a signed message's decrypt with the whole context KMS binds, aws-crypto-public-key included (issue 12, class of finding 4)", async () => {
    // Another writer's message, in the Encryption SDK's default (signing) suite: its KMS context
    // holds the verification key besides the writer's pairs.
    const generator = new KmsKeyringNode({
      generatorKeyId: 'alias/eaas-default',
      clientProvider: () => kmsFacade(t.kms()),
    });
    const context = { who: 'signed' };
    const { result, messageHeader } = await esdk.encrypt(generator, randomBytes(5000), {
      encryptionContext: context,
    });
    expect(Object.keys(messageHeader.encryptionContext)).toContain('aws-crypto-public-key');
    const grant = (constraints: Record<string, unknown>) =>
      t.client(KEY_MANAGER).raw('POST', `/v1/keys/${encodeURIComponent('alias/eaas-default')}/grants`, {
        grantee: t.principal(GRANTEE).arn,
        operations: ['Decrypt'],
        constraints,
      });
    const grantee = t.client(GRANTEE);
    // A grant for exactly {"who":"signed"} does not cover what KMS binds: refused, key named or not.
    expect((await grant({ encryptionContextEquals: context })).status).toBe(200);
    for (const keyId of [undefined, 'alias/eaas-default']) {
      const err = await apiError(
        grantee.decrypt({ ciphertext: result, context, ...(keyId ? { keyId } : {}) }),
      );
      expect(err.status, String(keyId)).toBe(403);
      expect(err.code).toBe('AccessDenied');
    }
    // One that holds for it (a subset) opens it.
    expect((await grant({ encryptionContextSubset: context })).status).toBe(200);
    expect((await grantee.decrypt({ ciphertext: result, context })).plaintext.length).toBe(5000);
  });

  it('refuses more than the inline limit with 413 naming the upload route', async () => {
    const res = await t.client().raw('POST', '/v1/encrypt', {
      keyId: 'alias/eaas-default',
      plaintext: Buffer.alloc(INLINE_LIMIT + 1).toString('base64'),
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({
      error: 'PayloadTooLarge',
      message: expect.stringContaining('POST /v1/uploads'),
    });
  });

  it('every decrypt failure is the same InvalidCiphertext answer', async () => {
    const api = t.client();
    const small = await api.encrypt({ keyId: 'alias/eaas-default', plaintext: 'small', context: { a: '1' } });
    const large = await api.encrypt({
      keyId: 'alias/eaas-default',
      plaintext: randomBytes(5000),
      context: { a: '1' },
    });
    const otherKey =
      (await t.kms(KEY_MANAGER).send(new CreateKeyCommand(demoKey(t)))).KeyMetadata?.KeyId ?? '';
    // A key outside the deployment (no reserved tag): its policy lets the caller use it, but the
    // service's roles cannot reach it; a blob made under it directly in KMS, not naming the key.
    const outside =
      (await t.kms(KEY_MANAGER).send(new CreateKeyCommand({ ...demoKey(t), Tags: [] }))).KeyMetadata?.KeyId ??
      '';
    const foreign = await t
      .kms(KEY_USER)
      .send(
        new EncryptCommand({ KeyId: outside, Plaintext: Buffer.from('x'), EncryptionContext: { a: '1' } }),
      );
    const flip = (b: Buffer, at: number) => {
      const c = Buffer.from(b);
      c[at] = (c[at] ?? 0) ^ 1;
      return c;
    };
    const cases: Array<[string, Parameters<typeof api.decrypt>[0]]> = [
      ['wrong context (kms)', { ciphertext: small.ciphertext, context: { a: '2' } }],
      ['missing context (kms)', { ciphertext: small.ciphertext }],
      [
        'tampered (kms)',
        { ciphertext: flip(small.ciphertext, small.ciphertext.length - 3), context: { a: '1' } },
      ],
      ['other key named (kms)', { ciphertext: small.ciphertext, context: { a: '1' }, keyId: otherKey }],
      ['wrong context (esdk)', { ciphertext: large.ciphertext, context: { a: '2' } }],
      [
        'tampered (esdk)',
        { ciphertext: flip(large.ciphertext, large.ciphertext.length - 100), context: { a: '1' } },
      ],
      [
        'truncated (esdk)',
        { ciphertext: large.ciphertext.subarray(0, large.ciphertext.length - 50), context: { a: '1' } },
      ],
      ['other key named (esdk)', { ciphertext: large.ciphertext, context: { a: '1' }, keyId: otherKey }],
      ['garbage', { ciphertext: randomBytes(64) }],
      // KMS refuses the function's role: that is no more the caller's to know than a bad blob.
      [
        'key outside the deployment (kms)',
        { ciphertext: Buffer.from(foreign.CiphertextBlob ?? []), context: { a: '1' } },
      ],
    ];
    const answers = new Set<string>();
    for (const [what, input] of cases) {
      const err = await apiError(api.decrypt(input));
      expect(err.status, what).toBe(400);
      expect(err.code, what).toBe('InvalidCiphertext');
      answers.add(err.message);
    }
    expect(answers.size).toBe(1);
    // Naming a key that does not exist is refused as naming one the caller may not use: which keys
    // exist is for those who may describe them (issue 12).
    const unknown = await apiError(
      api.decrypt({ ciphertext: small.ciphertext, context: { a: '1' }, keyId: 'alias/none' }),
    );
    expect([unknown.status, unknown.code]).toEqual([403, 'AccessDenied']);
  });

  it('a disabled key cannot encrypt (409 KeyDisabled); decrypt under it is InvalidCiphertext', async () => {
    const admin = t.kms(KEY_MANAGER);
    const keyId = (await admin.send(new CreateKeyCommand(demoKey(t)))).KeyMetadata?.KeyId ?? '';
    const api = t.client();
    const enc = await api.encrypt({ keyId, plaintext: 'x' });
    await admin.send(new DisableKeyCommand({ KeyId: keyId }));
    const err = await apiError(api.encrypt({ keyId, plaintext: 'x' }));
    expect([err.status, err.code]).toEqual([409, 'KeyDisabled']);
    expect((await apiError(api.decrypt({ ciphertext: enc.ciphertext }))).code).toBe('InvalidCiphertext');
  });

  it('a key pending deletion cannot encrypt (409 KeyPendingDeletion); an unknown key is refused as one the caller may not use', async () => {
    const admin = t.kms(KEY_MANAGER);
    const keyId = (await admin.send(new CreateKeyCommand(demoKey(t)))).KeyMetadata?.KeyId ?? '';
    await admin.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    const api = t.client();
    const err = await apiError(api.encrypt({ keyId, plaintext: 'x' }));
    expect([err.status, err.code]).toEqual([409, 'KeyPendingDeletion']);
    const missing = await apiError(api.encrypt({ keyId: 'alias/nope', plaintext: 'x' }));
    expect([missing.status, missing.code]).toEqual([403, 'AccessDenied']);
  });
});

describe('POST /v1/re-encrypt', () => {
  it('moves a KMS ciphertext to another key and context', async () => {
    const admin = t.kms(KEY_MANAGER);
    const dest = (await admin.send(new CreateKeyCommand(demoKey(t)))).KeyMetadata?.Arn ?? '';
    const api = t.client();
    const enc = await api.encrypt({ keyId: 'alias/eaas-default', plaintext: 'move', context: { a: '1' } });
    const re = await api.reEncrypt({
      ciphertext: enc.ciphertext,
      destinationKeyId: dest,
      context: { a: '1' },
      destinationContext: { b: '2' },
    });
    expect(re).toMatchObject({ keyId: dest, sourceKeyId: enc.keyId, format: 'kms' });
    expect(re).not.toHaveProperty('plaintext');
    const dec = await api.decrypt({ ciphertext: re.ciphertext, context: { b: '2' } });
    expect(dec.plaintext.toString()).toBe('move');
    expect(dec.keyId).toBe(dest);
  });

  it('re-wraps an Encryption SDK message under another key, keeping the context by default', async () => {
    const admin = t.kms(KEY_MANAGER);
    const dest = (await admin.send(new CreateKeyCommand(demoKey(t)))).KeyMetadata?.Arn ?? '';
    const api = t.client();
    const plaintext = randomBytes(50_000);
    const enc = await api.encrypt({ keyId: 'alias/eaas-default', plaintext, context: { a: '1' } });
    const re = await api.reEncrypt({
      ciphertext: enc.ciphertext,
      destinationKeyId: dest,
      context: { a: '1' },
    });
    expect(re.format).toBe('aws-encryption-sdk');
    expect(re.keyId).toBe(dest);
    const dec = await api.decrypt({ ciphertext: re.ciphertext, context: { a: '1' }, keyId: dest });
    expect(dec.plaintext.equals(plaintext)).toBe(true);
  });

  it('a wrong source context is InvalidCiphertext; a disabled destination is KeyDisabled', async () => {
    const admin = t.kms(KEY_MANAGER);
    const dest = (await admin.send(new CreateKeyCommand(demoKey(t)))).KeyMetadata?.KeyId ?? '';
    const api = t.client();
    const enc = await api.encrypt({ keyId: 'alias/eaas-default', plaintext: 'x', context: { a: '1' } });
    expect(
      (
        await apiError(
          api.reEncrypt({ ciphertext: enc.ciphertext, destinationKeyId: dest, context: { a: '2' } }),
        )
      ).code,
    ).toBe('InvalidCiphertext');
    await admin.send(new DisableKeyCommand({ KeyId: dest }));
    expect(
      (
        await apiError(
          api.reEncrypt({ ciphertext: enc.ciphertext, destinationKeyId: dest, context: { a: '1' } }),
        )
      ).code,
    ).toBe('KeyDisabled');
  });
});

describe('POST /v1/data-keys', () => {
  it('returns a wrapped and a plaintext key that KMS agrees on', async () => {
    const api = t.client();
    const dk = await api.generateDataKey({ keyId: 'alias/eaas-default', context: { p: 'q' } });
    expect(dk.plaintext).toHaveLength(32);
    const dec = await t
      .kms()
      .send(new DecryptCommand({ CiphertextBlob: dk.ciphertext, EncryptionContext: { p: 'q' } }));
    expect(Buffer.from(dec.Plaintext ?? []).equals(dk.plaintext ?? Buffer.alloc(0))).toBe(true);
  });

  it('includePlaintext false returns only the wrapped key; AES_128 and numberOfBytes are honoured', async () => {
    const api = t.client();
    const dk = await api.generateDataKey({ keyId: 'alias/eaas-default', includePlaintext: false });
    expect(dk.plaintext).toBeUndefined();
    expect(
      (await api.generateDataKey({ keyId: 'alias/eaas-default', keySpec: 'AES_128' })).plaintext,
    ).toHaveLength(16);
    expect(
      (await api.generateDataKey({ keyId: 'alias/eaas-default', numberOfBytes: 64 })).plaintext,
    ).toHaveLength(64);
    const both = await apiError(
      api.generateDataKey({ keyId: 'alias/eaas-default', keySpec: 'AES_256', numberOfBytes: 32 }),
    );
    expect([both.status, both.code]).toEqual([400, 'ValidationError']);
  });
});

describe('batches', () => {
  it('answers each item on its own: one bad item does not fail the rest', async () => {
    const api = t.client();
    const items = await api.encryptBatch([
      { keyId: 'alias/eaas-default', plaintext: 'one' },
      { keyId: 'alias/missing', plaintext: 'two' },
      { keyId: 'alias/eaas-default', plaintext: 'three', context: { 'aws:reserved': 'x' } },
      { keyId: 'alias/eaas-default', plaintext: randomBytes(6000) },
    ]);
    expect(items).toHaveLength(4);
    expect(items[0]).toMatchObject({ format: 'kms' });
    expect(items[1]).toMatchObject({ error: 'AccessDenied', index: 1 });
    expect(items[2]).toMatchObject({ error: 'ValidationError', index: 2 });
    expect(items[3]).toMatchObject({ format: 'aws-encryption-sdk' });
    const decrypted = await api.raw('POST', '/v1/decrypt', {
      items: [{ ciphertext: (items[0] as { ciphertext: string }).ciphertext }, { ciphertext: 'AAAA' }],
    });
    expect(decrypted.status).toBe(200);
    const out = decrypted.body as { items: Array<Record<string, unknown>> };
    expect(Buffer.from(String(out.items[0]?.plaintext), 'base64').toString()).toBe('one');
    expect(out.items[1]).toMatchObject({ error: 'InvalidCiphertext' });
  });

  it('refuses more than 100 items and an empty batch', async () => {
    const api = t.client();
    const many = Array.from({ length: 101 }, () => ({ keyId: 'alias/eaas-default', plaintext: 'eA==' }));
    expect((await api.raw('POST', '/v1/encrypt', { items: many })).status).toBe(400);
    expect((await api.raw('POST', '/v1/encrypt', { items: [] })).status).toBe(400);
  });
});

describe('GET /v1/whoami', () => {
  it('names the caller and the key', async () => {
    const me = await t.client().whoami('alias/eaas-default');
    expect(me).toMatchObject({
      principal: 'arn:aws:iam::111122223333:user/myKeyUser',
      callerArn: 'arn:aws:iam::111122223333:user/myKeyUser',
      accountId: '111122223333',
      key: { state: 'Enabled', arn: expect.stringMatching(/^arn:aws:kms:/) },
    });
  });
});

/** The three KMS calls a keyring makes, over a v3 client. */
function kmsFacade(kms: KMSClient) {
  return {
    generateDataKey: (a: GenerateDataKeyCommandInput) => kms.send(new GenerateDataKeyCommand(a)),
    encrypt: (a: EncryptCommandInput) => kms.send(new EncryptCommand(a)),
    decrypt: (a: DecryptCommandInput) => kms.send(new DecryptCommand(a)),
  } as never;
}
