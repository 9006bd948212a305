import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  CognitoIdentityClient,
  GetCredentialsForIdentityCommand,
  GetIdCommand,
} from '@aws-sdk/client-cognito-identity';
import { CreateKeyCommand, EncryptCommand, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalIdentityPool, startLocalIdentityPool } from '../../src/cognito-identity/index.js';
import {
  EXPIRED_SESSION_RETENTION_MS,
  KEY_MANAGER,
  type LocalRole,
  MAX_SESSIONS_PER_HOLDER,
} from '../../src/identity.js';
import { type LocalKms, startLocalKms } from '../../src/kms/index.js';
import { type LocalLogs, startLocalLogs } from '../../src/logs/index.js';
import { type LocalS3, startLocalS3 } from '../../src/s3/index.js';
import { type FakeUserPool, fakeUserPool } from '../helpers/id-tokens.js';
import { clientFor, makeDataDir } from '../helpers/local-kms.js';

/**
 * The local identity pool through the real `@aws-sdk/client-cognito-identity`: GetId and
 * GetCredentialsForIdentity with a user pool's ID token (signed here by a fake user pool), the
 * token checks (signature, issuer, audience, expiry, token use) refused as Cognito refuses them,
 * and the temporary credentials it gives accepted by the local KMS, S3 and CloudWatch Logs, their
 * condition keys in the key policy's decision, and refused by each once expired.
 */

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const BUCKET = 'eaas-vault';
let dataDir: string;
let clock = Date.now();
const now = () => new Date(clock);
let kms: LocalKms;
let s3: LocalS3;
let logs: LocalLogs;
let pool: LocalIdentityPool;
let users: FakeUserPool;
const role: LocalRole = {
  name: 'eaas-local-people',
  arn: `arn:aws:iam::${ACCOUNT}:role/eaas-local-people`,
  policies: [
    {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['kms:ListKeys', 'logs:DescribeLogGroups'], Resource: '*' },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}` },
      ],
    },
  ],
};

const cognito = () => new CognitoIdentityClient({ endpoint: pool.endpoint, region: REGION, maxAttempts: 1 });

async function signIn(sub: string) {
  const token = await users.token(sub, now());
  const Logins = { [users.providerName]: token };
  const client = cognito();
  const { IdentityId } = await client.send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId, Logins }));
  const answer = await client.send(new GetCredentialsForIdentityCommand({ IdentityId, Logins }));
  const c = answer.Credentials;
  if (!IdentityId || !c?.AccessKeyId || !c.SecretKey || !c.SessionToken || !c.Expiration)
    throw new Error('incomplete answer');
  return {
    identityId: IdentityId,
    expiration: c.Expiration,
    credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretKey, sessionToken: c.SessionToken },
  };
}

beforeAll(async () => {
  dataDir = makeDataDir();
  kms = await startLocalKms({ dataDir, accountId: ACCOUNT, region: REGION, port: 0, now });
  s3 = await startLocalS3({
    dataDir,
    accountId: ACCOUNT,
    region: REGION,
    port: 0,
    buckets: [BUCKET],
    identities: kms.identities,
    now,
  });
  logs = await startLocalLogs({
    dataDir,
    identities: kms.identities,
    accountId: ACCOUNT,
    region: REGION,
    host: '127.0.0.1',
    port: 0,
    maxSkewSeconds: 300,
    logGroups: [{ name: '/eaas/test/audit' }],
    now,
  });
  users = await fakeUserPool(REGION);
  pool = await startLocalIdentityPool({
    dataDir,
    accountId: ACCOUNT,
    region: REGION,
    host: '127.0.0.1',
    port: 0,
    identities: kms.identities,
    providers: [
      {
        providerName: users.providerName,
        issuer: users.issuer,
        clientIds: [users.clientId],
        jwks: users.jwks,
      },
    ],
    authenticatedRole: role,
    credentialSeconds: 900,
    now,
  });
});

afterAll(async () => {
  await pool?.close();
  await logs?.close();
  await s3?.close();
  await kms?.close();
});

describe('GetId and GetCredentialsForIdentity', () => {
  it('give a stable identity per person and temporary credentials of the authenticated role', async () => {
    const sub = randomUUID();
    const first = await signIn(sub);
    const again = await signIn(sub);
    const other = await signIn(randomUUID());
    expect(first.identityId).toMatch(/^us-east-1:[0-9a-f-]{36}$/);
    expect(again.identityId).toBe(first.identityId);
    expect(other.identityId).not.toBe(first.identityId);
    expect(first.credentials.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(first.expiration.getTime()).toBe(Math.floor((clock + 900_000) / 1000) * 1000);
    const session = kms.identities.byAccessKeyId(first.credentials.accessKeyId);
    expect(session?.arn).toBe(
      `arn:aws:sts::${ACCOUNT}:assumed-role/eaas-local-people/CognitoIdentityCredentials`,
    );
    expect(session?.conditionKeys).toEqual({
      'cognito-identity.amazonaws.com:sub': [first.identityId],
      'cognito-identity.amazonaws.com:aud': [pool.identityPoolId],
      'cognito-identity.amazonaws.com:amr': [
        'authenticated',
        users.providerName,
        `${users.providerName}:CognitoSignIn:${sub}`,
      ],
    });
    expect(session?.cognito?.authenticationProvider).toBe(
      `${users.providerName},${users.providerName}:CognitoSignIn:${sub}`,
    );
    expect(session?.userId).toMatch(/^AROA[A-Z2-7]{17}:CognitoIdentityCredentials$/);
  });

  it('keep the pool id and each person’s identity id across a restart', async () => {
    const sub = randomUUID();
    const before = await signIn(sub);
    const poolId = pool.identityPoolId;
    await pool.close();
    pool = await startLocalIdentityPool({
      dataDir,
      accountId: ACCOUNT,
      region: REGION,
      host: '127.0.0.1',
      port: 0,
      identities: kms.identities,
      providers: [
        {
          providerName: users.providerName,
          issuer: users.issuer,
          clientIds: [users.clientId],
          jwks: users.jwks,
        },
      ],
      authenticatedRole: role,
      credentialSeconds: 900,
      now,
    });
    expect(pool.identityPoolId).toBe(poolId);
    expect((await signIn(sub)).identityId).toBe(before.identityId);
  });

  it('keep ids only in the data dir: no token, secret or session token', async () => {
    const signedIn = await signIn(randomUUID());
    const saved = JSON.parse(readFileSync(join(dataDir, 'cognito-identity', 'pool.json'), 'utf8'));
    expect(saved.identityPoolId).toBe(pool.identityPoolId);
    expect(saved.identities.map((i: { identityId: string }) => i.identityId)).toContain(signedIn.identityId);
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? walk(path) : [path];
      });
    for (const file of walk(dataDir)) {
      const text = readFileSync(file).toString('latin1');
      expect(text).not.toContain(signedIn.credentials.secretAccessKey);
      expect(text).not.toContain(signedIn.credentials.sessionToken);
      expect(text).not.toContain(signedIn.credentials.accessKeyId);
    }
  });

  it('refuse bad tokens as Cognito does', async () => {
    const client = cognito();
    const sub = randomUUID();
    const refusal = async (token: string, providerName = users.providerName) => {
      const error = await client
        .send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId, Logins: { [providerName]: token } }))
        .then(
          () => undefined,
          (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
        );
      return { name: error?.name, message: error?.message, status: error?.$metadata?.httpStatusCode };
    };
    const t = now();
    expect(await refusal(await users.token(sub, t, { key: 'other' }))).toEqual({
      name: 'NotAuthorizedException',
      message: "Invalid login token. Couldn't verify signed token.",
      status: 400,
    });
    expect(
      (await refusal(await users.token(sub, t, { claims: { iss: 'http://127.0.0.1:9/other' } }))).message,
    ).toBe("Invalid login token. Issuer doesn't match providerName");
    expect((await refusal(await users.token(sub, t, { claims: { aud: 'anotherclient' } }))).message).toBe(
      'Token is not from a supported provider of this identity pool.',
    );
    const expired = await users.token(sub, new Date(clock - 7200_000));
    expect((await refusal(expired)).message).toMatch(/^Invalid login token\. Token expired: \d+ >= \d+$/);
    const access = await users.token(sub, t, {
      claims: { token_use: 'access', aud: undefined, client_id: users.clientId, scope: 'openid' },
    });
    expect((await refusal(access)).message).toBe('Invalid login token. Missing a required claim: aud');
    const idAsAccess = await users.token(sub, t, { claims: { token_use: 'access' } });
    expect((await refusal(idAsAccess)).name).toBe('NotAuthorizedException');
    expect((await refusal('not.a.jwt')).message).toBe("Invalid login token. Couldn't verify signed token.");
    expect(
      (await refusal(await users.token(sub, t), 'cognito-idp.us-east-1.amazonaws.com/us-east-1_Other1234'))
        .name,
    ).toBe('NotAuthorizedException');
  });

  it('refuse an unknown pool or identity, a malformed id, no login, and another person’s token', async () => {
    const client = cognito();
    const token = await users.token(randomUUID(), now());
    const Logins = { [users.providerName]: token };
    await expect(
      client.send(new GetIdCommand({ IdentityPoolId: `us-east-1:${randomUUID()}`, Logins })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: expect.stringMatching(/^IdentityPool '.*' not found\.$/),
    });
    await expect(
      client.send(new GetIdCommand({ IdentityPoolId: 'not an id', Logins })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    await expect(
      client.send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId })),
    ).rejects.toMatchObject({
      name: 'NotAuthorizedException',
      message: 'Unauthenticated access is not supported for this identity pool.',
    });
    await expect(
      client.send(new GetCredentialsForIdentityCommand({ IdentityId: `us-east-1:${randomUUID()}`, Logins })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const alice = await signIn(randomUUID());
    await expect(
      client.send(new GetCredentialsForIdentityCommand({ IdentityId: alice.identityId, Logins })),
    ).rejects.toMatchObject({
      name: 'NotAuthorizedException',
      message:
        "Logins don't match. Please include at least one valid login for this identity or identity pool.",
    });
  });

  it('answer browsers’ CORS preflights', async () => {
    const res = await fetch(pool.endpoint, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://127.0.0.1:3000',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-amz-target,x-amz-user-agent',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toContain('x-amz-target');
  });
});

describe('the temporary credentials', () => {
  it('are accepted by KMS, S3 and CloudWatch Logs, and refused by each once expired', async () => {
    const { credentials } = await signIn(randomUUID());
    /** The SDK clients, signing with the servers' clock (`skew` ms ahead of the real one). */
    const clients = (skew: number) => ({
      kms: new KMSClient({
        endpoint: kms.endpoint,
        region: REGION,
        credentials,
        maxAttempts: 1,
        systemClockOffset: skew,
      }),
      s3: new S3Client({
        endpoint: s3.endpoint,
        region: REGION,
        credentials,
        forcePathStyle: true,
        maxAttempts: 1,
        systemClockOffset: skew,
      }),
      logs: new CloudWatchLogsClient({
        endpoint: logs.endpoint,
        region: REGION,
        credentials,
        maxAttempts: 1,
        systemClockOffset: skew,
      }),
    });
    const before = clients(clock - Date.now());
    await before.kms.send(new ListKeysCommand({}));
    await before.s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    await before.logs.send(new DescribeLogGroupsCommand({}));
    const started = clock;
    clock += 900_000;
    const after = clients(clock - Date.now());
    try {
      const status = (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode;
      const k = await after.kms.send(new ListKeysCommand({})).catch((e) => e);
      expect([k.name, k.message, status(k)]).toEqual([
        'ExpiredTokenException',
        'The security token included in the request is expired',
        403,
      ]);
      const s = await after.s3.send(new ListObjectsV2Command({ Bucket: BUCKET })).catch((e) => e);
      expect([s.name, s.message, status(s)]).toEqual([
        'ExpiredToken',
        'The provided token has expired.',
        400,
      ]);
      const l = await after.logs.send(new DescribeLogGroupsCommand({})).catch((e) => e);
      expect([l.name, status(l)]).toEqual(['ExpiredTokenException', 403]);
    } finally {
      clock = started;
      for (const c of [...Object.values(before), ...Object.values(after)]) c.destroy();
    }
  });

  it('carry the identity into key policies: cognito-identity.amazonaws.com:sub decides', async () => {
    const alice = await signIn(randomUUID());
    const bob = await signIn(randomUUID());
    const admin = clientFor(kms.endpoint, kms.identities.byName(KEY_MANAGER), REGION);
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Root',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
        {
          Sid: 'AliceOnly',
          Effect: 'Allow',
          Principal: { AWS: role.arn },
          Action: 'kms:Encrypt',
          Resource: '*',
          Condition: { StringEquals: { 'cognito-identity.amazonaws.com:sub': alice.identityId } },
        },
      ],
    };
    const { KeyMetadata } = await admin.send(new CreateKeyCommand({ Policy: JSON.stringify(policy) }));
    admin.destroy();
    const encrypt = (credentials: typeof alice.credentials) => {
      const client = new KMSClient({ endpoint: kms.endpoint, region: REGION, credentials, maxAttempts: 1 });
      return client
        .send(new EncryptCommand({ KeyId: KeyMetadata?.KeyId, Plaintext: Buffer.from('hi') }))
        .finally(() => client.destroy());
    };
    await expect(encrypt(alice.credentials)).resolves.toMatchObject({ KeyId: KeyMetadata?.Arn });
    await expect(encrypt(bob.credentials)).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('are forgotten an hour after they expire, and held in bounded number', async () => {
    const { credentials } = await signIn(randomUUID());
    const started = clock;
    clock += 900_000 + EXPIRED_SESSION_RETENTION_MS;
    try {
      await signIn(randomUUID());
      expect(kms.identities.byAccessKeyId(credentials.accessKeyId)).toBeUndefined();
      expect(kms.identities.sessionCount).toBe(1);
      // At most MAX_SESSIONS_PER_HOLDER per role and session name: that holder's oldest go first.
      const issue = (sessionName: string) =>
        kms.identities.issueSession({ role, sessionName, seconds: 60, conditionKeys: {}, now: now() });
      const first = issue('s');
      for (let i = 0; i < MAX_SESSIONS_PER_HOLDER; i++) issue('s');
      expect(kms.identities.byAccessKeyId(first.accessKeyId)).toBeUndefined();
      expect(kms.identities.sessionCount).toBe(1 + MAX_SESSIONS_PER_HOLDER);
    } finally {
      clock = started;
    }
  });
});
