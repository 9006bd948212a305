import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateGrantCommand,
  CreateKeyCommand,
  EncryptCommand,
  type KMSClient,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRANTEE, KEY_MANAGER, LocalIdentities, OUTSIDER } from '../../src/identity.js';
import { type LocalKms, startLocalKms } from '../../src/kms/index.js';
import { clientFor, makeDataDir } from '../helpers/local-kms.js';

/**
 * The condition keys the local KMS supplies, as AWS KMS does
 * (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html,
 * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-aws.html), in IAM policies of
 * the shape the service's template gives its functions: keys scoped by a reserved tag.
 */

const ACCOUNT = '111122223333';
const TAG = 'eaas:service';
let dataDir: string;
let kms: LocalKms;
let svc: KMSClient;
let manager: KMSClient;

/** The service's role, as the template scopes it: only keys tagged eaas:service=svc. */
const SERVICE_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: 'kms:CreateKey',
      Resource: '*',
      Condition: {
        StringEquals: {
          [`aws:RequestTag/${TAG}`]: 'svc',
          'kms:KeySpec': 'SYMMETRIC_DEFAULT',
          'kms:KeyOrigin': 'AWS_KMS',
        },
        Bool: { 'kms:BypassPolicyLockoutSafetyCheck': 'false', 'kms:MultiRegion': 'false' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': [TAG, 'eaas:created-by'] },
      },
    },
    {
      Effect: 'Allow',
      Action: ['kms:Encrypt', 'kms:UntagResource'],
      Resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/*`,
      Condition: { StringEquals: { [`aws:ResourceTag/${TAG}`]: 'svc' } },
    },
    // CreateKey's Tags need TagResource on every key; only with the reserved tag.
    {
      Effect: 'Allow',
      Action: 'kms:TagResource',
      Resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/*`,
      Condition: { StringEquals: { [`aws:RequestTag/${TAG}`]: 'svc' } },
    },
    {
      Effect: 'Deny',
      Action: 'kms:UntagResource',
      Resource: '*',
      Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': TAG } },
    },
    {
      Effect: 'Deny',
      Action: 'kms:TagResource',
      Resource: '*',
      Condition: {
        Null: { [`aws:ResourceTag/${TAG}`]: 'false' },
        'ForAnyValue:StringEquals': { 'aws:TagKeys': TAG },
      },
    },
    {
      Effect: 'Allow',
      Action: 'kms:CreateGrant',
      Resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/*`,
      Condition: {
        StringEquals: { [`aws:ResourceTag/${TAG}`]: 'svc' },
        'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Encrypt', 'Decrypt'] },
      },
    },
  ],
};

beforeAll(async () => {
  dataDir = makeDataDir();
  LocalIdentities.open(dataDir, ACCOUNT, 'us-east-1');
  const file = join(dataDir, 'principals.json');
  const doc = JSON.parse(readFileSync(file, 'utf8')) as {
    principals: { name: string; policies: unknown[] }[];
  };
  const outsider = doc.principals.find((p) => p.name === OUTSIDER);
  if (!outsider) throw new Error('no outsider');
  outsider.policies = [SERVICE_POLICY];
  writeFileSync(file, JSON.stringify(doc));
  kms = await startLocalKms({ dataDir, accountId: ACCOUNT });
  svc = clientFor(kms.endpoint, kms.identities.byName(OUTSIDER));
  manager = clientFor(kms.endpoint, kms.identities.byName(KEY_MANAGER));
});
afterAll(async () => {
  await kms.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const tags = (t: Record<string, string>) =>
  Object.entries(t).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
const denied = { name: 'AccessDeniedException' };

describe('condition keys of the local KMS', () => {
  it('CreateKey: aws:RequestTag, aws:TagKeys, kms:KeySpec, kms:BypassPolicyLockoutSafetyCheck', async () => {
    await expect(svc.send(new CreateKeyCommand({}))).rejects.toMatchObject(denied);
    await expect(svc.send(new CreateKeyCommand({ Tags: tags({ [TAG]: 'other' }) }))).rejects.toMatchObject(
      denied,
    );
    await expect(
      svc.send(new CreateKeyCommand({ Tags: tags({ [TAG]: 'svc', team: 'x' }) })),
    ).rejects.toMatchObject(denied);
    await expect(
      svc.send(new CreateKeyCommand({ Tags: tags({ [TAG]: 'svc' }), BypassPolicyLockoutSafetyCheck: true })),
    ).rejects.toMatchObject(denied);
    const made = await svc.send(
      new CreateKeyCommand({ Tags: tags({ [TAG]: 'svc', 'eaas:created-by': 'me' }) }),
    );
    expect(made.KeyMetadata?.KeyId).toBeDefined();
  });

  it('aws:ResourceTag: the role uses the keys tagged for it, and no other key of the account', async () => {
    const ours = (await svc.send(new CreateKeyCommand({ Tags: tags({ [TAG]: 'svc' }) }))).KeyMetadata?.KeyId;
    const theirs = (await manager.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    const encrypt = (KeyId?: string) => svc.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('x') }));
    await expect(encrypt(ours)).resolves.toMatchObject({ KeyId: expect.stringContaining(ours ?? '?') });
    await expect(encrypt(theirs)).rejects.toMatchObject(denied);
  });

  it('TagResource and UntagResource: the reserved tag can be neither changed nor removed', async () => {
    const KeyId = (await svc.send(new CreateKeyCommand({ Tags: tags({ [TAG]: 'svc' }) }))).KeyMetadata?.KeyId;
    await expect(
      svc.send(new TagResourceCommand({ KeyId, Tags: tags({ [TAG]: 'other' }) })),
    ).rejects.toMatchObject(denied);
    await expect(
      svc.send(new TagResourceCommand({ KeyId, Tags: tags({ [TAG]: 'svc' }) })),
    ).rejects.toMatchObject(denied);
    await expect(svc.send(new UntagResourceCommand({ KeyId, TagKeys: [TAG] }))).rejects.toMatchObject(denied);
    // Another tag may go; the reserved one stays.
    await expect(svc.send(new UntagResourceCommand({ KeyId, TagKeys: ['absent'] }))).resolves.toBeDefined();
    expect(kms.store.findKey(KeyId ?? '')?.tags).toEqual([{ TagKey: TAG, TagValue: 'svc' }]);
  });

  it('CreateGrant: kms:GrantOperations bounds what a grant may give', async () => {
    const KeyId = (await svc.send(new CreateKeyCommand({ Tags: tags({ [TAG]: 'svc' }) }))).KeyMetadata?.KeyId;
    const grantee = kms.identities.byName(GRANTEE).arn;
    await expect(
      svc.send(new CreateGrantCommand({ KeyId, GranteePrincipal: grantee, Operations: ['Encrypt'] })),
    ).resolves.toMatchObject({ GrantId: expect.any(String) });
    await expect(
      svc.send(
        new CreateGrantCommand({ KeyId, GranteePrincipal: grantee, Operations: ['Encrypt', 'CreateGrant'] }),
      ),
    ).rejects.toMatchObject(denied);
  });
});
