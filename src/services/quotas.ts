import { DomainError } from '../core/errors.js';
import type { QuotaStore } from '../ports.js';
import { untilNotRaced } from './lost-race.js';

/**
 * Per-caller quotas: keys not pending deletion, aliases, unfinished re-encryption jobs.
 *
 * Each caller (a normalised principal: every session of a role shares the role's quotas) has one
 * small record in a durable store (`quotas/` in the vault bucket), listing what it took: key ARNs,
 * alias names, job ids. Every change is a read, then a write If-Match the version read (If-None-Match
 * for a first record), retried on a lost race; so concurrent creates on any number of instances
 * never take more than the quota, and restarts lose nothing.
 *
 * The record lists ids rather than counting, so that a release gives back what was taken (a job
 * released twice frees one slot) and the list can be checked against the truth: when a caller is at a quota, its entries are checked (at most once a minute)
 * against KMS and the job records, which catches what happened outside the API (a key deleted or
 * its deletion cancelled directly in KMS, a job finished whose release was lost). An entry whose
 * thing is not there yet counts while the operation that took it may still be under way.
 *
 * Keys pending deletion do not count against the keys quota once a check has seen them pending,
 * and an index holds at most twice the quota in all: it bounds the record, the checks, and what
 * cancelling deletions directly in KMS between two checks could win.
 */

export type QuotaKind = 'keys' | 'aliases' | 'jobs';

export interface QuotaLimits {
  readonly keys: number;
  readonly aliases: number;
  readonly jobs: number;
}

/** The setting behind each quota, as refusals name it. */
export const QUOTA_SETTINGS: Readonly<Record<QuotaKind, string>> = {
  keys: 'EAAS_QUOTA_KEYS_PER_CALLER',
  aliases: 'EAAS_QUOTA_ALIASES_PER_CALLER',
  jobs: 'EAAS_QUOTA_JOBS_PER_CALLER',
};

/**
 * What the truth says of an entry: counted; a key pending deletion; not there (yet: it counts
 * while the operation that took it may still run); or over (a finished job), dropped at once.
 */
export type Verdict = 'live' | 'pending-deletion' | 'absent' | 'done';

/** Checks ids against KMS or the job records; an id left out of the answer is kept as it is. */
export type QuotaCheck = (ids: readonly string[]) => Promise<Map<string, Verdict>>;

interface QuotaEntry {
  id: string;
  at: string;
  pendingDeletion?: true;
}

interface QuotaRecord {
  principal: string;
  rev: number;
  keys: QuotaEntry[];
  aliases: QuotaEntry[];
  jobs: QuotaEntry[];
  checkedAt: Partial<Record<QuotaKind, string>>;
}

export interface QuotaLedgerOptions {
  now?: () => Date;
  /** How long an entry whose key, alias or job is not there yet still counts. */
  inFlightMs?: number;
  /** How often at most a caller's entries are checked against the truth. */
  checkEveryMs?: number;
  /** Read-and-write attempts of one change before giving up (429 Throttled). */
  attempts?: number;
}

interface Outcome {
  changed: boolean;
  refusal?: DomainError | undefined;
}

export class QuotaLedger {
  private readonly now: () => Date;
  private readonly inFlightMs: number;
  private readonly checkEveryMs: number;
  private readonly attempts: number;

  constructor(
    private readonly store: QuotaStore,
    readonly limits: QuotaLimits,
    options: QuotaLedgerOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.inFlightMs = options.inFlightMs ?? 5 * 60_000;
    this.checkEveryMs = options.checkEveryMs ?? 60_000;
    this.attempts = options.attempts ?? 30;
  }

  /** Precondition of taking one more `kind`: the caller is under its quota (429 LimitExceeded). */
  async check(principal: string, kind: QuotaKind, check?: QuotaCheck): Promise<void> {
    await this.update(principal, (record) => this.admit(record, kind, check));
  }

  /**
   * Takes a slot of `kind` for `id`, or refuses with 429 LimitExceeded. Two operations on one id
   * (the same alias name created twice at once) take two slots, and each failed one gives back
   * one: the name that was made stays counted.
   */
  async reserve(principal: string, kind: QuotaKind, id: string, check?: QuotaCheck): Promise<void> {
    await this.update(principal, async (record) => {
      const outcome = await this.admit(record, kind, check);
      if (outcome.refusal) return outcome;
      record[kind].push({ id, at: this.now().toISOString() });
      return { changed: true };
    });
  }

  /** Renames a reserved entry to what it became (a key's ARN); adds it when the reservation is gone. */
  async bind(principal: string, kind: QuotaKind, reservation: string, id: string): Promise<void> {
    await this.update(principal, async (record) => {
      const entry = record[kind].find((e) => e.id === reservation);
      if (entry) entry.id = id;
      else if (!record[kind].some((e) => e.id === id))
        record[kind].push({ id, at: this.now().toISOString() });
      else return { changed: false };
      return { changed: true };
    });
  }

  /** Gives back one slot of `id` (nothing to do when the caller holds none). */
  async release(principal: string, kind: QuotaKind, id: string): Promise<void> {
    await this.update(principal, async (record) => {
      const at = record[kind].findIndex((e) => e.id === id);
      if (at < 0) return { changed: false };
      record[kind].splice(at, 1);
      return { changed: true };
    });
  }

  /** A key of the caller's was scheduled for deletion: it no longer counts against the keys quota. */
  async keyPendingDeletion(principal: string, keyArn: string): Promise<void> {
    await this.update(principal, async (record) => {
      const entry = record.keys.find((e) => e.id === keyArn);
      if (!entry || entry.pendingDeletion) return { changed: false };
      entry.pendingDeletion = true;
      return { changed: true };
    });
  }

  /**
   * Precondition of cancelling a key's deletion: it counts again, so its creator must be under its
   * quota (429 LimitExceeded). Answers whether the record changed (to undo if the cancel fails).
   * Only a key the creator's own record lists counts again: who the creator is comes from a tag an
   * administrator can rewrite in KMS, so a key another caller made, labelled with this creator's
   * name, never lands in this creator's record (it stays in its real creator's).
   */
  async keyBack(principal: string, keyArn: string, check?: QuotaCheck): Promise<boolean> {
    let changed = false;
    await this.update(principal, async (record) => {
      const entry = record.keys.find((e) => e.id === keyArn);
      changed = false;
      if (!entry?.pendingDeletion) return { changed: false };
      const outcome = await this.admit(record, 'keys', check, keyArn);
      if (outcome.refusal) return outcome;
      delete entry.pendingDeletion;
      changed = true;
      return { changed: true };
    });
    return changed;
  }

  /**
   * Whether one more `kind` fits (leaving `except` out of the count); when it does not, the
   * entries are checked against the truth first if they were not lately.
   */
  private async admit(record: QuotaRecord, kind: QuotaKind, check?: QuotaCheck, except?: string) {
    let full = this.full(record, kind, except);
    let changed = false;
    const checkedAt = Date.parse(record.checkedAt[kind] ?? '');
    const due = !(this.now().getTime() - checkedAt < this.checkEveryMs);
    // Keys pending deletion are checked too before they are let off: one whose deletion was
    // cancelled directly in KMS counts again.
    const doubtful = kind === 'keys' && record.keys.filter((e) => e.id !== except).length >= this.limits.keys;
    if ((full || doubtful) && check && due) {
      record[kind] = await this.checked(record[kind], check);
      record.checkedAt[kind] = this.now().toISOString();
      changed = true;
      full = this.full(record, kind, except);
    }
    return { changed, refusal: full ? this.refusal(record, kind, full) : undefined };
  }

  private full(record: QuotaRecord, kind: QuotaKind, except?: string): 'counted' | 'all' | undefined {
    const entries = record[kind].filter((e) => e.id !== except);
    const limit = this.limits[kind];
    if (entries.filter((e) => !e.pendingDeletion).length >= limit) return 'counted';
    if (kind === 'keys' && entries.length >= 2 * limit) return 'all';
    return undefined;
  }

  private async checked(entries: QuotaEntry[], check: QuotaCheck): Promise<QuotaEntry[]> {
    const verdicts = await check(entries.map((e) => e.id)).catch(() => new Map<string, Verdict>());
    const recent = (e: QuotaEntry) => this.now().getTime() - Date.parse(e.at) < this.inFlightMs;
    return entries.flatMap((e): QuotaEntry[] => {
      switch (verdicts.get(e.id)) {
        case 'done':
          return [];
        case 'absent':
          return recent(e) ? [e] : [];
        case 'live':
          return [{ id: e.id, at: e.at }];
        case 'pending-deletion':
          return [{ id: e.id, at: e.at, pendingDeletion: true }];
        default:
          return [e];
      }
    });
  }

  private refusal(record: QuotaRecord, kind: QuotaKind, full: 'counted' | 'all'): DomainError {
    const limit = this.limits[kind];
    const setting = `${QUOTA_SETTINGS[kind]}=${limit}`;
    const who = record.principal;
    const all = record[kind].length;
    const counted = record[kind].filter((e) => !e.pendingDeletion).length;
    const message =
      kind === 'jobs'
        ? `${who} has ${counted} unfinished re-encryption jobs, the most one caller may have (${setting}); start another when one has finished.`
        : kind === 'aliases'
          ? `${who} has created ${counted} aliases, the most one caller may have (${setting}); delete one it no longer needs.`
          : full === 'counted'
            ? `${who} has created ${counted} keys not pending deletion, the most one caller may have (${setting}); schedule the deletion of one it no longer needs.`
            : `${who} has created ${all} keys counting those pending deletion, the most one caller may have (twice ${setting}); they count until KMS deletes them.`;
    return new DomainError('LimitExceeded', `${message} The service's operators can raise the quota.`);
  }

  /** Reads, changes and writes the caller's record If-Match what was read, until no one raced it. */
  private async update(principal: string, change: (record: QuotaRecord) => Promise<Outcome>): Promise<void> {
    let refusal: DomainError | undefined;
    await untilNotRaced(
      async () => {
        const read = await this.store.read(principal);
        const record = read ? parseRecord(read.text, principal) : emptyRecord(principal);
        const outcome = await change(record);
        if (outcome.changed) {
          record.rev += 1;
          if (!(await this.store.write(principal, JSON.stringify(record), read?.version))) return false;
        }
        refusal = outcome.refusal;
        return true;
      },
      `the quotas of ${principal}`,
      this.attempts,
    );
    if (refusal) throw refusal;
  }
}

function emptyRecord(principal: string): QuotaRecord {
  return { principal, rev: 0, keys: [], aliases: [], jobs: [], checkedAt: {} };
}

/** The caller's record as stored, or DependencyFailure naming the first part that is not as written. */
function parseRecord(text: string, principal: string): QuotaRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const record = recordOf(value);
  if (typeof record === 'string' || record.principal !== principal)
    throw new DomainError(
      'DependencyFailure',
      `The quota record of ${principal} is unreadable${typeof record === 'string' ? ` (${record})` : ''}.`,
    );
  return record;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A record from its JSON, keeping only its known fields; or the first field found wrong. */
function recordOf(v: unknown): QuotaRecord | string {
  if (!isObject(v)) return 'not an object';
  if (typeof v.principal !== 'string') return 'principal';
  if (!Number.isInteger(v.rev)) return 'rev';
  const lists: Partial<Record<QuotaKind, QuotaEntry[]>> = {};
  for (const kind of ['keys', 'aliases', 'jobs'] as const) {
    const list = v[kind];
    if (!Array.isArray(list)) return kind;
    const entries = list.map(entryOf);
    if (entries.some((e) => e === undefined)) return kind;
    lists[kind] = entries as QuotaEntry[];
  }
  const checked = v.checkedAt;
  if (!isObject(checked)) return 'checkedAt';
  const checkedAt: QuotaRecord['checkedAt'] = {};
  for (const kind of ['keys', 'aliases', 'jobs'] as const) {
    const at = checked[kind];
    if (at === undefined) continue;
    if (typeof at !== 'string') return `checkedAt.${kind}`;
    checkedAt[kind] = at;
  }
  return {
    principal: v.principal,
    rev: v.rev as number,
    keys: lists.keys ?? [],
    aliases: lists.aliases ?? [],
    jobs: lists.jobs ?? [],
    checkedAt,
  };
}

function entryOf(v: unknown): QuotaEntry | undefined {
  if (!isObject(v) || typeof v.id !== 'string' || typeof v.at !== 'string') return undefined;
  if (v.pendingDeletion !== undefined && v.pendingDeletion !== true) return undefined;
  return { id: v.id, at: v.at, ...(v.pendingDeletion === true ? { pendingDeletion: true as const } : {}) };
}
