import { DomainError } from '../core/errors.js';
import { untilNotRaced } from './lost-race.js';

/**
 * The index of the re-encryption jobs not finished yet, one small JSON object beside their
 * records: the tick reads it rather than every job record ever made, so that its cost follows the
 * unfinished jobs (bounded by the per-caller quota), not the account's history. A job is added
 * before its record is written and removed once finished; an id whose record never appeared is
 * dropped after `GRACE_MS`. Every change is a read, then a write If-Match what was read
 * (If-None-Match for the first), again until no one raced it. A bucket of an earlier version, with
 * records and no index, has its index built once from the records.
 */

const GRACE_MS = 10 * 60_000;
const ATTEMPTS = 30;

interface IndexEntry {
  id: string;
  at: string;
}

/** What the index needs of the job records' store (a part of `JobObjects`). */
export interface IndexStore {
  listAfter(
    prefix: string,
    startAfter: string | undefined,
    limit: number,
  ): Promise<{ keys: string[]; truncated: boolean }>;
  read(key: string): Promise<{ text: string; etag: string } | undefined>;
  write(
    key: string,
    text: string,
    options: { contentType: string; ifMatch?: string | undefined; ifNoneMatch?: '*' | undefined },
  ): Promise<{ etag: string }>;
}

/** A job as the index asks about it: whether it finished, and when it was made; undefined when it has no record. */
export type JobState = (id: string) => Promise<{ finished: boolean; createdAt: string } | undefined>;

export class UnfinishedJobIndex {
  constructor(
    private readonly store: IndexStore,
    /** Where the job records are (`jobs/`): `<prefix><id>.json`, the index at `<prefix>index/unfinished.json`. */
    private readonly prefix: string,
    private readonly stateOf: JobState,
    private readonly now: () => Date,
  ) {}

  private get key(): string {
    return `${this.prefix}index/unfinished.json`;
  }

  /** Adds a job about to be made (nothing when it is there already). */
  async add(id: string): Promise<void> {
    await this.update((entries) =>
      entries.some((e) => e.id === id) ? undefined : [...entries, { id, at: this.now().toISOString() }],
    );
  }

  /** Removes a finished job (nothing when it is not there). */
  async remove(id: string): Promise<void> {
    await this.update((entries) =>
      entries.some((e) => e.id === id) ? entries.filter((e) => e.id !== id) : undefined,
    );
  }

  /**
   * Ids of the jobs not finished yet, in the order they were made (one read of the index, one
   * question per job in it); finished jobs and ids whose record never appeared are dropped from it
   * on the way, and an index just built from the records is kept, so that it is built once.
   */
  async unfinished(): Promise<string[]> {
    const { entries, etag } = await this.read();
    const ids: string[] = [];
    const stale = new Set<string>();
    for (const entry of entries) {
      const state = await this.stateOf(entry.id).catch(() => undefined);
      if (state && !state.finished) ids.push(entry.id);
      else if (state || this.now().getTime() - Date.parse(entry.at) > GRACE_MS) stale.add(entry.id);
    }
    if (stale.size > 0 || etag === undefined)
      await this.update((now) => now.filter((e) => !stale.has(e.id))).catch(() => undefined);
    return ids;
  }

  /** The index as stored; built from every record when there is none. */
  private async read(): Promise<{ entries: IndexEntry[]; etag?: string }> {
    const read = await this.store.read(this.key);
    if (read) {
      const parsed = JSON.parse(read.text) as { jobs?: unknown };
      const entries = Array.isArray(parsed.jobs)
        ? parsed.jobs.filter(
            (e): e is IndexEntry =>
              e !== null && typeof e === 'object' && typeof e.id === 'string' && typeof e.at === 'string',
          )
        : [];
      return { entries, etag: read.etag };
    }
    const entries: IndexEntry[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.store.listAfter(this.prefix, after, 1000);
      for (const key of page.keys) {
        after = key;
        const id = key.slice(this.prefix.length).replace(/\.json$/, '');
        // The index itself and the starters' markers (`by-starter/...`) are not job records.
        if (key === this.key || id.includes('/')) continue;
        const state = await this.stateOf(id).catch(() => undefined);
        if (state && !state.finished) entries.push({ id, at: state.createdAt });
      }
      if (!page.truncated) return { entries };
    }
  }

  /** Read, change (undefined: nothing to change), write If-Match what was read, until no one raced it. */
  private async update(change: (entries: IndexEntry[]) => IndexEntry[] | undefined): Promise<void> {
    await untilNotRaced(
      async () => {
        const { entries, etag } = await this.read();
        const next = change(entries);
        if (next === undefined) return true;
        try {
          await this.store.write(this.key, JSON.stringify({ version: 1, jobs: next }), {
            contentType: 'application/json',
            ...(etag ? { ifMatch: etag } : { ifNoneMatch: '*' as const }),
          });
          return true;
        } catch (error) {
          if (error instanceof DomainError && error.code === 'PreconditionFailed') return false;
          throw error;
        }
      },
      'the index of re-encryption jobs',
      ATTEMPTS,
    );
  }
}
