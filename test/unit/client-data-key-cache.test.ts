import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import {
  DataKeyCache,
  type DataKeyCacheOptions,
  decryptMessage,
  decryptStream,
  encryptMessage,
  encryptStream,
  type Requester,
} from '@eaas/client';
import { afterEach, describe, expect, it, vi } from 'vitest';

/**
 * Data-key caching of the Encryption SDK functions over the API, against an in-memory API that
 * counts its calls: data keys are "wrapped" by prefixing them with the key ARN and the context,
 * so unwrapping checks both.
 */
const ARN = 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555';

function fakeApi() {
  const calls: { path: string; body: Record<string, unknown> }[] = [];
  const prefix = (context: unknown) => Buffer.from(`${ARN}|${JSON.stringify(context ?? {})}|`);
  const requester = {
    async request<T>(_method: string, path: string, body?: unknown): Promise<T> {
      const b = body as Record<string, unknown>;
      calls.push({ path, body: b });
      if (path === '/v1/data-keys') {
        const key = randomBytes(Number(b.numberOfBytes ?? 32));
        const ciphertext = Buffer.concat([prefix(b.context), key]).toString('base64');
        return { keyId: ARN, ciphertext, plaintext: key.toString('base64') } as T;
      }
      if (path === '/v1/decrypt') {
        const blob = Buffer.from(String(b.ciphertext), 'base64');
        const p = prefix(b.context);
        if (!blob.subarray(0, p.length).equals(p)) throw new Error('InvalidCiphertext');
        return { keyId: ARN, plaintext: blob.subarray(p.length).toString('base64'), format: 'kms' } as T;
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
  const count = (path: string) => calls.filter((c) => c.path === path).length;
  return { requester, calls, dataKeys: () => count('/v1/data-keys'), unwraps: () => count('/v1/decrypt') };
}

const enc = (
  requester: Requester,
  plaintext: Buffer,
  more: Partial<Parameters<typeof encryptMessage>[1]> = {},
) =>
  encryptMessage(requester, { keyId: 'alias/k', plaintext, encryptionContext: { tenant: 'acme' }, ...more });

afterEach(() => {
  vi.useRealTimers();
});

describe('encryptMessage and decryptMessage without a cache (the default)', () => {
  it('asks the API for a data key per message, and to unwrap it per decrypt', async () => {
    const api = fakeApi();
    const plaintexts = Array.from({ length: 5 }, () => randomBytes(1024));
    const messages = [];
    for (const p of plaintexts) messages.push(await enc(api.requester, p));
    expect(api.dataKeys()).toBe(5);
    expect(messages[0]?.keyId).toBe(ARN);
    for (const [i, m] of messages.entries()) {
      const out = await decryptMessage(api.requester, {
        ciphertext: m.ciphertext,
        context: { tenant: 'acme' },
      });
      expect(out.plaintext.equals(plaintexts[i] as Buffer)).toBe(true);
      expect(out.encryptionContext).toEqual({ tenant: 'acme' });
    }
    expect(api.unwraps()).toBe(5);
  });

  it('streams too: one data key per encryptStream', async () => {
    const api = fakeApi();
    for (let i = 0; i < 3; i++) {
      const s = await encryptStream(api.requester, { keyId: 'alias/k' });
      await buffer(Readable.from([randomBytes(100)]).pipe(s));
    }
    expect(api.dataKeys()).toBe(3);
  });
});

describe('DataKeyCache', () => {
  it('serves N messages under the same key and context with one data key, each message readable', async () => {
    const api = fakeApi();
    const cache = new DataKeyCache({ maxAgeSeconds: 60 });
    const plaintexts = Array.from({ length: 20 }, () => randomBytes(1024));
    const messages = [];
    for (const p of plaintexts) messages.push(await enc(api.requester, p, { cache }));
    expect(api.dataKeys()).toBe(1);
    // Without a cache on the reading side, each message opens on its own.
    for (const [i, m] of messages.entries()) {
      const out = await decryptMessage(api.requester, { ciphertext: m.ciphertext });
      expect(out.plaintext.equals(plaintexts[i] as Buffer)).toBe(true);
    }
    // One data key: every message carries the same wrapped key, so each unwrap sent the same blob.
    const blobs = new Set(api.calls.filter((c) => c.path === '/v1/decrypt').map((c) => c.body.ciphertext));
    expect(blobs.size).toBe(1);
    // Each message is still its own: a fresh message id, so distinct ciphertexts.
    expect(new Set(messages.map((m) => m.ciphertext.toString('base64'))).size).toBe(20);
  });

  it('takes a new data key for another context, another key, another client object', async () => {
    const api = fakeApi();
    const cache = new DataKeyCache({ maxAgeSeconds: 60 });
    await enc(api.requester, randomBytes(10), { cache });
    await enc(api.requester, randomBytes(10), { cache });
    expect(api.dataKeys()).toBe(1);
    await enc(api.requester, randomBytes(10), { cache, encryptionContext: { tenant: 'globex' } });
    expect(api.dataKeys()).toBe(2);
    await enc(api.requester, randomBytes(10), { cache, keyId: 'alias/other' });
    expect(api.dataKeys()).toBe(3);
    // A second client (other credentials, say) sharing the cache object never gets the first's keys.
    const other = fakeApi();
    await enc(other.requester, randomBytes(10), { cache });
    expect(other.dataKeys()).toBe(1);
    // The first's entries are still there.
    await enc(api.requester, randomBytes(10), { cache, encryptionContext: { tenant: 'globex' } });
    expect(api.dataKeys()).toBe(3);
  });

  it('keeps separate cache objects apart', async () => {
    const api = fakeApi();
    await enc(api.requester, randomBytes(10), { cache: new DataKeyCache({ maxAgeSeconds: 60 }) });
    await enc(api.requester, randomBytes(10), { cache: new DataKeyCache({ maxAgeSeconds: 60 }) });
    expect(api.dataKeys()).toBe(2);
  });

  it('takes a new data key after maxMessagesEncrypted messages', async () => {
    const api = fakeApi();
    const cache = new DataKeyCache({ maxAgeSeconds: 60, maxMessagesEncrypted: 3 });
    for (let i = 0; i < 7; i++) await enc(api.requester, randomBytes(10), { cache });
    // Messages 1-3, 4-6, 7: three data keys.
    expect(api.dataKeys()).toBe(3);
  });

  it('takes a new data key once maxBytesEncrypted would be passed, and caches none for a larger message', async () => {
    const api = fakeApi();
    const cache = new DataKeyCache({ maxAgeSeconds: 60, maxBytesEncrypted: 1000 });
    for (let i = 0; i < 5; i++) await enc(api.requester, randomBytes(400), { cache });
    // 400 + 400 fit; the third would make 1200: a new key at messages 1, 3 and 5.
    expect(api.dataKeys()).toBe(3);
    const before = api.dataKeys();
    await enc(api.requester, randomBytes(2000), { cache, encryptionContext: { big: 'yes' } });
    await enc(api.requester, randomBytes(2000), { cache, encryptionContext: { big: 'yes' } });
    expect(api.dataKeys() - before).toBe(2);
  });

  it('takes a new data key once maxAgeSeconds has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-06T00:00:00Z'));
    const api = fakeApi();
    const cache = new DataKeyCache({ maxAgeSeconds: 2 });
    await enc(api.requester, randomBytes(10), { cache });
    vi.setSystemTime(new Date('2026-12-06T00:00:01.900Z'));
    await enc(api.requester, randomBytes(10), { cache });
    expect(api.dataKeys()).toBe(1);
    vi.setSystemTime(new Date('2026-12-06T00:00:02.100Z'));
    await enc(api.requester, randomBytes(10), { cache });
    expect(api.dataKeys()).toBe(2);
  });

  it('evicts the least recently used entry beyond capacity', async () => {
    const api = fakeApi();
    const cache = new DataKeyCache({ maxAgeSeconds: 60, capacity: 1 });
    await enc(api.requester, randomBytes(10), { cache, encryptionContext: { t: 'a' } });
    await enc(api.requester, randomBytes(10), { cache, encryptionContext: { t: 'b' } });
    await enc(api.requester, randomBytes(10), { cache, encryptionContext: { t: 'a' } });
    expect(api.dataKeys()).toBe(3);
  });

  it('caches on the stream side when the plaintext length is given, and requires it', async () => {
    const api = fakeApi();
    const cache = new DataKeyCache({ maxAgeSeconds: 60 });
    const plaintext = randomBytes(5000);
    const messages: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await encryptStream(api.requester, {
        keyId: 'alias/k',
        cache,
        plaintextLength: plaintext.length,
      });
      messages.push(await buffer(Readable.from([plaintext]).pipe(s)));
    }
    expect(api.dataKeys()).toBe(1);
    await expect(encryptStream(api.requester, { keyId: 'alias/k', cache })).rejects.toThrow(
      /plaintextLength/,
    );
    // Reading them with one cache: one unwrap for the three.
    for (const m of messages) {
      const d = await decryptStream(api.requester, { cache });
      expect((await buffer(Readable.from([m]).pipe(d))).equals(plaintext)).toBe(true);
    }
    expect(api.unwraps()).toBe(1);
  });

  it('holds a stream to its plaintextLength exactly, so no byte escapes the bounds the cache counts', async () => {
    const api = fakeApi();
    const cache = new DataKeyCache({ maxAgeSeconds: 60 });
    const refused = async (declared: number, chunks: Buffer[]) => {
      const s = await encryptStream(api.requester, { keyId: 'alias/k', cache, plaintextLength: declared });
      await expect(pipeline(Readable.from(chunks), s, new PassThrough().resume())).rejects.toThrow(
        /plaintextLength/,
      );
    };
    // The SDK itself stops counting at the declared length, or never starts when it is 0.
    await refused(10, [randomBytes(10), randomBytes(100_000)]);
    await refused(0, [randomBytes(100_000)]);
    await refused(10, [randomBytes(9)]);
    await expect(
      encryptStream(api.requester, { keyId: 'alias/k', cache, plaintextLength: 1.5 }),
    ).rejects.toThrow(/whole number/);
    // Exactly the declared length still goes through.
    const s = await encryptStream(api.requester, { keyId: 'alias/k', cache, plaintextLength: 0 });
    expect((await buffer(Readable.from([]).pipe(s))).length).toBeGreaterThan(0);
  });

  it('unwraps a message’s data key once for repeated decrypts', async () => {
    const api = fakeApi();
    const plaintext = randomBytes(1024);
    const { ciphertext } = await enc(api.requester, plaintext);
    const cache = new DataKeyCache({ maxAgeSeconds: 60 });
    for (let i = 0; i < 5; i++) {
      const out = await decryptMessage(api.requester, { ciphertext, context: { tenant: 'acme' }, cache });
      expect(out.plaintext.equals(plaintext)).toBe(true);
    }
    expect(api.unwraps()).toBe(1);
  });

  it('never lets a cached data key skip a decrypt restriction: another context is refused, unasked', async () => {
    const api = fakeApi();
    const { ciphertext } = await enc(api.requester, randomBytes(100));
    const cache = new DataKeyCache({ maxAgeSeconds: 60 });
    await decryptMessage(api.requester, { ciphertext, context: { tenant: 'acme' }, cache });
    expect(api.unwraps()).toBe(1);
    const errors: unknown[] = [];
    await expect(
      decryptMessage(api.requester, {
        ciphertext,
        context: { tenant: 'other' },
        cache,
        onError: (e) => errors.push(e),
      }),
    ).rejects.toThrow();
    // Refused by the keyring before the API is asked, not served from the cache.
    expect(errors).toHaveLength(1);
    expect(api.unwraps()).toBe(1);
    // Another key restriction is its own entry: the API is asked (and names that key).
    await decryptMessage(api.requester, { ciphertext, keyId: 'alias/mine', cache });
    expect(api.unwraps()).toBe(2);
    expect(api.calls.at(-1)?.body).toMatchObject({ keyId: 'alias/mine' });
  });

  it('refuses bounds out of range, with a message naming the bound', () => {
    const bad: [Partial<DataKeyCacheOptions>, RegExp][] = [
      [{}, /maxAgeSeconds is required/],
      [{ maxAgeSeconds: 0 }, /maxAgeSeconds/],
      [{ maxAgeSeconds: -1 }, /maxAgeSeconds/],
      [{ maxAgeSeconds: Number.NaN }, /maxAgeSeconds/],
      [{ maxAgeSeconds: Number.POSITIVE_INFINITY }, /maxAgeSeconds/],
      [{ maxAgeSeconds: 86_401 }, /at most 86400/],
      [
        { maxAgeSeconds: 60, maxMessagesEncrypted: 0 },
        /maxMessagesEncrypted must be a whole number from 1 to 4294967296/,
      ],
      [{ maxAgeSeconds: 60, maxMessagesEncrypted: 2 ** 32 + 1 }, /maxMessagesEncrypted/],
      [{ maxAgeSeconds: 60, maxMessagesEncrypted: 1.5 }, /maxMessagesEncrypted/],
      [{ maxAgeSeconds: 60, maxBytesEncrypted: 0 }, /maxBytesEncrypted/],
      [{ maxAgeSeconds: 60, maxBytesEncrypted: 2 ** 53 }, /maxBytesEncrypted/],
      [{ maxAgeSeconds: 60, capacity: 0 }, /capacity/],
      [{ maxAgeSeconds: 60, capacity: 2.5 }, /capacity/],
      [{ maxAgeSeconds: 60, partition: '' }, /partition/],
    ];
    for (const [options, message] of bad)
      expect(() => new DataKeyCache(options as DataKeyCacheOptions), JSON.stringify(options)).toThrow(
        message,
      );
    // The ceilings themselves are taken, and the defaults are documented ones.
    const top = new DataKeyCache({
      maxAgeSeconds: 86_400,
      maxMessagesEncrypted: 2 ** 32,
      maxBytesEncrypted: Number.MAX_SAFE_INTEGER,
      capacity: 1,
    });
    expect(top.maxMessagesEncrypted).toBe(2 ** 32);
    expect(new DataKeyCache({ maxAgeSeconds: 0.5 })).toMatchObject({
      maxMessagesEncrypted: 1000,
      maxBytesEncrypted: 1024 ** 3,
      capacity: 100,
    });
  });

  it('refuses a cache that is not a DataKeyCache (options alone would make a cache per call)', async () => {
    const api = fakeApi();
    await expect(
      enc(api.requester, randomBytes(10), { cache: { maxAgeSeconds: 60 } as unknown as DataKeyCache }),
    ).rejects.toThrow(/DataKeyCache/);
    expect(api.calls).toHaveLength(0);
  });
});
