import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateMacCommand,
  GetKeyRotationStatusCommand,
  GetParametersForImportCommand,
  GetPublicKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  RetireGrantCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  VerifyCommand,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { GRANTEE, KEY_MANAGER, KEY_USER, SERVICE } from '../../src/identity.js';
import { startLocalKms } from '../../src/kms/index.js';
import { errorOf } from '../helpers/errors.js';
import { externalKey, importMaterial } from '../helpers/import.js';
import { demoKey } from '../helpers/keys.js';
import { makeDataDir, startTestKms, type TestKms } from '../helpers/local-kms.js';

const DAY = 86_400_000;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = makeDataDir();
  dirs.push(d);
  return d;
}

/** Every file under `dir`, at any depth. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

describe('the key store on disk', () => {
  it('keeps keys, aliases, rotations and credentials across a restart', async () => {
    const dir = dataDir();
    const first = await startTestKms({ dataDir: dir });
    const user = first.client(KEY_USER);
    const admin = first.client(KEY_MANAGER);
    const keyId = (await admin.send(new CreateKeyCommand(demoKey(first)))).KeyMetadata?.KeyId;
    await admin.send(new CreateAliasCommand({ AliasName: 'alias/kept', TargetKeyId: keyId }));
    const enc = await user.send(
      new EncryptCommand({
        KeyId: 'alias/kept',
        Plaintext: Buffer.from('survives'),
        EncryptionContext: { a: 'b' },
      }),
    );
    await admin.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const secretBefore = first.principal(KEY_USER).secretAccessKey;
    await first.stop();

    const second = await startTestKms({ dataDir: dir });
    try {
      expect(second.principal(KEY_USER).secretAccessKey).toBe(secretBefore);
      const user2 = second.client(KEY_USER);
      const dec = await user2.send(
        new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: 'b' } }),
      );
      expect(Buffer.from(dec.Plaintext ?? []).toString()).toBe('survives');
      expect((await user2.send(new DescribeKeyCommand({ KeyId: 'alias/kept' }))).KeyMetadata?.KeyId).toBe(
        keyId,
      );
      expect(
        (await second.client(KEY_MANAGER).send(new ListKeyRotationsCommand({ KeyId: keyId }))).Rotations,
      ).toHaveLength(1);
    } finally {
      await second.stop();
    }
  });

  it('asymmetric and HMAC keys keep signing, verifying, decrypting and MACing after a restart', async () => {
    const dir = dataDir();
    const first = await startTestKms({ dataDir: dir });
    const kms = first.client(SERVICE);
    const create = async (input: CreateKeyCommandInput) =>
      (await kms.send(new CreateKeyCommand(input))).KeyMetadata?.KeyId ?? '';
    const signing = await create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const rsa = await create({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const hmac = await create({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const Message = Buffer.from('before the restart');
    const signed = await kms.send(
      new SignCommand({ KeyId: signing, Message, SigningAlgorithm: 'ECDSA_SHA_256' }),
    );
    const publicKey = (await kms.send(new GetPublicKeyCommand({ KeyId: signing }))).PublicKey;
    const enc = await kms.send(
      new EncryptCommand({ KeyId: rsa, Plaintext: Message, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    );
    const mac = await kms.send(
      new GenerateMacCommand({ KeyId: hmac, Message, MacAlgorithm: 'HMAC_SHA_256' }),
    );
    await first.stop();

    const second = await startTestKms({ dataDir: dir });
    try {
      const kms2 = second.client(SERVICE);
      await expect(
        kms2.send(
          new VerifyCommand({
            KeyId: signing,
            Message,
            Signature: signed.Signature,
            SigningAlgorithm: 'ECDSA_SHA_256',
          }),
        ),
      ).resolves.toMatchObject({ SignatureValid: true });
      const again = (await kms2.send(new GetPublicKeyCommand({ KeyId: signing }))).PublicKey;
      expect(Buffer.from(again ?? []).equals(Buffer.from(publicKey ?? []))).toBe(true);
      const dec = await kms2.send(
        new DecryptCommand({
          KeyId: rsa,
          CiphertextBlob: enc.CiphertextBlob,
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      );
      expect(Buffer.from(dec.Plaintext ?? []).equals(Message)).toBe(true);
      await expect(
        kms2.send(new VerifyMacCommand({ KeyId: hmac, Message, MacAlgorithm: 'HMAC_SHA_256', Mac: mac.Mac })),
      ).resolves.toMatchObject({ MacValid: true });
    } finally {
      await second.stop();
    }
  });

  it('keeps secrets in files only the owner can read, and no key material in the clear', async () => {
    const dir = dataDir();
    const t = await startTestKms({ dataDir: dir });
    const admin = t.client(KEY_MANAGER);
    const keyId = (await admin.send(new CreateKeyCommand(demoKey(t)))).KeyMetadata?.KeyId;
    await admin.send(new CreateAliasCommand({ AliasName: 'alias/private', TargetKeyId: keyId }));
    await admin.send(
      new CreateGrantCommand({
        KeyId: keyId,
        GranteePrincipal: t.principal(GRANTEE).arn,
        Operations: ['Decrypt'],
      }),
    );
    const dk = await t.client().send(
      new GenerateDataKeyCommand({
        KeyId: 'alias/eaas-default',
        KeySpec: 'AES_256',
      }),
    );
    await t.stop();
    for (const f of ['root.key', 'principals.json', 'credentials']) {
      expect((statSync(join(dir, f)).mode & 0o777).toString(8), f).toBe('600');
    }
    const records = filesUnder(join(dir, 'kms'));
    expect(records.map((f) => f.split('/').slice(-2, -1)[0]).sort()).toEqual([
      'aliases',
      'aliases',
      'grants',
      'keys',
      'keys',
    ]);
    for (const f of records) {
      expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
      const bytes = readFileSync(f);
      expect(bytes.includes(Buffer.from(dk.Plaintext ?? []))).toBe(false);
      expect(bytes.includes(Buffer.from(dk.Plaintext ?? []).toString('base64'))).toBe(false);
    }
    for (const d of ['kms', 'kms/keys', 'kms/aliases', 'kms/grants']) {
      expect((statSync(join(dir, d)).mode & 0o777).toString(8), d).toBe('700');
    }
  });

  it('refuses to start with a root key that does not match the stored material', async () => {
    const dir = dataDir();
    const t = await startTestKms({ dataDir: dir });
    await t.stop();
    await expect(startLocalKms({ dataDir: dir, rootKey: Buffer.alloc(32, 7) })).rejects.toThrow(
      /root key does not match/,
    );
  });

  it('uses the rootKey option when given, and writes no root.key file', async () => {
    const dir = dataDir();
    const root = Buffer.alloc(32, 9);
    const t = await startTestKms({ dataDir: dir, rootKey: root });
    await t.stop();
    expect(() => statSync(join(dir, 'root.key'))).toThrow();
    const again = await startTestKms({ dataDir: dir, rootKey: root });
    await again.stop();
  });
});

describe('time-driven key events', () => {
  let t: TestKms | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('rotates automatically when the period has passed; old ciphertexts still decrypt', async () => {
    let offset = 0;
    t = await startTestKms({ now: () => new Date(Date.now() + offset) });
    const admin = t.client(KEY_MANAGER);
    const keyId = (await admin.send(new CreateKeyCommand(demoKey(t)))).KeyMetadata?.KeyId;
    await admin.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
    const old = await t.client().send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before') }));

    offset = 181 * DAY;
    const at = (name: string) => {
      const p = (t as TestKms).principal(name);
      return new KMSClient({
        endpoint: (t as TestKms).kms.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
        systemClockOffset: offset,
        maxAttempts: 1,
      });
    };
    const later = at(KEY_USER);
    const rotations = await at(KEY_MANAGER).send(new ListKeyRotationsCommand({ KeyId: keyId }));
    expect(rotations.Rotations?.map((r) => r.RotationType)).toEqual(['AUTOMATIC', 'AUTOMATIC']);
    const fresh = await later.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after') }));
    expect(
      Buffer.from(
        (await later.send(new DecryptCommand({ CiphertextBlob: old.CiphertextBlob }))).Plaintext ?? [],
      ).toString(),
    ).toBe('before');
    expect(Buffer.from(fresh.CiphertextBlob ?? []).readUInt32BE(38)).toBe(2);
    later.destroy();
  });

  it('deletes a key, its aliases and grants when the deletion window ends', async () => {
    let offset = 0;
    t = await startTestKms({ now: () => new Date(Date.now() + offset) });
    const admin = t.client(KEY_MANAGER);
    const keyId = (await admin.send(new CreateKeyCommand(demoKey(t)))).KeyMetadata?.KeyId;
    await admin.send(new CreateAliasCommand({ AliasName: 'alias/doomed', TargetKeyId: keyId }));
    await admin.send(
      new CreateGrantCommand({
        KeyId: keyId,
        GranteePrincipal: t.principal(GRANTEE).arn,
        Operations: ['Decrypt'],
      }),
    );
    const enc = await t.client().send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('gone') }));
    await admin.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    const kmsDir = join(t.dataDir, 'kms');
    expect(readdirSync(join(kmsDir, 'grants'))).toHaveLength(1);

    offset = 6 * DAY;
    const user = t.principal(KEY_USER);
    const client = (skew: number) =>
      new KMSClient({
        endpoint: t?.kms.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey },
        systemClockOffset: skew,
        maxAttempts: 1,
      });
    const day6 = client(offset);
    expect((await day6.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe(
      'PendingDeletion',
    );
    offset = 8 * DAY;
    const day8 = client(offset);
    // Listings see the deletion as soon as the window has ended, before anything looks the key up.
    const keys = await day8.send(new ListKeysCommand({}));
    expect(keys.Keys?.map((k) => k.KeyId)).not.toContain(keyId);
    const aliases = await day8.send(new ListAliasesCommand({}));
    expect(aliases.Aliases?.map((a) => a.AliasName)).toEqual(['alias/eaas-default']);
    expect(readdirSync(join(kmsDir, 'keys'))).toHaveLength(1);
    expect(readdirSync(join(kmsDir, 'aliases'))).toHaveLength(1);
    expect(readdirSync(join(kmsDir, 'grants'))).toEqual([]);
    expect((await errorOf(day8.send(new DescribeKeyCommand({ KeyId: keyId })))).name).toBe(
      'NotFoundException',
    );
    expect((await errorOf(day8.send(new DescribeKeyCommand({ KeyId: 'alias/doomed' })))).name).toBe(
      'NotFoundException',
    );
    expect((await errorOf(day8.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))).name).toBe(
      'InvalidCiphertextException',
    );
    day6.destroy();
    day8.destroy();
  });
});

/**
 * A data dir written by the single-file store (`kms/state.json`, this project up to commit
 * a23d13b), made with the root key in `expected.json`: the seed's default key, a key with two
 * aliases, tags, an on-demand rotation, automatic rotation on, a constrained grant, and a key
 * pending deletion; and ciphertexts under them.
 */
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'kms-state-v1');
interface Fixture {
  madeAt: number;
  rootKey: string;
  keptKeyId: string;
  doomedKeyId: string;
  grantId: string;
  grantToken: string;
  ciphertexts: Array<{ blob: string; context: Record<string, string>; plaintext: string }>;
}
const fixture = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Fixture;

describe('a data dir of the single-file store', () => {
  let t: TestKms | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  /** A data dir holding the fixture's `kms/state.json`. */
  function oldDataDir(): string {
    const dir = dataDir();
    mkdirSync(join(dir, 'kms'), { recursive: true });
    cpSync(join(FIXTURE, 'state.json'), join(dir, 'kms', 'state.json'));
    return dir;
  }

  /** Starts over `dir` a day after the fixture was made (its key pending deletion is still pending). */
  async function startOver(dir: string): Promise<{ t: TestKms; client: (name: string) => KMSClient }> {
    const offset = fixture.madeAt + DAY - Date.now();
    const kms = await startTestKms({
      dataDir: dir,
      rootKey: Buffer.from(fixture.rootKey, 'base64'),
      now: () => new Date(Date.now() + offset),
    });
    const client = (name: string) => {
      const p = kms.principal(name);
      return new KMSClient({
        endpoint: kms.kms.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
        systemClockOffset: offset,
        maxAttempts: 1,
      });
    };
    return { t: kms, client };
  }

  async function decryptsEverything(client: (name: string) => KMSClient): Promise<void> {
    const user = client(KEY_USER);
    for (const c of fixture.ciphertexts) {
      const out = await user.send(
        new DecryptCommand({ CiphertextBlob: Buffer.from(c.blob, 'base64'), EncryptionContext: c.context }),
      );
      expect(Buffer.from(out.Plaintext ?? []).toString()).toBe(c.plaintext);
    }
    user.destroy();
  }

  it('is migrated on first start: keys, material versions, aliases, grants, tags and rotation kept', async () => {
    const dir = oldDataDir();
    const started = await startOver(dir);
    t = started.t;
    expect(existsSync(join(dir, 'kms', 'state.json'))).toBe(false);
    expect(readdirSync(join(dir, 'kms', 'keys'))).toHaveLength(3);
    await decryptsEverything(started.client);

    const admin = started.client(KEY_MANAGER);
    const kept = fixture.keptKeyId;
    const described = await admin.send(new DescribeKeyCommand({ KeyId: 'alias/migrated' }));
    expect(described.KeyMetadata).toMatchObject({ KeyId: kept, Description: 'kept across the migration' });
    const aliases = await admin.send(new ListAliasesCommand({ KeyId: kept }));
    expect(aliases.Aliases?.map((a) => a.AliasName)).toEqual(['alias/migrated', 'alias/team/docs']);
    const rotations = await admin.send(new ListKeyRotationsCommand({ KeyId: kept }));
    expect(rotations.Rotations?.map((r) => r.RotationType)).toEqual(['ON_DEMAND']);
    const status = await admin.send(new GetKeyRotationStatusCommand({ KeyId: kept }));
    expect(status).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 });
    expect((await admin.send(new ListResourceTagsCommand({ KeyId: kept }))).Tags).toEqual([
      { TagKey: 'team', TagValue: 'docs' },
    ]);
    expect(
      (await admin.send(new DescribeKeyCommand({ KeyId: fixture.doomedKeyId }))).KeyMetadata?.KeyState,
    ).toBe('PendingDeletion');
    const grants = await admin.send(new ListGrantsCommand({ KeyId: kept }));
    expect(grants.Grants).toHaveLength(1);
    expect(grants.Grants?.[0]).toMatchObject({
      GrantId: fixture.grantId,
      GranteePrincipal: started.t.principal(GRANTEE).arn,
      Operations: ['Decrypt'],
      Constraints: { EncryptionContextEquals: { tenant: 'acme' } },
    });
    // The grant's token still names it: its retiring principal retires it by token.
    await admin.send(new RetireGrantCommand({ GrantToken: fixture.grantToken }));
    expect((await admin.send(new ListGrantsCommand({ KeyId: kept }))).Grants).toEqual([]);
    admin.destroy();
    await t.stop();

    // The next start reads the migrated files.
    const again = await startOver(dir);
    t = again.t;
    await decryptsEverything(again.client);
    const admin2 = again.client(KEY_MANAGER);
    expect((await admin2.send(new ListAliasesCommand({ KeyId: kept }))).Aliases).toHaveLength(2);
    expect((await admin2.send(new ListGrantsCommand({ KeyId: kept }))).Grants).toEqual([]);
    admin2.destroy();
  });

  it('migrates again after a start interrupted before state.json was removed; leftover temporary files go', async () => {
    const dir = oldDataDir();
    t = (await startOver(dir)).t;
    await t.stop();
    // As if the start had crashed after writing the records, before removing state.json, and
    // during a write (its temporary file).
    cpSync(join(FIXTURE, 'state.json'), join(dir, 'kms', 'state.json'));
    const stray = join(dir, 'kms', 'keys', `${fixture.keptKeyId}.json.123.abcdef.tmp`);
    writeFileSync(stray, '{"version":2,"key":{', { mode: 0o600 });
    const again = await startOver(dir);
    t = again.t;
    expect(existsSync(join(dir, 'kms', 'state.json'))).toBe(false);
    expect(existsSync(stray)).toBe(false);
    expect(readdirSync(join(dir, 'kms', 'keys'))).toHaveLength(3);
    await decryptsEverything(again.client);
  });

  it('is not touched by a start under another root key, which fails', async () => {
    const dir = oldDataDir();
    const before = readFileSync(join(dir, 'kms', 'state.json'));
    await expect(startLocalKms({ dataDir: dir, rootKey: Buffer.alloc(32, 7) })).rejects.toThrow(
      /root key does not match/,
    );
    expect(readFileSync(join(dir, 'kms', 'state.json')).equals(before)).toBe(true);
    expect(readdirSync(join(dir, 'kms', 'keys'))).toEqual([]);
  });
});

describe('imported key material on disk', () => {
  it('survives a restart: material, expiration, deleted material and pending material; an import token too', async () => {
    const dir = dataDir();
    const first = await startTestKms({ dataDir: dir });
    const admin = first.client(KEY_MANAGER);
    const keyId = (await admin.send(new CreateKeyCommand(externalKey(first)))).KeyMetadata?.KeyId ?? '';
    const m1 = randomBytes(32);
    const m2 = randomBytes(32);
    const validTo = new Date(Math.floor((Date.now() + 30 * DAY) / 1000) * 1000);
    const imported = await importMaterial(admin, keyId, m1, {
      input: { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo, KeyMaterialDescription: 'kept' },
    });
    const enc = await first
      .client(KEY_USER)
      .send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('byok') }));
    const pending = await importMaterial(admin, keyId, m2, { input: { ImportType: 'NEW_KEY_MATERIAL' } });
    // A second key: material deleted before the restart, with an unused import token.
    const other = (await admin.send(new CreateKeyCommand(externalKey(first)))).KeyMetadata?.KeyId ?? '';
    const m3 = randomBytes(32);
    await importMaterial(admin, other, m3);
    await admin.send(new DeleteImportedKeyMaterialCommand({ KeyId: other }));
    const params = await admin.send(
      new GetParametersForImportCommand({
        KeyId: other,
        WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
        WrappingKeySpec: 'RSA_2048',
      }),
    );
    // No material in the clear on disk.
    for (const file of filesUnder(join(dir, 'kms'))) {
      const bytes = readFileSync(file);
      for (const m of [m1, m2, m3]) {
        expect(bytes.includes(m)).toBe(false);
        expect(bytes.includes(Buffer.from(m.toString('base64')))).toBe(false);
      }
    }
    await first.stop();

    const second = await startTestKms({ dataDir: dir });
    try {
      const admin2 = second.client(KEY_MANAGER);
      const md = (await admin2.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
      expect(md).toMatchObject({
        KeyState: 'Enabled',
        Origin: 'EXTERNAL',
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        CurrentKeyMaterialId: imported.KeyMaterialId,
      });
      expect(md?.ValidTo?.getTime()).toBe(validTo.getTime());
      const dec = await second
        .client(KEY_USER)
        .send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
      expect(Buffer.from(dec.Plaintext ?? []).toString()).toBe('byok');
      const all = await admin2.send(
        new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
      );
      expect(
        all.Rotations?.map((r) => [r.KeyMaterialId, r.KeyMaterialState, r.KeyMaterialDescription]),
      ).toEqual([
        [imported.KeyMaterialId, 'CURRENT', 'kept'],
        [pending.KeyMaterialId, 'PENDING_ROTATION', undefined],
      ]);
      await admin2.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
      expect(
        (await admin2.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.CurrentKeyMaterialId,
      ).toBe(pending.KeyMaterialId);

      expect((await admin2.send(new DescribeKeyCommand({ KeyId: other }))).KeyMetadata?.KeyState).toBe(
        'PendingImport',
      );
      // The token made before the restart still opens (tokens are sealed under the root key).
      await importMaterial(admin2, other, m3, { params });
      expect((await admin2.send(new DescribeKeyCommand({ KeyId: other }))).KeyMetadata?.KeyState).toBe(
        'Enabled',
      );
    } finally {
      await second.stop();
    }
  });
  it('material that expired while the server was down is deleted at start, before any call, and not unwrapped', async () => {
    const dir = dataDir();
    let offset = 0;
    const now = () => new Date(Date.now() + offset);
    const first = await startTestKms({ dataDir: dir, now });
    const admin = first.client(KEY_MANAGER);
    const keyId = (await admin.send(new CreateKeyCommand(externalKey(first)))).KeyMetadata?.KeyId ?? '';
    const lasting = (await admin.send(new CreateKeyCommand(externalKey(first)))).KeyMetadata?.KeyId ?? '';
    const validTo = new Date(Math.floor((Date.now() + 3_600_000) / 1000) * 1000);
    await importMaterial(admin, keyId, randomBytes(32), {
      input: { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo },
    });
    await importMaterial(admin, lasting, randomBytes(32));
    await first.stop();
    const record = (id: string) =>
      JSON.parse(readFileSync(join(dir, 'kms', 'keys', `${id}.json`), 'utf8')).key as {
        keyState: string;
        materials: Array<{ wrapped?: string }>;
      };
    expect(record(keyId).materials[0]?.wrapped).toBeDefined();
    // The expired material is not unwrapped at start: altered, it does not stop the start.
    const file = join(dir, 'kms', 'keys', `${keyId}.json`);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    const wrapped = Buffer.from(stored.key.materials[0].wrapped, 'base64');
    wrapped[20] = (wrapped[20] ?? 0) ^ 1;
    stored.key.materials[0].wrapped = wrapped.toString('base64');
    writeFileSync(file, JSON.stringify(stored));

    offset = 2 * 3_600_000;
    const second = await startTestKms({ dataDir: dir, now });
    try {
      // Before any request: the record no longer holds the expired material.
      expect(record(keyId)).toMatchObject({ keyState: 'PendingImport' });
      expect(record(keyId).materials[0]?.wrapped).toBeUndefined();
      expect(record(lasting)).toMatchObject({ keyState: 'Enabled' });
      expect(record(lasting).materials[0]?.wrapped).toBeDefined();
    } finally {
      await second.stop();
    }
  });
});
