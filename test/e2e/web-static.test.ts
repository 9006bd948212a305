import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaticSite } from '../../local/static-site.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/** The local gateway serves the built upload page at `/` with its security headers, and nothing else. */

/** A request with the path sent exactly as written (fetch would normalise `..`). */
function rawGet(endpoint: string, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the upload page on the local gateway', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack();
  });
  afterAll(() => t?.stop());

  it('serves / with a CSP that allows only its own scripts and styles, the API and the local S3', async () => {
    const res = await fetch(`${t.api}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain(
      `connect-src 'self' ${[t.stack.s3.endpoint, t.stack.userPool.endpoint, t.stack.identityPool.endpoint]
        .map((e) => new URL(e).origin)
        .join(' ')};`,
    );
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    expect(html).toContain('<script type="module" src="app.js"></script>');
    // No inline script or style: every <script> has a src.
    expect(html.match(/<script(?![^>]*\ssrc=)[^>]*>/g)).toBeNull();
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it('serves the bundle, the stylesheet and config.json with the region; HEAD has no body', async () => {
    const js = await fetch(`${t.api}/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await js.text()).length).toBeGreaterThan(1000);
    expect((await fetch(`${t.api}/styles.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    const { userPool, identityPool } = t.stack;
    expect(await (await fetch(`${t.api}/config.json`)).json()).toEqual({
      apiEndpoint: t.stack.webOrigin,
      region: t.config.region,
      signIn: {
        authority: userPool.issuer,
        clientId: userPool.clientId,
        domain: userPool.endpoint,
        identityPoolId: identityPool.identityPoolId,
        identityEndpoint: identityPool.endpoint,
        providerName: userPool.providerName,
        redirectUri: `${t.stack.webOrigin}/`,
        logoutUri: `${t.stack.webOrigin}/`,
      },
      pageKey: 'alias/eaas-page',
    });
    const head = await fetch(`${t.api}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('leaves every other path and method to the API, which answers as API Gateway does', async () => {
    for (const [path, method] of [
      ['/missing.js', 'GET'],
      ['/%2e%2e/package.json', 'GET'],
      ['/../package.json', 'GET'],
      ['/.eaas/credentials', 'GET'],
      ['/', 'POST'],
      ['/v1/whoami', 'GET'],
    ] as const) {
      const res = await rawGet(t.api, path, method);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(JSON.parse(res.body), `${method} ${path}`).toEqual({ message: 'Missing Authentication Token' });
    }
  });

  it('answers / with how to build the page when it is not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'eaas-site-'));
    const site = createStaticSite({ root: empty, region: 'us-east-1', connectSources: [] });
    const server = createServer((req, res) => {
      if (!site.handle(req, res, req.method ?? 'GET', req.url ?? '/')) res.writeHead(404).end();
    });
    const listening = await listen(server, '127.0.0.1', 0);
    try {
      const res = await fetch(`${listening.endpoint}/`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build:web');
      expect((await fetch(`${listening.endpoint}/app.js`)).status).toBe(404);
    } finally {
      await listening.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
