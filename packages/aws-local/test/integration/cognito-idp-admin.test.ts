import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminGetUserCommand,
  AdminSetUserPasswordCommand,
  DescribeUserPoolClientCommand,
  DescribeUserPoolCommand,
  ListUserPoolsCommand,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_MANAGER, KEY_USER, LocalIdentities, OUTSIDER } from '../../src/identity.js';
import { AWS_CLI, type CliEnv, cliAvailable, runShell, runShellFailing } from '../helpers/aws-cli.js';
import { errorOf } from '../helpers/errors.js';
import { makeDataDir } from '../helpers/local-kms.js';
import { startTestUserPool, type TestUserPool } from '../helpers/local-user-pool.js';

/**
 * The admin API of the local user pool through the real SDK client and the AWS CLI v2, signed as
 * the local principals and authorized by their IAM policies
 * (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminCreateUser.html).
 */

let t: TestUserPool;
let poolId: string;

beforeAll(async () => {
  t = await startTestUserPool({ seedUser: { username: 'alice', email: 'alice@example.com' } });
  poolId = t.pool.userPoolId;
});
afterAll(() => t.stop());

describe('the cognito-idp admin API through the SDK', () => {
  it('names the pool as Cognito does', () => {
    expect(poolId).toMatch(/^us-east-1_[A-Za-z0-9]{9}$/);
    expect(t.pool.issuer).toBe(`${t.pool.endpoint}/${poolId}`);
    expect(t.pool.providerName).toBe(`cognito-idp.us-east-1.amazonaws.com/${poolId}`);
    expect(t.pool.seeded?.username).toBe('alice');
    expect(t.pool.seeded?.temporaryPassword).toMatch(/^.{16}$/);
  });

  it('creates, reads, lists, disables, enables and deletes a user', async () => {
    const admin = t.client(t.identities.byName(KEY_MANAGER));
    const created = await admin.send(
      new AdminCreateUserCommand({
        UserPoolId: poolId,
        Username: 'bob',
        TemporaryPassword: 'Temp-pass-1',
        MessageAction: 'SUPPRESS',
        UserAttributes: [
          { Name: 'email', Value: 'bob@example.com' },
          { Name: 'email_verified', Value: 'true' },
        ],
      }),
    );
    expect(created.User?.UserStatus).toBe('FORCE_CHANGE_PASSWORD');
    expect(created.User?.Enabled).toBe(true);
    expect(created.User?.UserCreateDate).toBeInstanceOf(Date);
    const attrs = Object.fromEntries((created.User?.Attributes ?? []).map((a) => [a.Name, a.Value]));
    expect(attrs).toMatchObject({ email: 'bob@example.com', email_verified: 'true' });
    expect(attrs.sub).toMatch(/^[0-9a-f-]{36}$/);

    const again = await errorOf(
      admin.send(
        new AdminCreateUserCommand({ UserPoolId: poolId, Username: 'BOB', MessageAction: 'SUPPRESS' }),
      ),
    );
    expect(again.name).toBe('UsernameExistsException');

    const got = await admin.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: 'bob' }));
    expect(got.UserStatus).toBe('FORCE_CHANGE_PASSWORD');
    expect(got.UserAttributes?.find((a) => a.Name === 'email')?.Value).toBe('bob@example.com');

    await admin.send(
      new AdminSetUserPasswordCommand({
        UserPoolId: poolId,
        Username: 'bob',
        Password: 'Perm-pass-2',
        Permanent: true,
      }),
    );
    expect(
      (await admin.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: 'bob' }))).UserStatus,
    ).toBe('CONFIRMED');

    const byEmail = await admin.send(
      new ListUsersCommand({ UserPoolId: poolId, Filter: 'email = "bob@example.com"' }),
    );
    expect(byEmail.Users?.map((u) => u.Username)).toEqual(['bob']);
    const byPrefix = await admin.send(
      new ListUsersCommand({ UserPoolId: poolId, Filter: 'username ^= "al"' }),
    );
    expect(byPrefix.Users?.map((u) => u.Username)).toEqual(['alice']);
    const page1 = await admin.send(new ListUsersCommand({ UserPoolId: poolId, Limit: 1 }));
    expect(page1.Users).toHaveLength(1);
    expect(page1.PaginationToken).toBeDefined();
    const page2 = await admin.send(
      new ListUsersCommand({ UserPoolId: poolId, Limit: 1, PaginationToken: page1.PaginationToken }),
    );
    expect(page2.Users?.[0]?.Username).not.toBe(page1.Users?.[0]?.Username);
    expect(page2.PaginationToken).toBeUndefined();

    await admin.send(new AdminDisableUserCommand({ UserPoolId: poolId, Username: 'bob' }));
    expect((await admin.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: 'bob' }))).Enabled).toBe(
      false,
    );
    await admin.send(new AdminEnableUserCommand({ UserPoolId: poolId, Username: 'bob' }));
    expect((await admin.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: 'bob' }))).Enabled).toBe(
      true,
    );

    await admin.send(new AdminDeleteUserCommand({ UserPoolId: poolId, Username: 'bob' }));
    const gone = await errorOf(admin.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: 'bob' })));
    expect(gone.name).toBe('UserNotFoundException');
  });

  it('describes the pool and its app client, and lists pools', async () => {
    const admin = t.client(t.identities.byName(KEY_MANAGER));
    const pool = await admin.send(new DescribeUserPoolCommand({ UserPoolId: poolId }));
    expect(pool.UserPool?.Arn).toBe(`arn:aws:cognito-idp:us-east-1:111122223333:userpool/${poolId}`);
    expect(pool.UserPool?.Policies?.PasswordPolicy?.MinimumLength).toBe(8);
    const client = await admin.send(
      new DescribeUserPoolClientCommand({ UserPoolId: poolId, ClientId: t.pool.clientId }),
    );
    expect(client.UserPoolClient?.AllowedOAuthFlows).toEqual(['code']);
    expect(client.UserPoolClient?.EnableTokenRevocation).toBe(true);
    const pools = await admin.send(new ListUserPoolsCommand({ MaxResults: 10 }));
    expect(pools.UserPools?.map((p) => p.Id)).toEqual([poolId]);
  });

  it('refuses what Cognito refuses', async () => {
    const admin = t.client(t.identities.byName(KEY_MANAGER));
    const weak = await errorOf(
      admin.send(
        new AdminCreateUserCommand({ UserPoolId: poolId, Username: 'carol', TemporaryPassword: 'short' }),
      ),
    );
    expect(weak.name).toBe('InvalidPasswordException');
    expect(weak.message).toBe('Password did not conform with policy: Password not long enough');
    const noSymbol = await errorOf(
      admin.send(
        new AdminSetUserPasswordCommand({
          UserPoolId: poolId,
          Username: 'alice',
          Password: 'Abcdefgh1',
          Permanent: true,
        }),
      ),
    );
    expect(noSymbol.name).toBe('InvalidPasswordException');
    const otherPool = await errorOf(
      admin.send(new DescribeUserPoolCommand({ UserPoolId: 'us-east-1_nothere00' })),
    );
    expect(otherPool.name).toBe('ResourceNotFoundException');
    const badFilter = await errorOf(
      admin.send(new ListUsersCommand({ UserPoolId: poolId, Filter: 'email ~ x' })),
    );
    expect(badFilter.name).toBe('InvalidParameterException');
    const unknownUser = await errorOf(
      admin.send(new AdminDisableUserCommand({ UserPoolId: poolId, Username: 'zed' })),
    );
    expect(unknownUser.name).toBe('UserNotFoundException');
  });

  it('refuses callers whose IAM policies do not allow the action (AccessDeniedException)', async () => {
    for (const name of [OUTSIDER, KEY_USER]) {
      const denied = await errorOf(
        t.client(t.identities.byName(name)).send(new ListUsersCommand({ UserPoolId: poolId })),
      );
      expect(denied.name).toBe('AccessDeniedException');
      expect(denied.message).toContain(
        `cognito-idp:ListUsers on resource: arn:aws:cognito-idp:us-east-1:111122223333:userpool/${poolId}`,
      );
    }
    const forged = t.client({
      ...t.identities.byName(KEY_MANAGER),
      secretAccessKey: 'wrong-secret-0000000000000000000000',
    });
    expect((await errorOf(forged.send(new ListUsersCommand({ UserPoolId: poolId })))).name).toBe(
      'InvalidSignatureException',
    );
  });

  it('answers a clear 4xx to a malformed request, never a 500', async () => {
    const unsigned = await fetch(t.pool.endpoint, {
      method: 'POST',
      headers: {
        'x-amz-target': 'AWSCognitoIdentityProviderService.ListUsers',
        'content-type': 'application/x-amz-json-1.1',
      },
      body: '{}',
    });
    expect(unsigned.status).toBeGreaterThanOrEqual(400);
    expect(unsigned.status).toBeLessThan(500);
    expect(((await unsigned.json()) as { __type: string }).__type).toBe(
      'MissingAuthenticationTokenException',
    );
  });
});

describe('the seed policies', () => {
  it('give an existing principals.json the key manager cognito-idp admin policy on the next start', () => {
    const dataDir = makeDataDir();
    try {
      LocalIdentities.open(dataDir, '111122223333', 'us-east-1');
      const file = join(dataDir, 'principals.json');
      const doc = JSON.parse(readFileSync(file, 'utf8')) as {
        principals: { name: string; policies: unknown[] }[];
      };
      const manager = doc.principals.find((p) => p.name === KEY_MANAGER);
      if (!manager) throw new Error('no key manager');
      manager.policies = manager.policies.filter((p) => !JSON.stringify(p).includes('cognito-idp'));
      writeFileSync(file, JSON.stringify(doc));
      const reopened = LocalIdentities.open(dataDir, '111122223333', 'us-east-1');
      expect(JSON.stringify(reopened.byName(KEY_MANAGER).policies)).toContain('cognito-idp:AdminCreateUser');
      expect(readFileSync(file, 'utf8')).toContain('cognito-idp:AdminCreateUser');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe.runIf(cliAvailable)('the operator adds a person with the AWS CLI v2', () => {
  let env: CliEnv;
  beforeAll(() => {
    env = { dataDir: t.dataDir, cwd: mkdtempSync(join(tmpdir(), 'eaas-cli-')) };
  });
  afterAll(() => rmSync(env.cwd, { recursive: true, force: true }));

  it('admin-create-user, admin-get-user, list-users; refused for the outsider', async () => {
    const aws = (profile: string) => `${AWS_CLI} --profile ${profile} --endpoint-url ${t.pool.endpoint}`;
    const created = await runShell(
      `${aws(KEY_MANAGER)} cognito-idp admin-create-user --user-pool-id ${poolId} --username dora ` +
        `--user-attributes Name=email,Value=dora@example.com Name=email_verified,Value=true ` +
        `--temporary-password 'Temp-pass-3!' --message-action SUPPRESS`,
      env,
    );
    const user = (JSON.parse(created.stdout) as { User: { Username: string; UserStatus: string } }).User;
    expect(user).toMatchObject({ Username: 'dora', UserStatus: 'FORCE_CHANGE_PASSWORD' });
    const got = await runShell(
      `${aws(KEY_MANAGER)} cognito-idp admin-get-user --user-pool-id ${poolId} --username dora --query UserStatus --output text`,
      env,
    );
    expect(got.stdout.trim()).toBe('FORCE_CHANGE_PASSWORD');
    const listed = await runShell(
      `${aws(KEY_MANAGER)} cognito-idp list-users --user-pool-id ${poolId} --filter 'email = "dora@example.com"' --query 'Users[].Username' --output text`,
      env,
    );
    expect(listed.stdout.trim()).toBe('dora');
    const refused = await runShellFailing(
      `${aws(OUTSIDER)} cognito-idp admin-create-user --user-pool-id ${poolId} --username eve --message-action SUPPRESS`,
      env,
    );
    expect(refused).toContain('AccessDeniedException');
  });
});
