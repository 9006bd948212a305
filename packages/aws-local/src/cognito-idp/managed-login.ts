import { timingSafeEqual } from 'node:crypto';
import { type Answer, type PoolContext, redirect, withQuery } from './context.js';
import { errorPage, newPasswordPage, signInPage } from './pages.js';
import { decoyHash, hashPassword, policyViolation, verifyPassword } from './passwords.js';
import {
  type AuthorizeRequest,
  cookies,
  LEGACY_SESSION_COOKIE,
  LIFETIME_MS,
  type LoginTransaction,
  MAX_WRONG_PASSWORDS,
  SESSION_COOKIE,
  SESSION_PATHS,
  setCookie,
  TX_COOKIE,
} from './state.js';

/**
 * Managed login for a single-page app: /oauth2/authorize, the sign-in pages at /login and /logout
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/authorization-endpoint.html,
 * https://docs.aws.amazon.com/cognito/latest/developerguide/login-endpoint.html,
 * https://docs.aws.amazon.com/cognito/latest/developerguide/logout-endpoint.html).
 * The app client is public, so PKCE with S256 is required.
 */

const MAX_PARAM = 2048;
/** RFC 7636 4.2: the S256 challenge is the unpadded base64url of a SHA-256, 43 characters. */
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

function htmlError(status: number, message: string): Answer {
  return { status, html: errorPage(message) };
}

/** GET /oauth2/authorize. */
export function authorize(
  query: URLSearchParams,
  cookieHeader: string | undefined,
  ctx: PoolContext,
): Answer {
  const p = (name: string) => {
    const v = query.get(name) ?? undefined;
    return v !== undefined && v.length <= MAX_PARAM ? v : undefined;
  };
  const clientId = p('client_id');
  const redirectUri = p('redirect_uri');
  // Errors about the client or the redirect URI are shown, never redirected to (RFC 6749 4.1.2.1).
  if (clientId !== ctx.store.clientId)
    return htmlError(400, 'Invalid client_id: the app client does not exist.');
  if (redirectUri === undefined || !ctx.callbackUrls.includes(redirectUri))
    return htmlError(
      400,
      "redirect_mismatch: the redirect_uri is not one of the app client's callback URLs.",
    );
  const state = p('state');
  const fail = (error: string, description: string) =>
    redirect(withQuery(redirectUri, { error, error_description: description, state }));
  if (p('response_type') !== 'code') return fail('unsupported_response_type', 'response_type must be code');
  const scopes = (p('scope') ?? ctx.scopes.join(' ')).split(/\s+/).filter(Boolean);
  if (scopes.some((s) => !ctx.scopes.includes(s))) return fail('invalid_scope', 'invalid_scope');
  const challenge = p('code_challenge');
  if (challenge === undefined || p('code_challenge_method') !== 'S256' || !CHALLENGE.test(challenge))
    return fail('invalid_request', 'code_challenge and code_challenge_method=S256 are required');
  const request: AuthorizeRequest = {
    clientId,
    redirectUri,
    state,
    scope: [...new Set(scopes)].join(' '),
    codeChallenge: challenge,
    nonce: p('nonce'),
  };
  const now = ctx.now().getTime();
  // A live managed-login session signs the user in without a password, as Cognito's cookie does.
  const session = ctx.state.session(cookies(cookieHeader).get(SESSION_COOKIE), now);
  const user = session ? ctx.store.userBySub(session.sub) : undefined;
  if (session && user?.enabled && user.status === 'CONFIRMED') {
    const code = ctx.state.issueCode(request, user.sub, session.authTime, now);
    return redirect(withQuery(redirectUri, { code, state }));
  }
  const started = ctx.state.startTransaction(request, now);
  if (!started)
    return {
      ...htmlError(503, 'Too many sign-ins are in progress. Try again in a few minutes.'),
      headers: { 'Retry-After': '60' },
    };
  const { id } = started;
  return redirect('/login', {
    'Set-Cookie': setCookie(TX_COOKIE, id, LIFETIME_MS.transaction / 1000, '/login'),
  });
}

const NO_TRANSACTION =
  'The sign-in page has expired or was not opened by an application. Go back to the application and sign in again.';

/** GET /login: the form of the transaction named by the cookie. */
export function loginPage(cookieHeader: string | undefined, ctx: PoolContext): Answer {
  const tx = ctx.state.transaction(cookies(cookieHeader).get(TX_COOKIE), ctx.now().getTime());
  if (!tx) return htmlError(400, NO_TRANSACTION);
  if (tx.mustChangePassword)
    return {
      status: 200,
      html: newPasswordPage(tx.csrf, ctx.policy, undefined, tx.mustChangePassword.username),
    };
  return { status: 200, html: signInPage(tx.csrf) };
}

const WRONG = 'Incorrect username or password.';
/** Cognito's NotAuthorizedException once a user's failed sign-ins lock it out for a while. */
const ATTEMPTS_EXCEEDED = 'Password attempts exceeded.';

/** Compares a form's token with the transaction's in constant time. */
function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** POST /login: the password, or the new password of a user who must choose one. */
export async function loginSubmit(
  form: URLSearchParams,
  cookieHeader: string | undefined,
  ctx: PoolContext,
): Promise<Answer> {
  const txId = cookies(cookieHeader).get(TX_COOKIE);
  const tx = ctx.state.transaction(txId, ctx.now().getTime());
  if (!txId || !tx) return htmlError(400, NO_TRANSACTION);
  // The form's token must be the transaction's: a form posted from elsewhere has neither.
  if (!sameSecret(form.get('_csrf') ?? '', tx.csrf))
    return htmlError(403, 'The form was not sent by this sign-in page. Reload it and try again.');
  if (tx.mustChangePassword) return changePassword(form, txId, tx.mustChangePassword, ctx);
  const username = (form.get('username') ?? '').trim();
  const password = form.get('password') ?? '';
  const now = ctx.now().getTime();
  // Known and unknown usernames are locked out alike, before any password work.
  if (ctx.state.lockedOut(username.slice(0, 128), now))
    return { status: 200, html: signInPage(tx.csrf, ATTEMPTS_EXCEEDED, username.slice(0, 128)) };
  const user = username && username.length <= 128 ? ctx.store.user(username) : undefined;
  // Unknown users cost the same hash as known ones, and answer the same message.
  const ok = await verifyPassword(password.slice(0, 256), user?.passwordHash ?? (await decoyHash()));
  if (!user || !ok) {
    ctx.state.passwordFailed(username.slice(0, 128), now);
    tx.wrongPasswords += 1;
    if (tx.wrongPasswords >= MAX_WRONG_PASSWORDS) {
      ctx.state.endTransaction(txId);
      return {
        ...htmlError(400, `${ATTEMPTS_EXCEEDED} Go back to the application and sign in again.`),
        headers: { 'Set-Cookie': setCookie(TX_COOKIE, '', 0, '/login') },
      };
    }
    return { status: 200, html: signInPage(tx.csrf, WRONG, username.slice(0, 128)) };
  }
  ctx.state.passwordAccepted(username);
  if (!user.enabled) return { status: 200, html: signInPage(tx.csrf, 'User is disabled.', username) };
  if (user.status === 'FORCE_CHANGE_PASSWORD') {
    tx.mustChangePassword = { sub: user.sub, username: user.username, checkedHash: user.passwordHash };
    return { status: 200, html: newPasswordPage(tx.csrf, ctx.policy, undefined, user.username) };
  }
  return signedIn(txId, user.sub, ctx);
}

/** The user of a new-password form, if it still must change the password that was checked. */
function stillMustChange(ctx: PoolContext, bound: ChangeBinding) {
  const user = ctx.store.userBySub(bound.sub);
  return user?.enabled && user.status === 'FORCE_CHANGE_PASSWORD' && user.passwordHash === bound.checkedHash
    ? user
    : undefined;
}

type ChangeBinding = NonNullable<LoginTransaction['mustChangePassword']>;

/** Ends a transaction whose form no longer stands (the password changed, the user went). */
function staleForm(txId: string, ctx: PoolContext): Answer {
  ctx.state.endTransaction(txId);
  return {
    ...htmlError(400, NO_TRANSACTION),
    headers: { 'Set-Cookie': setCookie(TX_COOKIE, '', 0, '/login') },
  };
}

async function changePassword(
  form: URLSearchParams,
  txId: string,
  bound: ChangeBinding,
  ctx: PoolContext,
): Promise<Answer> {
  const tx = ctx.state.transaction(txId, ctx.now().getTime());
  if (!tx) return htmlError(400, NO_TRANSACTION);
  if (!stillMustChange(ctx, bound)) return staleForm(txId, ctx);
  const password = form.get('new_password') ?? '';
  const page = (error: string) => ({
    status: 200,
    html: newPasswordPage(tx.csrf, ctx.policy, error, bound.username),
  });
  if (password !== (form.get('confirm_password') ?? '')) return page('The passwords do not match.');
  const broken = policyViolation(password, ctx.policy);
  if (broken) return page(`Password does not conform to policy: ${broken}`);
  const passwordHash = await hashPassword(password);
  // Checked again after the hash: another form of the same user may have been taken meanwhile.
  const user = stillMustChange(ctx, bound);
  if (!user) return staleForm(txId, ctx);
  ctx.store.updateUser(user.username, { passwordHash, status: 'CONFIRMED' }, ctx.now().getTime());
  return signedIn(txId, user.sub, ctx);
}

/** Ends the transaction, opens a managed-login session, and sends the code to the app. */
function signedIn(txId: string, sub: string, ctx: PoolContext): Answer {
  const now = ctx.now().getTime();
  const tx = ctx.state.transaction(txId, now);
  if (!tx) return htmlError(400, NO_TRANSACTION);
  ctx.state.endTransaction(txId);
  const session = ctx.state.startSession(sub, now);
  const code = ctx.state.issueCode(tx.request, sub, Math.floor(now / 1000), now);
  return {
    status: 302,
    headers: {
      Location: withQuery(tx.request.redirectUri, { code, state: tx.request.state }),
      'Set-Cookie': [
        ...sessionCookies(session, LIFETIME_MS.session / 1000),
        setCookie(TX_COOKIE, '', 0, '/login'),
      ],
    },
  };
}

/** GET /logout?client_id=&logout_uri=: ends the session and goes to an allowed sign-out URL. */
export function logout(query: URLSearchParams, cookieHeader: string | undefined, ctx: PoolContext): Answer {
  if (query.get('client_id') !== ctx.store.clientId)
    return htmlError(400, 'Invalid client_id: the app client does not exist.');
  const logoutUri = query.get('logout_uri');
  if (logoutUri === null || !ctx.logoutUrls.includes(logoutUri))
    return htmlError(400, "The logout_uri is not one of the app client's allowed sign-out URLs.");
  const id = cookies(cookieHeader).get(SESSION_COOKIE);
  if (id) ctx.state.endSession(id);
  return redirect(logoutUri, { 'Set-Cookie': sessionCookies('', 0) });
}

/** The session cookie on each path that reads it, and the old name on `/` cleared. */
function sessionCookies(value: string, maxAgeSeconds: number): string[] {
  return [
    ...SESSION_PATHS.map((path) => setCookie(SESSION_COOKIE, value, maxAgeSeconds, path)),
    setCookie(LEGACY_SESSION_COOKIE, '', 0),
  ];
}
