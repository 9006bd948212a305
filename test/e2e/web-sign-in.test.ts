import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import {
  asPerson,
  createPerson,
  type PageSettings,
  type Person,
  pageSettings,
  REACHABLE_STRINGS,
  refreshGrant,
  seriousViolations,
  signInThroughManagedLogin,
  Wire,
} from '../helpers/sign-in-world.js';

/**
 * People sign in to the upload page as in production, in Debian's Chromium against the whole local
 * stack: an operator creates them with the AWS CLI in the local user pool; each signs in through
 * the managed login (choosing a new password the first time), the page exchanges the ID token for
 * identity-pool credentials and works with them; one person's documents are the other's to neither
 * see nor touch; a session whose tokens and credentials expire mid-upload is renewed without losing
 * the upload; and sign-out leaves nothing behind. Tokens and credentials live 20 s here.
 */

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const MiB = 1024 * 1024;
const LIFETIME_S = 20;
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt`);

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const JWT = /eyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]+/;

describe.skipIf(!haveChromium)('people sign in to the upload page with an account, in Chromium', () => {
  let t: TestStack;
  let s: PageSettings;
  let browser: Browser;
  const run = randomBytes(3).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'eaas-signin-'));
  const file = (name: string, size: number) => {
    const bytes = randomBytes(size);
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return { name, path, bytes };
  };
  const small = file(`lettre ${run}.bin`, 1 * MiB);
  const large = file(`dossier-${run}.bin`, 20 * MiB);
  const ana: Person = {
    username: `ana-${run}`,
    email: `ana-${run}@example.com`,
    temporaryPassword: `Tmp-${run}-Aa1!`,
    password: `Ana-${run}-Long-Pass-1!`,
  };
  const bob: Person = {
    username: `bob-${run}`,
    email: `bob-${run}@example.com`,
    temporaryPassword: `Tmp-${run}-Bb2!`,
    password: `Bob-${run}-Long-Pass-2!`,
  };
  let anaContext: BrowserContext;
  let anaPage: Page;
  let anaWire: Wire;
  const consoleLines: string[] = [];

  const item = (p: Page, name: string) => p.locator(`#document-list li[data-key="${name}"]`);
  const row = (p: Page, name: string) => p.locator(`#upload-list li[data-file="${name}"]`);

  beforeAll(async () => {
    t = await startTestStack({
      tokenSeconds: { id: LIFETIME_S, access: LIFETIME_S },
      credentialSeconds: LIFETIME_S,
    });
    s = await pageSettings(t);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    anaContext = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
    anaPage = await anaContext.newPage();
    anaWire = new Wire(s, t.api);
    anaWire.watch(anaPage);
    anaPage.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    anaPage.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an operator adds two people with the AWS CLI, each with a temporary password', async () => {
    for (const person of [ana, bob]) {
      const created = (await createPerson(t, s, person)) as {
        User: { Username: string; UserStatus: string };
      };
      expect(created.User.Username).toBe(person.username);
      expect(created.User.UserStatus).toBe('FORCE_CHANGE_PASSWORD');
    }
  });

  it('Ana signs in through the managed login, must choose a new password, and axe finds nothing serious on the way', async () => {
    const violations: Record<string, string[]> = {};
    mkdirSync(ARTIFACTS, { recursive: true });
    await signInThroughManagedLogin(anaPage, t, s, ana, {
      firstTime: true,
      onScreen: async (name) => {
        violations[name] = await seriousViolations(anaPage);
        await anaPage.screenshot({ path: join(ARTIFACTS, `web-sign-in-${name}.png`), fullPage: true });
        if (name === 'page-sign-in') {
          // The operators' access-key form is there, folded under "Advanced".
          await anaPage.getByText('Advanced: sign in with access keys').click();
          await anaPage.getByLabel('Access key ID').waitFor();
          violations['page-advanced'] = await seriousViolations(anaPage);
          await anaPage.getByText('Advanced: sign in with access keys').click();
          await anaPage.setViewportSize({ width: 375, height: 812 });
          violations['page-phone'] = await seriousViolations(anaPage);
          expect(await anaPage.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
          await anaPage.setViewportSize({ width: 1100, height: 900 });
        }
      },
    });
    expect(violations).toEqual({
      'page-sign-in': [],
      'page-advanced': [],
      'page-phone': [],
      'managed-login': [],
      'new-password': [],
    });
    // Back on the page, the code and state are gone from the address bar; people pick no key.
    expect(anaPage.url()).toBe(`${t.api}/`);
    expect(await anaPage.locator('#key-field').isHidden()).toBe(true);
    expect(await anaPage.locator('#other-key').isHidden()).toBe(true);
    expect(anaWire.tokens[0]?.grant).toBe('authorization_code');
    expect(anaWire.credentials.length).toBeGreaterThan(0);
  });

  it('Ana uploads 1 MiB in one PUT and 20 MiB in parts, lists, downloads both byte for byte, and deletes one', async () => {
    await anaPage.getByLabel('Choose files, or drop them here').setInputFiles([small.path, large.path]);
    await anaPage.getByRole('button', { name: 'Upload', exact: true }).click();
    for (const f of [small, large]) {
      await row(anaPage, f.name)
        .and(anaPage.locator('[data-state="sealed"], [data-state="failed"]'))
        .waitFor();
      expect(
        await row(anaPage, f.name).getAttribute('data-state'),
        (await row(anaPage, f.name).textContent()) ?? '',
      ).toBe('sealed');
    }
    for (const f of [small, large]) {
      await item(anaPage, f.name).waitFor();
      const [download] = await Promise.all([
        anaPage.waitForEvent('download'),
        item(anaPage, f.name)
          .getByRole('button', { name: `Download ${f.name}` })
          .click(),
      ]);
      expect(readFileSync(await download.path()).equals(f.bytes)).toBe(true);
      expect(await item(anaPage, f.name).locator('[data-sha256]').getAttribute('data-sha256')).toBe(
        sha256(f.bytes),
      );
    }
    await item(anaPage, small.name)
      .getByRole('button', { name: `Delete ${small.name}` })
      .click();
    await anaPage
      .getByRole('dialog', { name: 'Delete this document?' })
      .getByRole('button', { name: 'Delete' })
      .click();
    await expect.poll(() => item(anaPage, small.name).count()).toBe(0);
    expect(await item(anaPage, large.name).count()).toBe(1);
  });

  it('renews an expired session during an upload without losing it: new ID token and new credentials mid-way', async () => {
    const slow = file(`slow-${run}.bin`, 17 * MiB);
    const s3Origin = new URL(t.stack.s3.endpoint).origin;
    // The parts wait on the wire longer than the tokens and the credentials live.
    const held: (() => Promise<void>)[] = [];
    const parts = (url: URL) => url.origin === s3Origin && url.searchParams.has('partNumber');
    await anaPage.route(parts, (route) => {
      held.push(() => route.continue());
    });
    const before = { tokens: anaWire.tokens.length, credentials: anaWire.credentials.length };
    const started = anaWire.apiTokens.length;
    await anaPage.getByLabel('Choose files, or drop them here').setInputFiles([slow.path]);
    await anaPage.getByRole('button', { name: 'Upload', exact: true }).click();
    await expect.poll(() => held.length).toBeGreaterThan(0);
    await anaPage.waitForTimeout((LIFETIME_S + 3) * 1000);
    for (const go of held) await go();
    await anaPage.unroute(parts);
    await row(anaPage, slow.name)
      .and(anaPage.locator('[data-state="sealed"], [data-state="failed"]'))
      .waitFor();
    expect(
      await row(anaPage, slow.name).getAttribute('data-state'),
      (await row(anaPage, slow.name).textContent()) ?? '',
    ).toBe('sealed');
    // The refresh token renewed the ID token, and the identity pool gave new credentials.
    expect(anaWire.tokens.slice(before.tokens).map((x) => x.grant)).toContain('refresh_token');
    expect(anaWire.credentials.length).toBeGreaterThan(before.credentials);
    // The upload was created with one session's credentials and completed with later ones.
    const calls = anaWire.apiTokens.slice(started);
    const create = calls.find((c) => c.path === 'POST /v1/uploads');
    const complete = calls.find((c) => c.path.endsWith('/complete'));
    expect(create && complete).toBeTruthy();
    expect(complete?.sessionToken).not.toBe(create?.sessionToken);
    await item(anaPage, slow.name).waitFor();
  });

  it('Bob signs in and sees none of it; each of his direct API calls on Ana’s documents is refused', async () => {
    const bobContext = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    try {
      const bobPage = await bobContext.newPage();
      const bobWire = new Wire(s, t.api);
      bobWire.watch(bobPage);
      await signInThroughManagedLogin(bobPage, t, s, bob, { firstTime: true });
      await bobPage.locator('#documents-status', { hasText: 'No documents yet' }).waitFor();
      expect(await bobPage.locator('#document-list li').count()).toBe(0);

      // From Node, with Bob's identity-pool credentials.
      const anaId = anaWire.identityIds[0] ?? '';
      expect(new Set(anaWire.identityIds)).toEqual(new Set([anaId]));
      const asBob = await asPerson(t, s, bobWire.lastRefreshToken());
      expect(asBob.identityId).not.toBe(anaId);
      const list = await asBob.client.raw('GET', '/v1/objects');
      expect(list.status).toBe(200);
      expect(JSON.stringify(list.body)).not.toContain(large.name);
      const stored = `people/${anaId}/${large.name}`;
      const attempts: [string, string, unknown?][] = [
        ['POST', '/v1/downloads', { key: stored }],
        ['POST', '/v1/downloads', { key: `../${anaId}/${large.name}` }],
        ['GET', `/v1/objects/${encodeURIComponent(stored)}`],
        ['HEAD', `/v1/objects/${encodeURIComponent(stored)}`],
        ['DELETE', `/v1/objects/${encodeURIComponent(stored)}`],
        ['POST', '/v1/jobs/re-encrypt', { destinationKeyId: s.pageKey, sourceKeyId: s.pageKey }],
        [
          'POST',
          '/v1/uploads',
          { key: large.name, keyId: s.pageKey, size: 1, context: { 'eaas:space': anaId } },
        ],
      ];
      for (const [method, path, body] of attempts) {
        const res = await asBob.client.raw(method, path, body);
        expect([400, 403, 404], `${method} ${path} ${JSON.stringify(body)}`).toContain(res.status);
      }
      // Replacing "her" document by name makes one in his own space, which he then drops.
      const replace = await asBob.client.raw('POST', '/v1/uploads', {
        key: large.name,
        keyId: s.pageKey,
        size: 1,
        overwrite: true,
      });
      expect(replace.status, JSON.stringify(replace.body)).toBe(200);
      const upload = replace.body as { id: string; key: string };
      expect(upload.key).toBe(large.name);
      expect((await asBob.client.raw('DELETE', `/v1/uploads/${upload.id}`)).status).toBe(200);
      // Nor straight to the vault: people's credentials are for the API only.
      const s3 = new S3Client({
        region: s.region,
        endpoint: t.stack.s3.endpoint,
        forcePathStyle: true,
        credentials: asBob.credentials,
      });
      await expect(
        s3.send(new GetObjectCommand({ Bucket: t.config.vaultBucket, Key: stored })),
      ).rejects.toMatchObject({ name: 'AccessDenied' });
      s3.destroy();
      // Ana's document is still hers, whole.
      await anaPage.getByRole('button', { name: 'Refresh' }).click();
      const [download] = await Promise.all([
        anaPage.waitForEvent('download'),
        item(anaPage, large.name)
          .getByRole('button', { name: `Download ${large.name}` })
          .click(),
      ]);
      expect(readFileSync(await download.path()).equals(large.bytes)).toBe(true);
    } finally {
      await bobContext.close();
    }
  });

  it('Ana signs out: the refresh token is revoked, and nothing of the session stays in storage, cookies or the page’s memory', async () => {
    const secrets = anaWire.secrets();
    const refreshToken = anaWire.lastRefreshToken();
    expect((await anaContext.cookies()).length).toBeGreaterThan(0); // the managed login's session
    // The managed login's /logout sends the browser back to the page, a new document.
    const back = anaPage.waitForResponse(
      (r) => r.url() === `${t.api}/` && (r.request().redirectedFrom()?.url() ?? '').includes('/logout?'),
    );
    await anaPage.getByRole('button', { name: 'Sign out' }).click();
    await back;
    await anaPage.waitForLoadState('load');
    await anaPage.getByRole('button', { name: 'Sign in', exact: true }).waitFor();

    expect((await refreshGrant(s, refreshToken)).body.error).toBe('invalid_grant');
    expect(await anaPage.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    expect(await anaPage.evaluate('indexedDB.databases().then((d) => d.length)')).toBe(0);
    expect(await anaContext.cookies()).toEqual([]);
    // The search reaches what a script could leave on window (checked with a planted token).
    await anaPage.evaluate('window.__probe = { a: { b: { c: "eyJprobeprobepr.eyJprobeprobepr.x" } } }');
    expect(((await anaPage.evaluate(REACHABLE_STRINGS)) as string[]).join('\n')).toMatch(JWT);
    await anaPage.evaluate('delete window.__probe');
    const reachable = (await anaPage.evaluate(REACHABLE_STRINGS)) as string[];
    const text = reachable.join('\n');
    expect(text).not.toMatch(JWT);
    expect(text).not.toMatch(/[?&](code|state)=/);
    for (const secret of secrets) expect(text.includes(secret)).toBe(false);
    // Nor in the console.
    const logged = consoleLines.join('\n');
    for (const secret of secrets) expect(logged.includes(secret)).toBe(false);
    expect(logged).not.toMatch(/Content Security Policy|Trusted Type/i);
    expect(consoleLines.filter((l) => l.startsWith('pageerror'))).toEqual([]);
    // Signing in again asks for the password: the managed login's session ended too.
    await anaPage.getByRole('button', { name: 'Sign in', exact: true }).click();
    await anaPage.getByLabel('Password', { exact: true }).waitFor();
  });
});
