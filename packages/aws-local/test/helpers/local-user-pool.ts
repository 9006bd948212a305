import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import {
  type LocalUserPool,
  type LocalUserPoolOptions,
  startLocalUserPool,
} from '../../src/cognito-idp/index.js';
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION } from '../../src/defaults.js';
import { LocalIdentities, type LocalPrincipal } from '../../src/identity.js';
import { makeDataDir } from './local-kms.js';

/** The page the tests' app client sends people back to (nothing listens there: redirects are read, not followed). */
export const PAGE = 'http://127.0.0.1:8765/';

export interface TestUserPool {
  pool: LocalUserPool;
  dataDir: string;
  identities: LocalIdentities;
  client(principal: LocalPrincipal): CognitoIdentityProviderClient;
  stop(): Promise<void>;
}

export async function startTestUserPool(options: Partial<LocalUserPoolOptions> = {}): Promise<TestUserPool> {
  const dataDir = options.dataDir ?? makeDataDir();
  const identities = LocalIdentities.open(dataDir, DEFAULT_ACCOUNT_ID, DEFAULT_REGION);
  const pool = await startLocalUserPool({
    dataDir,
    accountId: DEFAULT_ACCOUNT_ID,
    region: DEFAULT_REGION,
    host: '127.0.0.1',
    port: 0,
    identities,
    maxSkewSeconds: 300,
    callbackUrls: [PAGE],
    logoutUrls: [PAGE],
    ...options,
  });
  const clients: CognitoIdentityProviderClient[] = [];
  return {
    pool,
    dataDir,
    identities,
    client(p) {
      const c = new CognitoIdentityProviderClient({
        endpoint: pool.endpoint,
        region: DEFAULT_REGION,
        credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
        maxAttempts: 1,
      });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await pool.close();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A PKCE verifier and its S256 challenge (RFC 7636). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * A browser as far as managed login needs one: a cookie jar for the pool's origin, and manual
 * redirects (each answer is looked at).
 */
export class Browser {
  readonly jar = new Map<string, string>();
  constructor(readonly origin: string) {}

  private remember(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (value === '' || /Max-Age=0/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  private cookieHeader(): Record<string, string> {
    if (this.jar.size === 0) return {};
    return { cookie: [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ') };
  }

  async get(pathOrUrl: string): Promise<Response> {
    const res = await fetch(new URL(pathOrUrl, this.origin), {
      redirect: 'manual',
      headers: this.cookieHeader(),
    });
    this.remember(res);
    return res;
  }

  async post(path: string, form: Record<string, string>): Promise<Response> {
    const res = await fetch(new URL(path, this.origin), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.cookieHeader() },
      body: new URLSearchParams(form).toString(),
    });
    this.remember(res);
    return res;
  }
}

/** The CSRF token of a sign-in form. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error('no CSRF token in the page');
  return m[1];
}

export function authorizeUrl(
  pool: LocalUserPool,
  challenge: string,
  extra: Record<string, string> = {},
): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: pool.clientId,
    redirect_uri: PAGE,
    state: 'st-123',
    scope: 'openid email profile',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    nonce: 'n-456',
    ...extra,
  });
  return `/oauth2/authorize?${q}`;
}

/** Posts a form to the token endpoint; answers the status and JSON body. */
export async function tokenRequest(
  pool: LocalUserPool,
  form: Record<string, string>,
  path = '/oauth2/token',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${pool.endpoint}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/**
 * Signs in through managed login (the password, then a new one when the pool asks) and answers
 * the code the pool redirected to the page with.
 */
export async function signIn(
  browser: Browser,
  pool: LocalUserPool,
  challenge: string,
  username: string,
  password: string,
  newPassword?: string,
  extra: Record<string, string> = {},
): Promise<string> {
  const start = await browser.get(authorizeUrl(pool, challenge, extra));
  let res = start;
  if (start.headers.get('location') === '/login') {
    const page = await (await browser.get('/login')).text();
    res = await browser.post('/login', { _csrf: csrfOf(page), username, password });
    if (res.status === 200 && newPassword) {
      const html = await res.text();
      if (!html.includes('Change password')) throw new Error(`sign-in refused: ${html}`);
      res = await browser.post('/login', {
        _csrf: csrfOf(html),
        new_password: newPassword,
        confirm_password: newPassword,
      });
    }
  }
  const location = res.headers.get('location');
  if (res.status !== 302 || !location)
    throw new Error(`no redirect after sign-in: ${res.status} ${await res.text()}`);
  const url = new URL(location);
  const code = url.searchParams.get('code');
  if (!code) throw new Error(`no code in ${location}`);
  return code;
}
