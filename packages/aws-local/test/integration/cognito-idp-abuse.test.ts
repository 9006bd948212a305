import { AdminCreateUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_MANAGER } from '../../src/identity.js';
import {
  authorizeUrl,
  Browser,
  csrfOf,
  pkce,
  signIn,
  startTestUserPool,
  type TestUserPool,
} from '../helpers/local-user-pool.js';

/**
 * Managed login against someone who means harm: a stale new-password form, guessed passwords,
 * many sign-in transactions, many refresh tokens, and the session cookie's reach.
 */

const TEMP = 'Temp-pass-1!';
let t: TestUserPool;

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
  t = await startTestUserPool();
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
