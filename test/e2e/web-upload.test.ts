import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_MANAGER, KEY_USER } from '@eaas/aws-local';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The upload page in a real browser (Debian's Chromium, headless, driven by playwright-core) against
 * the whole local stack: sign-in with a local profile's keys, uploads through presigned URLs
 * (single PUT and multipart), sealing, download and decryption in the page, deletion, refusal of an
 * administrator, the page's CSP and storage hygiene, and an axe-core accessibility check.
 */

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const MiB = 1024 * 1024;
const MAX_UPLOAD = 64 * MiB;
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt`);

/** A file of random bytes with a distinctive 32-byte marker at its start, middle and end. */
function makeFile(dir: string, name: string, size: number, marker: Buffer): { path: string; bytes: Buffer } {
  const bytes = randomBytes(size);
  for (const at of [0, Math.floor(size / 2), size - marker.length]) marker.copy(bytes, at);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

/** Every regular file under a folder, with its size. */
function filesUnder(dir: string): { path: string; size: number }[] {
  const out: { path: string; size: number }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push({ path, size: statSync(path).size });
  }
  return out;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

interface Axe {
  violations: { id: string; impact: string | null; help: string; nodes: { target: unknown }[] }[];
}

describe.skipIf(!haveChromium)('the upload page in Chromium', () => {
  let t: TestStack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const marker = randomBytes(32);
  const workDir = mkdtempSync(join(tmpdir(), 'eaas-web-'));
  const run = randomBytes(3).toString('hex');
  const small = makeFile(workDir, `contrat signé ${run}.bin`, 1 * MiB, marker);
  const large = makeFile(workDir, `scan-${run}.bin`, 40 * MiB, marker);
  const consoleLines: string[] = [];

  beforeAll(async () => {
    // A low upload limit, so that a (sparse) file just above it shows the page's "too large".
    t = await startTestStack({ env: { EAAS_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
    page = await context.newPage();
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  /** Opens the access-key form, which is under "Advanced" when the page also signs people in with an account. */
  async function accessKeyForm(p: Page): Promise<void> {
    await p.goto(`${t.api}/`);
    const advanced = p.getByText('Advanced: sign in with access keys');
    await p
      .locator('#access-keys[open] #access-key-id:visible, #access-keys-summary:visible')
      .first()
      .waitFor();
    if (await advanced.isVisible()) await advanced.click();
  }

  /** Signs in with a local profile's keys, with the mouse or, as a keyboard user would, typing and Tab and Enter. */
  async function signIn(p: Page, name: string, by: 'mouse' | 'keyboard' = 'mouse'): Promise<void> {
    const principal = t.principal(name);
    await accessKeyForm(p);
    if (by === 'keyboard') {
      await p.getByLabel('Access key ID').focus();
      await p.keyboard.type(principal.accessKeyId);
      await p.keyboard.press('Tab');
      await p.keyboard.type(principal.secretAccessKey);
      await p.keyboard.press('Enter');
    } else {
      await p.getByLabel('Access key ID').fill(principal.accessKeyId);
      await p.getByLabel('Secret access key').fill(principal.secretAccessKey);
      await p.getByRole('button', { name: 'Sign in with access keys' }).click();
    }
    await p.locator('#principal', { hasText: principal.arn }).waitFor();
  }

  it('myKeyUser uploads 1 MiB in one PUT and 40 MiB in parts (one part failing once), sees 100 % and sealed, and downloads both byte for byte', async () => {
    // Prepare
    await signIn(page, KEY_USER);
    await expect
      .poll(() => page.locator('#key-select option').allTextContents())
      .toContain('alias/eaas-default');
    // The overall bar appears with the first upload, not before.
    expect(await page.locator('#overall').isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Add a context entry' }).click();
    await page.getByLabel('Name 1').fill('tenant');
    await page.getByLabel('Value 1').fill('acme');
    // The first try of part 2 of the multipart upload dies on the wire; the page must send it again.
    const s3Origin = new URL(t.stack.s3.endpoint).origin;
    let failedParts = 0;
    await page.route(
      (url) => url.origin === s3Origin && url.searchParams.get('partNumber') === '2',
      async (route) => {
        failedParts++;
        await route.abort('connectionreset');
      },
      { times: 1 },
    );
    await page.getByLabel('Choose files, or drop them here').setInputFiles([small.path, large.path]);

    // Act
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const row = (file: { path: string }) =>
      page.locator(`#upload-list li[data-file="${file.path.split('/').pop()}"]`);
    for (const file of [small, large]) {
      await row(file)
        .and(page.locator('[data-state="sealed"], [data-state="failed"]'))
        .waitFor({ timeout: 50_000 });
    }

    // Assess
    for (const file of [small, large]) {
      expect(await row(file).getAttribute('data-state'), (await row(file).textContent()) ?? '').toBe(
        'sealed',
      );
      const bar = row(file).locator('progress');
      expect(await bar.getAttribute('max')).toBe(String(file.bytes.length));
      expect(await bar.evaluate((el) => (el as unknown as { value: number }).value)).toBe(file.bytes.length);
      await expect.poll(() => row(file).locator('.percent').textContent()).toBe('100 %');
    }
    expect(await page.locator('#overall-text').textContent()).toBe('100 %');
    expect(failedParts).toBe(1);
    expect(await row(large).textContent()).toContain('1 part sent again');

    // Both are listed, with the key's alias, and download to the same bytes.
    for (const file of [small, large]) {
      const name = file.path.split('/').pop() as string;
      const item = page.locator(`#document-list li[data-key="${name}"]`);
      await item.waitFor();
      expect(await item.textContent()).toContain('alias/eaas-default');
      expect(await item.textContent()).toContain('tenant=acme');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        item.getByRole('button', { name: `Download ${name}` }).click(),
      ]);
      const saved = await download.path();
      expect(download.suggestedFilename()).toBe(name);
      expect(readFileSync(saved).equals(file.bytes)).toBe(true);
      expect(await item.locator('[data-sha256]').getAttribute('data-sha256')).toBe(sha256(file.bytes));
    }
  });

  it('stores only ciphertext: no plaintext byte of either file is anywhere in the data dir', () => {
    const files = filesUnder(t.dataDir);
    // The sealed 40 MiB document is there, as ciphertext plus its 16-byte tag.
    expect(files.some((f) => f.size === large.bytes.length + 16)).toBe(true);
    const found = files.filter((f) => readFileSync(f.path).includes(marker)).map((f) => f.path);
    expect(found).toEqual([]);
  });

  it('keeps no credentials or document bytes in storage or the console, and breaks no CSP rule', async () => {
    const user = t.principal(KEY_USER);
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    expect(await page.evaluate('document.cookie')).toBe('');
    const logged = consoleLines.join('\n');
    expect(logged).not.toContain(user.secretAccessKey);
    expect(logged).not.toContain(marker.toString('hex'));
    expect(logged).not.toMatch(/Content Security Policy|Trusted Type/i);
    expect(consoleLines.filter((l) => l.startsWith('pageerror'))).toEqual([]);
    // The sign-in form forgot the secret once it was used.
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await page.locator('#secret-access-key').inputValue()).toBe('');
  });

  it('passes axe-core with no serious or critical violations, at desktop and phone width, and saves screenshots', async () => {
    const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    mkdirSync(ARTIFACTS, { recursive: true });
    for (const viewport of [
      { width: 1100, height: 900, name: 'desktop' },
      { width: 375, height: 812, name: 'phone' },
    ]) {
      await page.setViewportSize(viewport);
      await page.evaluate(axeSource);
      const result = (await page.evaluate('axe.run(document, { resultTypes: ["violations"] })')) as Axe;
      const serious = result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.map((n) => n.target))}`);
      expect(serious, viewport.name).toEqual([]);
      // Nothing is wider than the screen.
      expect(await page.evaluate('document.documentElement.scrollWidth'), viewport.name).toBeLessThanOrEqual(
        viewport.width,
      );
      await page.screenshot({ path: join(ARTIFACTS, `web-upload-${viewport.name}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 1100, height: 900 });
  });

  it('deletes a document only after the confirmation', async () => {
    const name = small.path.split('/').pop() as string;
    const item = page.locator(`#document-list li[data-key="${name}"]`);
    await item.getByRole('button', { name: `Delete ${name}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this document?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Keep it' }).click();
    expect(await dialog.isVisible()).toBe(false);
    expect(await item.count()).toBe(1);

    await item.getByRole('button', { name: `Delete ${name}` }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await item.waitFor({ state: 'detached' });
    const keys = (await t.client(KEY_USER).raw('GET', '/v1/objects')).body as { objects: { key: string }[] };
    expect(keys.objects.map((o) => o.key)).not.toContain(name);
    expect(keys.objects.map((o) => o.key)).toContain(large.path.split('/').pop());
  });

  it('cancels an upload in flight: the row says so and nothing is stored', async () => {
    // Prepare: hold every part of the next upload at the network, so it is surely in flight.
    const s3Origin = new URL(t.stack.s3.endpoint).origin;
    const held: { abort: () => Promise<void> }[] = [];
    const hold = (url: URL) => url.origin === s3Origin;
    await page.route(hold, (route) => {
      held.push({ abort: () => route.abort().catch(() => undefined) });
    });
    const cancelled = makeFile(workDir, `cancel-${run}.bin`, 20 * MiB, marker);
    const name = cancelled.path.split('/').pop() as string;
    await page.getByLabel('Choose files, or drop them here').setInputFiles([cancelled.path]);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await expect.poll(() => held.length).toBeGreaterThan(0);

    // Act
    await page.getByRole('button', { name: `Cancel the upload of ${name}` }).click();

    // Assess
    const row = page.locator(`#upload-list li[data-file="${name}"]`);
    await row.and(page.locator('[data-state="cancelled"]')).waitFor();
    expect(await row.textContent()).toContain('Cancelled');
    await page.unroute(hold);
    for (const h of held) await h.abort();
    const list = (await t.client(KEY_USER).raw('GET', '/v1/objects')).body as { objects: { key: string }[] };
    expect(list.objects.map((o) => o.key)).not.toContain(name);
  });

  it('says in plain words when an upload link has expired and when a file is too large', async () => {
    // Prepare: S3 answers the next single PUT as it answers a presigned URL past its expiry.
    const s3Origin = new URL(t.stack.s3.endpoint).origin;
    await page.route(
      (url) => url.origin === s3Origin,
      (route) =>
        route.request().method() === 'PUT'
          ? route.fulfill({
              status: 403,
              headers: {
                'Access-Control-Allow-Origin': new URL(t.api).origin,
                'Content-Type': 'application/xml',
              },
              body: '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
            })
          : route.fallback(),
      { times: 1 },
    );
    const late = makeFile(workDir, `late-${run}.bin`, 64 * 1024, marker);
    // A sparse file one byte over the limit: the page asks for the upload before reading a byte.
    const huge = join(workDir, `huge-${run}.bin`);
    const fd = openSync(huge, 'w');
    ftruncateSync(fd, MAX_UPLOAD + 1);
    closeSync(fd);

    // Act
    await page.getByLabel('Choose files, or drop them here').setInputFiles([late.path, huge]);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();

    // Assess
    const row = (name: string) => page.locator(`#upload-list li[data-file="${name}"][data-state="failed"]`);
    await row(`late-${run}.bin`).waitFor();
    expect(await row(`late-${run}.bin`).textContent()).toContain(
      'The upload link expired before the file arrived',
    );
    await row(`huge-${run}.bin`).waitFor();
    expect(await row(`huge-${run}.bin`).textContent()).toContain('The file is too large.');
  });

  it('keeps following an upload through a lost answer and a 503, and never cancels a delivered file', async () => {
    // Prepare: the first two polls of the upload's state fail on the wire and with a 503.
    let polls = 0;
    const cancels: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'DELETE' && r.url().includes('/v1/uploads/')) cancels.push(r.url());
    });
    const poll = (url: URL) => /^\/v1\/uploads\/[0-9a-f]{32}$/.test(url.pathname);
    await page.route(
      poll,
      async (route) => {
        if (route.request().method() !== 'GET') return route.fallback();
        polls++;
        if (polls === 1) return route.abort('connectionreset');
        return route.fulfill({
          status: 503,
          contentType: 'application/json',
          body: '{"message":"Service Unavailable"}',
        });
      },
      { times: 2 },
    );
    const file = makeFile(workDir, `poll-${run}.bin`, 256 * 1024, marker);
    const name = file.path.split('/').pop() as string;

    // Act
    await page.getByLabel('Choose files, or drop them here').setInputFiles([file.path]);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();

    // Assess
    const row = page.locator(`#upload-list li[data-file="${name}"]`);
    await row.and(page.locator('[data-state="sealed"], [data-state="failed"]')).waitFor({ timeout: 30_000 });
    expect(polls).toBe(2);
    expect(await row.getAttribute('data-state'), (await row.textContent()) ?? '').toBe('sealed');
    expect(cancels).toEqual([]);
    await page.locator(`#document-list li[data-key="${name}"]`).waitFor();
  });

  it('cancels an upload whose link was still being created, and tells the service', async () => {
    // Prepare: hold the POST /v1/uploads of the next file until Cancel is pressed.
    let release: (() => Promise<void>) | undefined;
    await page.route(
      (url) => url.pathname === '/v1/uploads',
      (route) => {
        release = () => route.continue();
      },
      { times: 1 },
    );
    const file = makeFile(workDir, `early-${run}.bin`, 64 * 1024, marker);
    const name = file.path.split('/').pop() as string;
    await page.getByLabel('Choose files, or drop them here').setInputFiles([file.path]);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await expect.poll(() => release !== undefined).toBe(true);

    // Act
    await page.getByRole('button', { name: `Cancel the upload of ${name}` }).click();
    const cancelled = page.waitForResponse(
      (r) => r.request().method() === 'DELETE' && r.url().includes('/v1/uploads/'),
    );
    await release?.();

    // Assess: the service is told, and the row stays cancelled.
    const answer = (await (await cancelled).json()) as { state: string; error?: { code: string } };
    expect(answer.state).toBe('failed');
    expect(answer.error?.code).toBe('Cancelled');
    const row = page.locator(`#upload-list li[data-file="${name}"]`);
    expect(await row.getAttribute('data-state')).toBe('cancelled');
    const list = (await t.client(KEY_USER).raw('GET', '/v1/objects')).body as { objects: { key: string }[] };
    expect(list.objects.map((o) => o.key)).not.toContain(name);
  });

  it('says so when storage hides the parts’ ETags (a bucket CORS rule without ExposeHeaders)', async () => {
    // Prepare: S3 accepts every part but its answer does not expose ETag to the page.
    const s3Origin = new URL(t.stack.s3.endpoint).origin;
    const parts = (url: URL) => url.origin === s3Origin && url.searchParams.has('partNumber');
    await page.route(parts, (route) =>
      route.fulfill({
        status: 200,
        headers: { 'Access-Control-Allow-Origin': new URL(t.api).origin, ETag: '"0123"' },
        body: '',
      }),
    );
    const file = makeFile(workDir, `no-etag-${run}.bin`, 17 * MiB, marker);
    const name = file.path.split('/').pop() as string;
    try {
      // Act
      await page.getByLabel('Choose files, or drop them here').setInputFiles([file.path]);
      await page.getByRole('button', { name: 'Upload', exact: true }).click();

      // Assess
      const row = page.locator(`#upload-list li[data-file="${name}"][data-state="failed"]`);
      await row.waitFor();
      expect(await row.textContent()).toContain('must expose the ETag header');
      // The batch ends with the notice and a refresh of the list; let it finish before the next test.
      await page.locator('#notice', { hasText: name }).waitFor();
      await expect.poll(() => page.locator('#documents-status').textContent()).not.toBe('Loading…');
    } finally {
      await page.unroute(parts);
    }
  });

  it('refuses in plain words, before fetching a byte, a document too large to decrypt in the browser', async () => {
    // Prepare: the API's answer for the 40 MiB document claims 600 MiB.
    const name = large.path.split('/').pop() as string;
    const s3Origin = new URL(t.stack.s3.endpoint).origin;
    let fetched = 0;
    const onRequest = (r: { url: () => string }) => {
      if (new URL(r.url()).origin === s3Origin) fetched++;
    };
    page.on('request', onRequest);
    await page.route(
      (url) => url.pathname === '/v1/downloads',
      async (route) => {
        const response = await route.fetch();
        const ticket = (await response.json()) as Record<string, unknown>;
        await route.fulfill({ response, json: { ...ticket, size: 600 * MiB, storedSize: 600 * MiB + 16 } });
      },
      { times: 1 },
    );
    const item = page.locator(`#document-list li[data-key="${name}"]`);

    // Act
    await item.getByRole('button', { name: `Download ${name}` }).click();

    // Assess
    await item.locator('.detail.error', { hasText: 'too large to decrypt in a browser' }).waitFor();
    page.off('request', onRequest);
    expect(fetched).toBe(0);
  });

  it('takes files dropped on the drop zone', async () => {
    await page.evaluate(`(() => {
      const data = new DataTransfer();
      data.items.add(new File(['dropped'], 'dropped.txt', { type: 'text/plain' }));
      document.getElementById('drop-zone').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    })()`);
    expect(await page.locator('#file-help').textContent()).toBe('1 file chosen: dropped.txt.');
  });

  it('explains a wrong secret or an unknown access key at sign-in, and stays signed out', async () => {
    const other = await context.newPage();
    try {
      const user = t.principal(KEY_USER);
      await accessKeyForm(other);
      // Signed out, there is no session bar (its flex layout must not undo `hidden`).
      expect(await other.locator('#session').isVisible()).toBe(false);
      for (const [accessKeyId, secret, words] of [
        [user.accessKeyId, `${user.secretAccessKey.slice(0, -2)}xx`, 'The secret access key does not match'],
        ['AKIAIOSFODNN7EXAMPLE', user.secretAccessKey, 'The access key is not known to the service'],
      ] as const) {
        await other.getByLabel('Access key ID').fill(accessKeyId);
        await other.getByLabel('Secret access key').fill(secret);
        await other.getByRole('button', { name: 'Sign in with access keys' }).click();
        await other.locator('#notice', { hasText: words }).waitFor();
        expect(await other.locator('#upload').isHidden()).toBe(true);
      }
    } finally {
      await other.close();
    }
  });

  it('refuses myKeyManager, an administrator and not a user, in plain words', async () => {
    const other = await context.newPage();
    try {
      await signIn(other, KEY_MANAGER, 'keyboard');
      // Prepare: the picker offers no key, and says why.
      await other.locator('#key-help', { hasText: 'not a user' }).waitFor();
      expect(await other.locator('#key-select').isDisabled()).toBe(true);
      expect(await other.locator('#key-help').textContent()).toContain(
        'administrators manage keys and never encrypt',
      );
      // Act: naming the key anyway is refused by the API.
      await other.getByText('Use another key (alias or ARN)').click();
      await other.getByLabel('Key alias or ARN').fill('alias/eaas-default');
      await other.getByLabel('Choose files, or drop them here').setInputFiles([small.path]);
      await other.getByRole('button', { name: 'Upload', exact: true }).click();
      // Assess
      const row = other.locator('#upload-list li').first();
      await row.and(other.locator('[data-state="failed"]')).waitFor();
      expect(await row.textContent()).toContain('No permission: your account may not encrypt with this key');
      expect(await other.locator('#notice').textContent()).toContain('No permission');
      mkdirSync(ARTIFACTS, { recursive: true });
      await other.screenshot({ path: join(ARTIFACTS, 'web-upload-refused.png'), fullPage: true });
    } finally {
      await other.close();
    }
  });
  it('forgets the session at sign-out: uploads stop, rows, file names and context values go', async () => {
    const file = makeFile(workDir, `chosen-${run}.bin`, 1024, marker);
    await page.getByRole('button', { name: 'Add a context entry' }).click();
    await page.locator('#context-rows input').first().fill('case');
    await page.getByLabel('Choose files, or drop them here').setInputFiles([file.path]);
    expect(await page.locator('#upload-list li').count()).toBeGreaterThan(0);

    await page.getByRole('button', { name: 'Sign out' }).click();

    await page.getByLabel('Access key ID').waitFor();
    expect(await page.locator('#upload-list li').count()).toBe(0);
    expect(await page.locator('#document-list li').count()).toBe(0);
    expect(await page.locator('#context-rows input').count()).toBe(0);
    expect(await page.locator('#file-help').textContent()).not.toContain(file.path.split('/').pop());
    expect(await page.locator('#overall').isVisible()).toBe(false);
    expect(await page.evaluate('document.activeElement?.id')).toBe('access-key-id');
  });
});
