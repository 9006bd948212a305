/**
 * Temporary AWS credentials that renew themselves before they expire, for a signer that asks for
 * credentials on every request (SigV4's credential provider). They live in this object's memory
 * only; `clear()` forgets them and stops the renewal.
 */

export interface TemporaryCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
  /** When the credentials stop working; none means they do not expire (keys an operator typed). */
  readonly expiration?: Date | undefined;
}

/** Five minutes, as AWS's own SDKs renew ahead of expiry. */
const MAX_LEAD_MS = 5 * 60_000;

/**
 * How long before the end of a lifetime to renew: a few minutes for an hour's credentials, a
 * quarter of the lifetime for short-lived ones (so a 20-second session renews at 15 s, not never).
 */
export function renewLead(lifetimeMs: number): number {
  return Math.max(500, Math.min(MAX_LEAD_MS, lifetimeMs / 4));
}

/** Once expired, a request signed with them is refused: never sign with credentials this close to their end. */
const TOO_LATE_MS = 2_000;

interface Held {
  readonly credentials: TemporaryCredentials;
  /** When to fetch new ones. */
  readonly renewAt: number;
  readonly expiresAt: number;
}

export class RefreshingCredentials {
  private held: Held | undefined;
  private pending: Promise<TemporaryCredentials> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by clear(): a fetch that answers after sign-out is dropped, not kept. */
  private generation = 0;

  constructor(
    /** Gets new credentials (the identity pool's GetCredentialsForIdentity, with a fresh ID token). */
    private readonly fetchCredentials: () => Promise<TemporaryCredentials>,
    /** A renewal in the background failed; the next request tries again. */
    private readonly onRenewalError: (error: unknown) => void = () => undefined,
  ) {}

  /** The credential provider for `@smithy/signature-v4`: called for every request it signs. */
  readonly provider = (): Promise<TemporaryCredentials> => this.get();

  /** Credentials valid for a while yet: the ones held, or new ones when those are due for renewal. */
  async get(): Promise<TemporaryCredentials> {
    const held = this.held;
    const now = Date.now();
    if (held && now < held.renewAt) return held.credentials;
    try {
      return await this.renew();
    } catch (error) {
      // The renewal failed, but the credentials held still work for a while: use them.
      if (held && this.held === held && Date.now() < held.expiresAt - TOO_LATE_MS) return held.credentials;
      throw error;
    }
  }

  /** Fetches new credentials now (one fetch at a time), and schedules the next renewal. */
  renew(): Promise<TemporaryCredentials> {
    if (this.pending) return this.pending;
    const generation = this.generation;
    const pending = this.fetchCredentials().then(
      (credentials) => {
        if (generation !== this.generation) throw new Error('Signed out.');
        const now = Date.now();
        const expiresAt = credentials.expiration?.getTime() ?? Number.POSITIVE_INFINITY;
        const renewAt = expiresAt - renewLead(expiresAt - now);
        this.held = { credentials, renewAt, expiresAt };
        this.schedule(renewAt - now);
        return credentials;
      },
      (error: unknown) => {
        if (generation === this.generation && this.held) {
          // Try again before the credentials held run out, not at once in a loop.
          const left = this.held.expiresAt - Date.now();
          if (left > TOO_LATE_MS) this.schedule(Math.max(500, Math.min(30_000, left / 4)));
        }
        throw error;
      },
    );
    this.pending = pending;
    const done = () => {
      if (this.pending === pending) this.pending = undefined;
    };
    pending.then(done, done);
    return pending;
  }

  /** When the credentials held expire, if any. */
  get expiresAt(): Date | undefined {
    return this.held && Number.isFinite(this.held.expiresAt) ? new Date(this.held.expiresAt) : undefined;
  }

  /** Forgets the credentials and stops renewing them. */
  clear(): void {
    this.generation++;
    this.held = undefined;
    this.pending = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (!Number.isFinite(delayMs)) return;
    // Timers past 2^31 - 1 ms fire at once; a day is far enough for any STS session.
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.renew().catch(this.onRenewalError);
      },
      Math.max(0, Math.min(delayMs, 86_400_000)),
    );
  }
}
