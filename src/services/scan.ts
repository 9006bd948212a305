import type { Page } from '../ports.js';

/**
 * Filtered listings over paged sources (KMS ListKeys, ListAliases): each call examines a bounded
 * number of entries, whatever the account holds, and answers those the caller may see. What one
 * call costs is therefore bounded by `budget`, and how many calls a listing takes says nothing
 * finer about the entries the caller may not see than "about so many times `budget`".
 */

/** Entries one call of a filtered listing examines at most. */
export const SCAN_BUDGET = 100;
/** The page size asked of the source: always the same, so that a marker means the same page. */
export const SOURCE_PAGE = 100;
/** Entries decided at once. */
const CONCURRENCY = 8;

/** Where a filtered listing resumes: the source page it was in (its marker) and how far into it. */
export interface ScanCursor {
  marker?: string;
  offset: number;
}

export function isScanCursor(value: unknown): value is ScanCursor {
  const c = value as ScanCursor | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    Number.isInteger(c.offset) &&
    c.offset >= 0 &&
    c.offset <= SOURCE_PAGE &&
    (c.marker === undefined || typeof c.marker === 'string')
  );
}

/**
 * One page of a filtered listing over a source paged by opaque markers (KMS): the entries from
 * `cursor` on that `keep` maps to a value, up to `limit` of them, examining at most `budget`
 * entries; `next` is where the following call starts, absent once the source is exhausted.
 */
export function scan<T, V>(input: {
  fetch: (marker: string | undefined) => Promise<Page<T>>;
  cursor: ScanCursor | undefined;
  limit: number;
  budget?: number;
  keep: (item: T) => Promise<V | undefined>;
}): Promise<{ items: V[]; next?: ScanCursor }> {
  const at = (marker: string | undefined, offset: number): ScanCursor => ({
    ...(marker !== undefined ? { marker } : {}),
    offset,
  });
  return scanPages<T, V, ScanCursor>({
    start: input.cursor,
    limit: input.limit,
    budget: input.budget ?? SCAN_BUDGET,
    keep: input.keep,
    // A marker names a whole page: a cursor inside it skips the entries already examined.
    fetch: async (cursor) => {
      const page = await input.fetch(cursor?.marker);
      return {
        items: page.items.slice(cursor?.offset ?? 0),
        ...(page.nextToken ? { next: at(page.nextToken, 0) } : {}),
      };
    },
    resume: (cursor, _items, i) => at(cursor?.marker, (cursor?.offset ?? 0) + i),
  });
}

/**
 * The one loop of every filtered listing (KMS keys and aliases, the vault's documents): from
 * position `start`, pages of entries from `fetch(at, room)` (the entries from `at` on, `room`
 * being how many more the call may examine; `next`, where the following page starts, absent at
 * the end), `keep` deciding CONCURRENCY entries at a time, until `limit` are kept or `budget`
 * examined. `resume(at, items, i)` is the position of entry `i` of the page fetched at `at`: where
 * the following call starts when this one stops inside a page.
 */
export async function scanPages<T, V, P>(input: {
  start: P | undefined;
  fetch: (at: P | undefined, room: number) => Promise<{ items: readonly T[]; next?: P | undefined }>;
  resume: (at: P | undefined, items: readonly T[], i: number) => P | undefined;
  limit: number;
  budget: number;
  keep: (item: T) => Promise<V | undefined>;
}): Promise<{ items: V[]; next?: P }> {
  const { limit, budget } = input;
  const items: V[] = [];
  let at = input.start;
  let examined = 0;
  let fetched = 0;
  const full = () => items.length >= limit || examined >= budget;
  const stop = (next: P | undefined) => ({ items, ...(next !== undefined ? { next } : {}) });
  for (;;) {
    const page = await input.fetch(at, budget - examined);
    fetched++;
    let i = 0;
    while (i < page.items.length) {
      if (full()) return stop(input.resume(at, page.items, i));
      const chunk = page.items.slice(i, i + Math.min(CONCURRENCY, budget - examined));
      const kept = await Promise.all(chunk.map((item) => input.keep(item)));
      for (const value of kept) {
        if (items.length >= limit) break;
        examined++;
        i++;
        if (value !== undefined) items.push(value);
      }
    }
    if (page.next === undefined) return { items };
    at = page.next;
    // A source answering empty pages still ends the call within the budget.
    if (full() || fetched > budget) return stop(at);
  }
}
