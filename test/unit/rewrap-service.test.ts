import { describe, expect, it } from 'vitest';
import type { Keys } from '../../src/ports.js';
import { AccessControl } from '../../src/services/access.js';
import { KeyService } from '../../src/services/keys.js';
import { QuotaLedger } from '../../src/services/quotas.js';
import { RewrapService } from '../../src/services/rewrap.js';
import { MemoryJobObjects } from '../fakes/job-objects.js';
import { ACCOUNT, MemoryKms } from '../fakes/kms.js';
import { MemoryQuotaStore } from '../helpers/memory-quota-store.js';

/** Starting and viewing re-encryption jobs against an in-memory KMS and vault. */

const user = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;
const OPERATOR = user('operator');
const APP = user('app');
const EVE = user('eve');

async function setup(jobs = 5) {
  const kms = new MemoryKms();
  const access = new AccessControl(kms, { ttlMs: 0 });
  const keys = new KeyService(kms, access, ACCOUNT, { aliasOperators: [OPERATOR] });
  const r = { caller: { arn: OPERATOR }, record: () => undefined };
  const source = (await keys.create(r, { users: [APP], alias: 'old' })).key.arn;
  const destination = (await keys.create(r, { users: [APP], alias: 'new' })).key.arn;
  const records = new MemoryJobObjects();
  // A clock that moves on at every reading: two jobs started back to back never share the
  // millisecond their listing order is drawn from (within one millisecond it is the ids' order).
  let now = Date.now();
  const rewrap = new RewrapService({} as Keys, kms, access, new MemoryJobObjects(), records, {
    quotas: new QuotaLedger(new MemoryQuotaStore(), { keys: 5, aliases: 5, jobs }),
    now: () => {
      now += 1;
      return new Date(now);
    },
  });
  return { kms, rewrap, records, source, destination };
}

const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    return error as Error & { code: string };
  }
  throw new Error('expected a refusal');
};

describe('RewrapService.start', () => {
  it('makes the job record for an administrator of both keys, indexed as unfinished', async () => {
    const { rewrap, records, source, destination } = await setup();
    const view = await rewrap.start(
      { arn: OPERATOR },
      { sourceKeyId: 'alias/old', destinationKeyId: 'alias/new', prefix: 'hr/' },
    );
    expect(view).toMatchObject({
      state: 'pending',
      mode: 'source-key',
      sourceKeyId: source,
      destinationKeyId: destination,
      prefix: 'hr/',
      createdBy: OPERATOR,
    });
    expect(await rewrap.unfinished()).toEqual([view.id]);
    expect(records.objects.has(`jobs/${view.id}.json`)).toBe(true);
  });

  it('refuses a user of the keys, and a key that does not exist, as one the caller must administer', async () => {
    const { rewrap } = await setup();
    for (const [caller, keyId] of [
      [APP, 'alias/new'],
      [OPERATOR, 'alias/none'],
    ] as const) {
      const decisions: unknown[] = [];
      const error = await refusal(
        rewrap.start(
          { arn: caller, record: (d) => decisions.push(d) },
          { olderThanRotation: true, destinationKeyId: keyId },
        ),
      );
      expect(error).toMatchObject({
        code: 'AccessDenied',
        message: expect.stringContaining(`may not start this job: it must administer the key ${keyId}`),
      });
      expect(decisions).toEqual([expect.objectContaining({ allowed: false, action: 'kms:PutKeyPolicy' })]);
    }
    expect(await rewrap.unfinished()).toEqual([]);
  });

  it('refuses a request naming both or neither source, the jobs/ prefix, one key twice, and a disabled destination', async () => {
    const { kms, rewrap, destination } = await setup();
    const op = { arn: OPERATOR };
    for (const input of [
      { sourceKeyId: 'alias/old', olderThanRotation: true, destinationKeyId: 'alias/new' },
      { destinationKeyId: 'alias/new' },
      { olderThanRotation: true, destinationKeyId: 'alias/new', prefix: 'jobs/' },
      { sourceKeyId: 'alias/new', destinationKeyId: destination },
    ])
      expect(await refusal(rewrap.start(op, input)), JSON.stringify(input)).toMatchObject({
        code: 'ValidationError',
      });
    await kms.disable(destination);
    expect(
      await refusal(rewrap.start(op, { olderThanRotation: true, destinationKeyId: 'alias/new' })),
    ).toMatchObject({ code: 'KeyDisabled' });
    // A dry run may name a disabled destination.
    await rewrap.start(op, { olderThanRotation: true, destinationKeyId: 'alias/new', dryRun: true });
  });

  it('counts unfinished jobs in the starter quota', async () => {
    const { rewrap } = await setup(1);
    const input = { olderThanRotation: true, destinationKeyId: 'alias/new' };
    await rewrap.start({ arn: OPERATOR }, input);
    expect(await refusal(rewrap.start({ arn: OPERATOR }, input))).toMatchObject({ code: 'LimitExceeded' });
  });
});

describe('RewrapService.status', () => {
  it('shows a job to an administrator of its keys only; an unknown or malformed id is NotFound', async () => {
    const { rewrap } = await setup();
    const { id } = await rewrap.start(
      { arn: OPERATOR },
      { sourceKeyId: 'alias/old', destinationKeyId: 'alias/new' },
    );
    expect(await rewrap.status({ arn: OPERATOR }, id)).toMatchObject({ id, state: 'pending' });
    for (const who of [APP, EVE]) {
      const error = await refusal(rewrap.status({ arn: who }, id));
      expect(error).toMatchObject({ code: 'AccessDenied' });
      expect(error.message).not.toContain('key/');
    }
    expect(await refusal(rewrap.status({ arn: OPERATOR }, 'no-such-job'))).toMatchObject({
      code: 'NotFound',
    });
    expect(await refusal(rewrap.status({ arn: OPERATOR }, '../x'))).toMatchObject({ code: 'NotFound' });
  });
});

describe('RewrapService.cancel', () => {
  it("cancels a pending job with the view's right: its slot and its place in the index given back; again: the same view", async () => {
    const { rewrap, records } = await setup(1);
    const input = { sourceKeyId: 'alias/old', destinationKeyId: 'alias/new', prefix: 'hr/' };
    const { id } = await rewrap.start({ arn: OPERATOR }, input);
    // Refused as GET refuses: another caller, whoever uses the keys, an unknown or malformed id.
    for (const who of [APP, EVE])
      expect(await refusal(rewrap.cancel({ arn: who }, id))).toMatchObject({ code: 'AccessDenied' });
    for (const other of ['no-such-job', '../x'])
      expect(await refusal(rewrap.cancel({ arn: OPERATOR }, other))).toMatchObject({ code: 'NotFound' });
    expect((await rewrap.load(id))?.job.phase).toBe('pending');
    const cancelled = await rewrap.cancel({ arn: OPERATOR }, id);
    expect(cancelled).toMatchObject({ id, state: 'cancelled', phase: 'cancelled', prefix: 'hr/' });
    expect(cancelled.report?.summary).toMatch(/^The job was cancelled\. /);
    expect(await rewrap.status({ arn: OPERATOR }, id)).toEqual(cancelled);
    expect(await rewrap.unfinished()).toEqual([]);
    const stored = records.objects.get(`jobs/${id}.json`)?.text;
    expect(await rewrap.cancel({ arn: OPERATOR }, id)).toEqual(cancelled);
    // The second cancel wrote nothing.
    expect(records.objects.get(`jobs/${id}.json`)?.text).toBe(stored);
    // The quota of one unfinished job is free again.
    await rewrap.start({ arn: OPERATOR }, input);
    // Nothing runs a cancelled job.
    expect(await rewrap.run(id)).toBeUndefined();
    expect((await rewrap.load(id))?.job.phase).toBe('cancelled');
  });

  it('cancels a dry run too; a finished job is 409 InvalidState, and stays as it finished', async () => {
    const { rewrap } = await setup();
    const dry = await rewrap.start(
      { arn: OPERATOR },
      { olderThanRotation: true, destinationKeyId: 'alias/new', dryRun: true },
    );
    expect((await rewrap.cancel({ arn: OPERATOR }, dry.id)).state).toBe('cancelled');
    const real = await rewrap.start(
      { arn: OPERATOR },
      { olderThanRotation: true, destinationKeyId: 'alias/new' },
    );
    // Nothing under the prefix: one run finishes it.
    expect((await rewrap.run(real.id))?.phase).toBe('succeeded');
    const error = await refusal(rewrap.cancel({ arn: OPERATOR }, real.id));
    expect(error).toMatchObject({
      code: 'InvalidState',
      message: expect.stringContaining('already finished'),
    });
    expect((await rewrap.status({ arn: OPERATOR }, real.id)).state).toBe('succeeded');
  });
});

describe('RewrapService.list', () => {
  it("lists the caller's own jobs newest first, in pages; not another starter's, nor the schedule's", async () => {
    let now = Date.parse('2026-06-01T00:00:00Z');
    const kms = new MemoryKms();
    const access = new AccessControl(kms, { ttlMs: 0 });
    const keys = new KeyService(kms, access, ACCOUNT, { aliasOperators: [OPERATOR] });
    const r = { caller: { arn: OPERATOR }, record: () => undefined };
    const destination = (await keys.create(r, { administrators: [EVE], alias: 'new' })).key.arn;
    const records = new MemoryJobObjects();
    const rewrap = new RewrapService({} as Keys, kms, access, new MemoryJobObjects(), records, {
      now: () => {
        now += 1000;
        return new Date(now);
      },
    });
    const start = (arn: string) =>
      rewrap.start({ arn }, { olderThanRotation: true, destinationKeyId: destination, dryRun: true });
    const mine = [
      (await start(OPERATOR)).id,
      (await start(OPERATOR)).id,
      (await start(OPERATOR)).id,
    ].reverse();
    const eves = (await start(EVE)).id;
    await rewrap.create(
      {
        mode: 'older-than-rotation',
        sourceKeyArn: destination,
        destinationKeyArn: destination,
        prefix: '',
        dryRun: true,
        concurrency: 1,
      },
      'schedule',
    );

    const all = await rewrap.list({ arn: OPERATOR }, 50, undefined);
    expect(all.jobs.map((j) => j.id)).toEqual(mine);
    expect(all).not.toHaveProperty('next');
    const first = await rewrap.list({ arn: OPERATOR }, 2, undefined);
    expect(first.jobs.map((j) => j.id)).toEqual(mine.slice(0, 2));
    const second = await rewrap.list({ arn: OPERATOR }, 2, first.next);
    expect(second.jobs.map((j) => j.id)).toEqual(mine.slice(2));
    expect((await rewrap.list({ arn: EVE }, 50, undefined)).jobs.map((j) => j.id)).toEqual([eves]);
    expect((await rewrap.list({ arn: APP }, 50, undefined)).jobs).toEqual([]);
    // The markers are the only thing listed: the unfinished index still finds every job.
    expect((await rewrap.unfinished()).length).toBe(5);
  });

  it('leaves out a job whose keys the caller no longer administers, as its status refuses it', async () => {
    const { kms, rewrap, destination } = await setup();
    const job = await rewrap.start(
      { arn: OPERATOR },
      { sourceKeyId: 'alias/old', destinationKeyId: 'alias/new' },
    );
    expect((await rewrap.list({ arn: OPERATOR }, 50, undefined)).jobs.map((j) => j.id)).toEqual([job.id]);

    // The destination key's administrator is now Eve alone.
    const policy = await kms.keyPolicy(destination);
    expect(policy).toContain(OPERATOR);
    await kms.putKeyPolicy(destination, policy.replaceAll(OPERATOR, EVE));

    expect(await rewrap.list({ arn: OPERATOR }, 50, undefined)).toEqual({ jobs: [] });
    expect(await refusal(rewrap.status({ arn: OPERATOR }, job.id))).toMatchObject({ code: 'AccessDenied' });
  });

  it('leaves out a job whose key was deleted since, and lists the older jobs past it', async () => {
    const { kms, rewrap, source } = await setup();
    const older = await rewrap.start(
      { arn: OPERATOR },
      { olderThanRotation: true, destinationKeyId: 'alias/new', prefix: 'a/' },
    );
    const retired = await rewrap.start(
      { arn: OPERATOR },
      { sourceKeyId: 'alias/old', destinationKeyId: 'alias/new', prefix: 'b/' },
    );
    expect((await rewrap.list({ arn: OPERATOR }, 50, undefined)).jobs.map((j) => j.id)).toEqual([
      retired.id,
      older.id,
    ]);

    // The source key's waiting period ended: KMS deleted it.
    expect(kms.keys.delete(source.split('/').pop() ?? '')).toBe(true);

    const first = await rewrap.list({ arn: OPERATOR }, 1, undefined);
    expect(first.jobs).toEqual([]);
    expect((await rewrap.list({ arn: OPERATOR }, 1, first.next)).jobs.map((j) => j.id)).toEqual([older.id]);
  });

  it('skips a marker whose record names another starter, and one whose record never appeared', async () => {
    const { rewrap, records } = await setup();
    const job = await rewrap.start(
      { arn: OPERATOR },
      { sourceKeyId: 'alias/old', destinationKeyId: 'alias/new' },
    );
    const markers = [...records.objects.keys()].filter((k) => k.startsWith('jobs/by-starter/'));
    expect(markers).toHaveLength(1);
    const folder = markers[0]?.replace(/[^/]+$/, '') ?? '';
    // A marker in the operator's folder pointing at a job of someone else, and one at no job.
    const other = {
      ...JSON.parse(records.objects.get(`jobs/${job.id}.json`)?.text ?? '{}'),
      id: 'other',
      createdBy: EVE,
    };
    await records.write('jobs/other.json', JSON.stringify(other), { contentType: 'application/json' });
    await records.write(`${folder}0000000000001-other`, '', { contentType: 'text/plain' });
    await records.write(`${folder}0000000000002-missing`, '', { contentType: 'text/plain' });
    expect((await rewrap.list({ arn: OPERATOR }, 50, undefined)).jobs.map((j) => j.id)).toEqual([job.id]);
  });
});
