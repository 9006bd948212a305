import { randomBytes } from 'node:crypto';
import { digest } from './store.js';

/**
 * The short-lived, in-memory state of managed login: sign-in transactions (an authorize request
 * waiting for a password), managed-login sessions and authorization codes. Secrets handed out
 * (session ids, codes) are kept by their SHA-256 only. Each map is bounded: the oldest entries go
 * first, and expired entries are dropped as they are met.
 */

export const newSecret = () => randomBytes(32).toString('base64url');

/** An authorize request, as /oauth2/authorize checked it. */
export interface AuthorizeRequest {
  clientId: string;
  redirectUri: string;
  state?: string | undefined;
  scope: string;
  codeChallenge: string;
  nonce?: string | undefined;
}

export interface LoginTransaction {
  request: AuthorizeRequest;
  csrf: string;
  expires: number;
  /** Wrong passwords on this page; at MAX_WRONG_PASSWORDS the transaction ends. */
  wrongPasswords: number;
  /**
   * Set once the temporary password was right: the user (by sub) who must now choose a new one,
   * and the password hash that was checked. The new password is taken only while the user still
   * has that hash and must change it; a form left open after a change is refused.
   */
  mustChangePassword?: { sub: string; username: string; checkedHash: string };
}

export interface Session {
  sub: string;
  authTime: number;
  expires: number;
}

export interface CodeRecord {
  request: AuthorizeRequest;
  sub: string;
  authTime: number;
  expires: number;
}

/** How long things live: a sign-in page 15 minutes, a session one hour and a code five minutes, as Cognito's
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/authorization-endpoint.html,
 * https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html). */
export const LIFETIME_MS = { transaction: 15 * 60_000, session: 60 * 60_000, code: 5 * 60_000 } as const;

/** Sign-in transactions held at once; beyond, authorize answers 503 rather than evicting others'. */
export const MAX_TRANSACTIONS = 10_000;
/** Wrong passwords one sign-in page takes before its transaction ends. */
export const MAX_WRONG_PASSWORDS = 5;
/** Failed passwords of a username before each further try must wait (doubling from one second). */
export const FREE_FAILURES = 5;
export const LOCKOUT_MAX_MS = 15 * 60_000;
const failureKey = (username: string) => digest(username.toLowerCase());

class Bounded<T extends { expires: number }> {
  private readonly map = new Map<string, T>();
  constructor(private readonly max: number) {}

  put(key: string, value: T): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }

  /** Adds unless full of live entries (expired ones are dropped first): nothing is evicted. */
  tryPut(key: string, value: T, now: number): boolean {
    if (this.map.size >= this.max) this.deleteWhere((v) => v.expires <= now);
    if (this.map.size >= this.max) return false;
    this.map.set(key, value);
    return true;
  }

  get(key: string, now: number): T | undefined {
    const v = this.map.get(key);
    if (v && v.expires <= now) {
      this.map.delete(key);
      return undefined;
    }
    return v;
  }

  take(key: string): T | undefined {
    const v = this.map.get(key);
    this.map.delete(key);
    return v;
  }

  deleteWhere(test: (v: T) => boolean): void {
    for (const [k, v] of this.map) if (test(v)) this.map.delete(k);
  }
}

export class LoginState {
  private readonly transactions = new Bounded<LoginTransaction>(MAX_TRANSACTIONS);
  private readonly failures = new Bounded<{ count: number; lockedUntil: number; expires: number }>(10_000);
  private readonly sessions = new Bounded<Session>(10_000);
  private readonly codes = new Bounded<CodeRecord>(10_000);

  /** A new sign-in transaction, or undefined when MAX_TRANSACTIONS live ones are held (none is evicted). */
  startTransaction(request: AuthorizeRequest, now: number): { id: string; tx: LoginTransaction } | undefined {
    const id = newSecret();
    const tx = { request, csrf: newSecret(), expires: now + LIFETIME_MS.transaction, wrongPasswords: 0 };
    return this.transactions.tryPut(digest(id), tx, now) ? { id, tx } : undefined;
  }

  /**
   * Whether a username is locked out by its failed passwords (Cognito's "Password attempts
   * exceeded"): after FREE_FAILURES failures, each further try waits 2^(n - FREE_FAILURES) seconds,
   * at most LOCKOUT_MAX_MS, counted from the last failure. Unknown usernames count as known ones.
   */
  lockedOut(username: string, now: number): boolean {
    const record = this.failures.get(failureKey(username), now);
    return record !== undefined && record.lockedUntil > now;
  }

  passwordFailed(username: string, now: number): void {
    const key = failureKey(username);
    const count = (this.failures.get(key, now)?.count ?? 0) + 1;
    const wait = count < FREE_FAILURES ? 0 : Math.min(1000 * 2 ** (count - FREE_FAILURES), LOCKOUT_MAX_MS);
    // Forgotten a quarter of an hour after the lockout ends.
    this.failures.put(key, { count, lockedUntil: now + wait, expires: now + wait + 15 * 60_000 });
  }

  passwordAccepted(username: string): void {
    this.failures.take(failureKey(username));
  }

  transaction(id: string | undefined, now: number): LoginTransaction | undefined {
    return id ? this.transactions.get(digest(id), now) : undefined;
  }

  endTransaction(id: string): void {
    this.transactions.take(digest(id));
  }

  startSession(sub: string, now: number): string {
    const id = newSecret();
    this.sessions.put(digest(id), {
      sub,
      authTime: Math.floor(now / 1000),
      expires: now + LIFETIME_MS.session,
    });
    return id;
  }

  session(id: string | undefined, now: number): Session | undefined {
    return id ? this.sessions.get(digest(id), now) : undefined;
  }

  endSession(id: string): void {
    this.sessions.take(digest(id));
  }

  /** Ends every session and code of a user (deleted or disabled). */
  forget(sub: string): void {
    this.sessions.deleteWhere((s) => s.sub === sub);
    this.codes.deleteWhere((c) => c.sub === sub);
  }

  issueCode(request: AuthorizeRequest, sub: string, authTime: number, now: number): string {
    const code = newSecret();
    this.codes.put(digest(code), { request, sub, authTime, expires: now + LIFETIME_MS.code });
    return code;
  }

  /** A code is single use: taking it removes it, whatever the exchange then decides. */
  takeCode(code: string): CodeRecord | undefined {
    return this.codes.take(digest(code));
  }
}

/** The cookies of a request. */
export function cookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * The managed-login session cookie and the sign-in transaction cookie, both HttpOnly and SameSite=Lax.
 * Browsers send a host's cookies to all its ports, so every server on 127.0.0.1 may receive them:
 * the names are the emulator's own, and the session cookie is set twice, once for each path that
 * reads it (SESSION_PATHS), never for `/`.
 */
export const SESSION_COOKIE = 'eaas-local-cognito-session';
export const SESSION_PATHS = ['/oauth2/authorize', '/logout'] as const;
/** The session cookie's name and path before; cleared when a session is set or ended. */
export const LEGACY_SESSION_COOKIE = 'cognito';
export const TX_COOKIE = 'cognito-login';

export function setCookie(name: string, value: string, maxAgeSeconds: number, path = '/'): string {
  return `${name}=${value}; Path=${path}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax`;
}
