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
 * One page of a filtered listing: the entries from `cursor` on that `keep` maps to a value, up to
 * `limit` of them, examining at most `budget` entries; `next` is where the following call starts,
 * absent once the source is exhausted.
 */
export async function scan<T, V>(input: {
  fetch: (marker: string | undefined) => Promise<Page<T>>;
  cursor: ScanCursor | undefined;
  limit: number;
  budget?: number;
  keep: (item: T) => Promise<V | undefined>;
}): Promise<{ items: V[]; next?: ScanCursor }> {
  const budget = input.budget ?? SCAN_BUDGET;
  const items: V[] = [];
  let marker = input.cursor?.marker;
  let offset = input.cursor?.offset ?? 0;
  let examined = 0;
  let fetched = 0;
  const full = () => items.length >= input.limit || examined >= budget;
  const here = (at: number): ScanCursor => ({ ...(marker !== undefined ? { marker } : {}), offset: at });
  for (;;) {
    const page = await input.fetch(marker);
    fetched++;
    let i = Math.min(offset, page.items.length);
    while (i < page.items.length) {
      if (full()) return { items, next: here(i) };
      const chunk = page.items.slice(i, i + Math.min(CONCURRENCY, budget - examined));
      const kept = await Promise.all(chunk.map((item) => input.keep(item)));
      for (const value of kept) {
        if (items.length >= input.limit) break;
        examined++;
        i++;
        if (value !== undefined) items.push(value);
      }
    }
    if (!page.nextToken) return { items };
    marker = page.nextToken;
    offset = 0;
    // A source answering empty pages still ends the call within the budget.
    if (full() || fetched > budget) return { items, next: here(0) };
  }
}
