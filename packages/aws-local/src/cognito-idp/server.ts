import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { acceptBody, BodyBudget, ClientGoneError, closeIfUnread } from '../http-server.js';
import { type AdminApiOptions, handleAdmin } from './admin-api.js';
import type { Answer, PoolContext } from './context.js';
import { CognitoError, OAuthError } from './errors.js';
import { authorize, loginPage, loginSubmit, logout } from './managed-login.js';
import { errorPage, pageCsp, STYLESHEET } from './pages.js';
import { revoke, token, userInfo } from './token-endpoint.js';

/**
 * The HTTP front of the local user pool: the admin API on `POST /`, managed login and the OAuth
 * endpoints on the same origin, and the pool's discovery document and keys under `/<poolId>/`.
 */

const FORM_MAX_BODY = 16 * 1024;
const FORM_TIMEOUT_MS = 10_000;

export interface PoolServerOptions {
  ctx: PoolContext;
  admin: Omit<AdminApiOptions, 'budget'>;
  /** The origins of the callback URLs: the browser pages that may call the token endpoints. */
  corsOrigins: readonly string[];
  onRequest?: (event: { route: string; status: number; principal?: string; error?: string }) => void;
}

function write(
  res: ServerResponse,
  answer: Answer,
  extra: Record<string, string | string[]> = {},
  csp: string = pageCsp(),
): void {
  const headers: Record<string, string | string[] | number> = { ...extra, ...answer.headers };
  let body: Buffer | undefined;
  if (answer.html !== undefined) {
    body = Buffer.from(answer.html, 'utf8');
    headers['Content-Type'] = 'text/html; charset=utf-8';
    headers['Content-Security-Policy'] = csp;
    headers['X-Frame-Options'] = 'DENY';
    headers['Cache-Control'] = 'no-store';
    headers['Referrer-Policy'] = 'no-referrer';
  } else if (answer.css !== undefined) {
    body = Buffer.from(answer.css, 'utf8');
    headers['Content-Type'] = 'text/css; charset=utf-8';
  } else if (answer.json !== undefined) {
    body = Buffer.from(JSON.stringify(answer.json), 'utf8');
    headers['Content-Type'] ??= 'application/json;charset=UTF-8';
  }
  headers['X-Content-Type-Options'] = 'nosniff';
  headers['Content-Length'] = body?.length ?? 0;
  res.writeHead(answer.status, headers);
  res.end(body);
}

export function createPoolServer(options: PoolServerOptions): Server {
  const { ctx } = options;
  const budget = new BodyBudget(64 * FORM_MAX_BODY + 16 * 64 * 1024);
  const admin: AdminApiOptions = { ...options.admin, budget };
  const poolPrefix = `/${ctx.store.userPoolId}/.well-known/`;

  // The pages' forms end in a redirect to the app: its origins go in form-action.
  const csp = pageCsp(options.corsOrigins);

  function cors(req: IncomingMessage): Record<string, string> {
    const origin = req.headers.origin;
    if (typeof origin !== 'string' || !options.corsOrigins.includes(origin)) return {};
    return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
  }

  async function form(req: IncomingMessage): Promise<URLSearchParams> {
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase();
    if (type !== 'application/x-www-form-urlencoded')
      throw new OAuthError('invalid_request', 400, 'Content-Type must be application/x-www-form-urlencoded');
    const arrived = Date.now();
    const accepted = await acceptBody(req, {
      limit: FORM_MAX_BODY,
      budget,
      deadline: () => arrived + FORM_TIMEOUT_MS,
    });
    if (!accepted.ok) {
      if (accepted.refusal === 'client-gone') throw new ClientGoneError();
      throw new OAuthError(
        'invalid_request',
        accepted.refusal === 'too-large' ? 413 : 400,
        `request body refused: ${accepted.refusal}`,
      );
    }
    accepted.reservation.release();
    return new URLSearchParams(accepted.body.toString('utf8'));
  }

  async function route(req: IncomingMessage, url: URL): Promise<Answer> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const cookie = req.headers.cookie;
    const api =
      ['/oauth2/token', '/oauth2/revoke', '/oauth2/userInfo'].includes(path) || path.startsWith(poolPrefix);
    if (method === 'OPTIONS' && api) {
      const allowed = cors(req);
      return {
        status: allowed['Access-Control-Allow-Origin'] ? 204 : 403,
        headers: {
          ...allowed,
          'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
          'Access-Control-Allow-Headers': 'authorization, content-type',
          'Access-Control-Max-Age': '600',
        },
      };
    }
    const key = `${method} ${path}`;
    switch (key) {
      case 'GET /oauth2/authorize':
        return authorize(url.searchParams, cookie, ctx);
      case 'GET /login':
        return loginPage(cookie, ctx);
      case 'POST /login':
        return loginSubmit(await form(req), cookie, ctx);
      case 'GET /login.css':
        return { status: 200, headers: { 'Cache-Control': 'max-age=300' }, css: STYLESHEET };
      case 'GET /logout':
        return logout(url.searchParams, cookie, ctx);
      case 'POST /oauth2/token':
        return token(await form(req), ctx);
      case 'POST /oauth2/revoke':
        return revoke(await form(req), ctx);
      case 'GET /oauth2/userInfo':
      case 'POST /oauth2/userInfo':
        return userInfo(req.headers.authorization, ctx);
      case `GET ${poolPrefix}jwks.json`:
        return { status: 200, json: { keys: [ctx.signer.publicJwk] } };
      case `GET ${poolPrefix}openid-configuration`:
        return { status: 200, json: discovery(ctx) };
    }
    if (path.startsWith('/oauth2/') || path === '/login' || path === '/logout')
      return {
        status: 405,
        headers: { Allow: path === '/login' ? 'GET, POST' : 'GET' },
        html: errorPage('Method not allowed.'),
      };
    return { status: 404, html: errorPage('Not found.') };
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    let url: URL;
    try {
      // Only the path and query of the request target count; one that does not parse is refused.
      url = new URL(`http://localhost${(req.url ?? '/').startsWith('/') ? req.url : '/'}`);
    } catch {
      closeIfUnread(req, res);
      write(res, { status: 400, html: errorPage('The request URL is not valid.') });
      return;
    }
    const who: { arn?: string; operation?: string } = {};
    const routeName =
      req.method === 'POST' && url.pathname === '/' ? 'admin' : `${req.method} ${url.pathname}`;
    try {
      if (routeName === 'admin') {
        const result = await handleAdmin(req, admin, who);
        write(res, {
          status: 200,
          json: result,
          headers: { 'Content-Type': 'application/x-amz-json-1.1', 'x-amzn-RequestId': requestId },
        });
        options.onRequest?.({
          route: `admin ${who.operation}`,
          status: 200,
          ...(who.arn ? { principal: who.arn } : {}),
        });
        return;
      }
      const answer = await route(req, url);
      closeIfUnread(req, res);
      write(res, answer, cors(req), csp);
      options.onRequest?.({ route: routeName, status: answer.status });
    } catch (error) {
      if (error instanceof ClientGoneError) {
        res.destroy();
        return;
      }
      closeIfUnread(req, res);
      if (error instanceof OAuthError) {
        const headers: Record<string, string> = { ...cors(req) };
        if (error.code === 'invalid_token')
          headers['WWW-Authenticate'] =
            `Bearer error="invalid_token", error_description="${error.description ?? ''}"`;
        write(res, { status: error.status, json: error.toJSON(), headers }, {});
        options.onRequest?.({ route: routeName, status: error.status, error: error.code });
        return;
      }
      const failure =
        error instanceof CognitoError
          ? error
          : new CognitoError('InternalErrorException', 'The service cannot complete the request.');
      if (!(error instanceof CognitoError))
        console.error(`local user pool: internal error in ${routeName}: ${(error as Error)?.message}`);
      if (routeName === 'admin')
        write(res, {
          status: failure.status,
          json: failure.toJSON(),
          headers: {
            'Content-Type': 'application/x-amz-json-1.1',
            'x-amzn-RequestId': requestId,
            'x-amzn-ErrorType': failure.type,
          },
        });
      else write(res, { status: failure.status, html: errorPage(failure.message) });
      options.onRequest?.({
        route: routeName === 'admin' ? `admin ${who.operation ?? ''}` : routeName,
        status: failure.status,
        error: failure.type,
        ...(who.arn ? { principal: who.arn } : {}),
      });
    }
  }

  return createServer((req, res) => {
    serve(req, res).catch(() => res.destroy());
  });
}

/** The pool's discovery document, with the members Cognito's has (no end_session_endpoint). */
function discovery(ctx: PoolContext) {
  const base = new URL(ctx.issuer).origin;
  return {
    authorization_endpoint: `${base}/oauth2/authorize`,
    id_token_signing_alg_values_supported: ['RS256'],
    issuer: ctx.issuer,
    jwks_uri: `${ctx.issuer}/.well-known/jwks.json`,
    response_types_supported: ['code'],
    revocation_endpoint: `${base}/oauth2/revoke`,
    scopes_supported: ['openid', 'email', 'profile'],
    subject_types_supported: ['public'],
    token_endpoint: `${base}/oauth2/token`,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    userinfo_endpoint: `${base}/oauth2/userInfo`,
  };
}
