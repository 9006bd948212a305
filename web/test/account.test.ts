import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AccountSession, forgetStoredState, isCallback, STATE_PREFIX } from '../src/account.js';
import type { SignInConfig } from '../src/config.js';

/** Web storage as the browser has it, in a Map. */
class FakeStorage implements Storage {
  private readonly items = new Map<string, string>();
  get length(): number {
    return this.items.size;
  }
  clear(): void {
    this.items.clear();
  }
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  keys(): string[] {
    return [...this.items.keys()];
  }
}

const config: SignInConfig = {
  authority: 'http://127.0.0.1:9229/us-east-1_AbCdEf123',
  clientId: 'pageclient123',
  domain: 'http://127.0.0.1:9229',
  identityPoolId: 'us-east-1:00000000-0000-4000-8000-000000000000',
  identityEndpoint: 'http://127.0.0.1:9230',
  providerName: 'cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123',
  redirectUri: 'http://127.0.0.1:3000/',
  logoutUri: 'http://127.0.0.1:3000/',
};

describe('signing in with an account', () => {
  let session: FakeStorage;
  let local: FakeStorage;
  let replaced: string[];
  beforeEach(() => {
    session = new FakeStorage();
    local = new FakeStorage();
    replaced = [];
    vi.stubGlobal('sessionStorage', session);
    vi.stubGlobal('localStorage', local);
    vi.stubGlobal('history', { replaceState: (_s: unknown, _t: string, url: string) => replaced.push(url) });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('knows the managed login coming back, with a code or an error, and nothing else', () => {
    expect(isCallback('http://127.0.0.1:3000/?code=abc&state=xyz')).toBe(true);
    expect(isCallback('http://127.0.0.1:3000/?error=access_denied&state=xyz')).toBe(true);
    expect(isCallback('http://127.0.0.1:3000/?code=abc')).toBe(false);
    expect(isCallback('http://127.0.0.1:3000/')).toBe(false);
  });

  it('removes only what oidc-client-ts leaves in web storage', () => {
    session.setItem(`${STATE_PREFIX}1234`, '{"code_verifier":"v"}');
    local.setItem('oidc.user:x', '{}');
    local.setItem('theme', 'dark');
    forgetStoredState([session, local]);
    expect(session.keys()).toEqual([]);
    expect(local.keys()).toEqual(['theme']);
  });

  it('after the callback, takes code and state out of the address bar and the PKCE record out of sessionStorage', async () => {
    const account = new AccountSession(config, 'us-east-1');
    session.setItem(`${STATE_PREFIX}xyz`, '{"code_verifier":"v"}');
    const callback = vi.spyOn(account.manager, 'signinRedirectCallback').mockResolvedValue({} as never);
    vi.spyOn(account.manager, 'getUser').mockResolvedValue({
      profile: { email: 'ana@example.com' },
    } as never);
    vi.spyOn(account.credentials, 'renew').mockResolvedValue({ accessKeyId: 'ASIA', secretAccessKey: 's' });
    const who = await account.complete('http://127.0.0.1:3000/?code=abc&state=xyz#top');
    expect(who).toBe('ana@example.com');
    expect(callback).toHaveBeenCalledWith('http://127.0.0.1:3000/?code=abc&state=xyz#top');
    expect(replaced).toEqual(['/#top']);
    expect(session.keys()).toEqual([]);
  });

  it('cleans the address bar and storage too when the managed login answers an error', async () => {
    const account = new AccountSession(config, 'us-east-1');
    session.setItem(`${STATE_PREFIX}xyz`, '{}');
    await expect(account.complete('http://127.0.0.1:3000/?error=access_denied&state=xyz')).rejects.toThrow(
      'access_denied',
    );
    expect(replaced).toEqual(['/']);
    expect(session.keys()).toEqual([]);
  });

  it('signs out: revokes the refresh token, forgets the user and the credentials, empties storage, then goes to /logout', async () => {
    const account = new AccountSession(config, 'us-east-1');
    const steps: string[] = [];
    vi.spyOn(account.manager, 'revokeTokens').mockImplementation(async (types) => {
      steps.push(`revoke ${types?.join(',')}`);
    });
    vi.spyOn(account.manager, 'removeUser').mockImplementation(async () => {
      steps.push('removeUser');
    });
    const clear = vi.spyOn(account.credentials, 'clear');
    session.setItem(`${STATE_PREFIX}stale`, '{}');
    local.setItem('oidc.user:stale', '{}');
    await account.signOut((url) => steps.push(`navigate ${url}`));
    expect(clear).toHaveBeenCalled();
    expect(steps).toEqual([
      'revoke refresh_token',
      'removeUser',
      'navigate http://127.0.0.1:9229/logout?client_id=pageclient123&logout_uri=http%3A%2F%2F127.0.0.1%3A3000%2F',
    ]);
    expect([...session.keys(), ...local.keys()]).toEqual([]);
  });

  it('a request in flight during the revocation gets no new credentials, and none are held after', async () => {
    const account = new AccountSession(config, 'us-east-1');
    let release: () => void = () => undefined;
    vi.spyOn(account.manager, 'revokeTokens').mockImplementation(
      () => new Promise<void>((resolve) => (release = resolve)),
    );
    vi.spyOn(account.manager, 'removeUser').mockResolvedValue();
    const getUser = vi.spyOn(account.manager, 'getUser');
    const out = account.signOut(() => undefined);
    // A signer asking now, while the revocation is under way, is refused without asking anyone.
    await expect(account.credentials.provider()).rejects.toThrow();
    release();
    await out;
    expect(getUser).not.toHaveBeenCalled();
    await expect(account.credentials.provider()).rejects.toThrow();
  });

  it('signs out all the same when the revocation fails, and says so', async () => {
    const account = new AccountSession(config, 'us-east-1');
    vi.spyOn(account.manager, 'revokeTokens').mockRejectedValue(new Error('offline'));
    const removeUser = vi.spyOn(account.manager, 'removeUser');
    const navigated: string[] = [];
    await expect(account.signOut((url) => navigated.push(url))).rejects.toThrow('could not be revoked');
    expect(removeUser).toHaveBeenCalled();
    expect(navigated).toHaveLength(1);
  });
});
