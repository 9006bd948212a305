import { DomainError } from '../core/errors.js';

/**
 * What keeps a re-encryption campaign a good neighbour: retries of throttled or failing calls with
 * exponential backoff and full jitter, and a ceiling on the rate of KMS requests, so a campaign
 * does not eat the account's shared KMS quota.
 */

export type Sleep = (ms: number) => Promise<void>;

export const sleep: Sleep = (ms) =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** KMS ThrottlingException and S3 SlowDown (Throttled), KMS or S3 5xx (DependencyFailure). */
export function isRetryable(error: unknown): boolean {
  return error instanceof DomainError && (error.code === 'Throttled' || error.code === 'DependencyFailure');
}

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  random?: () => number;
  sleep?: Sleep;
  /** Called before each new attempt (for counting in tests and logs). */
  onRetry?: (error: unknown, attempt: number) => void;
}

/** Runs `fn`, again after a retryable error, waiting `random() * min(max, base * 2^n)` between tries. */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 8;
  const base = options.baseMs ?? 50;
  const max = options.maxMs ?? 5000;
  const random = options.random ?? Math.random;
  const wait = options.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
      options.onRetry?.(error, attempt);
      await wait(Math.floor(random() * Math.min(max, base * 2 ** (attempt - 1))));
    }
  }
}

/**
 * A token bucket: at most `perSecond` acquisitions a second on average, bursts up to one second's
 * worth. `perSecond` 0 means no ceiling.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
    private readonly wait: Sleep = sleep,
  ) {
    this.tokens = perSecond;
    this.last = now();
  }

  /** Resolves when one more request may go; callers are served in order. */
  acquire(): Promise<void> {
    if (this.perSecond <= 0) return Promise.resolve();
    const turn = this.queue.then(() => this.take());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async take(): Promise<void> {
    for (;;) {
      const t = this.now();
      this.tokens = Math.min(this.perSecond, this.tokens + ((t - this.last) / 1000) * this.perSecond);
      this.last = t;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.wait(Math.ceil(((1 - this.tokens) / this.perSecond) * 1000));
    }
  }
}
