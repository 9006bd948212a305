import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { KmsError, notFound } from './errors.js';
import { ImportTokens } from './import-tokens.js';
import { ImportedMaterials } from './imported-materials.js';
import { type AddedMaterial, KeyMaterial, loadOrCreateRootKey } from './key-material.js';
import { MarkerCodec } from './markers.js';
import type { AliasRecord, GrantRecord, KeyRecord } from './records.js';
import { Schedule } from './schedule.js';
import type { CursorPage } from './shapes.js';
import { SortedIds } from './sorted-ids.js';
import { StoreFiles } from './store-files.js';

export type { AliasRecord, GrantRecord, KeyRecord, KeyState, MaterialRecord } from './records.js';

/**
 * The local KMS's state: keys with their material versions (`KeyMaterial`), aliases and grants,
 * held in memory with the indexes the operations look them up by, and saved record by record
 * (`StoreFiles`). A change is saved before it answers; a save that fails leaves the record in
 * memory as it was.
 */

export const DAY_MS = 86_400_000;
export const MAX_ON_DEMAND_ROTATIONS = 25;

/**
 * AWS KMS's resource quotas, which also bound what one record's lookups cost (an authorization
 * decision reads its key's grants): https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html
 */
export interface KmsLimits {
  /** Customer managed keys in the account and Region (KMS: 100,000). */
  keys: number;
  /** Aliases per KMS key (KMS: 50). */
  aliasesPerKey: number;
  /** Grants per KMS key (KMS: 50,000). */
  grantsPerKey: number;
}

export const KMS_LIMITS: Readonly<KmsLimits> = Object.freeze({
  keys: 100_000,
  aliasesPerKey: 50,
  grantsPerKey: 50_000,
});

export interface KeyStoreOptions {
  dataDir: string;
  accountId: string;
  region: string;
  /** 32-byte root key; when absent, `root.key` in the data dir is used or created (mode 0600). */
  rootKey?: Buffer | undefined;
  now?: () => Date;
  /** Test hook: lower quotas than KMS's. */
  limits?: Partial<KmsLimits> | undefined;
}

export function hashGrantToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Puts `record` back as `before` was (own properties), after a change whose save failed. */
function restore<T extends object>(record: T, before: T): void {
  for (const k of Object.keys(record)) delete (record as Record<string, unknown>)[k];
  Object.assign(record, before);
}

function addTo(index: Map<string, SortedIds>, by: string, id: string): void {
  const ids = index.get(by) ?? new SortedIds();
  ids.add(id);
  index.set(by, ids);
}

function removeFrom(index: Map<string, SortedIds>, by: string, id: string): void {
  const ids = index.get(by);
  ids?.delete(id);
  if (ids?.size === 0) index.delete(by);
}

export class KeyStore {
  readonly accountId: string;
  readonly region: string;
  readonly now: () => Date;
  readonly limits: Readonly<KmsLimits>;
  /** Seals and opens the listings' page markers. */
  readonly markers: MarkerCodec;
  /** Seals and opens GetParametersForImport's import tokens. */
  readonly importTokens: ImportTokens;
  /** Imported key material: import, delete, expire, rotate to (keys of origin EXTERNAL). */
  readonly imported: ImportedMaterials;
  private readonly files: StoreFiles;
  private readonly keyMaterial: KeyMaterial;

  private readonly keys = new Map<string, KeyRecord>();
  private readonly keyIds = new SortedIds();
  /** Scheduled deletions, soonest first, and the date each key pending deletion is due. */
  private readonly deletions: Array<{ at: number; keyId: string }> = [];
  private readonly scheduledAt = new Map<string, number>();
  /** When each key's soonest imported material expires (ValidTo), soonest first. */
  private readonly expiries = new Schedule();
  private readonly aliasesByName = new Map<string, AliasRecord>();
  private readonly aliasNames = new SortedIds();
  private readonly aliasesByKey = new Map<string, SortedIds>();
  private readonly grantsById = new Map<string, GrantRecord>();
  private readonly grantsByKey = new Map<string, SortedIds>();
  private readonly grantsByRetiring = new Map<string, SortedIds>();
  private readonly grantsByToken = new Map<string, string>();

  constructor(options: KeyStoreOptions) {
    this.accountId = options.accountId;
    this.region = options.region;
    this.now = options.now ?? (() => new Date());
    this.limits = Object.freeze({ ...KMS_LIMITS, ...options.limits });
    const rootKey = options.rootKey ?? loadOrCreateRootKey(options.dataDir);
    this.keyMaterial = new KeyMaterial(rootKey);
    this.markers = new MarkerCodec(rootKey);
    this.importTokens = new ImportTokens(rootKey);
    this.imported = new ImportedMaterials(
      this.keyMaterial,
      (key, change) => this.updateKey(key, change),
      this.now,
    );
    this.files = new StoreFiles(join(options.dataDir, 'kms'));
    // Fail at start-up, not on first use, when the root key does not match the stored material
    // (material expired by now is neither unwrapped nor cached: it is deleted just below).
    const startedAt = this.now().getTime();
    const state = this.files.load((key) => this.keyMaterial.check(key, startedAt));
    for (const key of state.keys) this.indexKey(key);
    // Imported material that expired while the store was not running is deleted now, not when its
    // key is next used.
    for (const key of state.keys) this.imported.expire(key);
    for (const alias of state.aliases) this.indexAlias(alias);
    for (const grant of state.grants) this.indexGrant(grant);
  }

  keyArn(keyId: string): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`;
  }

  aliasArn(name: string): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:${name}`;
  }

  /** The plaintext material of one version of a key; throws when that version does not exist. */
  material(key: KeyRecord, index: number): Buffer {
    return this.keyMaterial.of(key, index);
  }

  // --- keys ---------------------------------------------------------------------------------

  private indexKey(key: KeyRecord): void {
    this.keys.set(key.keyId, key);
    this.keyIds.add(key.keyId);
    this.indexDeletion(key);
    this.expiries.set(key.keyId, this.imported.nextExpiry(key));
  }

  /**
   * Keeps the deletion schedule in step with the key's state: an entry per scheduled deletion,
   * sorted by date; an entry whose deletion was cancelled or moved stays until its date and is then
   * dropped, so a change never searches the schedule.
   */
  private indexDeletion(key: KeyRecord): void {
    const at = key.keyState === 'PendingDeletion' ? key.deletionDate : undefined;
    if (this.scheduledAt.get(key.keyId) === at) return;
    if (at === undefined) {
      this.scheduledAt.delete(key.keyId);
      return;
    }
    this.scheduledAt.set(key.keyId, at);
    let lo = 0;
    let hi = this.deletions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.deletions[mid] as { at: number }).at <= at) lo = mid + 1;
      else hi = mid;
    }
    this.deletions.splice(lo, 0, { at, keyId: key.keyId });
  }

  /**
   * Creates a key: with new material of its spec, or, for origin EXTERNAL, with none and in state
   * PendingImport until material is imported.
   */
  createKey(input: {
    description: string;
    policy: string;
    tags: KeyRecord['tags'];
    spec?: Pick<KeyRecord, 'keySpec' | 'keyUsage' | 'origin'>;
    /** The key's first material, made for its spec (required for a key that is not symmetric). */
    material?: Buffer;
  }): KeyRecord {
    this.expire();
    if (this.keys.size >= this.limits.keys) {
      throw new KmsError(
        'LimitExceededException',
        `This account and Region already have the maximum of ${this.limits.keys} KMS keys.`,
      );
    }
    const now = this.now().getTime();
    const external = input.spec?.origin === 'EXTERNAL';
    const key: KeyRecord = {
      keyId: randomUUID(),
      createdAt: now,
      description: input.description,
      keyState: external ? 'PendingImport' : 'Enabled',
      // Records of symmetric AWS_KMS keys stay as earlier versions wrote them.
      ...(input.spec?.keySpec && input.spec.keySpec !== 'SYMMETRIC_DEFAULT'
        ? { keySpec: input.spec.keySpec }
        : {}),
      ...(input.spec?.keyUsage && input.spec.keyUsage !== 'ENCRYPT_DECRYPT'
        ? { keyUsage: input.spec.keyUsage }
        : {}),
      ...(external ? { origin: 'EXTERNAL' as const } : {}),
      policy: input.policy,
      tags: input.tags,
      rotation: { enabled: false, periodDays: 365 },
      materials: [],
    };
    const added = external ? [] : [this.keyMaterial.add(key, now, undefined, input.material)];
    this.saving(added, () => this.files.writeKey(key));
    this.keyMaterial.keep(key.keyId, added);
    this.indexKey(key);
    return key;
  }

  /** Runs a change that adds material; if it fails (a save), the plaintext it added is zeroed, not kept. */
  private saving(added: readonly AddedMaterial[], change: () => void): void {
    try {
      change();
    } catch (error) {
      this.keyMaterial.discard(added);
      throw error;
    }
  }

  /** Changes a key and saves it; the change throws before saving if it is refused. */
  updateKey(key: KeyRecord, change: (key: KeyRecord) => void): void {
    const before = structuredClone(key);
    try {
      change(key);
      this.files.writeKey(key);
    } catch (error) {
      restore(key, before);
      throw error;
    }
    this.indexDeletion(key);
    this.expiries.set(key.keyId, this.imported.nextExpiry(key));
  }

  rotate(key: KeyRecord, type: 'AUTOMATIC' | 'ON_DEMAND'): void {
    const added: AddedMaterial[] = [];
    this.saving(added, () =>
      this.updateKey(key, (k) => {
        added.push(this.keyMaterial.add(k, this.now().getTime(), type));
      }),
    );
    this.keyMaterial.keep(key.keyId, added);
  }

  /** Deletes a key whose deletion window has ended, with its aliases and grants (the key's file last). */
  private deleteKey(key: KeyRecord): void {
    for (const name of [...(this.aliasesByKey.get(key.keyId) ?? [])]) this.deleteAlias(name);
    for (const grantId of [...(this.grantsByKey.get(key.keyId) ?? [])]) this.removeGrant(grantId);
    this.files.removeKey(key.keyId);
    this.keys.delete(key.keyId);
    this.keyIds.delete(key.keyId);
    this.scheduledAt.delete(key.keyId);
    this.expiries.set(key.keyId, undefined);
    this.keyMaterial.forget(key);
  }

  /**
   * Deletes the keys whose deletion window has ended, and the imported material whose ValidTo has
   * passed (of every key, used or not): a look at each schedule's head when nothing is due.
   */
  private expire(): void {
    const now = this.now().getTime();
    for (let next = this.deletions[0]; next && next.at <= now; next = this.deletions[0]) {
      const key = this.keys.get(next.keyId);
      if (key && this.scheduledAt.get(next.keyId) === next.at) this.deleteKey(key);
      this.deletions.shift();
    }
    let failure: unknown;
    for (const keyId of this.expiries.takeDue(now)) {
      const key = this.keys.get(keyId);
      if (!key) continue;
      try {
        this.imported.expire(key);
      } catch (error) {
        // A save that failed: the key stays scheduled, and is tried again at the next access.
        failure ??= error;
      } finally {
        this.expiries.set(keyId, this.imported.nextExpiry(key));
      }
    }
    if (failure !== undefined) throw failure;
  }

  /** Applies the automatic rotations that time has made due. */
  private catchUp(key: KeyRecord): KeyRecord {
    const now = this.now().getTime();
    const due = key.rotation.nextRotationAt;
    if (key.keyState !== 'Enabled' || !key.rotation.enabled || due === undefined || due > now) return key;
    const added: AddedMaterial[] = [];
    this.saving(added, () =>
      this.updateKey(key, (k) => {
        while (k.rotation.nextRotationAt !== undefined && k.rotation.nextRotationAt <= now) {
          added.push(this.keyMaterial.add(k, k.rotation.nextRotationAt, 'AUTOMATIC'));
          k.rotation.nextRotationAt += k.rotation.periodDays * DAY_MS;
        }
      }),
    );
    this.keyMaterial.keep(key.keyId, added);
    return key;
  }

  /** Looks a key up by bare id; undefined when there is none (or it has just been deleted). */
  findKey(keyId: string): KeyRecord | undefined {
    this.expire();
    const key = this.keys.get(keyId);
    return key ? this.catchUp(this.imported.expire(key)) : undefined;
  }

  /** A page of the keys, in key id order, after the key id `after`. */
  listKeys(after: string | undefined, limit: number): CursorPage<KeyRecord> {
    this.expire();
    const { ids, more } = this.keyIds.page(after, limit);
    return { items: ids.map((id) => this.keys.get(id) as KeyRecord), more };
  }

  /**
   * Resolves a KeyId parameter: key id, key ARN and, where the operation allows them,
   * alias name and alias ARN. Anything else, or a key or alias that does not exist, is NotFound.
   */
  resolve(id: string, allowAlias: boolean): KeyRecord {
    const arnPrefix = `arn:aws:kms:${this.region}:${this.accountId}:`;
    let rest = id;
    if (id.startsWith('arn:')) {
      if (!id.startsWith(arnPrefix)) throw notFound(`Invalid arn ${id}`);
      rest = id.slice(arnPrefix.length);
      if (rest.startsWith('key/')) rest = rest.slice(4);
      else if (!rest.startsWith('alias/')) throw notFound(`Invalid arn ${id}`);
    }
    if (rest.startsWith('alias/')) {
      if (!allowAlias) throw notFound(`Invalid keyId ${id}`);
      const alias = this.findAlias(rest);
      if (!alias) throw notFound(`Alias ${this.aliasArn(rest)} is not found.`);
      const target = this.findKey(alias.targetKeyId);
      if (!target) throw notFound(`Alias ${this.aliasArn(rest)} is not found.`);
      return target;
    }
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(rest)) {
      throw notFound(`Invalid keyId '${id}'`);
    }
    const key = this.findKey(rest);
    if (!key) throw notFound(`Key '${this.keyArn(rest)}' does not exist`);
    return key;
  }

  // --- aliases ------------------------------------------------------------------------------

  private indexAlias(alias: AliasRecord): void {
    this.aliasesByName.set(alias.name, alias);
    this.aliasNames.add(alias.name);
    addTo(this.aliasesByKey, alias.targetKeyId, alias.name);
  }

  private unindexAlias(alias: AliasRecord): void {
    this.aliasesByName.delete(alias.name);
    this.aliasNames.delete(alias.name);
    removeFrom(this.aliasesByKey, alias.targetKeyId, alias.name);
  }

  aliasCount(keyId: string): number {
    return this.aliasesByKey.get(keyId)?.size ?? 0;
  }

  findAlias(name: string): AliasRecord | undefined {
    this.expire();
    return this.aliasesByName.get(name);
  }

  /** A page of the aliases (of one key, when given), in name order, after the name `after`. */
  listAliases(keyId: string | undefined, after: string | undefined, limit: number): CursorPage<AliasRecord> {
    this.expire();
    const names = keyId === undefined ? this.aliasNames : this.aliasesByKey.get(keyId);
    const { ids, more } = names?.page(after, limit) ?? { ids: [], more: false };
    return { items: ids.map((name) => this.aliasesByName.get(name) as AliasRecord), more };
  }

  putAlias(name: string, targetKeyId: string): void {
    const now = this.now().getTime();
    const existing = this.aliasesByName.get(name);
    if (existing?.targetKeyId !== targetKeyId && this.aliasCount(targetKeyId) >= this.limits.aliasesPerKey) {
      throw new KmsError(
        'LimitExceededException',
        `${this.keyArn(targetKeyId)} already has the maximum of ${this.limits.aliasesPerKey} aliases.`,
      );
    }
    const next: AliasRecord = existing
      ? { ...existing, targetKeyId, updatedAt: now }
      : { name, targetKeyId, createdAt: now, updatedAt: now };
    this.files.writeAlias(next);
    if (existing) this.unindexAlias(existing);
    this.indexAlias(next);
  }

  deleteAlias(name: string): void {
    const existing = this.aliasesByName.get(name);
    if (!existing) return;
    this.files.removeAlias(name);
    this.unindexAlias(existing);
  }

  // --- grants -------------------------------------------------------------------------------

  private indexGrant(grant: GrantRecord): void {
    this.grantsById.set(grant.grantId, grant);
    addTo(this.grantsByKey, grant.keyId, grant.grantId);
    if (grant.retiring !== undefined) addTo(this.grantsByRetiring, grant.retiring, grant.grantId);
    this.grantsByToken.set(grant.tokenHash, grant.grantId);
  }

  private unindexGrant(grant: GrantRecord): void {
    this.grantsById.delete(grant.grantId);
    removeFrom(this.grantsByKey, grant.keyId, grant.grantId);
    if (grant.retiring !== undefined) removeFrom(this.grantsByRetiring, grant.retiring, grant.grantId);
    this.grantsByToken.delete(grant.tokenHash);
  }

  /** The grants on one key: what an authorization decision on it reads. */
  grantsOf(keyId: string): GrantRecord[] {
    return [...(this.grantsByKey.get(keyId) ?? [])].map((id) => this.grantsById.get(id) as GrantRecord);
  }

  findGrant(grantId: string): GrantRecord | undefined {
    this.expire();
    return this.grantsById.get(grantId);
  }

  /** The grant a grant token names, by the token's hash (tokens are not stored). */
  findGrantByToken(tokenHash: string): GrantRecord | undefined {
    this.expire();
    const grantId = this.grantsByToken.get(tokenHash);
    return grantId === undefined ? undefined : this.grantsById.get(grantId);
  }

  /** A page of a key's grants, in grant id order, after the grant id `after`, that `accept` takes. */
  listGrants(
    keyId: string,
    after: string | undefined,
    limit: number,
    accept?: (grant: GrantRecord) => boolean,
  ): CursorPage<GrantRecord> {
    return this.grantPage(this.grantsByKey.get(keyId), after, limit, accept);
  }

  /** A page of the grants that name `principal` as retiring principal, in grant id order. */
  listRetirableGrants(principal: string, after: string | undefined, limit: number): CursorPage<GrantRecord> {
    return this.grantPage(this.grantsByRetiring.get(principal), after, limit);
  }

  private grantPage(
    ids: SortedIds | undefined,
    after: string | undefined,
    limit: number,
    accept?: (grant: GrantRecord) => boolean,
  ): CursorPage<GrantRecord> {
    this.expire();
    const grant = (id: string) => this.grantsById.get(id) as GrantRecord;
    const page = ids?.page(after, limit, accept && ((id) => accept(grant(id)))) ?? { ids: [], more: false };
    return { items: page.ids.map(grant), more: page.more };
  }

  addGrant(grant: GrantRecord): void {
    if ((this.grantsByKey.get(grant.keyId)?.size ?? 0) >= this.limits.grantsPerKey) {
      throw new KmsError(
        'LimitExceededException',
        `${this.keyArn(grant.keyId)} already has the maximum of ${this.limits.grantsPerKey} grants.`,
      );
    }
    this.files.writeGrant(grant);
    this.indexGrant(grant);
  }

  /** Changes a grant and saves it. */
  updateGrant(grant: GrantRecord, change: (grant: GrantRecord) => void): void {
    const before = structuredClone(grant);
    try {
      change(grant);
      this.files.writeGrant(grant);
    } catch (error) {
      restore(grant, before);
      throw error;
    }
    this.unindexGrant(before);
    this.indexGrant(grant);
  }

  removeGrant(grantId: string): void {
    const grant = this.grantsById.get(grantId);
    if (!grant) return;
    this.files.removeGrant(grantId);
    this.unindexGrant(grant);
  }
}
