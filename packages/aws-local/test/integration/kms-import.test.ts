import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  randomBytes,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  GetPublicKeyCommand,
  ImportKeyMaterialCommand,
  KMSClient,
  ListKeyRotationsCommand,
  PutKeyPolicyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KEY_MANAGER, KEY_USER } from '../../src/identity.js';
import { MAX_KEY_GENERATIONS } from '../../src/kms/key-generation.js';
import { MAX_ON_DEMAND_ROTATIONS } from '../../src/kms/key-store.js';
import { MAX_WRAPPING_KEY_QUEUE } from '../../src/kms/ops-import.js';
import { errorOf } from '../helpers/errors.js';
import { externalKey, type ImportOptions, importMaterial, wrapMaterial } from '../helpers/import.js';
import { consoleKeyPolicy, demoRoles } from '../helpers/keys.js';
import { SEED_ALIAS, startTestKms, type TestKms } from '../helpers/local-kms.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

let t: TestKms;
/** How far the local KMS's clock is ahead of the real one; clients sign with the same offset. */
let offset = 0;
const clients: KMSClient[] = [];

/** A client for the principal whose clock agrees with the local KMS's at the current offset. */
function as(name: string): KMSClient {
  const p = t.principal(name);
  const c = new KMSClient({
    endpoint: t.kms.endpoint,
    region: t.config.region,
    credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
    systemClockOffset: offset,
    maxAttempts: 1,
  });
  clients.push(c);
  return c;
}
const admin = () => as(KEY_MANAGER);
const user = () => as(KEY_USER);

async function newExternalKey(extra: Parameters<typeof externalKey>[1] = {}): Promise<string> {
  const out = await admin().send(new CreateKeyCommand(externalKey(t, extra)));
  return out.KeyMetadata?.KeyId ?? '';
}

async function describe_(keyId: string) {
  return (await admin().send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
}

async function encrypt(keyId: string, text: string): Promise<Uint8Array> {
  const out = await user().send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text) }));
  return out.CiphertextBlob ?? new Uint8Array();
}

async function decrypt(blob: Uint8Array): Promise<string> {
  const out = await user().send(new DecryptCommand({ CiphertextBlob: blob }));
  return Buffer.from(out.Plaintext ?? []).toString();
}

beforeAll(async () => {
  t = await startTestKms({ now: () => new Date(Date.now() + offset) });
});
afterEach(() => {
  offset = 0;
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await t.stop();
});

describe('a key for imported material', () => {
  it('is created PendingImport with origin EXTERNAL, no material, and cannot be used, enabled or disabled', async () => {
    const keyId = await newExternalKey();
    const md = await describe_(keyId);
    expect(md).toMatchObject({ Origin: 'EXTERNAL', KeyState: 'PendingImport', Enabled: false });
    expect(md).not.toHaveProperty('ExpirationModel');
    expect(md).not.toHaveProperty('ValidTo');
    expect(md).not.toHaveProperty('CurrentKeyMaterialId');
    const enc = await errorOf(user().send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })));
    expect(enc).toMatchObject({ name: 'KMSInvalidStateException', status: 400 });
    expect(enc.message).toContain('is pending import');
    for (const command of [new EnableKeyCommand({ KeyId: keyId }), new DisableKeyCommand({ KeyId: keyId })]) {
      expect((await errorOf(admin().send(command))).name).toBe('KMSInvalidStateException');
    }
    expect((await errorOf(admin().send(new EnableKeyRotationCommand({ KeyId: keyId })))).name).toBe(
      'UnsupportedOperationException',
    );
    // Deleting material a key never had changes nothing.
    const deleted = await admin().send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect(deleted.KeyId).toBe(`arn:aws:kms:us-east-1:111122223333:key/${keyId}`);
    expect(deleted.KeyMaterialId).toBeUndefined();
    expect((await describe_(keyId))?.KeyState).toBe('PendingImport');
  });

  it('GetParametersForImport gives an RSA public key (DER SPKI) of the spec and a token valid 24 hours', async () => {
    const keyId = await newExternalKey();
    for (const spec of ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const) {
      const before = Date.now() + offset;
      const out = await admin().send(
        new GetParametersForImportCommand({
          KeyId: keyId,
          WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256',
          WrappingKeySpec: spec,
        }),
      );
      expect(out.KeyId).toBe(`arn:aws:kms:us-east-1:111122223333:key/${keyId}`);
      const pub = createPublicKey({ key: Buffer.from(out.PublicKey ?? []), format: 'der', type: 'spki' });
      expect(pub.asymmetricKeyType).toBe('rsa');
      expect(pub.asymmetricKeyDetails?.modulusLength).toBe(Number(spec.slice(4)));
      const validTo = out.ParametersValidTo?.getTime() ?? 0;
      expect(validTo - before).toBeGreaterThanOrEqual(DAY - 1000);
      expect(validTo - Date.now()).toBeLessThanOrEqual(DAY + 1000);
      expect(out.ImportToken?.length).toBeLessThanOrEqual(6144);
    }
  });

  it('GetParametersForImport bounds the wrapping keys generated at once: a burst beyond it is ThrottlingException, and other calls stay fast', async () => {
    const keyId = await newExternalKey();
    const burst = 16;
    const kms = admin();
    const started = Date.now();
    const calls = Array.from({ length: burst }, () =>
      kms
        .send(
          new GetParametersForImportCommand({
            KeyId: keyId,
            WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
            WrappingKeySpec: 'RSA_4096',
          }),
        )
        .then(
          () => 'ok',
          (e: Error & { $metadata?: { httpStatusCode?: number } }) =>
            `${e.name} ${e.$metadata?.httpStatusCode}`,
        ),
    );
    // A symmetric Encrypt during the burst is not queued behind the generations: it answers while
    // they still run, long before the burst is over. (Ordering, not a fixed time: on a loaded
    // 2-CPU machine the generations take both CPUs and every answer slows, but it is not
    // served after them.)
    let burstOver = 0;
    const settled = Promise.all(calls).then((results) => {
      burstOver = Date.now();
      return results;
    });
    await new Promise((r) => setTimeout(r, 100));
    const before = Date.now();
    await user().send(new EncryptCommand({ KeyId: SEED_ALIAS, Plaintext: Buffer.from('x') }));
    const encrypted = Date.now();
    const results = await settled;
    expect(burstOver - encrypted).toBeGreaterThan(0);
    expect(encrypted - before).toBeLessThan((burstOver - before) / 2);
    const ok = results.filter((r) => r === 'ok').length;
    const throttled = results.filter((r) => r === 'ThrottlingException 400').length;
    expect(ok + throttled).toBe(burst);
    expect(ok).toBeGreaterThanOrEqual(MAX_KEY_GENERATIONS);
    expect(ok).toBeLessThanOrEqual(MAX_KEY_GENERATIONS + MAX_WRAPPING_KEY_QUEUE);
    expect(throttled).toBeGreaterThan(0);
    // Once the burst is over, parameters are given again.
    expect(Date.now() - started).toBeLessThan(30_000);
    const again = await admin().send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
        WrappingKeySpec: 'RSA_2048',
      }),
    );
    expect(again.ImportToken?.length).toBeGreaterThan(0);
  });

  it('GetParametersForImport refuses RSAES_PKCS1_V1_5, SM2, and keys whose origin is not EXTERNAL', async () => {
    const keyId = await newExternalKey();
    const pkcs1 = await errorOf(
      admin().send(
        new GetParametersForImportCommand({
          KeyId: keyId,
          WrappingAlgorithm: 'RSAES_PKCS1_V1_5',
          WrappingKeySpec: 'RSA_2048',
        }),
      ),
    );
    expect(pkcs1.name).toBe('ValidationException');
    const sm2 = await errorOf(
      admin().send(
        new GetParametersForImportCommand({
          KeyId: keyId,
          WrappingAlgorithm: 'SM2PKE',
          WrappingKeySpec: 'SM2',
        }),
      ),
    );
    expect(sm2.name).toBe('UnsupportedOperationException');
    const kmsKey = (await admin().send(new CreateKeyCommand(externalKey(t, { Origin: 'AWS_KMS' }))))
      .KeyMetadata?.KeyId;
    for (const p of [
      admin().send(
        new GetParametersForImportCommand({
          KeyId: kmsKey,
          WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
          WrappingKeySpec: 'RSA_2048',
        }),
      ),
      admin().send(new DeleteImportedKeyMaterialCommand({ KeyId: kmsKey })),
      importMaterial(admin(), keyId, randomBytes(32)).then(() =>
        admin().send(
          new ImportKeyMaterialCommand({
            KeyId: kmsKey,
            ImportToken: Buffer.from('x'),
            EncryptedKeyMaterial: Buffer.from('y'),
            ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
          }),
        ),
      ),
    ]) {
      const err = await errorOf(p);
      expect(err.name).toBe('UnsupportedOperationException');
      expect(err.message).toContain('origin is AWS_KMS');
    }
  });
});

describe('ImportKeyMaterial', () => {
  it('imports material wrapped with each wrapping algorithm; the key is then Enabled and encrypts', async () => {
    for (const algorithm of [
      'RSAES_OAEP_SHA_1',
      'RSAES_OAEP_SHA_256',
      'RSA_AES_KEY_WRAP_SHA_1',
      'RSA_AES_KEY_WRAP_SHA_256',
    ] as const) {
      const keyId = await newExternalKey();
      const out = await importMaterial(admin(), keyId, randomBytes(32), { algorithm, spec: 'RSA_3072' });
      expect(out.KeyId).toBe(`arn:aws:kms:us-east-1:111122223333:key/${keyId}`);
      expect(out.KeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
      const md = await describe_(keyId);
      expect(md).toMatchObject({
        KeyState: 'Enabled',
        Enabled: true,
        Origin: 'EXTERNAL',
        ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        CurrentKeyMaterialId: out.KeyMaterialId,
      });
      expect(md).not.toHaveProperty('ValidTo');
      expect(await decrypt(await encrypt(keyId, `via ${algorithm}`))).toBe(`via ${algorithm}`);
    }
  });

  it('ciphertexts depend on the imported material: the same material in two keys gives the same id only per key', async () => {
    const material = randomBytes(32);
    const a = await newExternalKey();
    const b = await newExternalKey();
    const ia = await importMaterial(admin(), a, material);
    const ib = await importMaterial(admin(), b, material);
    expect(ia.KeyMaterialId).not.toBe(ib.KeyMaterialId);
  });

  it('refuses a token of another key, an altered token, and an expired one', async () => {
    const keyId = await newExternalKey();
    const other = await newExternalKey();
    const material = randomBytes(32);
    const params = await admin().send(
      new GetParametersForImportCommand({
        KeyId: other,
        WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
        WrappingKeySpec: 'RSA_2048',
      }),
    );
    const wrong = await errorOf(importMaterial(admin(), keyId, material, { params }));
    expect(wrong).toMatchObject({ name: 'InvalidImportTokenException', status: 400 });

    const own = await admin().send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
        WrappingKeySpec: 'RSA_2048',
      }),
    );
    const altered = Buffer.from(own.ImportToken ?? []);
    altered[altered.length - 1] = (altered[altered.length - 1] ?? 0) ^ 1;
    expect(
      (await errorOf(importMaterial(admin(), keyId, material, { params: { ...own, ImportToken: altered } })))
        .name,
    ).toBe('InvalidImportTokenException');
    expect((await describe_(keyId))?.KeyState).toBe('PendingImport');

    offset = DAY + 1000;
    expect((await errorOf(importMaterial(admin(), keyId, material, { params: own }))).name).toBe(
      'ExpiredImportTokenException',
    );
    offset = DAY - 60_000;
    await importMaterial(admin(), keyId, material, { params: own });
    expect((await describe_(keyId))?.KeyState).toBe('Enabled');
  });

  it('refuses material that does not unwrap, or is not 256 bits for a symmetric key', async () => {
    const keyId = await newExternalKey();
    const params = await admin().send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
        WrappingKeySpec: 'RSA_2048',
      }),
    );
    const garbage = await errorOf(
      admin().send(
        new ImportKeyMaterialCommand({
          KeyId: keyId,
          ImportToken: params.ImportToken,
          EncryptedKeyMaterial: randomBytes(256),
          ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        }),
      ),
    );
    expect(garbage.name).toBe('InvalidCiphertextException');
    // Wrapped with SHA-1 when the token says SHA-256.
    const sha1 = await errorOf(
      admin().send(
        new ImportKeyMaterialCommand({
          KeyId: keyId,
          ImportToken: params.ImportToken,
          EncryptedKeyMaterial: wrapMaterial(
            params.PublicKey ?? new Uint8Array(),
            'RSAES_OAEP_SHA_1',
            randomBytes(32),
          ),
          ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        }),
      ),
    );
    expect(sha1.name).toBe('InvalidCiphertextException');
    for (const length of [16, 31, 33, 64]) {
      const err = await errorOf(importMaterial(admin(), keyId, randomBytes(length), { params }));
      expect(err.name).toBe('IncorrectKeyMaterialException');
    }
    expect((await describe_(keyId))?.KeyState).toBe('PendingImport');
  });

  it("KeyMaterialDescription must match KMS's pattern ^[a-zA-Z0-9:/_\\s.-]+$ (ValidationException otherwise)", async () => {
    const keyId = await newExternalKey();
    const material = randomBytes(32);
    const params = await admin().send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
        WrappingKeySpec: 'RSA_2048',
      }),
    );
    for (const description of ['<script>', 'naïve', 'a;b', 'line\u0000', 'no\u00a0break', '']) {
      const error = await errorOf(
        importMaterial(admin(), keyId, material, { params, input: { KeyMaterialDescription: description } }),
      );
      expect({ description, error: error.name }).toEqual({ description, error: 'ValidationException' });
    }
    expect((await describe_(keyId))?.KeyState).toBe('PendingImport');
    await importMaterial(admin(), keyId, material, {
      params,
      input: { KeyMaterialDescription: 'v2: hsm/slot_1 2025-01.a' },
    });
    const listed = await admin().send(
      new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
    );
    expect(listed.Rotations?.[0]?.KeyMaterialDescription).toBe('v2: hsm/slot_1 2025-01.a');
  });

  it('checks the expiration model: ValidTo required for KEY_MATERIAL_EXPIRES (the default), in the future, at most 365 days; forbidden otherwise', async () => {
    const keyId = await newExternalKey();
    const material = randomBytes(32);
    const now = Date.now();
    const cases: ImportOptions['input'][] = [
      { ExpirationModel: undefined },
      { ExpirationModel: 'KEY_MATERIAL_EXPIRES' },
      { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(now - 60_000) },
      { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(now + 366 * DAY) },
      { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ValidTo: new Date(now + DAY) },
    ];
    for (const input of cases) {
      const err = await errorOf(importMaterial(admin(), keyId, material, { input }));
      expect(err.name, JSON.stringify(input)).toBe('ValidationException');
    }
    await importMaterial(admin(), keyId, material, {
      input: { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(now + 364 * DAY) },
    });
    expect(await describe_(keyId)).toMatchObject({
      KeyState: 'Enabled',
      ExpirationModel: 'KEY_MATERIAL_EXPIRES',
    });
  });

  it('material expires on the clock: the key goes to PendingImport, and reimporting the same material restores it', async () => {
    const keyId = await newExternalKey();
    const material = randomBytes(32);
    const validTo = new Date(Math.floor((Date.now() + HOUR) / 1000) * 1000);
    await importMaterial(admin(), keyId, material, {
      input: { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo },
    });
    expect((await describe_(keyId))?.ValidTo?.getTime()).toBe(validTo.getTime());
    const blob = await encrypt(keyId, 'until an hour');

    offset = HOUR - 60_000;
    expect(await decrypt(blob)).toBe('until an hour');
    offset = HOUR + 1000;
    const md = await describe_(keyId);
    expect(md?.KeyState).toBe('PendingImport');
    expect(md).not.toHaveProperty('ValidTo');
    const err = await errorOf(user().send(new DecryptCommand({ CiphertextBlob: blob })));
    expect(err.name).toBe('KMSInvalidStateException');
    const rotations = await admin().send(
      new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
    );
    expect(rotations.Rotations?.[0]).toMatchObject({
      ImportState: 'PENDING_IMPORT',
      KeyMaterialState: 'CURRENT',
    });

    // Different material is refused; the same (without ImportType: EXISTING) comes back.
    expect((await errorOf(importMaterial(admin(), keyId, randomBytes(32)))).name).toBe(
      'IncorrectKeyMaterialException',
    );
    await importMaterial(admin(), keyId, material);
    expect(await describe_(keyId)).toMatchObject({
      KeyState: 'Enabled',
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    });
    expect(await decrypt(blob)).toBe('until an hour');
  });

  it('expired material is deleted from the record at the next call of any key, not only when its own key is next used', async () => {
    const keyId = await newExternalKey();
    const pendingKey = await newExternalKey();
    const validTo = new Date(Math.floor((Date.now() + HOUR) / 1000) * 1000);
    const expiring: ImportOptions['input'] = { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo };
    await importMaterial(admin(), keyId, randomBytes(32), { input: expiring });
    // Material pending rotation expires too.
    await importMaterial(admin(), pendingKey, randomBytes(32));
    await importMaterial(admin(), pendingKey, randomBytes(32), {
      input: { ...expiring, ImportType: 'NEW_KEY_MATERIAL' },
    });
    const record = (id: string) =>
      JSON.parse(readFileSync(join(t.dataDir, 'kms', 'keys', `${id}.json`), 'utf8')).key as {
        keyState: string;
        materials: Array<{ wrapped?: string }>;
        pendingMaterials?: Array<{ wrapped?: string }>;
      };
    expect(record(keyId).materials[0]?.wrapped).toBeDefined();
    expect(record(pendingKey).pendingMaterials?.[0]?.wrapped).toBeDefined();

    offset = 2 * HOUR;
    // A call that touches neither key.
    await user().send(new EncryptCommand({ KeyId: SEED_ALIAS, Plaintext: Buffer.from('x') }));
    expect(record(keyId)).toMatchObject({ keyState: 'PendingImport' });
    expect(record(keyId).materials[0]?.wrapped).toBeUndefined();
    expect(record(pendingKey).keyState).toBe('Enabled');
    expect(record(pendingKey).materials[0]?.wrapped).toBeDefined();
    expect(record(pendingKey).pendingMaterials?.[0]?.wrapped).toBeUndefined();
  });

  it('reimporting the same material while it is imported changes its expiration', async () => {
    const keyId = await newExternalKey();
    const material = randomBytes(32);
    const first = await importMaterial(admin(), keyId, material);
    const validTo = new Date(Math.floor((Date.now() + 30 * DAY) / 1000) * 1000);
    const again = await importMaterial(admin(), keyId, material, {
      input: {
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: validTo,
        ImportType: 'EXISTING_KEY_MATERIAL',
      },
    });
    expect(again.KeyMaterialId).toBe(first.KeyMaterialId);
    const md = await describe_(keyId);
    expect(md).toMatchObject({ KeyState: 'Enabled', ExpirationModel: 'KEY_MATERIAL_EXPIRES' });
    expect(md?.ValidTo?.getTime()).toBe(validTo.getTime());
    // The same material as NEW_KEY_MATERIAL, or under another KeyMaterialId, is refused.
    for (const input of [
      { ImportType: 'NEW_KEY_MATERIAL' as const },
      { ImportType: 'EXISTING_KEY_MATERIAL' as const, KeyMaterialId: 'f'.repeat(64) },
    ]) {
      expect((await errorOf(importMaterial(admin(), keyId, material, { input }))).name).toBe(
        'IncorrectKeyMaterialException',
      );
    }
    expect(
      (
        await errorOf(
          importMaterial(admin(), keyId, randomBytes(32), {
            input: { ImportType: 'NEW_KEY_MATERIAL', KeyMaterialId: first.KeyMaterialId },
          }),
        )
      ).name,
    ).toBe('ValidationException');
  });
});

describe('DeleteImportedKeyMaterial', () => {
  it('returns the key to PendingImport; decrypting fails until the same material is imported again', async () => {
    const keyId = await newExternalKey();
    const material = randomBytes(32);
    const imported = await importMaterial(admin(), keyId, material);
    const blob = await encrypt(keyId, 'kept across deletion');
    const deleted = await admin().send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect(deleted).toMatchObject({
      KeyId: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`,
      KeyMaterialId: imported.KeyMaterialId,
    });
    expect((await describe_(keyId))?.KeyState).toBe('PendingImport');
    const err = await errorOf(user().send(new DecryptCommand({ CiphertextBlob: blob })));
    expect(err).toMatchObject({ name: 'KMSInvalidStateException', status: 400 });
    expect((await errorOf(admin().send(new EnableKeyCommand({ KeyId: keyId })))).name).toBe(
      'KMSInvalidStateException',
    );
    // The user may not administer the material.
    expect((await errorOf(importMaterial(user(), keyId, material))).name).toBe('AccessDeniedException');
    expect((await errorOf(user().send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId })))).name).toBe(
      'AccessDeniedException',
    );

    const again = await importMaterial(admin(), keyId, material, { algorithm: 'RSA_AES_KEY_WRAP_SHA_1' });
    expect(again.KeyMaterialId).toBe(imported.KeyMaterialId);
    expect((await describe_(keyId))?.KeyState).toBe('Enabled');
    expect(await decrypt(blob)).toBe('kept across deletion');
  });

  it('while the key is pending deletion leaves its state; cancelling deletion then gives PendingImport', async () => {
    const keyId = await newExternalKey();
    await importMaterial(admin(), keyId, randomBytes(32));
    await admin().send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    await admin().send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect((await describe_(keyId))?.KeyState).toBe('PendingDeletion');
    const params = await errorOf(
      admin().send(
        new GetParametersForImportCommand({
          KeyId: keyId,
          WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
          WrappingKeySpec: 'RSA_2048',
        }),
      ),
    );
    expect(params.name).toBe('KMSInvalidStateException');
    await admin().send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    expect((await describe_(keyId))?.KeyState).toBe('PendingImport');

    // A key that never had material, scheduled and cancelled, is PendingImport again too; one with
    // its material is Disabled.
    const bare = await newExternalKey();
    await admin().send(new ScheduleKeyDeletionCommand({ KeyId: bare, PendingWindowInDays: 7 }));
    await admin().send(new CancelKeyDeletionCommand({ KeyId: bare }));
    expect((await describe_(bare))?.KeyState).toBe('PendingImport');
    const whole = await newExternalKey();
    await importMaterial(admin(), whole, randomBytes(32));
    await admin().send(new ScheduleKeyDeletionCommand({ KeyId: whole, PendingWindowInDays: 7 }));
    await admin().send(new CancelKeyDeletionCommand({ KeyId: whole }));
    expect((await describe_(whole))?.KeyState).toBe('Disabled');
    await admin().send(new EnableKeyCommand({ KeyId: whole }));
  });
});

describe('several materials in a symmetric key, rotated on demand', () => {
  it('new material waits in PENDING_ROTATION; RotateKeyOnDemand makes it current; old ciphertexts still decrypt', async () => {
    const keyId = await newExternalKey();
    const m1 = randomBytes(32);
    const m2 = randomBytes(32);
    const first = await importMaterial(admin(), keyId, m1, { input: { KeyMaterialDescription: 'first' } });
    const old = await encrypt(keyId, 'under the first');
    expect((await errorOf(admin().send(new RotateKeyOnDemandCommand({ KeyId: keyId })))).name).toBe(
      'KMSInvalidStateException',
    );
    const validTo = new Date(Math.floor((Date.now() + 10 * DAY) / 1000) * 1000);
    const second = await importMaterial(admin(), keyId, m2, {
      input: {
        ImportType: 'NEW_KEY_MATERIAL',
        KeyMaterialDescription: 'second',
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: validTo,
      },
    });
    expect(second.KeyMaterialId).not.toBe(first.KeyMaterialId);
    expect((await describe_(keyId))?.CurrentKeyMaterialId).toBe(first.KeyMaterialId);
    const all = await admin().send(
      new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
    );
    expect(all.Rotations).toEqual([
      {
        KeyId: keyId,
        KeyMaterialId: first.KeyMaterialId,
        KeyMaterialDescription: 'first',
        ImportState: 'IMPORTED',
        KeyMaterialState: 'CURRENT',
        ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
      },
      {
        KeyId: keyId,
        KeyMaterialId: second.KeyMaterialId,
        KeyMaterialDescription: 'second',
        ImportState: 'IMPORTED',
        KeyMaterialState: 'PENDING_ROTATION',
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: validTo,
      },
    ]);
    // Still encrypting under the first.
    expect(Buffer.from(await encrypt(keyId, 'x')).readUInt32BE(38)).toBe(0);

    await admin().send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const md = await describe_(keyId);
    expect(md?.CurrentKeyMaterialId).toBe(second.KeyMaterialId);
    expect(md?.ValidTo?.getTime()).toBe(validTo.getTime());
    const fresh = await encrypt(keyId, 'under the second');
    expect(Buffer.from(fresh).readUInt32BE(38)).toBe(1);
    expect(await decrypt(old)).toBe('under the first');
    expect(await decrypt(fresh)).toBe('under the second');
    const rotations = await admin().send(new ListKeyRotationsCommand({ KeyId: keyId }));
    expect(rotations.Rotations).toHaveLength(1);
    expect(rotations.Rotations?.[0]).toMatchObject({
      KeyMaterialId: second.KeyMaterialId,
      KeyMaterialState: 'CURRENT',
      RotationType: 'ON_DEMAND',
      ImportState: 'IMPORTED',
      KeyMaterialDescription: 'second',
    });

    // Deleting the non-current material by id makes the key unusable until it is back.
    await admin().send(
      new DeleteImportedKeyMaterialCommand({ KeyId: keyId, KeyMaterialId: first.KeyMaterialId }),
    );
    expect((await describe_(keyId))?.KeyState).toBe('PendingImport');
    await importMaterial(admin(), keyId, m1, {
      input: { ImportType: 'EXISTING_KEY_MATERIAL', KeyMaterialId: first.KeyMaterialId },
    });
    expect((await describe_(keyId))?.KeyState).toBe('Enabled');
    expect(await decrypt(old)).toBe('under the first');
  });

  it('material pending rotation may be deleted and other material imported in its place', async () => {
    const keyId = await newExternalKey();
    await importMaterial(admin(), keyId, randomBytes(32));
    const pending = await importMaterial(admin(), keyId, randomBytes(32), {
      input: { ImportType: 'NEW_KEY_MATERIAL' },
    });
    await admin().send(
      new DeleteImportedKeyMaterialCommand({ KeyId: keyId, KeyMaterialId: pending.KeyMaterialId }),
    );
    expect((await describe_(keyId))?.KeyState).toBe('Enabled');
    const listed = await admin().send(
      new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
    );
    expect(listed.Rotations?.map((r) => r.KeyMaterialState)).toEqual(['CURRENT']);
    const replaced = await importMaterial(admin(), keyId, randomBytes(32), {
      input: { ImportType: 'NEW_KEY_MATERIAL' },
    });
    await admin().send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    expect((await describe_(keyId))?.CurrentKeyMaterialId).toBe(replaced.KeyMaterialId);
    expect(
      (
        await errorOf(
          admin().send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId, KeyMaterialId: 'a'.repeat(64) })),
        )
      ).name,
    ).toBe('NotFoundException');
  });
});

describe('material pending rotation is bounded', () => {
  it('one material waits in PENDING_ROTATION at a time; more is LimitExceededException, as is new material with no on-demand rotation left', async () => {
    const keyId = await newExternalKey();
    const params = await admin().send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
        WrappingKeySpec: 'RSA_2048',
      }),
    );
    const importNew = (material = randomBytes(32)) =>
      importMaterial(admin(), keyId, material, { params, input: { ImportType: 'NEW_KEY_MATERIAL' } });
    await importMaterial(admin(), keyId, randomBytes(32), { params });
    const pending = randomBytes(32);
    const waiting = await importNew(pending);
    const refused = await errorOf(importNew());
    expect({ name: refused.name, status: refused.status }).toEqual({
      name: 'LimitExceededException',
      status: 400,
    });
    // Reimporting the pending material itself (to change its expiration) is not new material.
    await importMaterial(admin(), keyId, pending, {
      params,
      input: { ImportType: 'EXISTING_KEY_MATERIAL', KeyMaterialId: waiting.KeyMaterialId },
    });
    const listed = await admin().send(
      new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
    );
    expect(listed.Rotations?.map((r) => r.KeyMaterialState)).toEqual(['CURRENT', 'PENDING_ROTATION']);
    await admin().send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    // Every on-demand rotation used (KMS: 25 per key): new material could never become current.
    for (let i = 1; i < MAX_ON_DEMAND_ROTATIONS; i++) {
      await importNew();
      await admin().send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    }
    const exhausted = await errorOf(importNew());
    expect(exhausted.name).toBe('LimitExceededException');
  });
});

describe('HMAC and asymmetric keys take one imported material', () => {
  it('HMAC_256: material of 32 to 64 bytes; another material or ImportType is refused', async () => {
    const keyId = await newExternalKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    for (const length of [31, 65]) {
      expect((await errorOf(importMaterial(admin(), keyId, randomBytes(length)))).name).toBe(
        'IncorrectKeyMaterialException',
      );
    }
    const material = randomBytes(48);
    const out = await importMaterial(admin(), keyId, material);
    const md = await describe_(keyId);
    expect(md).toMatchObject({ KeyState: 'Enabled', KeySpec: 'HMAC_256', Origin: 'EXTERNAL' });
    expect(md).not.toHaveProperty('CurrentKeyMaterialId');
    expect((await errorOf(importMaterial(admin(), keyId, randomBytes(48)))).name).toBe(
      'IncorrectKeyMaterialException',
    );
    expect(
      (
        await errorOf(
          importMaterial(admin(), keyId, material, { input: { ImportType: 'EXISTING_KEY_MATERIAL' } }),
        )
      ).name,
    ).toBe('ValidationException');
    await admin().send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect((await describe_(keyId))?.KeyState).toBe('PendingImport');
    expect((await importMaterial(admin(), keyId, material)).KeyMaterialId).toBe(out.KeyMaterialId);
    expect((await describe_(keyId))?.KeyState).toBe('Enabled');
  });

  it('ECC_NIST_P256 and RSA_2048: a PKCS#8 private key of exactly that spec, wrapped with RSA_AES_KEY_WRAP', async () => {
    const ecc = await newExternalKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({
      format: 'der',
      type: 'pkcs8',
    });
    expect(
      (await errorOf(importMaterial(admin(), ecc, p384, { algorithm: 'RSA_AES_KEY_WRAP_SHA_256' }))).name,
    ).toBe('IncorrectKeyMaterialException');
    expect((await errorOf(importMaterial(admin(), ecc, randomBytes(32)))).name).toBe(
      'IncorrectKeyMaterialException',
    );
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
      format: 'der',
      type: 'pkcs8',
    });
    await importMaterial(admin(), ecc, p256, { algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(await describe_(ecc)).toMatchObject({ KeyState: 'Enabled', KeySpec: 'ECC_NIST_P256' });

    const rsa = await newExternalKey({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
    const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      format: 'der',
      type: 'pkcs8',
    });
    // RSA key material is too long for RSAES_OAEP: "To import an RSA private key, you must use an RSA_AES wrapping algorithm."
    await expect(importMaterial(admin(), rsa, rsaKey, { algorithm: 'RSAES_OAEP_SHA_256' })).rejects.toThrow();
    await importMaterial(admin(), rsa, rsaKey, { algorithm: 'RSA_AES_KEY_WRAP_SHA_1', spec: 'RSA_4096' });
    expect(await describe_(rsa)).toMatchObject({ KeyState: 'Enabled', KeySpec: 'RSA_2048' });
  });
});

describe('imported private keys must be consistent key pairs', () => {
  /** An unsigned big-endian integer, base64url, at least `length` bytes. */
  const b64 = (n: bigint | number, length = 1) => {
    const hex = BigInt(n).toString(16);
    const digits = Math.max(length * 2, hex.length + (hex.length % 2));
    return Buffer.from(hex.padStart(digits, '0'), 'hex').toString('base64url');
  };
  const der = (jwk: JsonWebKey) =>
    createPrivateKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'pkcs8' });

  it('RSA: an even modulus, n ≠ p·q, p = q, e = 1 or 3, d = 0, a wrong d, wrong CRT values are IncorrectKeyMaterialException', async () => {
    const keyId = await newExternalKey({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
    const a = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    const b = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    const evenN = Buffer.from(a.n ?? '', 'base64url');
    evenN[evenN.length - 1] = 2;
    const bad: Record<string, JsonWebKey> = {
      'even modulus': { ...a, n: evenN.toString('base64url') },
      "another key's modulus": { ...a, n: b.n },
      'p = q': { ...a, q: a.p },
      'e = 1': { ...a, e: b64(1) },
      'e = 3': { ...a, e: b64(3) },
      'd = 0': { ...a, d: b64(0) },
      "another key's d": { ...a, d: b.d },
      'dp = dq = 0': { ...a, dp: b64(0), dq: b64(0) },
      'qi = 0': { ...a, qi: b64(0) },
    };
    const params = await admin().send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256',
        WrappingKeySpec: 'RSA_2048',
      }),
    );
    const opts: ImportOptions = { algorithm: 'RSA_AES_KEY_WRAP_SHA_256', params };
    for (const [name, jwk] of Object.entries(bad)) {
      const error = await errorOf(importMaterial(admin(), keyId, der(jwk), opts));
      expect({ name, error: error.name, status: error.status }).toEqual({
        name,
        error: 'IncorrectKeyMaterialException',
        status: 400,
      });
    }
    expect((await describe_(keyId))?.KeyState).toBe('PendingImport');
    await importMaterial(admin(), keyId, der(a), opts);
    expect((await describe_(keyId))?.KeyState).toBe('Enabled');
  });

  it("EC: d = 0, d ≥ n, or another key's public point are IncorrectKeyMaterialException", async () => {
    const keyId = await newExternalKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const p = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'jwk' });
    const q = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'jwk' });
    const bad: Record<string, JsonWebKey> = {
      "another key's public point": { ...p, x: q.x, y: q.y },
      'd = 0': { ...p, d: b64(0, 32) },
      'd = n': { ...p, d: b64(n, 32) },
      'd = n + 1': { ...p, d: b64(n + 1n, 32) },
    };
    const params = await admin().send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256',
        WrappingKeySpec: 'RSA_2048',
      }),
    );
    const opts: ImportOptions = { algorithm: 'RSA_AES_KEY_WRAP_SHA_256', params };
    for (const [name, jwk] of Object.entries(bad)) {
      const error = await errorOf(importMaterial(admin(), keyId, der(jwk), opts));
      expect({ name, error: error.name }).toEqual({ name, error: 'IncorrectKeyMaterialException' });
    }
    expect((await describe_(keyId))?.KeyState).toBe('PendingImport');
    await importMaterial(admin(), keyId, der(p), opts);
    expect((await describe_(keyId))?.KeyState).toBe('Enabled');
  });
});

describe('a stored private key that is not a valid key', () => {
  it('makes Sign, Encrypt and GetPublicKey answer KMSInvalidStateException (400), never a 500', async () => {
    // Material stored before ImportKeyMaterial checked it (or altered since): an RSA key with an even modulus.
    const a = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    const n = Buffer.from(a.n ?? '', 'base64url');
    n[n.length - 1] = 2;
    const bad = createPrivateKey({ key: { ...a, n: n.toString('base64url') }, format: 'jwk' }).export({
      format: 'der',
      type: 'pkcs8',
    });
    const store = t.kms.store;
    const keyOf = async (usage: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT') => {
      const id = await newExternalKey({
        KeySpec: 'RSA_2048',
        KeyUsage: usage,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: t.principal(KEY_MANAGER).arn },
              Action: 'kms:*',
              Resource: '*',
            },
            {
              Effect: 'Allow',
              Principal: { AWS: t.principal(KEY_USER).arn },
              Action: 'kms:*',
              Resource: '*',
            },
          ],
        }),
      });
      const key = store.resolve(id, false);
      store.imported.import(
        key,
        bad,
        { kind: 'first' },
        {
          id: store.imported.idOf(id, bad),
          expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        },
      );
      return id;
    };
    const signing = await keyOf('SIGN_VERIFY');
    const encrypting = await keyOf('ENCRYPT_DECRYPT');
    const calls = {
      'Sign RAW PKCS1': user().send(
        new SignCommand({
          KeyId: signing,
          Message: Buffer.from('x'),
          SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
        }),
      ),
      'Sign DIGEST PSS': user().send(
        new SignCommand({
          KeyId: signing,
          Message: Buffer.alloc(32),
          MessageType: 'DIGEST',
          SigningAlgorithm: 'RSASSA_PSS_SHA_256',
        }),
      ),
      Encrypt: user().send(
        new EncryptCommand({
          KeyId: encrypting,
          Plaintext: Buffer.from('x'),
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      ),
    };
    for (const [name, call] of Object.entries(calls)) {
      const error = await errorOf(call);
      expect({ name, error: error.name, status: error.status }).toEqual({
        name,
        error: 'KMSInvalidStateException',
        status: 400,
      });
    }
    // GetPublicKey and Verify do not fail with this key; whatever they answer, it is not a 500.
    for (const call of [
      user().send(new GetPublicKeyCommand({ KeyId: signing })),
      user().send(
        new VerifyCommand({
          KeyId: signing,
          Message: Buffer.from('x'),
          Signature: Buffer.alloc(256, 1),
          SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
        }),
      ),
    ]) {
      const status = await call.then(
        (out) => out.$metadata.httpStatusCode,
        (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode,
      );
      expect(status).toBeLessThan(500);
    }
  });
});

describe('authorization of the import operations', () => {
  it('condition keys kms:WrappingAlgorithm, kms:WrappingKeySpec, kms:ExpirationModel and kms:ValidTo', async () => {
    const keyId = await newExternalKey();
    const policy = consoleKeyPolicy(demoRoles(t));
    const admins = policy.Statement.find((s) => s.Sid === 'Allow access for Key Administrators');
    if (admins && Array.isArray(admins.Action)) admins.Action = [...admins.Action, 'kms:ImportKeyMaterial'];
    policy.Statement.push(
      {
        Sid: 'Only RSA_AES wrapping',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'kms:GetParametersForImport',
        Resource: '*',
        Condition: { StringNotEquals: { 'kms:WrappingAlgorithm': 'RSA_AES_KEY_WRAP_SHA_256' } },
      },
      {
        Sid: 'Only 3072-bit or longer wrapping keys',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'kms:GetParametersForImport',
        Resource: '*',
        Condition: { StringNotEquals: { 'kms:WrappingKeySpec': ['RSA_3072', 'RSA_4096'] } },
      },
      {
        Sid: 'Material must expire within 30 days',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'kms:ImportKeyMaterial',
        Resource: '*',
        Condition: { StringEquals: { 'kms:ExpirationModel': 'KEY_MATERIAL_DOES_NOT_EXPIRE' } },
      },
      {
        Sid: 'Not later than 30 days',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'kms:ImportKeyMaterial',
        Resource: '*',
        Condition: {
          NumericGreaterThan: { 'kms:ValidTo': String(Math.floor((Date.now() + 30 * DAY) / 1000)) },
        },
      },
    );
    await admin().send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: JSON.stringify(policy) }));
    const material = randomBytes(32);
    for (const [algorithm, spec] of [
      ['RSAES_OAEP_SHA_256', 'RSA_4096'],
      ['RSA_AES_KEY_WRAP_SHA_256', 'RSA_2048'],
    ] as const) {
      const err = await errorOf(
        admin().send(
          new GetParametersForImportCommand({
            KeyId: keyId,
            WrappingAlgorithm: algorithm,
            WrappingKeySpec: spec,
          }),
        ),
      );
      expect(err.name).toBe('AccessDeniedException');
      expect(err.message).toContain('kms:GetParametersForImport');
    }
    const params = await admin().send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256',
        WrappingKeySpec: 'RSA_3072',
      }),
    );
    const opts = { params, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' } as const;
    expect((await errorOf(importMaterial(admin(), keyId, material, opts))).name).toBe(
      'AccessDeniedException',
    );
    const tooLate = {
      ExpirationModel: 'KEY_MATERIAL_EXPIRES' as const,
      ValidTo: new Date(Date.now() + 60 * DAY),
    };
    expect((await errorOf(importMaterial(admin(), keyId, material, { ...opts, input: tooLate }))).name).toBe(
      'AccessDeniedException',
    );
    await importMaterial(admin(), keyId, material, {
      ...opts,
      input: { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(Date.now() + 20 * DAY) },
    });
    expect((await describe_(keyId))?.KeyState).toBe('Enabled');
  });
});
