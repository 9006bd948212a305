import {
  AdminCreateUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminSetUserPasswordCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_MANAGER } from '../../src/identity.js';
import {
  authorizeUrl,
  Browser,
  csrfOf,
  PAGE,
  pkce,
  signIn,
  startTestUserPool,
  type TestUserPool,
  tokenRequest,
} from '../helpers/local-user-pool.js';

/**
 * What the local user pool refuses, as Cognito refuses it: a code replayed, redeemed with the wrong
 * verifier or redirect URI, by an unknown client, or after its five minutes; a wrong password, a
 * disabled user; an unlisted sign-out URL; tokens it did not sign or that expired; bad requests,
 * each a clear 4xx. (https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html)
 */

const PASSWORD = 'Perm-pass-1!';
let t: TestUserPool;
/** The pool's clock, moved forward by the expiry tests; SigV4 checks use it too, so admin calls put it back first. */
let clock = Date.now();

beforeAll(async () => {
  t = await startTestUserPool({ now: () => new Date(clock) });
  const admin = t.client(t.identities.byName(KEY_MANAGER));
  await admin.send(
    new AdminCreateUserCommand({
      UserPoolId: t.pool.userPoolId,
      Username: 'gina',
      MessageAction: 'SUPPRESS',
    }),
  );
  await admin.send(
    new AdminSetUserPasswordCommand({
      UserPoolId: t.pool.userPoolId,
      Username: 'gina',
      Password: PASSWORD,
      Permanent: true,
    }),
  );
});
afterAll(() => t.stop());

async function freshCode(): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkce();
  const code = await signIn(new Browser(t.pool.endpoint), t.pool, challenge, 'gina', PASSWORD);
  return { code, verifier };
}

const exchange = (code: string, verifier: string, extra: Record<string, string> = {}) =>
  tokenRequest(t.pool, {
    grant_type: 'authorization_code',
    client_id: t.pool.clientId,
    code,
    redirect_uri: PAGE,
    code_verifier: verifier,
    ...extra,
  });

const INVALID_GRANT = { status: 400, body: { error: 'invalid_grant' } };

describe('the token endpoint refuses', () => {
  it('a replayed code', async () => {
    const { code, verifier } = await freshCode();
    expect((await exchange(code, verifier)).status).toBe(200);
    expect(await exchange(code, verifier)).toEqual(INVALID_GRANT);
  });

  it('a wrong code_verifier, and the code is then spent', async () => {
    const { code, verifier } = await freshCode();
    expect(await exchange(code, pkce().verifier)).toEqual(INVALID_GRANT);
    expect(await exchange(code, verifier)).toEqual(INVALID_GRANT);
  });

  it('a missing code_verifier', async () => {
    const { code } = await freshCode();
    expect(await exchange(code, '')).toEqual(INVALID_GRANT);
  });

  it('a wrong redirect_uri', async () => {
    const { code, verifier } = await freshCode();
    expect(await exchange(code, verifier, { redirect_uri: 'http://127.0.0.1:8765/other' })).toEqual(
      INVALID_GRANT,
    );
  });

  it('an unknown client', async () => {
    const { code, verifier } = await freshCode();
    expect(await exchange(code, verifier, { client_id: 'nosuchclient00000000000000' })).toEqual({
      status: 400,
      body: { error: 'invalid_client' },
    });
  });

  it('a code older than five minutes', async () => {
    const { code, verifier } = await freshCode();
    clock += 5 * 60_000 + 1000;
    expect(await exchange(code, verifier)).toEqual(INVALID_GRANT);
  });

  it('an unknown grant type, a missing code, and a body that is not a form', async () => {
    expect(await tokenRequest(t.pool, { grant_type: 'password', client_id: t.pool.clientId })).toEqual({
      status: 400,
      body: { error: 'unsupported_grant_type' },
    });
    expect(
      (await tokenRequest(t.pool, { grant_type: 'authorization_code', client_id: t.pool.clientId })).body,
    ).toEqual({
      error: 'invalid_request',
    });
    const json = await fetch(`${t.pool.endpoint}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(json.status).toBe(400);
    const huge = await fetch(`${t.pool.endpoint}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `code=${'a'.repeat(100_000)}`,
    });
    expect(huge.status).toBe(413);
  });

  it('a refresh token of another client or an unknown one', async () => {
    expect(
      await tokenRequest(t.pool, {
        grant_type: 'refresh_token',
        client_id: t.pool.clientId,
        refresh_token: 'nope',
      }),
    ).toEqual(INVALID_GRANT);
  });
});

describe('userInfo refuses tokens', () => {
  it('signed by another key, expired, or not access tokens', async () => {
    const { code, verifier } = await freshCode();
    const tokens = (await exchange(code, verifier)).body as Record<string, string>;
    const info = (token: string) =>
      fetch(`${t.pool.endpoint}/oauth2/userInfo`, { headers: { authorization: `Bearer ${token}` } });
    expect((await info(tokens.access_token ?? '')).status).toBe(200);
    expect((await info(tokens.id_token ?? '')).status).toBe(401);
    const other = await generateKeyPair('RS256');
    const forged = await new SignJWT({
      token_use: 'access',
      client_id: t.pool.clientId,
      sub: 'x',
      origin_jti: 'y',
    })
      .setProtectedHeader({ alg: 'RS256', kid: String(t.pool.jwks().keys[0]?.kid) })
      .setIssuer(t.pool.issuer)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(other.privateKey);
    const refused = await info(forged);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect((await fetch(`${t.pool.endpoint}/oauth2/userInfo`)).status).toBe(401);
    clock += 3600_000 + 1000;
    expect((await info(tokens.access_token ?? '')).status).toBe(401);
  });
});

describe('scopes', () => {
  async function tokensFor(scope: string): Promise<Record<string, string>> {
    const { verifier, challenge } = pkce();
    const code = await signIn(new Browser(t.pool.endpoint), t.pool, challenge, 'hana', PASSWORD, undefined, {
      scope,
    });
    return (await exchange(code, verifier)).body as Record<string, string>;
  }
  const claims = (jwt: string) =>
    JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
  const info = (token: string) =>
    fetch(`${t.pool.endpoint}/oauth2/userInfo`, { headers: { authorization: `Bearer ${token}` } });

  it('decide the ID token and the userInfo attributes as Cognito documents', async () => {
    clock = Date.now();
    const admin = t.client(t.identities.byName(KEY_MANAGER));
    await admin.send(
      new AdminCreateUserCommand({
        UserPoolId: t.pool.userPoolId,
        Username: 'hana',
        MessageAction: 'SUPPRESS',
        UserAttributes: [{ Name: 'email', Value: 'hana@example.com' }],
      }),
    );
    await admin.send(
      new AdminSetUserPasswordCommand({
        UserPoolId: t.pool.userPoolId,
        Username: 'hana',
        Password: PASSWORD,
        Permanent: true,
      }),
    );
    const profile = await tokensFor('openid profile');
    expect(claims(profile.id_token ?? '')).not.toHaveProperty('email');
    expect(claims(profile.access_token ?? '').scope).toBe('openid profile');
    expect(await (await info(profile.access_token ?? '')).json()).not.toHaveProperty('email');
    // openid alone shows every attribute the client may read.
    expect(claims((await tokensFor('openid')).id_token ?? '')).toHaveProperty('email');
    // Without openid: no ID token, and userInfo refuses the access token.
    const noOpenid = await tokensFor('email profile');
    expect(noOpenid).not.toHaveProperty('id_token');
    expect((await info(noOpenid.access_token ?? '')).status).toBe(401);
  });
});

describe('managed login refuses', () => {
  it('a wrong password and an unknown user with the same words', async () => {
    const browser = new Browser(t.pool.endpoint);
    await browser.get(authorizeUrl(t.pool, pkce().challenge));
    const html = await (await browser.get('/login')).text();
    const wrong = await (
      await browser.post('/login', { _csrf: csrfOf(html), username: 'gina', password: 'Wrong-pass-1!' })
    ).text();
    const unknown = await (
      await browser.post('/login', { _csrf: csrfOf(wrong), username: 'ghost', password: 'Wrong-pass-1!' })
    ).text();
    for (const page of [wrong, unknown])
      expect(page).toMatch(
        /<p class="error" role="alert" id="form-error">Incorrect username or password.<\/p>/,
      );
  });

  it("a disabled user, and a disabled user's refresh token", async () => {
    clock = Date.now();
    const admin = t.client(t.identities.byName(KEY_MANAGER));
    const { code, verifier } = await freshCode();
    const refresh = String((await exchange(code, verifier)).body.refresh_token);
    await admin.send(new AdminDisableUserCommand({ UserPoolId: t.pool.userPoolId, Username: 'gina' }));
    try {
      const browser = new Browser(t.pool.endpoint);
      await browser.get(authorizeUrl(t.pool, pkce().challenge));
      const html = await (await browser.get('/login')).text();
      const refused = await (
        await browser.post('/login', { _csrf: csrfOf(html), username: 'gina', password: PASSWORD })
      ).text();
      expect(refused).toContain('User is disabled.');
      expect(
        await tokenRequest(t.pool, {
          grant_type: 'refresh_token',
          client_id: t.pool.clientId,
          refresh_token: refresh,
        }),
      ).toEqual(INVALID_GRANT);
    } finally {
      await admin.send(new AdminEnableUserCommand({ UserPoolId: t.pool.userPoolId, Username: 'gina' }));
    }
  });

  it("a form without the transaction's CSRF token, or without a transaction", async () => {
    const browser = new Browser(t.pool.endpoint);
    await browser.get(authorizeUrl(t.pool, pkce().challenge));
    expect(
      (await browser.post('/login', { _csrf: 'forged', username: 'gina', password: PASSWORD })).status,
    ).toBe(403);
    const stranger = new Browser(t.pool.endpoint);
    expect((await stranger.get('/login')).status).toBe(400);
    expect((await stranger.post('/login', { _csrf: 'x', username: 'gina', password: PASSWORD })).status).toBe(
      400,
    );
  });

  it('an authorize request with an unknown client or redirect_uri (shown, not redirected), or without PKCE (redirected)', async () => {
    const browser = new Browser(t.pool.endpoint);
    const { challenge } = pkce();
    const badClient = await browser.get(authorizeUrl(t.pool, challenge, { client_id: 'nosuchclient' }));
    expect(badClient.status).toBe(400);
    expect(await badClient.text()).toContain('role="alert"');
    const badRedirect = await browser.get(
      authorizeUrl(t.pool, challenge, { redirect_uri: 'https://evil.example/' }),
    );
    expect(badRedirect.status).toBe(400);
    expect(badRedirect.headers.get('location')).toBeNull();
    const broken: Record<string, string>[] = [
      { code_challenge_method: 'plain' },
      { code_challenge: '' },
      { response_type: 'token' },
      { scope: 'openid admin' },
    ];
    for (const extra of broken) {
      const res = await browser.get(authorizeUrl(t.pool, challenge, extra));
      expect(res.status).toBe(302);
      const to = new URL(res.headers.get('location') ?? '');
      expect(`${to.origin}${to.pathname}`).toBe(PAGE);
      expect(to.searchParams.get('error')).toMatch(
        /^(invalid_request|unsupported_response_type|invalid_scope)$/,
      );
      expect(to.searchParams.get('state')).toBe('st-123');
    }
  });

  it('a logout_uri that is not an allowed sign-out URL', async () => {
    const browser = new Browser(t.pool.endpoint);
    const res = await browser.get(
      `/logout?client_id=${t.pool.clientId}&logout_uri=${encodeURIComponent('https://evil.example/')}`,
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect((await browser.get(`/logout?client_id=nope&logout_uri=${encodeURIComponent(PAGE)}`)).status).toBe(
      400,
    );
  });

  it('unknown routes and methods, with 404 and 405', async () => {
    expect((await fetch(`${t.pool.endpoint}/nothing`)).status).toBe(404);
    expect((await fetch(`${t.pool.endpoint}/oauth2/token`)).status).toBe(405);
    expect((await fetch(`${t.pool.endpoint}//oauth2/token`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${t.pool.endpoint}/oauth2/authorize?%zz=%`)).status).toBe(400);
  });
});

describe('a restart', () => {
  it('keeps the pool, its client, its keys and its people', async () => {
    const before = { id: t.pool.userPoolId, client: t.pool.clientId, kid: t.pool.jwks().keys[0]?.kid };
    const again = await startTestUserPool({
      dataDir: t.dataDir,
      seedUser: { username: 'late', email: 'late@example.com' },
    });
    try {
      expect({
        id: again.pool.userPoolId,
        client: again.pool.clientId,
        kid: again.pool.jwks().keys[0]?.kid,
      }).toEqual(before);
      // The seed is made on a pool's first start only.
      expect(again.pool.seeded).toBeUndefined();
      const { verifier, challenge } = pkce();
      const code = await signIn(new Browser(again.pool.endpoint), again.pool, challenge, 'gina', PASSWORD);
      expect(code).toBeTruthy();
      expect(verifier).toBeTruthy();
    } finally {
      await again.pool.close();
    }
  });
});
