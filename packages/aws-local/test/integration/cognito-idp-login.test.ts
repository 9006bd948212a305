import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AdminCreateUserCommand, AdminGetUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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
 * A person signs in through the local managed login as a single-page app drives it: authorize
 * with PKCE, the sign-in page, the forced new password, the code exchange, ID token verified
 * against the JWKS, refresh, userInfo, revoke, logout; then nothing secret is in the data dir.
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/authorization-endpoint.html,
 * https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html)
 */

const TEMP = 'Temp-pass-1!';
const NEW = 'New-pass-2!x';
let t: TestUserPool;
const secrets: string[] = [TEMP, NEW];
/** Every line the process logs while the pool runs. */
const logged: string[] = [];

beforeAll(async () => {
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const)
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(' '));
    });
  t = await startTestUserPool({ seedUser: { username: 'alice', email: 'alice@example.com' } });
  const seeded = t.pool.seeded;
  if (seeded) secrets.push(seeded.temporaryPassword);
  await t.client(t.identities.byName(KEY_MANAGER)).send(
    new AdminCreateUserCommand({
      UserPoolId: t.pool.userPoolId,
      Username: 'frank',
      TemporaryPassword: TEMP,
      MessageAction: 'SUPPRESS',
      UserAttributes: [
        { Name: 'email', Value: 'frank@example.com' },
        { Name: 'email_verified', Value: 'true' },
      ],
    }),
  );
});
afterAll(async () => {
  await t.stop();
  vi.restoreAllMocks();
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('managed login with PKCE, as a single-page app drives it', () => {
  it('serves an accessible sign-in page without script, under a strict CSP', async () => {
    const browser = new Browser(t.pool.endpoint);
    const start = await browser.get(authorizeUrl(t.pool, pkce().challenge));
    expect(start.status).toBe(302);
    expect(start.headers.get('location')).toBe('/login');
    const tx = start.headers.getSetCookie().join('\n');
    expect(tx).toMatch(/HttpOnly/);
    expect(tx).toMatch(/SameSite=Lax/);
    const page = await browser.get('/login');
    expect(page.headers.get('content-security-policy')).toBe(
      // The redirect to the app after the form is a form-action target too (Chromium enforces it).
      `default-src 'none'; style-src 'self'; form-action 'self' ${new URL(PAGE).origin}; frame-ancestors 'none'`,
    );
    const html = await page.text();
    expect(html).toContain('<html lang="en">');
    expect(html).toMatch(/<h1>Sign in<\/h1>/);
    expect(html).toContain('<label for="username">');
    expect(html).toContain('<label for="password">');
    expect(html).not.toMatch(/<script|\son[a-z]+=/i);
    const css = await browser.get('/login.css');
    expect(css.headers.get('content-type')).toContain('text/css');

    const wrong = await browser.post('/login', {
      _csrf: csrfOf(html),
      username: 'frank',
      password: 'Nope-nope-1!',
    });
    const wrongHtml = await wrong.text();
    expect(wrongHtml).toContain('role="alert"');
    expect(wrongHtml).toContain('Incorrect username or password.');
    const unknown = await browser.post('/login', {
      _csrf: csrfOf(wrongHtml),
      username: 'nobody',
      password: TEMP,
    });
    expect(await unknown.text()).toContain('Incorrect username or password.');
  });

  it('forces a new password, exchanges the code, verifies, refreshes, revokes and signs out', async () => {
    const browser = new Browser(t.pool.endpoint);
    const { verifier, challenge } = pkce();
    await browser.get(authorizeUrl(t.pool, challenge));
    const html = await (await browser.get('/login')).text();
    const change = await browser.post('/login', { _csrf: csrfOf(html), username: 'frank', password: TEMP });
    const changeHtml = await change.text();
    expect(changeHtml).toContain('<h1>Change password</h1>');
    expect(changeHtml).toContain('<label for="new_password">');
    // The policy is checked, and the error shown.
    const weak = await browser.post('/login', {
      _csrf: csrfOf(changeHtml),
      new_password: 'weak',
      confirm_password: 'weak',
    });
    const weakHtml = await weak.text();
    expect(weakHtml).toContain('role="alert"');
    expect(weakHtml).toContain('Password not long enough');
    const done = await browser.post('/login', {
      _csrf: csrfOf(weakHtml),
      new_password: NEW,
      confirm_password: NEW,
    });
    expect(done.status).toBe(302);
    const back = new URL(done.headers.get('location') ?? '');
    expect(`${back.origin}${back.pathname}`).toBe(PAGE);
    expect(back.searchParams.get('state')).toBe('st-123');
    const code = back.searchParams.get('code') ?? '';
    const confirmed = await t
      .client(t.identities.byName(KEY_MANAGER))
      .send(new AdminGetUserCommand({ UserPoolId: t.pool.userPoolId, Username: 'frank' }));
    expect(confirmed.UserStatus).toBe('CONFIRMED');
    secrets.push(code);
    const session = done.headers.getSetCookie().find((c) => c.startsWith('eaas-local-cognito-session='));
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Lax/);

    // The browser page calls the token endpoint across origins.
    const preflight = await fetch(`${t.pool.endpoint}/oauth2/token`, {
      method: 'OPTIONS',
      headers: { origin: new URL(PAGE).origin, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(new URL(PAGE).origin);

    const exchanged = await tokenRequest(t.pool, {
      grant_type: 'authorization_code',
      client_id: t.pool.clientId,
      code,
      redirect_uri: PAGE,
      code_verifier: verifier,
    });
    expect(exchanged.status).toBe(200);
    const { id_token, access_token, refresh_token } = exchanged.body as Record<string, string>;
    expect(exchanged.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    secrets.push(id_token ?? '', access_token ?? '', refresh_token ?? '');

    const discovery = (await (
      await fetch(`${t.pool.issuer}/.well-known/openid-configuration`)
    ).json()) as Record<string, string>;
    expect(discovery.issuer).toBe(t.pool.issuer);
    expect(discovery.token_endpoint).toBe(`${t.pool.endpoint}/oauth2/token`);
    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri ?? ''));
    const id = await jwtVerify(id_token ?? '', jwks, { issuer: t.pool.issuer, audience: t.pool.clientId });
    expect(decodeProtectedHeader(id_token ?? '')).toMatchObject({
      alg: 'RS256',
      kid: t.pool.jwks().keys[0]?.kid,
    });
    expect(id.payload).toMatchObject({
      token_use: 'id',
      'cognito:username': 'frank',
      email: 'frank@example.com',
      email_verified: true,
      nonce: 'n-456',
    });
    for (const claim of ['sub', 'origin_jti', 'event_id', 'auth_time', 'exp', 'iat', 'jti'])
      expect(id.payload).toHaveProperty(claim);
    const access = await jwtVerify(access_token ?? '', jwks, { issuer: t.pool.issuer });
    expect(access.payload).toMatchObject({
      token_use: 'access',
      client_id: t.pool.clientId,
      username: 'frank',
      scope: 'openid email profile',
      sub: id.payload.sub,
      origin_jti: id.payload.origin_jti,
    });

    const info = await fetch(`${t.pool.endpoint}/oauth2/userInfo`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({
      sub: id.payload.sub,
      email: 'frank@example.com',
      username: 'frank',
    });

    const refreshed = await tokenRequest(t.pool, {
      grant_type: 'refresh_token',
      client_id: t.pool.clientId,
      refresh_token: refresh_token ?? '',
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).not.toHaveProperty('refresh_token');
    const access2 = String(refreshed.body.access_token);
    secrets.push(String(refreshed.body.id_token), access2);

    // A second authorize rides the managed-login session: no password asked.
    const again = pkce();
    const second = await browser.get(authorizeUrl(t.pool, again.challenge));
    expect(second.status).toBe(302);
    expect(new URL(second.headers.get('location') ?? '').searchParams.get('code')).toBeTruthy();

    // Revoking the refresh token revokes the access tokens minted from it.
    const revoked = await tokenRequest(
      t.pool,
      { token: refresh_token ?? '', client_id: t.pool.clientId },
      '/oauth2/revoke',
    );
    expect(revoked.status).toBe(200);
    for (const token of [access_token, access2]) {
      const after = await fetch(`${t.pool.endpoint}/oauth2/userInfo`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(after.status).toBe(401);
    }
    const refreshAfter = await tokenRequest(t.pool, {
      grant_type: 'refresh_token',
      client_id: t.pool.clientId,
      refresh_token: refresh_token ?? '',
    });
    expect(refreshAfter).toEqual({ status: 400, body: { error: 'invalid_grant' } });

    // Sign-out ends the session: the next authorize asks for the password again.
    const out = await browser.get(
      `/logout?client_id=${t.pool.clientId}&logout_uri=${encodeURIComponent(PAGE)}`,
    );
    expect(out.status).toBe(302);
    expect(out.headers.get('location')).toBe(PAGE);
    expect(out.headers.getSetCookie().join()).toMatch(/eaas-local-cognito-session=;.*Max-Age=0/);
    expect((await browser.get(authorizeUrl(t.pool, pkce().challenge))).headers.get('location')).toBe(
      '/login',
    );

    // With the new password, frank signs in directly.
    const fresh = new Browser(t.pool.endpoint);
    const p = pkce();
    const code2 = await signIn(fresh, t.pool, p.challenge, 'frank', NEW);
    secrets.push(code2);
  });

  it('keeps no password, code or token in clear in the data dir or in any log line', () => {
    for (const line of logged)
      for (const secret of secrets.filter((s) => s.length > 0)) expect(line.includes(secret)).toBe(false);
    const files = filesUnder(t.dataDir);
    expect(files.some((f) => f.endsWith(join('cognito-idp', 'pool.json')))).toBe(true);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const secret of secrets.filter((s) => s.length > 0))
        expect(text.includes(secret), `${file}`).toBe(false);
      if (file.includes('cognito-idp')) expect(statSync(file).mode & 0o777).toBe(0o600);
    }
  });
});
