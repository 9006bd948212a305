import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { buildClient, CommitmentPolicy } from '@aws-crypto/client-node';
import { apiKeyring, apiKmsClient, encryptStream, type Requester } from '@eaas/client';
import { describe, expect, it } from 'vitest';

/**
 * The Encryption SDK keyring backed by the API, against an in-memory API: data keys are
 * "wrapped" by prefixing them with the key ARN and the context, so unwrapping checks both.
 */
const ARN = 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555';

function fakeApi() {
  const calls: { path: string; body: Record<string, unknown> }[] = [];
  const wrap = (key: Buffer, context: unknown) =>
    Buffer.concat([Buffer.from(`${ARN}|${JSON.stringify(context ?? {})}|`), key]).toString('base64');
  const requester = {
    async request<T>(_method: string, path: string, body?: unknown): Promise<T> {
      const b = body as Record<string, unknown>;
      calls.push({ path, body: b });
      if (path === '/v1/data-keys') {
        const key = randomBytes(Number(b.numberOfBytes ?? 32));
        return { keyId: ARN, ciphertext: wrap(key, b.context), plaintext: key.toString('base64') } as T;
      }
      if (path === '/v1/decrypt') {
        const blob = Buffer.from(String(b.ciphertext), 'base64');
        const prefix = Buffer.from(`${ARN}|${JSON.stringify(b.context ?? {})}|`);
        if (!blob.subarray(0, prefix.length).equals(prefix)) throw new Error('InvalidCiphertext');
        return { keyId: ARN, plaintext: blob.subarray(prefix.length).toString('base64'), format: 'kms' } as T;
      }
      throw new Error(`unexpected ${path}`);
    },
    raw: async () => {
      throw new Error('unused');
    },
    rawBytes: async () => {
      throw new Error('unused');
    },
  } as unknown as Requester;
  return { requester, calls };
}

const sdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

describe('apiKeyring', () => {
  it('makes a message whose one data key is a standard aws-kms one, and reads it back', async () => {
    const { requester, calls } = fakeApi();
    const plaintext = randomBytes(10_000);
    const keyring = await apiKeyring(requester, { generatorKeyId: 'alias/k' });
    const { result, messageHeader } = await sdk.encrypt(keyring, plaintext, {
      encryptionContext: { tenant: 'acme' },
      suiteId: 0x0478,
    });
    expect(messageHeader.encryptedDataKeys).toHaveLength(1);
    expect(messageHeader.encryptedDataKeys[0]).toMatchObject({ providerId: 'aws-kms', providerInfo: ARN });
    expect(calls[0]).toEqual({
      path: '/v1/data-keys',
      body: { keyId: 'alias/k', numberOfBytes: 32, context: { tenant: 'acme' } },
    });
    const opened = await sdk.decrypt(await apiKeyring(requester), result);
    expect(Buffer.from(opened.plaintext).equals(plaintext)).toBe(true);
    // Unwrapping names the key the data key is under.
    expect(calls[1]?.body).toMatchObject({ keyId: ARN, context: { tenant: 'acme' } });
  });

  it('asks the API nothing when the context given is not the message’s, and names the key asked for', async () => {
    const { requester, calls } = fakeApi();
    const keyring = await apiKeyring(requester, { generatorKeyId: ARN });
    const { result } = await sdk.encrypt(keyring, randomBytes(100), {
      encryptionContext: { tenant: 'acme' },
      suiteId: 0x0478,
    });
    const errors: unknown[] = [];
    await expect(
      sdk.decrypt(
        await apiKeyring(requester, { context: { tenant: 'other' }, onError: (e) => errors.push(e) }),
        result,
      ),
    ).rejects.toThrow();
    expect(calls.filter((c) => c.path === '/v1/decrypt')).toHaveLength(0);
    expect(errors).toHaveLength(1);
    await sdk.decrypt(
      await apiKeyring(requester, { keyId: 'alias/mine', context: { tenant: 'acme' } }),
      result,
    );
    expect(calls.at(-1)?.body).toMatchObject({ keyId: 'alias/mine' });
  });

  it('hands the SDK a data key in memory of its own, outside the shared buffer pool', async () => {
    const { requester } = fakeApi();
    const out = await apiKmsClient(requester).generateDataKey({ KeyId: ARN, NumberOfBytes: 32 });
    expect(out.Plaintext.byteLength).toBe(32);
    expect(out.Plaintext.buffer.byteLength).toBe(32);
    expect(out.KeyId).toBe(ARN);
  });
});

describe('encryptStream', () => {
  it('fails with its source, never with an uncaught error from inside the SDK', async () => {
    const { requester } = fakeApi();
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', record);
    try {
      const encrypting = await encryptStream(requester, { keyId: ARN });
      async function* source() {
        yield randomBytes(200_000);
        throw new Error('source failed');
      }
      await expect(pipeline(Readable.from(source()), encrypting, new PassThrough().resume())).rejects.toThrow(
        'source failed',
      );
      // The SDK's inner streams close on a later turn: give them the time to (not) throw.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', record);
    }
  });
});
