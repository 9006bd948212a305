import { randomBytes } from 'node:crypto';
import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DecryptCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  type KMSClient,
  ReEncryptCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_MANAGER } from '../../src/identity.js';
import { errorOf } from '../helpers/errors.js';
import { demoKey } from '../helpers/keys.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';

let t: TestKms;
let kms: KMSClient;
let keyA: string;
let keyB: string;

const bytes = (s: string) => new TextEncoder().encode(s);

async function newKey(): Promise<string> {
  const out = await t
    .client(KEY_MANAGER)
    .send(new CreateKeyCommand(demoKey(t, { Description: 'crypto test' })));
  const id = out.KeyMetadata?.KeyId;
  if (!id) throw new Error('no key id');
  return id;
}

beforeAll(async () => {
  t = await startTestKms();
  kms = t.client();
  keyA = await newKey();
  keyB = await newKey();
});
afterAll(() => t.stop());

describe('Encrypt and Decrypt', () => {
  it('round-trips under the default alias without a KeyId on Decrypt', async () => {
    const enc = await kms.send(
      new EncryptCommand({ KeyId: 'alias/eaas-default', Plaintext: bytes('hello') }),
    );
    expect(enc.KeyId).toMatch(/^arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36}$/);
    expect(enc.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(new TextDecoder().decode(dec.Plaintext)).toBe('hello');
    expect(dec.KeyId).toBe(enc.KeyId);
  });

  it('accepts key id, key ARN, alias name and alias ARN', async () => {
    const arn = `arn:aws:kms:us-east-1:111122223333:key/${keyA}`;
    for (const id of [
      keyA,
      arn,
      'alias/eaas-default',
      'arn:aws:kms:us-east-1:111122223333:alias/eaas-default',
    ]) {
      const enc = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: bytes('x') }));
      expect(enc.CiphertextBlob?.length).toBeGreaterThan(0);
    }
  });

  it('two encryptions of the same plaintext differ (fresh IV)', async () => {
    const a = await kms.send(new EncryptCommand({ KeyId: keyA, Plaintext: bytes('same') }));
    const b = await kms.send(new EncryptCommand({ KeyId: keyA, Plaintext: bytes('same') }));
    expect(Buffer.from(a.CiphertextBlob ?? []).equals(Buffer.from(b.CiphertextBlob ?? []))).toBe(false);
  });

  it('takes 4096 bytes and refuses 4097 with ValidationException', async () => {
    await kms.send(new EncryptCommand({ KeyId: keyA, Plaintext: randomBytes(4096) }));
    const err = await errorOf(kms.send(new EncryptCommand({ KeyId: keyA, Plaintext: randomBytes(4097) })));
    expect(err).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(err.message).toContain('4096');
  });

  it('binds the encryption context: exact match decrypts, any other context fails', async () => {
    const ctx = { tenant: 'acme', purpose: 'test' };
    const enc = await kms.send(
      new EncryptCommand({ KeyId: keyA, Plaintext: bytes('ctx'), EncryptionContext: ctx }),
    );
    const dec = await kms.send(
      new DecryptCommand({
        CiphertextBlob: enc.CiphertextBlob,
        EncryptionContext: { purpose: 'test', tenant: 'acme' },
      }),
    );
    expect(new TextDecoder().decode(dec.Plaintext)).toBe('ctx');
    const wrongs: Array<Record<string, string> | undefined> = [
      undefined,
      { tenant: 'acme' },
      { tenant: 'other', purpose: 'test' },
      { ...ctx, extra: '1' },
    ];
    for (const wrong of wrongs) {
      const err = await errorOf(
        kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: wrong })),
      );
      expect(err).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
    }
  });

  it('refuses a tampered blob with InvalidCiphertextException, wherever the flipped byte is', async () => {
    const enc = await kms.send(new EncryptCommand({ KeyId: keyA, Plaintext: bytes('tamper me') }));
    const blob = Buffer.from(enc.CiphertextBlob ?? []);
    for (const at of [0, 1, 5, 40, 45, blob.length - 20, blob.length - 1]) {
      const bad = Buffer.from(blob);
      bad[at] = (bad[at] ?? 0) ^ 0x01;
      const err = await errorOf(kms.send(new DecryptCommand({ CiphertextBlob: bad })));
      expect(err.name, `byte ${at}`).toBe('InvalidCiphertextException');
    }
    const short = await errorOf(kms.send(new DecryptCommand({ CiphertextBlob: blob.subarray(0, 20) })));
    expect(short.name).toBe('InvalidCiphertextException');
  });

  it('answers IncorrectKeyException when KeyId is not the key of the blob', async () => {
    const enc = await kms.send(new EncryptCommand({ KeyId: keyA, Plaintext: bytes('a') }));
    const err = await errorOf(
      kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: keyB })),
    );
    expect(err).toMatchObject({ name: 'IncorrectKeyException', status: 400 });
    const ok = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: keyA }));
    expect(new TextDecoder().decode(ok.Plaintext)).toBe('a');
  });

  it('answers NotFoundException for unknown keys, aliases and malformed ids', async () => {
    for (const id of [
      '11111111-2222-3333-4444-555555555555',
      'alias/does-not-exist',
      'not-a-key',
      'arn:aws:kms:eu-west-1:111122223333:key/x',
    ]) {
      const err = await errorOf(kms.send(new EncryptCommand({ KeyId: id, Plaintext: bytes('x') })));
      expect(err, id).toMatchObject({ name: 'NotFoundException', status: 400 });
    }
  });

  it('refuses a disabled key with DisabledException and works again once enabled', async () => {
    const key = await newKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: key, Plaintext: bytes('d') }));
    const admin = t.client(KEY_MANAGER);
    await admin.send(new DisableKeyCommand({ KeyId: key }));
    expect((await errorOf(kms.send(new EncryptCommand({ KeyId: key, Plaintext: bytes('d') })))).name).toBe(
      'DisabledException',
    );
    expect((await errorOf(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))).name).toBe(
      'DisabledException',
    );
    await admin.send(new EnableKeyCommand({ KeyId: key }));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(new TextDecoder().decode(dec.Plaintext)).toBe('d');
  });

  it('refuses a key pending deletion with KMSInvalidStateException, and cancel-deletion restores it', async () => {
    const key = await newKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: key, Plaintext: bytes('p') }));
    const admin = t.client(KEY_MANAGER);
    await admin.send(new ScheduleKeyDeletionCommand({ KeyId: key, PendingWindowInDays: 7 }));
    const err = await errorOf(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })));
    expect(err).toMatchObject({ name: 'KMSInvalidStateException', status: 400 });
    expect(
      (await errorOf(kms.send(new GenerateDataKeyCommand({ KeyId: key, KeySpec: 'AES_256' })))).name,
    ).toBe('KMSInvalidStateException');
    await admin.send(new CancelKeyDeletionCommand({ KeyId: key }));
    await admin.send(new EnableKeyCommand({ KeyId: key }));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(new TextDecoder().decode(dec.Plaintext)).toBe('p');
  });

  it('answers DryRunOperationException for a DryRun that would succeed', async () => {
    const err = await errorOf(
      kms.send(new EncryptCommand({ KeyId: keyA, Plaintext: bytes('x'), DryRun: true })),
    );
    expect(err).toMatchObject({ name: 'DryRunOperationException', status: 412 });
  });
});

describe('ReEncrypt', () => {
  it('moves a ciphertext to another key and context without exposing plaintext', async () => {
    const enc = await kms.send(
      new EncryptCommand({ KeyId: keyA, Plaintext: bytes('move me'), EncryptionContext: { a: '1' } }),
    );
    const re = await kms.send(
      new ReEncryptCommand({
        CiphertextBlob: enc.CiphertextBlob,
        SourceEncryptionContext: { a: '1' },
        DestinationKeyId: keyB,
        DestinationEncryptionContext: { b: '2' },
      }),
    );
    expect(re).not.toHaveProperty('Plaintext');
    expect(re.SourceKeyId).toContain(keyA);
    expect(re.KeyId).toContain(keyB);
    const dec = await kms.send(
      new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { b: '2' } }),
    );
    expect(new TextDecoder().decode(dec.Plaintext)).toBe('move me');
    expect(dec.KeyId).toContain(keyB);
  });

  it('refuses the wrong source context and a wrong SourceKeyId', async () => {
    const enc = await kms.send(
      new EncryptCommand({ KeyId: keyA, Plaintext: bytes('x'), EncryptionContext: { a: '1' } }),
    );
    const wrongCtx = await errorOf(
      kms.send(new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: keyB })),
    );
    expect(wrongCtx.name).toBe('InvalidCiphertextException');
    const wrongKey = await errorOf(
      kms.send(
        new ReEncryptCommand({
          CiphertextBlob: enc.CiphertextBlob,
          SourceEncryptionContext: { a: '1' },
          SourceKeyId: keyB,
          DestinationKeyId: keyB,
        }),
      ),
    );
    expect(wrongKey.name).toBe('IncorrectKeyException');
  });
});

describe('data keys and random bytes', () => {
  it('GenerateDataKey gives a 32-byte key (AES_256) whose blob decrypts to the same bytes', async () => {
    const dk = await kms.send(
      new GenerateDataKeyCommand({ KeyId: keyA, KeySpec: 'AES_256', EncryptionContext: { k: 'v' } }),
    );
    expect(dk.Plaintext?.length).toBe(32);
    const dec = await kms.send(
      new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { k: 'v' } }),
    );
    expect(Buffer.from(dec.Plaintext ?? []).equals(Buffer.from(dk.Plaintext ?? []))).toBe(true);
  });

  it('honours AES_128 and NumberOfBytes 1..1024, and refuses both, neither and out-of-range', async () => {
    expect(
      (await kms.send(new GenerateDataKeyCommand({ KeyId: keyA, KeySpec: 'AES_128' }))).Plaintext?.length,
    ).toBe(16);
    expect(
      (await kms.send(new GenerateDataKeyCommand({ KeyId: keyA, NumberOfBytes: 1 }))).Plaintext?.length,
    ).toBe(1);
    expect(
      (await kms.send(new GenerateDataKeyCommand({ KeyId: keyA, NumberOfBytes: 1024 }))).Plaintext?.length,
    ).toBe(1024);
    for (const bad of [
      { KeySpec: 'AES_256' as const, NumberOfBytes: 32 },
      {},
      { NumberOfBytes: 0 },
      { NumberOfBytes: 1025 },
    ]) {
      const err = await errorOf(kms.send(new GenerateDataKeyCommand({ KeyId: keyA, ...bad })));
      expect(err, JSON.stringify(bad)).toMatchObject({ name: 'ValidationException', status: 400 });
    }
  });

  it('GenerateDataKeyWithoutPlaintext returns only the wrapped key, which decrypts', async () => {
    const dk = await kms.send(
      new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyA, KeySpec: 'AES_256' }),
    );
    expect(dk).not.toHaveProperty('Plaintext');
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }));
    expect(dec.Plaintext?.length).toBe(32);
  });

  it('GenerateRandom returns the bytes asked for, different each time', async () => {
    const a = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
    const b = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
    expect(a.Plaintext?.length).toBe(64);
    expect(Buffer.from(a.Plaintext ?? []).equals(Buffer.from(b.Plaintext ?? []))).toBe(false);
    expect((await errorOf(kms.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })))).name).toBe(
      'ValidationException',
    );
  });
});
