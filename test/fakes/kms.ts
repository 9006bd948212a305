import { randomUUID } from 'node:crypto';
import { DomainError, KeyNotFoundError } from '../../src/core/errors.js';
import type { KeyKind } from '../../src/core/key-kinds.js';
import type {
  AliasInfo,
  GrantInfo,
  KeyAdmin,
  KeyDetails,
  NewGrant,
  Page,
  RotationInfo,
  RotationStatus,
} from '../../src/ports.js';

export const ACCOUNT = '111122223333';
const REGION = 'us-east-1';

interface StoredKey {
  details: KeyDetails;
  policy: string;
  tags: Record<string, string>;
  rotation: RotationStatus;
  rotations: RotationInfo[];
  grants: GrantInfo[];
}

/**
 * KMS key administration in memory, for unit tests of the services: keys named by id, ARN, alias
 * name or alias ARN as KMS resolves them, their policies, tags, grants, aliases and rotations.
 * It decides nothing about who may call it (the service's own role may do everything); a key or
 * alias that does not exist is the service's KeyNotFound, as the KMS adapter answers.
 * `calls` counts each operation; `fail` makes the next call of an operation throw.
 */
export class MemoryKms implements KeyAdmin {
  readonly keys = new Map<string, StoredKey>();
  readonly aliasTargets = new Map<string, string>();
  readonly calls: Record<string, number> = {};
  private readonly failures = new Map<string, Error>();

  /** Makes the next call of `operation` throw `error`. */
  fail(operation: keyof KeyAdmin, error: Error): void {
    this.failures.set(operation, error);
  }

  private enter(operation: keyof KeyAdmin): void {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
    const error = this.failures.get(operation);
    if (error) {
      this.failures.delete(operation);
      throw error;
    }
  }

  private key(keyId: string): StoredKey {
    const name = keyId.startsWith(`arn:aws:kms:${REGION}:${ACCOUNT}:alias/`)
      ? keyId.split(':').at(-1)
      : keyId;
    const id = name?.startsWith('alias/') ? this.aliasTargets.get(name) : keyId.split('/').at(-1);
    const found = id === undefined ? undefined : this.keys.get(id);
    if (!found) throw new KeyNotFoundError(keyId);
    return found;
  }

  /** A key made straight in KMS (not through the service), with this policy. */
  addKey(
    policy: string,
    options: { description?: string; tags?: Record<string, string>; kind?: KeyKind | undefined } = {},
  ): string {
    const keyId = randomUUID();
    const arn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`;
    this.keys.set(keyId, {
      details: {
        arn,
        keyId,
        state: 'Enabled',
        description: options.description ?? '',
        createdAt: new Date(Date.UTC(2026, 0, 1)),
        ...(options.kind ? { kind: options.kind } : {}),
        ...(options.kind?.origin === 'EXTERNAL' ? { state: 'PendingImport' as const } : {}),
      },
      policy,
      tags: { ...options.tags },
      rotation: { enabled: false },
      rotations: [],
      grants: [],
    });
    return arn;
  }

  async createKey(input: {
    policy: string;
    description: string;
    tags: Record<string, string>;
    kind?: KeyKind | undefined;
  }) {
    this.enter('createKey');
    const arn = this.addKey(input.policy, input);
    return { ...this.key(arn).details };
  }

  async listKeys(limit: number, nextToken?: string): Promise<Page<{ keyId: string; arn: string }>> {
    this.enter('listKeys');
    const all = [...this.keys.values()].map((k) => ({ keyId: k.details.keyId, arn: k.details.arn }));
    return pageOf(all, limit, nextToken);
  }

  async describe(keyId: string) {
    this.enter('describe');
    const { arn, keyId: id, state, description } = this.key(keyId).details;
    return { arn, keyId: id, state, description };
  }

  async describeKey(keyId: string): Promise<KeyDetails> {
    this.enter('describeKey');
    return { ...this.key(keyId).details };
  }

  async tags(keyArn: string) {
    this.enter('tags');
    return { ...this.key(keyArn).tags };
  }

  async enable(keyArn: string) {
    this.enter('enable');
    this.key(keyArn).details.state = 'Enabled';
  }

  async disable(keyArn: string) {
    this.enter('disable');
    this.key(keyArn).details.state = 'Disabled';
  }

  async scheduleDeletion(keyArn: string, days: number) {
    this.enter('scheduleDeletion');
    const k = this.key(keyArn);
    const deletionDate = new Date(Date.now() + days * 86_400_000);
    Object.assign(k.details, { state: 'PendingDeletion', deletionDate, pendingWindowInDays: days });
    return { deletionDate };
  }

  async cancelDeletion(keyArn: string) {
    this.enter('cancelDeletion');
    const k = this.key(keyArn);
    if (k.details.state !== 'PendingDeletion')
      throw new DomainError('InvalidState', `The key ${keyArn} is not pending deletion.`);
    Object.assign(k.details, { state: 'Disabled', deletionDate: undefined, pendingWindowInDays: undefined });
  }

  async rotationStatus(keyArn: string) {
    this.enter('rotationStatus');
    return { ...this.key(keyArn).rotation };
  }

  async enableRotation(keyArn: string, periodInDays = 365) {
    this.enter('enableRotation');
    this.key(keyArn).rotation = { enabled: true, periodInDays };
  }

  async disableRotation(keyArn: string) {
    this.enter('disableRotation');
    this.key(keyArn).rotation = { enabled: false };
  }

  async rotateNow(keyArn: string) {
    this.enter('rotateNow');
    const k = this.key(keyArn);
    for (const r of k.rotations) r.current = false;
    k.rotations.push({
      keyMaterialId: randomUUID(),
      rotationDate: new Date(),
      rotationType: 'ON_DEMAND',
      current: true,
    });
  }

  async rotations(keyArn: string, limit: number, nextToken?: string) {
    this.enter('rotations');
    return pageOf(this.key(keyArn).rotations, limit, nextToken);
  }

  async keyPolicy(keyArn: string) {
    this.enter('keyPolicy');
    return this.key(keyArn).policy;
  }

  async putKeyPolicy(keyArn: string, policy: string) {
    this.enter('putKeyPolicy');
    this.key(keyArn).policy = policy;
  }

  async createGrant(keyArn: string, grant: NewGrant) {
    this.enter('createGrant');
    const k = this.key(keyArn);
    const grantId = randomUUID();
    k.grants.push({ grantId, keyArn: k.details.arn, createdAt: new Date(), ...grant });
    return { grantId, grantToken: `token-${grantId}` };
  }

  async listGrants(keyArn: string, limit: number, nextToken?: string) {
    this.enter('listGrants');
    return pageOf(this.key(keyArn).grants, limit, nextToken);
  }

  async grantsFor(keyArn: string, grantee: string) {
    this.enter('grantsFor');
    return this.key(keyArn).grants.filter((g) => g.granteePrincipal === grantee);
  }

  async revokeGrant(keyArn: string, grantId: string) {
    this.enter('revokeGrant');
    const k = this.key(keyArn);
    const before = k.grants.length;
    k.grants = k.grants.filter((g) => g.grantId !== grantId);
    if (k.grants.length === before) throw new DomainError('NotFound', `Grant ${grantId} does not exist.`);
  }

  private aliasList(keyArn?: string): AliasInfo[] {
    const keyId = keyArn === undefined ? undefined : this.key(keyArn).details.keyId;
    return [...this.aliasTargets.entries()]
      .filter(([, target]) => keyId === undefined || target === keyId)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, target]) => ({
        name,
        arn: `arn:aws:kms:${REGION}:${ACCOUNT}:${name}`,
        targetKeyId: target,
      }));
  }

  async aliases(keyArn?: string) {
    this.enter('aliases');
    return this.aliasList(keyArn);
  }

  async aliasPage(limit: number, marker?: string, keyArn?: string) {
    this.enter('aliasPage');
    return pageOf(this.aliasList(keyArn), limit, marker);
  }

  async createAlias(name: string, keyArn: string) {
    this.enter('createAlias');
    if (this.aliasTargets.has(name))
      throw new DomainError('AlreadyExists', `An alias with the name ${name} already exists.`);
    this.aliasTargets.set(name, this.key(keyArn).details.keyId);
  }

  async updateAlias(name: string, keyArn: string) {
    this.enter('updateAlias');
    if (!this.aliasTargets.has(name)) throw new KeyNotFoundError(name);
    this.aliasTargets.set(name, this.key(keyArn).details.keyId);
  }

  async deleteAlias(name: string) {
    this.enter('deleteAlias');
    if (!this.aliasTargets.delete(name)) throw new KeyNotFoundError(name);
  }
}

/** A page of `items` from the position `marker`, as KMS pages its listings. */
function pageOf<T>(items: readonly T[], limit: number, marker?: string): Page<T> {
  const start = marker === undefined ? 0 : Number(marker);
  const next = start + limit;
  return { items: items.slice(start, next), ...(next < items.length ? { nextToken: String(next) } : {}) };
}
