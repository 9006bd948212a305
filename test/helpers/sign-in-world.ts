import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers';
import { KEY_MANAGER } from '@eaas/aws-local';
import { AWS_CLI } from '@eaas/aws-local/testing/aws-cli';
import { EaasClient } from '@eaas/client';
import type { Page } from 'playwright-core';
import type { TestStack } from './local-stack.js';

/**
 * What the sign-in tests of the upload page share: the page's `config.json` (the contract between
 * the page and the stack), an operator creating people with the AWS CLI, the browser's walk through
 * the managed login, the tokens and credentials the browser received (read off the wire, to prove
 * later that none is left), and the API as a person from Node with the identity pool's credentials.
 */

const exec = promisify(execFile);

export interface SignInSettings {
  authority: string;
  clientId: string;
  domain: string;
  identityPoolId: string;
  identityEndpoint?: string;
  providerName: string;
  redirectUri: string;
  logoutUri: string;
}

export interface PageSettings {
  apiEndpoint?: string;
  region: string;
  signIn: SignInSettings;
  pageKey: string;
}

export interface Person {
  username: string;
  email: string;
  temporaryPassword: string;
  password: string;
}

export async function pageSettings(t: TestStack): Promise<PageSettings> {
  const res = await fetch(`${t.api}/config.json`);
  const config = (await res.json()) as PageSettings;
  if (!config.signIn) throw new Error('config.json has no signIn: the stack serves no user pool');
  return config;
}

export const userPoolIdOf = (s: PageSettings) => new URL(s.signIn.authority).pathname.split('/').pop() ?? '';

/** `aws cognito-idp admin-create-user`, as the docs tell an operator, with myKeyManager's profile. */
export async function createPerson(t: TestStack, s: PageSettings, person: Person): Promise<unknown> {
  const { stdout } = await exec(
    AWS_CLI,
    [
      'cognito-idp',
      'admin-create-user',
      '--profile',
      KEY_MANAGER,
      '--region',
      s.region,
      '--endpoint-url',
      s.signIn.domain,
      '--user-pool-id',
      userPoolIdOf(s),
      '--username',
      person.username,
      '--user-attributes',
      `Name=email,Value=${person.email}`,
      'Name=email_verified,Value=true',
      '--temporary-password',
      person.temporaryPassword,
      '--message-action',
      'SUPPRESS',
      '--output',
      'json',
    ],
    {
      env: {
        PATH: process.env.PATH,
        HOME: t.dataDir,
        AWS_SHARED_CREDENTIALS_FILE: `${t.dataDir}/credentials`,
        AWS_CONFIG_FILE: `${t.dataDir}/config`,
        AWS_PAGER: '',
      },
      timeout: 60_000,
    },
  );
  return JSON.parse(stdout);
}

/** What went over the wire to and from the user pool and the identity pool, as the tests see it. */
export class Wire {
  readonly tokens: { id_token?: string; access_token?: string; refresh_token?: string; grant: string }[] = [];
  readonly credentials: { AccessKeyId: string; SecretKey: string; SessionToken: string }[] = [];
  readonly getCredentialsCalls: number[] = [];
  readonly identityIds: string[] = [];
  readonly apiTokens: { path: string; sessionToken: string }[] = [];

  constructor(
    private readonly s: PageSettings,
    api: string,
  ) {
    this.apiOrigin = new URL(api).origin;
  }
  private readonly apiOrigin: string;

  watch(page: Page): void {
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.origin === this.apiOrigin && url.pathname.startsWith('/v1/')) {
        const sessionToken = r.headers()['x-amz-security-token'];
        if (sessionToken) this.apiTokens.push({ path: `${r.method()} ${url.pathname}`, sessionToken });
      }
    });
    page.on('response', async (r) => {
      const url = r.url();
      const req = r.request();
      if (url === `${this.s.signIn.domain}/oauth2/token` && req.method() === 'POST' && r.ok()) {
        const grant = new URLSearchParams(req.postData() ?? '').get('grant_type') ?? '';
        this.tokens.push({ ...((await r.json()) as object), grant });
      }
      const target = req.headers()['x-amz-target'] ?? '';
      if (target.endsWith('.GetId') && r.ok()) {
        this.identityIds.push(((await r.json()) as { IdentityId: string }).IdentityId);
      }
      if (target.endsWith('GetCredentialsForIdentity') && r.ok()) {
        this.getCredentialsCalls.push(Date.now());
        this.credentials.push(((await r.json()) as { Credentials: Wire['credentials'][number] }).Credentials);
      }
    });
  }

  /** Every secret the browser was given: tokens, and AWS keys with their session tokens. */
  secrets(): string[] {
    return [
      ...this.tokens.flatMap((t) => [t.id_token, t.access_token, t.refresh_token]),
      ...this.credentials.flatMap((c) => [c.AccessKeyId, c.SecretKey, c.SessionToken]),
    ].filter((s): s is string => typeof s === 'string' && s.length > 0);
  }

  lastRefreshToken(): string {
    const token = [...this.tokens].reverse().find((t) => t.refresh_token)?.refresh_token;
    if (!token) throw new Error('no refresh token went over the wire');
    return token;
  }
}

/** The token endpoint's answer to a refresh grant, from Node. */
export async function refreshGrant(
  s: PageSettings,
  refreshToken: string,
): Promise<{ status: number; body: { id_token?: string; error?: string } }> {
  const res = await fetch(`${s.signIn.domain}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: s.signIn.clientId,
      refresh_token: refreshToken,
    }).toString(),
  });
  return { status: res.status, body: (await res.json()) as { id_token?: string; error?: string } };
}

/** A person's identity-pool credentials from Node (the SDK's provider, as the page uses it) and the API as them. */
export async function asPerson(
  t: TestStack,
  s: PageSettings,
  refreshToken: string,
): Promise<{
  client: EaasClient;
  identityId: string;
  credentials: Awaited<ReturnType<ReturnType<typeof fromCognitoIdentityPool>>>;
}> {
  const { status, body } = await refreshGrant(s, refreshToken);
  if (status !== 200 || !body.id_token) throw new Error(`refresh grant answered ${status} ${body.error}`);
  const provider = fromCognitoIdentityPool({
    identityPoolId: s.signIn.identityPoolId,
    logins: { [s.signIn.providerName]: body.id_token },
    clientConfig: {
      region: s.region,
      ...(s.signIn.identityEndpoint ? { endpoint: s.signIn.identityEndpoint } : {}),
    },
  });
  const credentials = await provider();
  const client = new EaasClient({ endpoint: t.api, region: s.region, credentials });
  return { client, identityId: credentials.identityId, credentials };
}

/** Through the managed login: the page's "Sign in", the pool's form, and the new password if asked. */
export async function signInThroughManagedLogin(
  page: Page,
  t: TestStack,
  s: PageSettings,
  person: Person,
  options: { firstTime: boolean; onScreen?: (name: string) => Promise<void> },
): Promise<void> {
  await page.goto(`${t.api}/`);
  await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
  await options.onScreen?.('page-sign-in');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((url) => url.origin === new URL(s.signIn.domain).origin && url.pathname === '/login');
  await options.onScreen?.('managed-login');
  await page.getByLabel('Username').fill(person.username);
  await page
    .getByLabel('Password', { exact: true })
    .fill(options.firstTime ? person.temporaryPassword : person.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (options.firstTime) {
    await page.getByLabel('New password', { exact: true }).waitFor();
    await options.onScreen?.('new-password');
    await page.getByLabel('New password', { exact: true }).fill(person.password);
    await page.getByLabel('Enter new password again').fill(person.password);
    await page.getByRole('button', { name: 'Change password' }).click();
  }
  await page.locator('#principal', { hasText: person.email }).waitFor({ timeout: 20_000 });
}

interface Axe {
  violations: { id: string; impact: string | null; help: string; nodes: { target: unknown }[] }[];
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page as it is. */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const result = (await page.evaluate('axe.run(document, { resultTypes: ["violations"] })')) as Axe;
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}

/**
 * Every string the page's own scripts could reach from `window` (its globals, a few levels deep),
 * with the DOM, the address, history state, window.name and the navigation entries.
 */
export const REACHABLE_STRINGS = `(() => {
  const out = [document.documentElement.outerHTML, location.href, String(history.state), window.name, document.cookie];
  for (const e of performance.getEntries()) out.push(e.name);
  const seen = new WeakSet();
  const walk = (value, depth) => {
    if (typeof value === 'string') { out.push(value); return; }
    if (!value || (typeof value !== 'object' && typeof value !== 'function') || depth > 3 || seen.has(value)) return;
    if (value instanceof Node) return;
    // The browser's own functions hold nothing of the page's.
    if (typeof value === 'function' && /[native code]/.test(Function.prototype.toString.call(value))) return;
    seen.add(value);
    let names = [];
    try { names = Object.getOwnPropertyNames(value); } catch { return; }
    for (const name of names.slice(0, 500)) {
      let v;
      try { v = value[name]; } catch { continue; }
      walk(v, depth + 1);
    }
  };
  for (const name of Object.getOwnPropertyNames(window)) {
    let v;
    try { v = window[name]; } catch { continue; }
    if (v === window || v === document) continue;
    walk(v, 1);
  }
  return out;
})()`;
