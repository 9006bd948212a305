import { authorize } from '@eaas/aws-rules';
import { describe, expect, it } from 'vitest';
import { withoutAdminDeny } from '../../src/core/admin-deny.js';
import { DomainError } from '../../src/core/errors.js';
import { ADMIN_DENY_SID, rolesKeyPolicy } from '../../src/core/key-policy.js';
import {
  type JobSpec,
  leaseAvailable,
  newJobRecord,
  parseJobRecord,
  percentOf,
  type StarterDecision,
  select,
  starterMayRewrap,
} from '../../src/core/rewrap-job.js';
import { jobView, visibleCounts } from '../../src/core/rewrap-view.js';
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

describe('starterMayRewrap: the per-object rule', () => {
  const STARTER = 'arn:aws:iam::111122223333:user/operator';
  const admin = {
    Sid: 'Admins',
    Effect: 'Allow',
    Principal: { AWS: STARTER },
    Action: 'kms:*Policy',
    Resource: '*',
  };
  const decider =
    (keyArn: string, ...extra: object[]): StarterDecision =>
    (action, context) =>
      authorize({ Statement: [admin, ...extra] }, [], {
        principal: STARTER,
        action,
        keyArn,
        keyAccountId: '111122223333',
        encryptionContext: context,
      });
  const denySecret = (Action: string) => ({
    Effect: 'Deny',
    Principal: { AWS: STARTER },
    Action,
    Resource: '*',
    Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'secret' } },
  });
  const secret = { tenant: 'secret', other: 'x' };
  const acme = { tenant: 'acme', other: 'x' };

  it('allows an administrator of both keys, whatever the context', () => {
    expect(starterMayRewrap(decider(A), decider(B), acme)).toBe(true);
    expect(starterMayRewrap(decider(A), decider(B), {})).toBe(true);
  });

  it('refuses when either key is not administered by the starter', () => {
    const none: StarterDecision = (action, context) =>
      authorize({ Statement: [] }, [], {
        principal: STARTER,
        action,
        keyArn: A,
        keyAccountId: '111122223333',
        encryptionContext: context,
      });
    expect(starterMayRewrap(none, decider(B), acme)).toBe(false);
    expect(starterMayRewrap(decider(A), none, acme)).toBe(false);
  });

  it('honours a Deny with a context condition on kms:*, kms:ReEncrypt* or administration, per object', () => {
    for (const action of ['kms:*', 'kms:ReEncrypt*', 'kms:ReEncryptFrom', 'kms:PutKeyPolicy']) {
      const source = decider(A, denySecret(action));
      expect(starterMayRewrap(source, decider(B), secret), action).toBe(false);
      expect(starterMayRewrap(source, decider(B), acme), action).toBe(true);
    }
    // On the destination, the half of ReEncrypt that lands there.
    expect(starterMayRewrap(decider(A), decider(B, denySecret('kms:ReEncryptTo')), secret)).toBe(false);
    expect(starterMayRewrap(decider(A), decider(B, denySecret('kms:ReEncryptFrom')), secret)).toBe(true);
  });

  it("a hand-written Deny borrowing the administrators' Deny Sid still stops the job (a frozen key)", () => {
    const base = rolesKeyPolicy({ accountId: '111122223333', administrators: [STARTER], users: [] });
    const freeze = {
      Sid: ADMIN_DENY_SID,
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:ReEncrypt*',
      Resource: '*',
    };
    const frozen = { ...base, Statement: [...base.Statement, freeze] };
    const policyDecider =
      (policy: unknown, keyArn: string): StarterDecision =>
      (action, context, only) =>
        authorize(only === 'except-admin-deny' ? withoutAdminDeny(policy) : policy, [], {
          principal: STARTER,
          action,
          keyArn,
          keyAccountId: '111122223333',
          encryptionContext: context,
        });
    expect(starterMayRewrap(policyDecider(base, A), policyDecider(base, B), acme)).toBe(true);
    expect(starterMayRewrap(policyDecider(frozen, A), policyDecider(base, B), acme)).toBe(false);
  });
});

describe('jobView: what the API shows', () => {
  const finishedRecord = () => {
    const job = newJobRecord('j', spec({ dryRun: true }), 'arn:aws:iam::111122223333:user/op', new Date(0));
    job.phase = 'completed-with-failures';
    job.total = 40;
    job.cursor = 'hr/2027-layoffs-plan.docx';
    job.counts = {
      scanned: 40,
      rewrapped: 3,
      alreadyCurrent: 2,
      skipped: { 'other-key': 30, 'not-encrypted': 1, deleted: 1, 'unknown-key': 1, 'not-authorized': 1 },
      failed: { 'unknown-key:malformed-metadata': 1 },
    };
    job.failures = [{ key: 'hr/salaries.xlsx', reason: 'unknown-key:malformed-metadata' }];
    return job;
  };

  it('shows no object name and no count of objects at all', () => {
    const job = finishedRecord();
    const view = jobView(job);
    const text = JSON.stringify(view);
    for (const leak of [
      'hr/',
      'total',
      'percent',
      'cursor',
      'scanned',
      'counts',
      'rewrapped',
      'alreadyCurrent',
      'not-authorized',
      'deferred',
      'other-key',
      'unknown-key',
      'failures',
    ])
      expect(text, leak).not.toContain(leak);
    // The report is a fixed sentence: no number in it.
    expect(view.report?.summary).not.toMatch(/\d/);
    // Its only failure is hidden: the view does not say the job had one.
    expect(view).toMatchObject({ state: 'succeeded', phase: 'succeeded' });
    // The record keeps the counts for operators (visibleCounts: those under the job's keys).
    expect(visibleCounts(job)).toEqual({
      rewrapped: 3,
      alreadyCurrent: 2,
      skipped: { 'not-authorized': 1 },
      failed: {},
    });
  });

  it("is the same view whatever the counts, but for failures of the job's own objects", () => {
    const none = newJobRecord('j', spec({ dryRun: true }), 'arn:aws:iam::111122223333:user/op', new Date(0));
    none.phase = 'succeeded';
    expect(jobView(finishedRecord())).toEqual(jobView(none));
    const job = finishedRecord();
    job.counts.failed['too-large-to-copy'] = 2;
    const view = jobView(job);
    expect(view).toMatchObject({ state: 'completed-with-failures', phase: 'completed-with-failures' });
    expect(JSON.stringify(view)).not.toMatch(/too-large|2 failed/);
    expect(view.report?.summary).toContain('finished with failures');
  });

  it('shows every pass of a running job (counting, scanning, retrying) as running, with no progress time', () => {
    for (const phase of ['counting', 'scanning', 'retrying'] as const) {
      const job = finishedRecord();
      job.phase = phase;
      job.finishedAt = undefined;
      job.startedAt = '2026-01-01T00:00:01.000Z';
      job.deferred = ['hr/2027-layoffs-plan.docx'];
      const view = jobView(job);
      expect(view).toMatchObject({ state: 'running', phase: 'running' });
      for (const field of ['startedAt', 'updatedAt', 'finishedAt']) expect(view).not.toHaveProperty(field);
      expect(JSON.stringify(view)).not.toContain('hr/');
    }
  });

  it('reads records stored before the starter ARN and the hidden reasons existed', () => {
    const old = parseJobRecord(
      JSON.stringify({
        id: 'old',
        spec: spec(),
        createdBy: 'arn:aws:iam::111122223333:user/op',
        phase: 'scanning',
        counts: { scanned: 5, rewrapped: 1, alreadyCurrent: 0, skipped: { 'other-key': 4 }, failed: {} },
        total: 9,
        cursor: 'a/b',
        deferred: [],
        failures: [],
        pages: 2,
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-01T00:00:00.000Z',
      }),
    );
    expect(old.createdByArn).toBeUndefined();
    expect(jobView(old)).toMatchObject({ state: 'running', phase: 'running' });
    expect(jobView(old)).not.toHaveProperty('counts');
    expect(() => parseJobRecord(JSON.stringify({ ...old, createdBy: undefined }))).toThrow();
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
