import { createHash } from 'node:crypto';
import type { JobObjects } from '../ports.js';

/**
 * Each starter's own index of its jobs, for GET /v1/jobs: one empty marker object per job,
 * `jobs/by-starter/<starter>/<newest-first time>-<id>`, beside the job records. `<starter>` is a
 * hash of the normalised principal (and of the person, for a person's job: every person shares
 * one role), so a listing of the caller's own jobs is one S3 listing under its own prefix, in
 * creation order, newest first, and never reads another starter's record. A marker is written
 * before its record (a job that exists is always listed); a marker whose record never appeared
 * is skipped.
 */

export const STARTERS_PREFIX = 'by-starter/';
/** Times count down from here, so that S3's ascending order is newest first (until the year 2286). */
const LATEST_MS = 9_999_999_999_999;
const MARKER = /^[0-9]{13}-([A-Za-z0-9-]{1,64})$/;

/** The starter's folder name: the same principal (and person) always gives the same one. */
export function starterOf(principal: string, identityId?: string): string {
  return createHash('sha256')
    .update(JSON.stringify([principal, identityId ?? null]))
    .digest('hex')
    .slice(0, 40);
}

/** A listing's cursor: the last marker name a page looked at (no principal, no key, no prefix). */
export const isStarterCursor = (value: unknown): value is string =>
  typeof value === 'string' && MARKER.test(value);

export class StarterIndex {
  constructor(
    private readonly store: Pick<JobObjects, 'listAfter' | 'write'>,
    /** Where the job records are (`jobs/`). */
    private readonly prefix: string,
  ) {}

  private folder(starter: string): string {
    return `${this.prefix}${STARTERS_PREFIX}${starter}/`;
  }

  /** Marks a job as the starter's (before its record is written). */
  async add(starter: string, id: string, createdAt: string): Promise<void> {
    const at = String(LATEST_MS - Date.parse(createdAt)).padStart(13, '0');
    await this.store.write(`${this.folder(starter)}${at}-${id}`, '', { contentType: 'text/plain' });
  }

  /** One page of the starter's job ids, newest first, after `cursor`; `next` when there may be more. */
  async page(
    starter: string,
    limit: number,
    cursor: string | undefined,
  ): Promise<{ ids: string[]; next?: string }> {
    const folder = this.folder(starter);
    const out = await this.store.listAfter(
      folder,
      cursor === undefined ? undefined : `${folder}${cursor}`,
      limit,
    );
    const names = out.keys.map((k) => k.slice(folder.length)).filter((n) => MARKER.test(n));
    const ids = names.map((n) => MARKER.exec(n)?.[1] ?? '');
    const last = names[names.length - 1];
    return { ids, ...(out.truncated && last ? { next: last } : {}) };
  }
}
