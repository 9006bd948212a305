import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/core/errors.js';
import { ERROR_STATUS } from '../../src/http/error-status.js';
import { QuotaLedger, type Verdict } from '../../src/services/quotas.js';
import { MemoryQuotaStore } from '../helpers/memory-quota-store.js';

const ALICE = 'arn:aws:iam::111122223333:user/alice';
const BOB = 'arn:aws:iam::111122223333:user/bob';

function ledgerOf(limits = { keys: 3, aliases: 2, jobs: 2 }, now = () => new Date('2026-05-01T10:00:00Z')) {
  const store = new MemoryQuotaStore();
  return { store, ledger: new QuotaLedger(store, limits, { now }) };
}

const refusal = async (p: Promise<unknown>) => {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
};

describe('the quota ledger', () => {
  it('refuses past the quota with 429 LimitExceeded naming the quota and its setting; others are unaffected', async () => {
    const { ledger } = ledgerOf();
    for (const id of ['k1', 'k2', 'k3']) await ledger.reserve(ALICE, 'keys', id);
    const error = await refusal(ledger.reserve(ALICE, 'keys', 'k4'));
    expect(error.code).toBe('LimitExceeded');
    expect(ERROR_STATUS[error.code]).toBe(429);
    expect(error.message).toContain('EAAS_QUOTA_KEYS_PER_CALLER=3');
    expect(error.message).toContain(ALICE);
    await ledger.reserve(BOB, 'keys', 'k1');
    await ledger.reserve(ALICE, 'aliases', 'alias/alice/a');
  });

  it('holds under concurrent reserves: 10 at once with a quota of 3, exactly 3 pass', async () => {
    const { ledger, store } = ledgerOf();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => ledger.reserve(ALICE, 'keys', `k${i}`)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    for (const r of results.filter((x) => x.status === 'rejected'))
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'LimitExceeded' });
    expect(store.ids(ALICE, 'keys')).toHaveLength(3);
    expect(store.lostRaces).toBeGreaterThan(0);
  });

  it('a release frees the slot taken, once; releasing what was never taken changes nothing', async () => {
    const { ledger, store } = ledgerOf();
    await ledger.reserve(ALICE, 'jobs', 'j1');
    await ledger.reserve(ALICE, 'jobs', 'j2');
    await ledger.release(ALICE, 'jobs', 'j1');
    await ledger.release(ALICE, 'jobs', 'j1');
    await ledger.release(BOB, 'jobs', 'j1');
    expect(store.ids(ALICE, 'jobs')).toEqual(['j2']);
    expect(store.records.has(BOB)).toBe(false);
    await ledger.reserve(ALICE, 'jobs', 'j3');
  });

  it('one name created twice at once takes two slots; the failed creation gives back one, the name made stays counted', async () => {
    const { ledger, store } = ledgerOf();
    await Promise.all([
      ledger.reserve(ALICE, 'aliases', 'alias/alice/x'),
      ledger.reserve(ALICE, 'aliases', 'alias/alice/x'),
    ]);
    await ledger.release(ALICE, 'aliases', 'alias/alice/x');
    expect(store.ids(ALICE, 'aliases')).toEqual(['alias/alice/x']);
  });

  it('a key pending deletion frees its slot; taking it back is refused at the quota', async () => {
    const { ledger } = ledgerOf();
    for (const id of ['k1', 'k2', 'k3']) await ledger.reserve(ALICE, 'keys', id);
    await ledger.keyPendingDeletion(ALICE, 'k1');
    await ledger.reserve(ALICE, 'keys', 'k4');
    expect((await refusal(ledger.keyBack(ALICE, 'k1'))).code).toBe('LimitExceeded');
    await ledger.keyPendingDeletion(ALICE, 'k4');
    expect(await ledger.keyBack(ALICE, 'k1')).toBe(true);
    expect(await ledger.keyBack(ALICE, 'k1')).toBe(false);
  });

  it('keys pending deletion count up to twice the quota in all', async () => {
    const { ledger } = ledgerOf();
    for (let i = 0; i < 6; i++) {
      await ledger.reserve(ALICE, 'keys', `k${i}`);
      await ledger.keyPendingDeletion(ALICE, `k${i}`);
    }
    const error = await refusal(ledger.reserve(ALICE, 'keys', 'k6'));
    expect(error.message).toContain('counting those pending deletion');
  });

  it('binds a reservation to what it became, or adds it when the reservation lapsed', async () => {
    const { ledger, store } = ledgerOf();
    await ledger.reserve(ALICE, 'keys', 'reserved:1');
    await ledger.bind(ALICE, 'keys', 'reserved:1', 'arn:k1');
    await ledger.bind(ALICE, 'keys', 'reserved:gone', 'arn:k2');
    expect(store.ids(ALICE, 'keys')).toEqual(['arn:k1', 'arn:k2']);
  });

  it('at the quota, checks the entries against the truth: gone, finished or pending deletion ones stop counting', async () => {
    let now = new Date('2026-05-01T10:00:00Z');
    const { ledger, store } = ledgerOf({ keys: 2, aliases: 2, jobs: 2 }, () => now);
    await ledger.reserve(ALICE, 'jobs', 'finished');
    await ledger.reserve(ALICE, 'jobs', 'in-flight');
    const truth = new Map<string, Verdict>([
      ['finished', 'done'],
      ['in-flight', 'absent'],
    ]);
    let checks = 0;
    const check = async (ids: readonly string[]) => {
      checks += 1;
      return new Map(ids.flatMap((id) => (truth.has(id) ? [[id, truth.get(id) as Verdict] as const] : [])));
    };
    // The finished job is dropped; the one whose record is not there yet still counts (in flight).
    await ledger.reserve(ALICE, 'jobs', 'j3', check);
    expect(store.ids(ALICE, 'jobs')).toEqual(['in-flight', 'j3']);
    // At most one check a minute: an attacker at its quota cannot make every request cost KMS calls.
    truth.set('j3', 'done');
    expect((await refusal(ledger.reserve(ALICE, 'jobs', 'j4', check))).code).toBe('LimitExceeded');
    expect(checks).toBe(1);
    // Later, an entry whose thing never appeared (a start that failed) lapses too.
    now = new Date(now.getTime() + 10 * 60_000);
    await ledger.reserve(ALICE, 'jobs', 'j4', check);
    expect(store.ids(ALICE, 'jobs')).toEqual(['j4']);
    expect(checks).toBe(2);
  });

  it('counts a key whose deletion was cancelled outside the API again at the next check', async () => {
    const { ledger } = ledgerOf({ keys: 1, aliases: 1, jobs: 1 });
    await ledger.reserve(ALICE, 'keys', 'arn:k1');
    await ledger.keyPendingDeletion(ALICE, 'arn:k1');
    const check = async (ids: readonly string[]) => new Map(ids.map((id) => [id, 'live' as Verdict]));
    expect((await refusal(ledger.reserve(ALICE, 'keys', 'arn:k2', check))).code).toBe('LimitExceeded');
  });

  it('refuses an unreadable record rather than starting it afresh', async () => {
    const { ledger, store } = ledgerOf();
    store.records.set(ALICE, { text: '{"principal":"someone else"}', version: '"x"' });
    expect((await refusal(ledger.reserve(ALICE, 'keys', 'k1'))).code).toBe('DependencyFailure');
  });

  it('names the first part of a damaged record, and keeps a well-formed one as written', async () => {
    const { ledger, store } = ledgerOf();
    const damaged = { principal: ALICE, rev: 1, keys: [{ id: 'k1' }], aliases: [], jobs: [], checkedAt: {} };
    store.records.set(ALICE, { text: JSON.stringify(damaged), version: '"x"' });
    const error = await refusal(ledger.reserve(ALICE, 'keys', 'k2'));
    expect(error.message).toBe(`The quota record of ${ALICE} is unreadable (keys).`);
    store.records.set(ALICE, { text: 'not json', version: '"y"' });
    expect((await refusal(ledger.reserve(ALICE, 'keys', 'k2'))).message).toContain('(not an object)');
    const good = { ...damaged, keys: [{ id: 'k1', at: '2026-05-01T09:00:00Z', pendingDeletion: true }] };
    store.records.set(ALICE, { text: JSON.stringify(good), version: '"z"' });
    await ledger.reserve(ALICE, 'keys', 'k2');
    expect(store.ids(ALICE, 'keys')).toEqual(['k1', 'k2']);
    expect(JSON.parse(store.records.get(ALICE)?.text ?? '').keys[0].pendingDeletion).toBe(true);
  });
});
