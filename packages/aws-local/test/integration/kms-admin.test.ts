import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeyPoliciesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ListRetirableGrantsCommand,
  PutKeyPolicyCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_MANAGER, KEY_USER, SERVICE } from '../../src/identity.js';
import { errorOf } from '../helpers/errors.js';
import { demoKey } from '../helpers/keys.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';

let t: TestKms;
let kms: KMSClient;

async function newKey(description = 'admin test'): Promise<string> {
  const out = await kms.send(new CreateKeyCommand(demoKey(t, { Description: description })));
  return out.KeyMetadata?.KeyId ?? '';
}

beforeAll(async () => {
  t = await startTestKms();
  kms = t.client(KEY_MANAGER);
});
afterAll(() => t.stop());

describe('keys', () => {
  it('CreateKey returns full metadata and a default policy naming the account root', async () => {
    const out = await kms.send(
      new CreateKeyCommand({ Description: 'first', Tags: [{ TagKey: 'team', TagValue: 'platform' }] }),
    );
    const md = out.KeyMetadata;
    expect(md).toMatchObject({
      AWSAccountId: '111122223333',
      Description: 'first',
      Enabled: true,
      KeyState: 'Enabled',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    });
    expect(md?.CreationDate).toBeInstanceOf(Date);
    expect(Math.abs((md?.CreationDate?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    const policy = await t
      .client(SERVICE)
      .send(new GetKeyPolicyCommand({ KeyId: md?.KeyId, PolicyName: 'default' }));
    expect(JSON.parse(policy.Policy ?? '{}').Statement[0].Principal.AWS).toBe(
      'arn:aws:iam::111122223333:root',
    );
    // Under the default policy IAM decides: the service's role (kms:*) may read the tags, the
    // manager who created the key (no IAM right to ListResourceTags) may not.
    const tags = await t.client(SERVICE).send(new ListResourceTagsCommand({ KeyId: md?.KeyId }));
    expect(tags.Tags).toEqual([{ TagKey: 'team', TagValue: 'platform' }]);
    expect((await errorOf(kms.send(new ListResourceTagsCommand({ KeyId: md?.KeyId })))).name).toBe(
      'AccessDeniedException',
    );
  });

  it('makes keys of every spec it knows, and refuses wrong usages, unknown specs and malformed policies clearly', async () => {
    const rsa = await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }));
    expect(rsa.KeyMetadata).toMatchObject({
      KeySpec: 'RSA_2048',
      KeyUsage: 'SIGN_VERIFY',
      KeyState: 'Enabled',
      SigningAlgorithms: expect.arrayContaining(['RSASSA_PSS_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_512']),
    });
    expect(rsa.KeyMetadata?.EncryptionAlgorithms).toBeUndefined();
    const hmac = await kms.send(
      new CreateKeyCommand({ KeySpec: 'HMAC_384', KeyUsage: 'GENERATE_VERIFY_MAC' }),
    );
    expect(hmac.KeyMetadata).toMatchObject({ KeySpec: 'HMAC_384', MacAlgorithms: ['HMAC_SHA_384'] });
    const external = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    expect(external.KeyMetadata).toMatchObject({
      Origin: 'EXTERNAL',
      KeyState: 'PendingImport',
      Enabled: false,
    });
    // KeyUsage is required for every spec but the symmetric one, and must fit the spec (API_CreateKey).
    for (const input of [
      { KeySpec: 'HMAC_256' as const },
      { KeySpec: 'ECC_NIST_P256' as const, KeyUsage: 'ENCRYPT_DECRYPT' as const },
      { KeyUsage: 'SIGN_VERIFY' as const },
    ]) {
      expect((await errorOf(kms.send(new CreateKeyCommand(input)))).name).toBe('ValidationException');
    }
    expect(
      (await errorOf(kms.send(new CreateKeyCommand({ KeySpec: 'SM2', KeyUsage: 'SIGN_VERIFY' })))).name,
    ).toBe('UnsupportedOperationException');
    expect((await errorOf(kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM' })))).name).toBe(
      'UnsupportedOperationException',
    );
    expect((await errorOf(kms.send(new CreateKeyCommand({ Policy: '{not json' })))).name).toBe(
      'MalformedPolicyDocumentException',
    );
    expect((await errorOf(kms.send(new CreateKeyCommand({ Policy: '{"Statement":[]}' })))).name).toBe(
      'MalformedPolicyDocumentException',
    );
  });

  it('uses a key only for what its spec and usage allow', async () => {
    // The default key policy lets IAM decide: the service's role (kms:*) may use the keys.
    const kms = t.client(SERVICE);
    const sign = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
    const mac = await kms.send(
      new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }),
    );
    for (const KeyId of [sign.KeyMetadata?.KeyId, mac.KeyMetadata?.KeyId]) {
      expect((await errorOf(kms.send(new GenerateDataKeyCommand({ KeyId, KeySpec: 'AES_256' })))).name).toBe(
        'InvalidKeyUsageException',
      );
      // Automatic rotation is for symmetric encryption keys only (API_EnableKeyRotation).
      expect((await errorOf(kms.send(new EnableKeyRotationCommand({ KeyId })))).name).toBe(
        'UnsupportedOperationException',
      );
    }
    const external = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    expect(
      (
        await errorOf(
          kms.send(new GenerateDataKeyCommand({ KeyId: external.KeyMetadata?.KeyId, KeySpec: 'AES_256' })),
        )
      ).name,
    ).toBe('KMSInvalidStateException');
  });

  it('the seed default key has the administrators and users policy', async () => {
    const policy = await kms.send(
      new GetKeyPolicyCommand({
        KeyId: (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/eaas-default' }))).KeyMetadata?.KeyId,
      }),
    );
    const doc = JSON.parse(policy.Policy ?? '{}') as {
      Statement: Array<{ Sid: string; Principal: { AWS: string[] } }>;
    };
    const admins = doc.Statement.find((s) => s.Sid === 'Allow access for Key Administrators');
    const users = doc.Statement.find((s) => s.Sid === 'Allow use of the key');
    expect(admins?.Principal.AWS).toEqual([t.principal(KEY_MANAGER).arn]);
    expect(users?.Principal.AWS).toContain(t.principal(KEY_USER).arn);
  });

  it('ListKeys pages with Limit and Marker and covers every key once', async () => {
    for (let i = 0; i < 5; i++) await newKey(`page ${i}`);
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const out = await kms.send(new ListKeysCommand({ Limit: 2, Marker: marker }));
      expect(out.Keys?.length).toBeLessThanOrEqual(2);
      for (const k of out.Keys ?? []) {
        expect(k.KeyArn).toBe(`arn:aws:kms:us-east-1:111122223333:key/${k.KeyId}`);
        seen.push(k.KeyId ?? '');
      }
      marker = out.Truncated ? out.NextMarker : undefined;
      pages++;
    } while (marker);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(6);
    expect((await errorOf(kms.send(new ListKeysCommand({ Marker: 'garbage' })))).name).toBe(
      'InvalidMarkerException',
    );
  });

  it('enable, disable, update description', async () => {
    const key = await newKey();
    await kms.send(new DisableKeyCommand({ KeyId: key }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: key }))).KeyMetadata).toMatchObject({
      Enabled: false,
      KeyState: 'Disabled',
    });
    await kms.send(new EnableKeyCommand({ KeyId: key }));
    await kms.send(new UpdateKeyDescriptionCommand({ KeyId: key, Description: 'renamed' }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: key }))).KeyMetadata).toMatchObject({
      Enabled: true,
      Description: 'renamed',
    });
  });

  it('schedules deletion within 7-30 days and cancels it into Disabled', async () => {
    const key = await newKey();
    for (const days of [6, 31]) {
      expect(
        (await errorOf(kms.send(new ScheduleKeyDeletionCommand({ KeyId: key, PendingWindowInDays: days }))))
          .name,
      ).toBe('ValidationException');
    }
    const out = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key, PendingWindowInDays: 7 }));
    expect(out.KeyState).toBe('PendingDeletion');
    expect(out.PendingWindowInDays).toBe(7);
    const expected = Date.now() + 7 * 86_400_000;
    expect(Math.abs((out.DeletionDate?.getTime() ?? 0) - expected)).toBeLessThan(60_000);
    expect((await errorOf(kms.send(new ScheduleKeyDeletionCommand({ KeyId: key })))).name).toBe(
      'KMSInvalidStateException',
    );
    expect((await errorOf(kms.send(new EnableKeyCommand({ KeyId: key })))).name).toBe(
      'KMSInvalidStateException',
    );
    await kms.send(new CancelKeyDeletionCommand({ KeyId: key }));
    const md = (await kms.send(new DescribeKeyCommand({ KeyId: key }))).KeyMetadata;
    expect(md?.KeyState).toBe('Disabled');
    expect(md?.DeletionDate).toBeUndefined();
    expect((await errorOf(kms.send(new CancelKeyDeletionCommand({ KeyId: key })))).name).toBe(
      'KMSInvalidStateException',
    );
  });

  it('tags: add, replace, remove, and refuse duplicates and reserved keys', async () => {
    const key = await newKey();
    await kms.send(
      new TagResourceCommand({
        KeyId: key,
        Tags: [
          { TagKey: 'a', TagValue: '1' },
          { TagKey: 'b', TagValue: '2' },
        ],
      }),
    );
    await kms.send(new TagResourceCommand({ KeyId: key, Tags: [{ TagKey: 'a', TagValue: '3' }] }));
    await kms.send(new UntagResourceCommand({ KeyId: key, TagKeys: ['b'] }));
    expect((await kms.send(new ListResourceTagsCommand({ KeyId: key }))).Tags).toEqual([
      { TagKey: 'a', TagValue: '3' },
    ]);
    const dup = kms.send(
      new TagResourceCommand({
        KeyId: key,
        Tags: [
          { TagKey: 'x', TagValue: '1' },
          { TagKey: 'x', TagValue: '2' },
        ],
      }),
    );
    expect((await errorOf(dup)).name).toBe('TagException');
    expect(
      (
        await errorOf(
          kms.send(new TagResourceCommand({ KeyId: key, Tags: [{ TagKey: 'aws:x', TagValue: '1' }] })),
        )
      ).name,
    ).toBe('TagException');
  });
});

describe('aliases', () => {
  it('create, list (filtered by key), update, delete', async () => {
    const k1 = await newKey();
    const k2 = await newKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: k1 }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/app' }))).KeyMetadata?.KeyId).toBe(k1);
    const listed = await kms.send(new ListAliasesCommand({ KeyId: k1 }));
    expect(listed.Aliases).toHaveLength(1);
    expect(listed.Aliases?.[0]).toMatchObject({
      AliasName: 'alias/app',
      AliasArn: 'arn:aws:kms:us-east-1:111122223333:alias/app',
      TargetKeyId: k1,
    });
    await kms.send(new UpdateAliasCommand({ AliasName: 'alias/app', TargetKeyId: k2 }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/app' }))).KeyMetadata?.KeyId).toBe(k2);
    await kms.send(new DeleteAliasCommand({ AliasName: 'alias/app' }));
    expect((await errorOf(kms.send(new DescribeKeyCommand({ KeyId: 'alias/app' })))).name).toBe(
      'NotFoundException',
    );
  });

  it('refuses duplicates, bad names, reserved names, alias targets and missing aliases', async () => {
    const k = await newKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/dup', TargetKeyId: k }));
    expect(
      (await errorOf(kms.send(new CreateAliasCommand({ AliasName: 'alias/dup', TargetKeyId: k })))).name,
    ).toBe('AlreadyExistsException');
    expect(
      (await errorOf(kms.send(new CreateAliasCommand({ AliasName: 'noprefix', TargetKeyId: k })))).name,
    ).toBe('InvalidAliasNameException');
    expect(
      (await errorOf(kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/s3', TargetKeyId: k })))).name,
    ).toBe('InvalidAliasNameException');
    expect(
      (await errorOf(kms.send(new CreateAliasCommand({ AliasName: 'alias/bad name', TargetKeyId: k })))).name,
    ).toBe('ValidationException');
    expect(
      (await errorOf(kms.send(new CreateAliasCommand({ AliasName: 'alias/x', TargetKeyId: 'alias/dup' }))))
        .name,
    ).toBe('NotFoundException');
    expect((await errorOf(kms.send(new DeleteAliasCommand({ AliasName: 'alias/none' })))).name).toBe(
      'NotFoundException',
    );
    expect(
      (await errorOf(kms.send(new UpdateAliasCommand({ AliasName: 'alias/none', TargetKeyId: k })))).name,
    ).toBe('NotFoundException');
  });
});

describe('rotation', () => {
  it('enable with a period, status, disable; refuses periods outside 90-2560', async () => {
    const key = await newKey();
    expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key }))).KeyRotationEnabled).toBe(false);
    await kms.send(new EnableKeyRotationCommand({ KeyId: key, RotationPeriodInDays: 90 }));
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key }));
    expect(status).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 });
    expect(Math.abs((status.NextRotationDate?.getTime() ?? 0) - (Date.now() + 90 * 86_400_000))).toBeLessThan(
      60_000,
    );
    await kms.send(new EnableKeyRotationCommand({ KeyId: key }));
    expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key }))).RotationPeriodInDays).toBe(365);
    for (const days of [89, 2561]) {
      expect(
        (await errorOf(kms.send(new EnableKeyRotationCommand({ KeyId: key, RotationPeriodInDays: days }))))
          .name,
      ).toBe('ValidationException');
    }
    await kms.send(new DisableKeyRotationCommand({ KeyId: key }));
    expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key }))).KeyRotationEnabled).toBe(false);
  });

  it('on-demand rotation: old ciphertexts still decrypt, new ones use the new material, history lists it', async () => {
    const user = t.client(KEY_USER);
    const key = await newKey();
    const before = await user.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('old') }));
    const rotated = await kms.send(new RotateKeyOnDemandCommand({ KeyId: key }));
    expect(rotated.KeyId).toBe(key);
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: key }));
    const after = await user.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('new') }));
    expect(
      Buffer.from(
        (await user.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext ?? [],
      ).toString(),
    ).toBe('old');
    expect(
      Buffer.from(
        (await user.send(new DecryptCommand({ CiphertextBlob: after.CiphertextBlob }))).Plaintext ?? [],
      ).toString(),
    ).toBe('new');
    // The blob names its material version: the header differs between the two.
    expect(Buffer.from(before.CiphertextBlob ?? []).subarray(38, 42)).not.toEqual(
      Buffer.from(after.CiphertextBlob ?? []).subarray(38, 42),
    );
    const history = await kms.send(new ListKeyRotationsCommand({ KeyId: key }));
    expect(history.Rotations).toHaveLength(2);
    expect(
      history.Rotations?.every((r) => r.RotationType === 'ON_DEMAND' && r.RotationDate instanceof Date),
    ).toBe(true);
  });

  it('on-demand rotation of a disabled key is refused', async () => {
    const key = await newKey();
    await kms.send(new DisableKeyCommand({ KeyId: key }));
    expect((await errorOf(kms.send(new RotateKeyOnDemandCommand({ KeyId: key })))).name).toBe(
      'DisabledException',
    );
  });
});

describe('key policies', () => {
  it('get, put and list the default policy; refuse other names and malformed documents', async () => {
    const key = await newKey();
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: t.principal(KEY_USER).arn },
          Action: 'kms:Encrypt',
          Resource: '*',
        },
        {
          Effect: 'Allow',
          Principal: { AWS: t.principal(KEY_MANAGER).arn },
          Action: ['kms:GetKeyPolicy', 'kms:PutKeyPolicy', 'kms:ListKeyPolicies'],
          Resource: '*',
        },
      ],
    });
    await kms.send(new PutKeyPolicyCommand({ KeyId: key, PolicyName: 'default', Policy: policy }));
    expect((await kms.send(new GetKeyPolicyCommand({ KeyId: key }))).Policy).toBe(policy);
    expect((await kms.send(new ListKeyPoliciesCommand({ KeyId: key }))).PolicyNames).toEqual(['default']);
    expect((await errorOf(kms.send(new GetKeyPolicyCommand({ KeyId: key, PolicyName: 'other' })))).name).toBe(
      'NotFoundException',
    );
    expect((await errorOf(kms.send(new PutKeyPolicyCommand({ KeyId: key, Policy: '[]' })))).name).toBe(
      'MalformedPolicyDocumentException',
    );
  });
});

describe('grants', () => {
  it('create returns id and token; list by key, grantee and retiring principal; revoke and retire', async () => {
    const key = await newKey();
    const grantee = t.principal(KEY_USER).arn;
    const g1 = await kms.send(
      new CreateGrantCommand({
        KeyId: key,
        GranteePrincipal: grantee,
        RetiringPrincipal: t.principal(KEY_MANAGER).arn,
        Operations: ['Encrypt', 'Decrypt'],
        Constraints: { EncryptionContextSubset: { tenant: 'acme' } },
        Name: 'acme-grant',
      }),
    );
    expect(g1.GrantId).toMatch(/^[0-9a-f]{64}$/);
    expect(g1.GrantToken?.length).toBeGreaterThan(32);
    const g2 = await kms.send(
      new CreateGrantCommand({ KeyId: key, GranteePrincipal: grantee, Operations: ['GenerateDataKey'] }),
    );
    const listed = await kms.send(new ListGrantsCommand({ KeyId: key }));
    expect(listed.Grants?.map((g) => g.GrantId).sort()).toEqual([g1.GrantId, g2.GrantId].sort());
    const one = listed.Grants?.find((g) => g.GrantId === g1.GrantId);
    expect(one).toMatchObject({
      KeyId: `arn:aws:kms:us-east-1:111122223333:key/${key}`,
      GranteePrincipal: grantee,
      Operations: ['Encrypt', 'Decrypt'],
      Constraints: { EncryptionContextSubset: { tenant: 'acme' } },
      IssuingAccount: 'arn:aws:iam::111122223333:root',
      Name: 'acme-grant',
    });
    const retirable = await kms.send(
      new ListRetirableGrantsCommand({ RetiringPrincipal: t.principal(KEY_MANAGER).arn }),
    );
    expect(retirable.Grants?.map((g) => g.GrantId)).toEqual([g1.GrantId]);
    await kms.send(new RetireGrantCommand({ GrantToken: g1.GrantToken }));
    await kms.send(new RevokeGrantCommand({ KeyId: key, GrantId: g2.GrantId }));
    expect((await kms.send(new ListGrantsCommand({ KeyId: key }))).Grants).toEqual([]);
    expect((await errorOf(kms.send(new RevokeGrantCommand({ KeyId: key, GrantId: g2.GrantId })))).name).toBe(
      'NotFoundException',
    );
    expect((await errorOf(kms.send(new RetireGrantCommand({ GrantToken: g1.GrantToken })))).name).toBe(
      'InvalidGrantTokenException',
    );
  });

  it('a retried CreateGrant with the same name returns the same grant id', async () => {
    const key = await newKey();
    const input = {
      KeyId: key,
      GranteePrincipal: t.principal(KEY_USER).arn,
      Operations: ['Decrypt' as const],
      Name: 'same',
    };
    const a = await kms.send(new CreateGrantCommand(input));
    const b = await kms.send(new CreateGrantCommand(input));
    expect(b.GrantId).toBe(a.GrantId);
    expect((await kms.send(new ListGrantsCommand({ KeyId: key }))).Grants).toHaveLength(1);
  });

  it('refuses grants with no operations, asymmetric operations or two kinds of constraint', async () => {
    const key = await newKey();
    const grantee = t.principal(KEY_USER).arn;
    expect(
      (
        await errorOf(
          kms.send(new CreateGrantCommand({ KeyId: key, GranteePrincipal: grantee, Operations: [] })),
        )
      ).name,
    ).toBe('ValidationException');
    expect(
      (
        await errorOf(
          kms.send(new CreateGrantCommand({ KeyId: key, GranteePrincipal: grantee, Operations: ['Sign'] })),
        )
      ).name,
    ).toBe('ValidationException');
    const both = kms.send(
      new CreateGrantCommand({
        KeyId: key,
        GranteePrincipal: grantee,
        Operations: ['Decrypt'],
        Constraints: { EncryptionContextSubset: { a: '1' }, EncryptionContextEquals: { a: '1' } },
      }),
    );
    expect((await errorOf(both)).name).toBe('ValidationException');
  });

  it('refuses a constraint holding keys that differ only in case (constraint keys are not case-sensitive)', async () => {
    const key = await newKey();
    const grantee = t.principal(KEY_USER).arn;
    for (const Constraints of [
      { EncryptionContextEquals: { tenant: 'acme', Tenant: 'acme' } },
      { EncryptionContextSubset: { tenant: 'acme', TENANT: 'globex' } },
    ]) {
      const twins = kms.send(
        new CreateGrantCommand({
          KeyId: key,
          GranteePrincipal: grantee,
          Operations: ['Decrypt'],
          Constraints,
        }),
      );
      expect((await errorOf(twins)).name).toBe('ValidationException');
    }
  });
});

describe('key state after deletion is scheduled', () => {
  it('admin operations that change a key pending deletion are refused', async () => {
    const key = await newKey();
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key, PendingWindowInDays: 30 }));
    expect(
      (await errorOf(kms.send(new UpdateKeyDescriptionCommand({ KeyId: key, Description: 'x' })))).name,
    ).toBe('KMSInvalidStateException');
    expect((await errorOf(kms.send(new EnableKeyRotationCommand({ KeyId: key })))).name).toBe(
      'KMSInvalidStateException',
    );
    expect(
      (await errorOf(kms.send(new CreateAliasCommand({ AliasName: 'alias/doomed', TargetKeyId: key })))).name,
    ).toBe('KMSInvalidStateException');
    // Reads still work.
    expect((await kms.send(new DescribeKeyCommand({ KeyId: key }))).KeyMetadata?.KeyState).toBe(
      'PendingDeletion',
    );
  });
});
