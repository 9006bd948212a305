import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdminCreateUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TRANSACTIONS } from '../../src/cognito-idp/state.js';
import { MAX_REFRESH_TOKENS } from '../../src/cognito-idp/store.js';
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
 * Managed login against someone who means harm: a stale new-password form, guessed passwords,
 * many sign-in transactions, many refresh tokens, and the session cookie's reach.
 */

const TEMP = 'Temp-pass-1!';
let t: TestUserPool;
let clock = Date.now();

async function createUser(username: string): Promise<void> {
  await t.client(t.identities.byName(KEY_MANAGER)).send(
    new AdminCreateUserCommand({
      UserPoolId: t.pool.userPoolId,
      Username: username,
      TemporaryPassword: TEMP,
      MessageAction: 'SUPPRESS',
    }),
  );
}

/** Opens the sign-in page and posts a password; answers the response. */
async function postPassword(browser: Browser, username: string, password: string) {
  await browser.get(authorizeUrl(t.pool, pkce().challenge));
  const page = await (await browser.get('/login')).text();
  return browser.post('/login', { _csrf: csrfOf(page), username, password });
}

beforeAll(async () => {
  t = await startTestUserPool({ now: () => new Date(clock) });
});
afterAll(async () => {
  await t.stop();
});

describe('the new-password form', () => {
  it('is refused once the password it was opened for has changed', async () => {
    await createUser('gina');
    // Someone who saw the temporary password opens the form and waits.
    const attacker = new Browser(t.pool.endpoint);
    const form = await (await postPassword(attacker, 'gina', TEMP)).text();
    expect(form).toContain('Change password');
    expect(form).toMatch(/type="hidden" name="username" autocomplete="username" value="gina"/);
    // Gina chooses her own password.
    await signIn(new Browser(t.pool.endpoint), t.pool, pkce().challenge, 'gina', TEMP, 'Gina-own-pw1!');
    const stale = await attacker.post('/login', {
      _csrf: csrfOf(form),
      new_password: 'Attacker-pw1!',
      confirm_password: 'Attacker-pw1!',
    });
    expect(stale.status).toBe(400);
    expect(stale.headers.get('location')).toBeNull();
    // Her password stands.
    const code = await signIn(
      new Browser(t.pool.endpoint),
      t.pool,
      pkce().challenge,
      'gina',
      'Gina-own-pw1!',
    );
    expect(code).toBeTruthy();
  });
});

describe('the managed-login session cookie', () => {
  it('has a name of its own and reaches only /oauth2/authorize and /logout', async () => {
    await createUser('hugo');
    const browser = new Browser(t.pool.endpoint);
    await browser.get(authorizeUrl(t.pool, pkce().challenge));
    let res = await browser.post('/login', {
      _csrf: csrfOf(await (await browser.get('/login')).text()),
      username: 'hugo',
      password: TEMP,
    });
    res = await browser.post('/login', {
      _csrf: csrfOf(await res.text()),
      new_password: 'Hugo-own-pw1!',
      confirm_password: 'Hugo-own-pw1!',
    });
    expect(res.status).toBe(302);
    const set = res.headers.getSetCookie();
    const session = set.filter((c) => c.startsWith('eaas-local-cognito-session='));
    expect(session.map((c) => /Path=([^;]+)/.exec(c)?.[1]).sort()).toEqual(['/logout', '/oauth2/authorize']);
    for (const c of session) expect(c).toMatch(/HttpOnly; SameSite=Lax/);
    expect(set.some((c) => /^cognito=[^;]/.test(c))).toBe(false);
  });
});

describe('wrong passwords', () => {
  it('end the sign-in page after five, and lock the username out for a while, known or not', async () => {
    await createUser('ivan');
    const browser = new Browser(t.pool.endpoint);
    await browser.get(authorizeUrl(t.pool, pkce().challenge));
    let page = await (await browser.get('/login')).text();
    for (let i = 0; i < 4; i++) {
      const res = await browser.post('/login', {
        _csrf: csrfOf(page),
        username: 'ivan',
        password: `wrong-${i}`,
      });
      page = await res.text();
      expect(page).toContain('Incorrect username or password.');
    }
    const fifth = await browser.post('/login', {
      _csrf: csrfOf(page),
      username: 'ivan',
      password: 'wrong-5',
    });
    expect(fifth.status).toBe(400);
    expect(await fifth.text()).toContain('Password attempts exceeded.');
    // The page is spent: even the right password is not taken on it.
    const spent = await browser.post('/login', { _csrf: csrfOf(page), username: 'ivan', password: TEMP });
    expect(spent.status).toBe(400);
    // On a new page, the right password waits out the lockout.
    const locked = await postPassword(new Browser(t.pool.endpoint), 'IVAN', TEMP);
    expect(await locked.text()).toContain('Password attempts exceeded.');
    // An unknown username is locked out the same way.
    for (let i = 0; i < 5; i++) await postPassword(new Browser(t.pool.endpoint), 'nobody', `wrong-${i}`);
    expect(await (await postPassword(new Browser(t.pool.endpoint), 'nobody', 'x')).text()).toContain(
      'Password attempts exceeded.',
    );
    clock += 2_000;
    const later = await postPassword(new Browser(t.pool.endpoint), 'ivan', TEMP);
    expect(await later.text()).toContain('Change password');
  });
});

describe('sign-in transactions', () => {
  it('are refused when the table is full, and no one else’s is evicted', async () => {
    const own = await startTestUserPool();
    try {
      const victim = new Browser(own.pool.endpoint);
      await victim.get(authorizeUrl(own.pool, pkce().challenge));
      const csrf = csrfOf(await (await victim.get('/login')).text());
      const url = `${own.pool.endpoint}${authorizeUrl(own.pool, pkce().challenge)}`;
      let statuses: number[] = [];
      for (let i = 0; i < MAX_TRANSACTIONS; i += 100)
        statuses = statuses.concat(
          await Promise.all(
            Array.from({ length: 100 }, () => fetch(url, { redirect: 'manual' }).then((r) => r.status)),
          ),
        );
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
      const full = await fetch(url, { redirect: 'manual' });
      expect(full.status).toBe(503);
      expect(full.headers.get('retry-after')).toBe('60');
      expect(await full.text()).toContain('Too many sign-ins are in progress');
      // The victim's page still works.
      const res = await victim.post('/login', { _csrf: csrf, username: 'nobody', password: 'x' });
      expect(await res.text()).toContain('Incorrect username or password.');
    } finally {
      await own.stop();
    }
  });
});

describe('refresh tokens', () => {
  it('are held at most MAX_REFRESH_TOKENS per user and client, the oldest forgotten and so revoked', async () => {
    await createUser('jane');
    const browser = new Browser(t.pool.endpoint);
    let p = pkce();
    let code = await signIn(browser, t.pool, p.challenge, 'jane', TEMP, 'Jane-own-pw1!');
    const exchange = async () => {
      const answer = await tokenRequest(t.pool, {
        grant_type: 'authorization_code',
        client_id: t.pool.clientId,
        code,
        redirect_uri: PAGE,
        code_verifier: p.verifier,
      });
      expect(answer.status).toBe(200);
      return answer.body as { refresh_token: string; access_token: string };
    };
    const refresh = async (token: string) =>
      (
        await tokenRequest(t.pool, {
          grant_type: 'refresh_token',
          client_id: t.pool.clientId,
          refresh_token: token,
        })
      ).status;
    const { refresh_token: first, access_token: firstAccess } = await exchange();
    for (let i = 0; i < MAX_REFRESH_TOKENS + 4; i++) {
      p = pkce();
      // The managed-login session signs her in again without a password.
      code = await signIn(browser, t.pool, p.challenge, 'jane', '');
      await exchange();
    }
    const sub = (
      JSON.parse(readFileSync(join(t.dataDir, 'cognito-idp', 'pool.json'), 'utf8')) as Pool
    ).users.find((u) => u.username === 'jane')?.sub;
    const held = () =>
      (
        JSON.parse(readFileSync(join(t.dataDir, 'cognito-idp', 'pool.json'), 'utf8')) as Pool
      ).refreshTokens.filter((r) => r.sub === sub);
    expect(held().length).toBe(MAX_REFRESH_TOKENS);
    expect(await refresh(first)).toBe(400);
    // What was minted from the forgotten one is revoked with it.
    expect(
      (
        await fetch(`${t.pool.endpoint}/oauth2/userInfo`, {
          headers: { authorization: `Bearer ${firstAccess}` },
        })
      ).status,
    ).toBe(401);
  });
});

interface Pool {
  users: { username: string; sub: string }[];
  refreshTokens: { sub: string; revoked: boolean }[];
}
