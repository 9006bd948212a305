/**
 * The table of temporary sessions of the local identities, by access key id, in the order issued.
 * In memory only. Bounded twice: each holder (an identity pool's identity, or a role and session
 * name) keeps at most MAX_SESSIONS_PER_HOLDER live sessions, its own oldest going first; and the
 * whole table holds at most MAX_SESSIONS, beyond which new sessions are refused (SessionLimitError)
 * rather than anyone else's evicted. Expired sessions are forgotten EXPIRED_SESSION_RETENTION_MS
 * after their end.
 */

/** How long an expired session is still recognized (and refused as expired), then forgotten. */
export const EXPIRED_SESSION_RETENTION_MS = 60 * 60 * 1000;
/** At most so many sessions are held; beyond, new ones are refused. */
export const MAX_SESSIONS = 10_000;
/** At most so many sessions per holder; the holder's own oldest go first. */
export const MAX_SESSIONS_PER_HOLDER = 32;

/** The table is full: a new session is refused (Cognito's TooManyRequestsException, STS's Throttling). */
export class SessionLimitError extends Error {
  constructor() {
    super('Too many temporary sessions are held; try again later.');
    this.name = 'SessionLimitError';
  }
}

interface Held<T> {
  readonly session: T;
  readonly holder: string;
  readonly expiresAt: number;
}

export class SessionTable<T> {
  private readonly byKey = new Map<string, Held<T>>();
  /** Each holder's access key ids, oldest first. */
  private readonly byHolder = new Map<string, string[]>();

  get(accessKeyId: string): T | undefined {
    return this.byKey.get(accessKeyId)?.session;
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Adds a session of `holder`; throws SessionLimitError when the table is full of others' live ones. */
  add(accessKeyId: string, holder: string, expiresAt: number, session: T, now: number): void {
    this.forgetExpired(now);
    const own = this.byHolder.get(holder) ?? [];
    while (own.length >= MAX_SESSIONS_PER_HOLDER) {
      const oldest = own.shift();
      if (oldest !== undefined) this.byKey.delete(oldest);
    }
    if (this.byKey.size >= MAX_SESSIONS) throw new SessionLimitError();
    own.push(accessKeyId);
    this.byHolder.set(holder, own);
    this.byKey.set(accessKeyId, { session, holder, expiresAt });
  }

  private forgetExpired(now: number): void {
    for (const [id, held] of this.byKey) {
      if (held.expiresAt + EXPIRED_SESSION_RETENTION_MS > now) continue;
      this.byKey.delete(id);
      const own = this.byHolder.get(held.holder)?.filter((k) => k !== id);
      if (own?.length) this.byHolder.set(held.holder, own);
      else this.byHolder.delete(held.holder);
    }
  }
}
