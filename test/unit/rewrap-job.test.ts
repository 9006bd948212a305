import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/core/errors.js';
import { type JobSpec, leaseAvailable, newJobRecord, percentOf, select } from '../../src/core/rewrap-job.js';
import { RateLimiter, withRetry } from '../../src/services/rewrap-retry.js';

const A = 'arn:aws:kms:us-east-1:111122223333:key/a';
const B = 'arn:aws:kms:us-east-1:111122223333:key/b';
const spec = (over: Partial<JobSpec> = {}): JobSpec => ({
  mode: 'source-key',
  sourceKeyArn: A,
  destinationKeyArn: B,
  prefix: '',
  dryRun: false,
  concurrency: 1,
  ...over,
});

describe('select', () => {
  it('re-wraps what is under the source key, leaves the destination and other keys alone', () => {
    expect(select(spec(), { keyArn: A })).toEqual({ rewrap: true });
    expect(select(spec(), { keyArn: B })).toEqual({ rewrap: false, outcome: 'alreadyCurrent' });
    expect(select(spec(), { keyArn: 'other' })).toMatchObject({ rewrap: false, reason: 'other-key' });
    expect(select(spec(), {})).toEqual({ rewrap: 'try' });
  });

  it('current-material campaigns take what was wrapped before the rotation', () => {
    const s = spec({ mode: 'older-than-rotation', sourceKeyArn: B, rotatedAt: '2026-06-01T00:00:00.000Z' });
    expect(select(s, { keyArn: B, wrappedAt: '2026-05-31T23:59:59.000Z' })).toEqual({ rewrap: true });
    expect(select(s, { keyArn: B, wrappedAt: '2026-06-01T00:00:01.000Z' })).toMatchObject({
      outcome: 'alreadyCurrent',
    });
    expect(select(s, { keyArn: A, wrappedAt: '2020-01-01T00:00:00.000Z' })).toMatchObject({
      reason: 'other-key',
    });
  });
});

describe('lease and progress', () => {
  it('lets another worker take a job only once the lease has expired', () => {
    const job = newJobRecord('j', spec(), 'me', new Date(0));
    job.lease = { owner: 'w1', expiresAt: new Date(1000).toISOString() };
    expect(leaseAvailable(job, 'w2', new Date(999))).toBe(false);
    expect(leaseAvailable(job, 'w1', new Date(999))).toBe(true);
    expect(leaseAvailable(job, 'w2', new Date(1000))).toBe(true);
    job.phase = 'succeeded';
    expect(leaseAvailable(job, 'w1', new Date(0))).toBe(false);
  });

  it('shows a percentage only once the total is counted', () => {
    const job = newJobRecord('j', spec(), 'me', new Date(0));
    job.phase = 'counting';
    job.total = 10;
    expect(percentOf(job)).toBeUndefined();
    job.phase = 'scanning';
    job.counts.scanned = 4;
    expect(percentOf(job)).toBe(40);
  });
});

describe('withRetry', () => {
  const noWait = async () => undefined;
  it('retries Throttled and DependencyFailure, not other errors', async () => {
    let calls = 0;
    const out = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw new DomainError(calls === 1 ? 'Throttled' : 'DependencyFailure', 'x');
        return 'done';
      },
      { sleep: noWait },
    );
    expect([out, calls]).toEqual(['done', 3]);
    calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new DomainError('AccessDenied', 'no');
        },
        { sleep: noWait },
      ),
    ).rejects.toMatchObject({ code: 'AccessDenied' });
    expect(calls).toBe(1);
  });

  it('gives up after the attempts allowed, waiting with jitter below the exponential bound', async () => {
    const waits: number[] = [];
    await expect(
      withRetry(
        async () => {
          throw new DomainError('Throttled', 'slow down');
        },
        { attempts: 4, baseMs: 100, random: () => 0.999, sleep: async (ms) => void waits.push(ms) },
      ),
    ).rejects.toMatchObject({ code: 'Throttled' });
    expect(waits).toEqual([99, 199, 399]);
  });
});

describe('RateLimiter', () => {
  it('holds requests to the ceiling once the burst is spent', async () => {
    let now = 0;
    const waits: number[] = [];
    const limiter = new RateLimiter(
      2,
      () => now,
      async (ms) => {
        waits.push(ms);
        now += ms;
      },
    );
    for (let i = 0; i < 4; i++) await limiter.acquire();
    expect(waits).toEqual([500, 500]);
  });
});
