import {
  AdminCreateUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalIdentityPool, startLocalIdentityPool } from '../../src/cognito-identity/index.js';
import type { LoginProvider } from '../../src/cognito-identity/tokens.js';
import { KEY_MANAGER, type LocalRole } from '../../src/identity.js';
import {
  Browser,
  PAGE,
  pkce,
  signIn,
  startTestUserPool,
  type TestUserPool,
  tokenRequest,
} from '../helpers/local-user-pool.js';

/**
 * The identity pool's ServerSideTokenCheck with the local user pool: an unexpired ID token of a
 * disabled user, or one minted from a revoked refresh token, gets no AWS credentials.
 */

const TEMP = 'Temp-pass-1!';
const role: LocalRole = { name: 'people', arn: 'arn:aws:iam::111122223333:role/people', policies: [] };
let t: TestUserPool;
let identityPool: LocalIdentityPool;

beforeAll(async () => {
  t = await startTestUserPool();
  identityPool = await startLocalIdentityPool({
    dataDir: t.dataDir,
    accountId: '111122223333',
    region: 'us-east-1',
    host: '127.0.0.1',
    port: 0,
    identities: t.identities,
    providers: [
      {
        providerName: t.pool.providerName,
        issuer: t.pool.issuer,
        clientIds: [t.pool.clientId],
        jwks: () => t.pool.jwks() as ReturnType<LoginProvider['jwks']>,
        isActive: (claims) => t.pool.tokenActive(claims),
      },
    ],
    authenticatedRole: role,
  });
});
afterAll(async () => {
  await identityPool?.close();
  await t?.stop();
});

async function tokensOf(username: string) {
  await t.client(t.identities.byName(KEY_MANAGER)).send(
    new AdminCreateUserCommand({
      UserPoolId: t.pool.userPoolId,
      Username: username,
      TemporaryPassword: TEMP,
      MessageAction: 'SUPPRESS',
    }),
  );
  const p = pkce();
  const code = await signIn(
    new Browser(t.pool.endpoint),
    t.pool,
    p.challenge,
    username,
    TEMP,
    'Own-pass-1!x',
  );
  const answer = await tokenRequest(t.pool, {
    grant_type: 'authorization_code',
    client_id: t.pool.clientId,
    code,
    redirect_uri: PAGE,
    code_verifier: p.verifier,
  });
  return answer.body as { id_token: string; refresh_token: string };
}

async function credentials(idToken: string) {
  const call = async (target: string, body: unknown) => {
    const res = await fetch(identityPool.endpoint, {
      method: 'POST',
      headers: { 'x-amz-target': `AWSCognitoIdentityService.${target}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const Logins = { [t.pool.providerName]: idToken };
  const id = await call('GetId', { IdentityPoolId: identityPool.identityPoolId, Logins });
  if (id.status !== 200) return id;
  return call('GetCredentialsForIdentity', { IdentityId: id.body.IdentityId, Logins });
}

describe('ServerSideTokenCheck', () => {
  it('refuses a disabled user’s unexpired ID token, and takes it again once enabled', async () => {
    const { id_token } = await tokensOf('kate');
    expect((await credentials(id_token)).status).toBe(200);
    const admin = t.client(t.identities.byName(KEY_MANAGER));
    await admin.send(new AdminDisableUserCommand({ UserPoolId: t.pool.userPoolId, Username: 'kate' }));
    const refused = await credentials(id_token);
    expect(refused.status).toBe(400);
    expect(refused.body.__type).toBe('NotAuthorizedException');
    await admin.send(new AdminEnableUserCommand({ UserPoolId: t.pool.userPoolId, Username: 'kate' }));
    expect((await credentials(id_token)).status).toBe(200);
  });

  it('refuses an ID token minted from a revoked refresh token', async () => {
    const { id_token, refresh_token } = await tokensOf('liam');
    expect((await credentials(id_token)).status).toBe(200);
    const revoked = await tokenRequest(
      t.pool,
      { token: refresh_token, client_id: t.pool.clientId },
      '/oauth2/revoke',
    );
    expect(revoked.status).toBe(200);
    const refused = await credentials(id_token);
    expect(refused.body.__type).toBe('NotAuthorizedException');
  });
});
