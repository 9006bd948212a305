import { describe, expect, it } from 'vitest';
import { rolesKeyPolicy } from '../../src/core/key-policy.js';
import type { AliasInfo, KeyAdmin, Page } from '../../src/ports.js';
import { AccessControl } from '../../src/services/access.js';
import { KeyService } from '../../src/services/keys.js';
import { SCAN_BUDGET, type ScanCursor, scan } from '../../src/services/scan.js';

const ACCOUNT = '111122223333';
const ME = `arn:aws:iam::${ACCOUNT}:user/myKeyUser`;
const arnOf = (i: number) => `arn:aws:kms:us-east-1:${ACCOUNT}:key/${String(i).padStart(8, '0')}`;

/** A paged source like KMS: pages of `size`, markers that are positions. */
function source<T>(items: readonly T[], size: number) {
  return async (marker: string | undefined): Promise<Page<T>> => {
    const start = marker === undefined ? 0 : Number(marker);
    const next = start + size;
    return { items: items.slice(start, next), ...(next < items.length ? { nextToken: String(next) } : {}) };
  };
}

describe('scan: one page of a filtered listing', () => {
  const items = Array.from({ length: 250 }, (_, i) => i);

  it('examines at most the budget per call, answers at most limit, and every kept item once in order', async () => {
    const answered: number[] = [];
    let cursor: ScanCursor | undefined;
    let calls = 0;
    do {
      let examined = 0;
      const out = await scan({
        fetch: source(items, 100),
        cursor,
        limit: 4,
        budget: 30,
        keep: async (n: number) => {
          examined++;
          return n % 7 === 0 ? n : undefined;
        },
      });
      expect(examined).toBeLessThanOrEqual(30);
      expect(out.items.length).toBeLessThanOrEqual(4);
      answered.push(...out.items);
      cursor = out.next;
      calls++;
    } while (cursor && calls < 100);
    expect(answered).toEqual(items.filter((n) => n % 7 === 0));
  });

  it('ends a call that finds nothing after the budget, with a cursor, and the next call goes on', async () => {
    const first = await scan({
      fetch: source(items, 100),
      cursor: undefined,
      limit: 10,
      keep: async () => undefined,
    });
    expect(first.items).toEqual([]);
    expect(first.next).toEqual({ marker: '100', offset: 0 });
    const second = await scan({
      fetch: source(items, 100),
      cursor: first.next,
      limit: 10,
      budget: 120,
      keep: async (n: number) => n,
    });
    expect(second.items).toEqual(items.slice(100, 110));
    expect(second.next).toEqual({ marker: '100', offset: 10 });
  });

  it('answers no cursor once the source is exhausted, even on a full page', async () => {
    const out = await scan({
      fetch: source([1, 2, 3], 100),
      cursor: undefined,
      limit: 3,
      keep: async (n: number) => n,
    });
    expect(out).toEqual({ items: [1, 2, 3] });
  });
});

describe('GET /v1/aliases costs per page, not per account (finding 5)', () => {
  /** 1,000 aliases of 1,000 keys, each key administered and used by someone else. */
  const ALIASES = 1000;
  const aliases: AliasInfo[] = Array.from({ length: ALIASES }, (_, i) => ({
    name: `alias/squat-${i}`,
    arn: `arn:aws:kms:us-east-1:${ACCOUNT}:alias/squat-${i}`,
    targetKeyId: arnOf(i),
  }));
  const visible = new Set([5, 250, 999]);
  let policyReads = 0;
  const other = `arn:aws:iam::${ACCOUNT}:user/someoneElse`;
  const access = new AccessControl(
    {
      describe: async (keyId) => ({ arn: keyId, keyId, state: 'Enabled', description: '' }),
      keyPolicy: async (arn) => {
        policyReads++;
        const i = Number(arn.slice(-8));
        return JSON.stringify(
          rolesKeyPolicy({ accountId: ACCOUNT, administrators: [other], users: visible.has(i) ? [ME] : [] }),
        );
      },
      grantsFor: async () => [],
    },
    { ttlMs: 0 },
  );
  const admin = {
    aliasPage: (limit: number, marker?: string) => source(aliases, limit)(marker),
  } as unknown as KeyAdmin;
  const keys = new KeyService(admin, access, ACCOUNT);
  const r = { caller: { arn: ME }, record: () => undefined };

  it('decides for at most SCAN_BUDGET aliases per call, and pages through all of them', async () => {
    const names: string[] = [];
    let cursor: ScanCursor | undefined;
    let calls = 0;
    do {
      policyReads = 0;
      const out = await keys.listAliases(r, undefined, 50, cursor);
      expect(policyReads).toBeLessThanOrEqual(SCAN_BUDGET);
      names.push(...out.aliases.map((a) => a.name));
      cursor = out.next;
      calls++;
    } while (cursor);
    expect(calls).toBe(ALIASES / SCAN_BUDGET);
    expect(names).toEqual(['alias/squat-5', 'alias/squat-250', 'alias/squat-999']);
  });
});
