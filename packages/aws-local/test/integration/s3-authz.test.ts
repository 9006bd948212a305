import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteBucketEncryptionCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetBucketPolicyCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KEY_USER, type LocalRole } from '../../src/identity.js';
import { errorOf } from '../helpers/errors.js';
import { SEED_ALIAS, startTestKms, type TestKms } from '../helpers/local-kms.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';

/**
 * S3's authorization in the local S3, over HTTP with the AWS SDK: the roles' IAM policies, bucket
 * policies, the bucket owner condition, and SSE-KMS decided by the local KMS for the caller.
 * myKeyUser (a seeded principal) acts as the account's root; the roles get what their policies say.
 */

const ACCOUNT = '111122223333';
const STAGING = 'eaas-staging';
const VAULT = 'eaas-vault';
const arn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const allow = (Action: string | string[], Resource: string | string[], Condition?: unknown) => ({
  Effect: 'Allow',
  Action,
  Resource,
  ...(Condition ? { Condition } : {}),
});
const role = (name: string, ...Statement: unknown[]): LocalRole => ({
  name,
  arn: arn(name),
  policies: [{ Version: '2012-10-17', Statement }],
});
const KEYS = `arn:aws:kms:us-east-1:${ACCOUNT}:key/*`;

const ROLES: LocalRole[] = [
  // Reads and lists staging; may not write.
  role(
    'reader',
    allow('s3:GetObject', `arn:aws:s3:::${STAGING}/*`),
    allow('s3:ListBucket', `arn:aws:s3:::${STAGING}`),
  ),
  // Its own prefix only, for objects and listings.
  role(
    'scoped',
    allow(['s3:PutObject', 's3:GetObject', 's3:DeleteObject'], `arn:aws:s3:::${STAGING}/team-a/*`),
    allow('s3:ListBucket', `arn:aws:s3:::${STAGING}`, { StringLike: { 's3:prefix': 'team-a/*' } }),
  ),
  // No S3 statement at all: only a bucket policy can let it in.
  role('stranger', allow('kms:ListKeys', '*')),
  // SSE-KMS: writes under a key through S3, never reads.
  role(
    'sealer',
    allow(['s3:PutObject', 's3:GetObject'], `arn:aws:s3:::${VAULT}/*`),
    allow('kms:GenerateDataKey', KEYS, { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } }),
  ),
  // The same without KMS: SSE-KMS writes fail.
  role('keyless', allow(['s3:PutObject', 's3:GetObject'], `arn:aws:s3:::${VAULT}/*`)),
  // Both, through S3 only.
  role(
    'vaultUser',
    allow(['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'], `arn:aws:s3:::${VAULT}/*`),
    allow(['kms:GenerateDataKey', 'kms:Decrypt'], KEYS, {
      StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' },
    }),
  ),
];

let kms: TestKms;
let t: TestS3;
let keyArn: string;

beforeAll(async () => {
  kms = await startTestKms({ roles: ROLES });
  t = await startTestS3({
    identities: kms.kms.identities,
    roles: ROLES,
    kmsAuthorize: (use) => kms.kms.authorizeViaService(use),
  });
  const seed = kms.kms.store.findAlias(SEED_ALIAS);
  keyArn = kms.kms.store.keyArn(seed?.targetKeyId ?? '');
  const admin = t.client(KEY_USER);
  for (const Key of ['team-a/one.txt', 'team-b/two.txt', 'shared/doc.txt'])
    await admin.send(new PutObjectCommand({ Bucket: STAGING, Key, Body: Key }));
  await admin.send(new PutObjectCommand({ Bucket: VAULT, Key: 'public/a.txt', Body: 'a' }));
  await admin.send(new PutObjectCommand({ Bucket: VAULT, Key: 'private/b.txt', Body: 'b' }));
});
afterAll(async () => {
  await t.stop();
  await kms.stop();
});

const text = async (out: { Body?: { transformToString(): Promise<string> } | undefined }) =>
  out.Body?.transformToString();

describe('identity-based policies of the roles', () => {
  it('a role whose policy lacks s3:PutObject gets AccessDenied (403) naming the action and resource', async () => {
    const reader = t.client('reader');
    const error = await errorOf(
      reader.send(new PutObjectCommand({ Bucket: STAGING, Key: 'x.txt', Body: 'x' })),
    );
    expect(error).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(error.message).toBe(
      `User: ${arn('reader')} is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::${STAGING}/x.txt" because no identity-based policy allows the s3:PutObject action`,
    );
    // What it has works; the refused write left nothing.
    expect(
      await text(await reader.send(new GetObjectCommand({ Bucket: STAGING, Key: 'shared/doc.txt' }))),
    ).toBe('shared/doc.txt');
    expect(
      (await errorOf(reader.send(new HeadObjectCommand({ Bucket: STAGING, Key: 'x.txt' })))).status,
    ).toBe(404);
  });

  it('a prefix-scoped policy: its prefix only, for reads, writes and deletes', async () => {
    const scoped = t.client('scoped');
    await scoped.send(new PutObjectCommand({ Bucket: STAGING, Key: 'team-a/new.txt', Body: 'new' }));
    expect(
      await text(await scoped.send(new GetObjectCommand({ Bucket: STAGING, Key: 'team-a/new.txt' }))),
    ).toBe('new');
    // Thunks: each request is made, and its refusal awaited, in turn.
    for (const denied of [
      () => scoped.send(new PutObjectCommand({ Bucket: STAGING, Key: 'team-b/new.txt', Body: 'x' })),
      () => scoped.send(new GetObjectCommand({ Bucket: STAGING, Key: 'team-b/two.txt' })),
      () => scoped.send(new GetObjectCommand({ Bucket: VAULT, Key: 'public/a.txt' })),
    ])
      expect(await errorOf(denied())).toMatchObject({ name: 'AccessDenied', status: 403 });
    // DeleteObjects decides each key: one deleted, one refused.
    const out = await scoped.send(
      new DeleteObjectsCommand({
        Bucket: STAGING,
        Delete: { Objects: [{ Key: 'team-a/new.txt' }, { Key: 'team-b/two.txt' }] },
      }),
    );
    expect(out.Deleted?.map((d) => d.Key)).toEqual(['team-a/new.txt']);
    expect(out.Errors).toEqual([expect.objectContaining({ Key: 'team-b/two.txt', Code: 'AccessDenied' })]);
  });

  it('ListBucket under an s3:prefix condition: the prefix it names, not the root or another', async () => {
    const scoped = t.client('scoped');
    const listed = await scoped.send(new ListObjectsV2Command({ Bucket: STAGING, Prefix: 'team-a/' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['team-a/one.txt']);
    for (const Prefix of [undefined, 'team-b/', 'team'])
      expect(await errorOf(scoped.send(new ListObjectsV2Command({ Bucket: STAGING, Prefix })))).toMatchObject(
        {
          name: 'AccessDenied',
          status: 403,
        },
      );
    // HeadBucket is s3:ListBucket too, with no prefix.
    expect((await errorOf(scoped.send(new HeadBucketCommand({ Bucket: STAGING })))).status).toBe(403);
    await t.client('reader').send(new HeadBucketCommand({ Bucket: STAGING }));
  });

  it('a missing key is NoSuchKey (404) to who may list the bucket, AccessDenied (403) to others', async () => {
    const missing = { Bucket: STAGING, Key: 'team-a/missing.txt' };
    expect(await errorOf(t.client('reader').send(new GetObjectCommand(missing)))).toMatchObject({
      name: 'NoSuchKey',
      status: 404,
    });
    expect(await errorOf(t.client('scoped').send(new GetObjectCommand(missing)))).toMatchObject({
      name: 'AccessDenied',
      status: 403,
    });
    expect((await errorOf(t.client('scoped').send(new HeadObjectCommand(missing)))).status).toBe(403);
  });

  it('a presigned URL is authorized as its signer', async () => {
    const put = (signer: string, Key: string) =>
      getSignedUrl(t.client(signer), new PutObjectCommand({ Bucket: STAGING, Key }), { expiresIn: 60 });
    const refused = await fetch(await put('reader', 'team-a/by-url.txt'), { method: 'PUT', body: 'x' });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('<Code>AccessDenied</Code>');
    const accepted = await fetch(await put('scoped', 'team-a/by-url.txt'), { method: 'PUT', body: 'by url' });
    expect(accepted.status).toBe(200);
    const get = await getSignedUrl(
      t.client('reader'),
      new GetObjectCommand({ Bucket: STAGING, Key: 'team-a/by-url.txt' }),
      { expiresIn: 60 },
    );
    expect(await (await fetch(get)).text()).toBe('by url');
  });
});

describe('bucket policies', () => {
  const admin = () => t.client(KEY_USER);
  const putPolicy = (...Statement: unknown[]) =>
    admin().send(
      new PutBucketPolicyCommand({
        Bucket: VAULT,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement }),
      }),
    );
  afterEach(async () => {
    await admin().send(new DeleteBucketPolicyCommand({ Bucket: VAULT }));
  });

  it('are put, read back as given and deleted; a malformed one is refused', async () => {
    const statement = {
      Effect: 'Allow',
      Principal: { AWS: arn('stranger') },
      Action: 's3:GetObject',
      Resource: `arn:aws:s3:::${VAULT}/public/*`,
    };
    await putPolicy(statement);
    const got = await admin().send(new GetBucketPolicyCommand({ Bucket: VAULT }));
    expect(JSON.parse(got.Policy ?? '')).toEqual({ Version: '2012-10-17', Statement: [statement] });
    await admin().send(new DeleteBucketPolicyCommand({ Bucket: VAULT }));
    expect(await errorOf(admin().send(new GetBucketPolicyCommand({ Bucket: VAULT })))).toMatchObject({
      name: 'NoSuchBucketPolicy',
      status: 404,
    });
    for (const bad of [
      { ...statement, Resource: `arn:aws:s3:::${STAGING}/*` },
      { ...statement, Principal: undefined },
      { ...statement, Action: 'kms:Decrypt' },
    ])
      expect(await errorOf(putPolicy(bad))).toMatchObject({ name: 'MalformedPolicy', status: 400 });
  });

  it('an Allow in the bucket policy suffices for a role its IAM policies do not allow', async () => {
    const stranger = t.client('stranger');
    const get = (Key: string) => stranger.send(new GetObjectCommand({ Bucket: VAULT, Key }));
    expect((await errorOf(get('public/a.txt'))).status).toBe(403);
    await putPolicy({
      Effect: 'Allow',
      Principal: { AWS: arn('stranger') },
      Action: 's3:GetObject',
      Resource: `arn:aws:s3:::${VAULT}/public/*`,
    });
    expect(await text(await get('public/a.txt'))).toBe('a');
    expect((await errorOf(get('private/b.txt'))).status).toBe(403);
  });

  it("a Deny in the bucket policy wins over the caller's Allow, the account root's too", async () => {
    await putPolicy(
      {
        Effect: 'Deny',
        Principal: '*',
        Action: ['s3:GetObject', 's3:DeleteObject'],
        Resource: `arn:aws:s3:::${VAULT}/private/*`,
      },
      // A Deny of the policy's own management binds every principal but the account root.
      { Effect: 'Deny', Principal: '*', Action: 's3:*BucketPolicy', Resource: `arn:aws:s3:::${VAULT}` },
    );
    const error = await errorOf(
      t.client('vaultUser').send(new GetObjectCommand({ Bucket: VAULT, Key: 'private/b.txt' })),
    );
    expect(error).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(error.message).toContain('with an explicit deny in a resource-based policy');
    expect(
      (await errorOf(admin().send(new GetObjectCommand({ Bucket: VAULT, Key: 'private/b.txt' })))).status,
    ).toBe(403);
    expect(await text(await admin().send(new GetObjectCommand({ Bucket: VAULT, Key: 'public/a.txt' })))).toBe(
      'a',
    );
    // The root keeps its bucket policy in hand (afterEach deletes it).
    await admin().send(new GetBucketPolicyCommand({ Bucket: VAULT }));
  });

  it('aws:SecureTransport is false: a TLS-only policy refuses every request of the local S3 (http)', async () => {
    await putPolicy({
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Resource: [`arn:aws:s3:::${VAULT}`, `arn:aws:s3:::${VAULT}/*`],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    expect(
      (await errorOf(admin().send(new GetObjectCommand({ Bucket: VAULT, Key: 'public/a.txt' })))).status,
    ).toBe(403);
  });
});

describe('the bucket owner condition', () => {
  it('a mismatched ExpectedBucketOwner is AccessDenied (403); the right one passes', async () => {
    const admin = t.client(KEY_USER);
    const get = (owner: string) =>
      admin.send(
        new GetObjectCommand({ Bucket: STAGING, Key: 'shared/doc.txt', ExpectedBucketOwner: owner }),
      );
    expect(await errorOf(get('444455556666'))).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect((await get(ACCOUNT)).$metadata.httpStatusCode).toBe(200);
    const copy = (ExpectedBucketOwner: string, ExpectedSourceBucketOwner: string) =>
      admin.send(
        new CopyObjectCommand({
          Bucket: STAGING,
          Key: 'shared/copy.txt',
          CopySource: `${STAGING}/shared/doc.txt`,
          ExpectedBucketOwner,
          ExpectedSourceBucketOwner,
        }),
      );
    expect((await errorOf(copy(ACCOUNT, '444455556666'))).status).toBe(403);
    expect((await errorOf(copy('444455556666', ACCOUNT))).status).toBe(403);
    expect((await copy(ACCOUNT, ACCOUNT)).$metadata.httpStatusCode).toBe(200);
  });
});

describe('server-side encryption', () => {
  afterEach(async () => {
    await t.client(KEY_USER).send(new DeleteBucketEncryptionCommand({ Bucket: VAULT }));
  });

  it('SSE-S3 by default: every object reports AES256', async () => {
    const admin = t.client(KEY_USER);
    const put = await admin.send(new PutObjectCommand({ Bucket: VAULT, Key: 'sse/plain.txt', Body: 'p' }));
    expect(put.ServerSideEncryption).toBe('AES256');
    expect(
      (await admin.send(new HeadObjectCommand({ Bucket: VAULT, Key: 'sse/plain.txt' }))).ServerSideEncryption,
    ).toBe('AES256');
    const config = await admin.send(new GetBucketEncryptionCommand({ Bucket: VAULT }));
    expect(
      config.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
    ).toBe('AES256');
  });

  it('SSE-KMS headers round-trip: the key ARN, the bucket key, on PUT, HEAD, GET and copies', async () => {
    const user = t.client('vaultUser');
    const put = await user.send(
      new PutObjectCommand({
        Bucket: VAULT,
        Key: 'sse/kms.txt',
        Body: 'sealed',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: SEED_ALIAS,
        BucketKeyEnabled: true,
      }),
    );
    expect(put).toMatchObject({
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: keyArn,
      BucketKeyEnabled: true,
    });
    const head = await user.send(new HeadObjectCommand({ Bucket: VAULT, Key: 'sse/kms.txt' }));
    expect(head).toMatchObject({
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: keyArn,
      BucketKeyEnabled: true,
    });
    const got = await user.send(new GetObjectCommand({ Bucket: VAULT, Key: 'sse/kms.txt' }));
    expect(got).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn });
    expect(await text(got)).toBe('sealed');
    // A copy takes the target's encryption (here the bucket's default, SSE-S3), not the source's.
    const copy = await user.send(
      new CopyObjectCommand({ Bucket: VAULT, Key: 'sse/copy.txt', CopySource: `${VAULT}/sse/kms.txt` }),
    );
    expect(copy.ServerSideEncryption).toBe('AES256');
    // A request naming aws:kms without a key gets the AWS managed key aws/s3.
    const managed = await user.send(
      new PutObjectCommand({
        Bucket: VAULT,
        Key: 'sse/managed.txt',
        Body: 'm',
        ServerSideEncryption: 'aws:kms',
      }),
    );
    expect(managed.SSEKMSKeyId).toMatch(new RegExp(`^arn:aws:kms:us-east-1:${ACCOUNT}:key/`));
    expect(managed.SSEKMSKeyId).not.toBe(keyArn);
    // A key id without aws:kms is refused.
    expect(
      await errorOf(
        user.send(
          new PutObjectCommand({ Bucket: VAULT, Key: 'sse/bad.txt', Body: 'b', SSEKMSKeyId: keyArn }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidArgument', status: 400 });
  });

  it("the bucket's default encryption applies to writes that name none, multipart uploads included", async () => {
    const admin = t.client(KEY_USER);
    await admin.send(
      new PutBucketEncryptionCommand({
        Bucket: VAULT,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
              BucketKeyEnabled: true,
            },
          ],
        },
      }),
    );
    const rule = (await admin.send(new GetBucketEncryptionCommand({ Bucket: VAULT })))
      .ServerSideEncryptionConfiguration?.Rules?.[0];
    expect(rule).toMatchObject({
      ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
      BucketKeyEnabled: true,
    });
    const user = t.client('vaultUser');
    const put = await user.send(new PutObjectCommand({ Bucket: VAULT, Key: 'sse/default.txt', Body: 'd' }));
    expect(put).toMatchObject({
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: keyArn,
      BucketKeyEnabled: true,
    });
    // The request's own SSE-S3 wins over the default.
    const own = await user.send(
      new PutObjectCommand({ Bucket: VAULT, Key: 'sse/own.txt', Body: 'o', ServerSideEncryption: 'AES256' }),
    );
    expect(own.ServerSideEncryption).toBe('AES256');
    const created = await user.send(
      new CreateMultipartUploadCommand({ Bucket: VAULT, Key: 'sse/parts.bin' }),
    );
    expect(created).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn });
    const part = await user.send(
      new UploadPartCommand({
        Bucket: VAULT,
        Key: 'sse/parts.bin',
        UploadId: created.UploadId,
        PartNumber: 1,
        Body: 'only part',
      }),
    );
    expect(part.ServerSideEncryption).toBe('aws:kms');
    const done = await user.send(
      new CompleteMultipartUploadCommand({
        Bucket: VAULT,
        Key: 'sse/parts.bin',
        UploadId: created.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    expect(done).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn });
    expect(
      (await user.send(new HeadObjectCommand({ Bucket: VAULT, Key: 'sse/parts.bin' }))).SSEKMSKeyId,
    ).toBe(keyArn);
  });

  it('SSE-KMS asks KMS as the caller: GenerateDataKey to write, Decrypt to read (HEAD needs neither)', async () => {
    const kmsPut = (who: string, Key: string) =>
      t.client(who).send(
        new PutObjectCommand({
          Bucket: VAULT,
          Key,
          Body: 'k',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: keyArn,
        }),
      );
    const refused = await errorOf(kmsPut('keyless', 'sse/keyless.txt'));
    expect(refused).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(refused.message).toContain('kms:GenerateDataKey');
    await kmsPut('sealer', 'sse/sealed.txt');
    await t.client('sealer').send(new HeadObjectCommand({ Bucket: VAULT, Key: 'sse/sealed.txt' }));
    const read = await errorOf(
      t.client('sealer').send(new GetObjectCommand({ Bucket: VAULT, Key: 'sse/sealed.txt' })),
    );
    expect(read).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(read.message).toContain('kms:Decrypt');
    expect(
      await text(
        await t.client('vaultUser').send(new GetObjectCommand({ Bucket: VAULT, Key: 'sse/sealed.txt' })),
      ),
    ).toBe('k');
    // A key KMS does not have is KMS.NotFoundException, as S3 passes it on.
    const missing = await errorOf(
      t.client('vaultUser').send(
        new PutObjectCommand({
          Bucket: VAULT,
          Key: 'sse/nokey.txt',
          Body: 'n',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: 'alias/no-such-key',
        }),
      ),
    );
    expect(missing).toMatchObject({ name: 'KMS.NotFoundException', status: 400 });
  });
});
