import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { KEY_MANAGER, KEY_USER } from '../../src/local/identity.js';
import { startLocalKms } from '../../src/local/kms/index.js';
import { errorOf } from '../helpers/errors.js';
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

  it('keeps secrets in files only the owner can read, and no key material in the clear', async () => {
    const dir = dataDir();
    const t = await startTestKms({ dataDir: dir });
    const dk = await t.client().send(
      new GenerateDataKeyCommand({
        KeyId: 'alias/eaas-default',
        KeySpec: 'AES_256',
      }),
    );
    await t.stop();
    for (const f of ['root.key', 'principals.json', 'credentials', join('kms', 'state.json')]) {
      expect((statSync(join(dir, f)).mode & 0o777).toString(8), f).toBe('600');
    }
    const state = readFileSync(join(dir, 'kms', 'state.json'));
    expect(state.includes(Buffer.from(dk.Plaintext ?? []))).toBe(false);
    expect(state.includes(Buffer.from(dk.Plaintext ?? []).toString('base64'))).toBe(false);
  });

  it('refuses to start with a root key that does not match the stored material', async () => {
    const dir = dataDir();
    const t = await startTestKms({ dataDir: dir });
    await t.stop();
    const wrongRoot = Buffer.alloc(32, 7).toString('base64');
    await expect(
      startLocalKms(loadConfig({ EAAS_DATA_DIR: dir, EAAS_ROOT_KEY: wrongRoot }), { port: 0 }),
    ).rejects.toThrow(/root key does not match/);
  });

  it('uses EAAS_ROOT_KEY when given, and writes no root.key file', async () => {
    const dir = dataDir();
    const root = Buffer.alloc(32, 9).toString('base64');
    const t = await startTestKms({ dataDir: dir, env: { EAAS_ROOT_KEY: root } });
    await t.stop();
    expect(() => statSync(join(dir, 'root.key'))).toThrow();
    const again = await startTestKms({ dataDir: dir, env: { EAAS_ROOT_KEY: root } });
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
    const enc = await t.client().send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('gone') }));
    await admin.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));

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
