import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The upload page's static files (`web/dist`, built by `npm run build:web`), served by the local
 * gateway at `/` the way S3 and CloudFront serve them in production, with the page's Content
 * Security Policy and security headers. Only GET and HEAD of `/` and of the flat file names in the
 * build folder are the site's; every other request is the API's.
 */

export interface StaticSiteOptions {
  /** Folder of the built page; `web/dist` of this repository by default. */
  root?: string;
  /** The API's region, handed to the page in `config.json` for the SigV4 scope. */
  region: string;
  /** Origins the page may connect to besides its own: where its presigned URLs point (the S3 endpoint). */
  connectSources: readonly string[];
  /**
   * What the page signs in with (the local user pool and identity pool) and the page's key, once
   * the local stack knows them; asked at each request of `config.json` and of a page, with the
   * page's origin (`http://127.0.0.1:3000` or `http://localhost:3000`). Absent: no sign-in (the
   * access-key form only) and a `connect-src` of `connectSources` alone.
   */
  signIn?: () => SiteSignIn | undefined;
}

/** The sign-in block of `config.json` and the origins it adds to `connect-src`. */
export interface SiteSignIn {
  /** `config.json`'s `signIn` for a page served from `origin` (its redirect and logout URIs). */
  config(origin: string): Record<string, string>;
  /** The page's key (`alias/eaas-page`). */
  pageKey: string;
  /** The user pool's and identity pool's origins, which the page calls. */
  connectSources: readonly string[];
}

export interface StaticSite {
  /** Answers the request and returns true when it is one of the site's; false leaves it to the API. */
  handle(req: IncomingMessage, res: ServerResponse, method: string, rawPath: string): boolean;
}

export const DEFAULT_SITE_ROOT = fileURLToPath(new URL('../web/dist/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/** A flat file name of the build: no folders, no dot files, so a path can never leave the root. */
const FILE_NAME = /^\/([A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9]+)+)$/;

/** The page's policy: its own scripts and styles only, API calls to itself, uploads and downloads to S3. */
export function contentSecurityPolicy(connectSources: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src ${["'self'", ...connectSources.map((s) => new URL(s).origin)].join(' ')}`,
    "form-action 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
    "require-trusted-types-for 'script'",
  ].join('; ');
}

export function createStaticSite(options: StaticSiteOptions): StaticSite {
  const root = options.root ?? DEFAULT_SITE_ROOT;
  const baseHeaders = {
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
    'Cache-Control': 'no-cache',
  };
  /** The page's security headers; its CSP lets it call the sign-in origins once they exist. */
  const headersNow = () => {
    const signIn = options.signIn?.();
    return {
      ...baseHeaders,
      'Content-Security-Policy': contentSecurityPolicy([
        ...options.connectSources,
        ...(signIn?.connectSources ?? []),
      ]),
    };
  };
  /** The origin the page was loaded from, as its redirect and logout URIs must name it. */
  const originOf = (req: IncomingMessage) => `http://${req.headers.host ?? '127.0.0.1'}`;
  const configOf = (req: IncomingMessage) => {
    const signIn = options.signIn?.();
    if (!signIn) return Buffer.from(JSON.stringify({ region: options.region }));
    // The page's origin as the sign-in block validated it (never the Host header as sent).
    const block = signIn.config(originOf(req));
    const apiEndpoint = (block.redirectUri ?? '').replace(/\/$/, '');
    return Buffer.from(
      JSON.stringify({ apiEndpoint, region: options.region, signIn: block, pageKey: signIn.pageKey }),
    );
  };

  function send(res: ServerResponse, method: string, status: number, type: string, body: Buffer): void {
    res.writeHead(status, { ...headersNow(), 'Content-Type': type, 'Content-Length': body.length });
    res.end(method === 'HEAD' ? undefined : body);
  }

  return {
    handle(req, res, method, rawPath) {
      if (method !== 'GET' && method !== 'HEAD') return false;
      if (rawPath === '/config.json') {
        send(res, method, 200, TYPES['.json'] as string, configOf(req));
        return true;
      }
      const name = rawPath === '/' ? 'index.html' : FILE_NAME.exec(rawPath)?.[1];
      if (name === undefined) return false;
      const type = TYPES[extname(name)];
      const file = join(root, name);
      if (type === undefined || !existsSync(file) || !statSync(file).isFile()) {
        if (rawPath !== '/') return false;
        const text = 'The upload page is not built. Run: npm run build:web\n';
        send(res, method, 503, TYPES['.txt'] as string, Buffer.from(text));
        return true;
      }
      const { size } = statSync(file);
      res.writeHead(200, { ...headersNow(), 'Content-Type': type, 'Content-Length': size });
      if (method === 'HEAD') res.end();
      else
        createReadStream(file)
          .on('error', () => res.destroy())
          .pipe(res);
      return true;
    },
  };
}
