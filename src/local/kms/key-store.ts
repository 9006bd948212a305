import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../atomic-file.js';
import { KmsError, notFound } from './errors.js';

/**
 * The local KMS's persistent state: keys with their material versions, aliases and grants.
 * Key material comes from a CSPRNG, is held in memory only in plaintext, and is written to disk
 * wrapped under a local root key (AES-256-GCM, the key id and version as AAD). Every change is
 * saved with an atomic write, so a crash leaves the previous or the next state, never a torn one.
 */

export const DAY_MS = 86_400_000;
export const MAX_ON_DEMAND_ROTATIONS = 25;

const materialSchema = z.object({
  id: z.string(),
  createdAt: z.number(),
  rotationType: z.enum(['AUTOMATIC', 'ON_DEMAND']).optional(),
  wrapped: z.string(),
});
const tagSchema = z.object({ TagKey: z.string(), TagValue: z.string() });
const keySchema = z.object({
  keyId: z.string(),
  createdAt: z.number(),
  description: z.string(),
  keyState: z.enum(['Enabled', 'Disabled', 'PendingDeletion']),
  deletionDate: z.number().optional(),
  pendingWindowInDays: z.number().optional(),
  policy: z.string(),
  tags: z.array(tagSchema),
  rotation: z.object({ enabled: z.boolean(), periodDays: z.number(), nextRotationAt: z.number().optional() }),
  materials: z.array(materialSchema),
});
const aliasSchema = z.object({
  name: z.string(),
  targetKeyId: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
const contextMap = z.record(z.string(), z.string());
const grantSchema = z.object({
  grantId: z.string(),
  keyId: z.string(),
  name: z.string().optional(),
  createdAt: z.number(),
  grantee: z.string(),
  retiring: z.string().optional(),
  issuingAccount: z.string(),
  operations: z.array(z.string()),
  constraints: z
    .object({
      EncryptionContextSubset: contextMap.optional(),
      EncryptionContextEquals: contextMap.optional(),
    })
    .optional(),
  tokenHash: z.string(),
});
const stateSchema = z.object({
  version: z.literal(1),
  keys: z.array(keySchema),
  aliases: z.array(aliasSchema),
  grants: z.array(grantSchema),
});

export type KeyRecord = z.infer<typeof keySchema>;
export type KeyState = KeyRecord['keyState'];
export type AliasRecord = z.infer<typeof aliasSchema>;
export type GrantRecord = z.infer<typeof grantSchema>;
type State = z.infer<typeof stateSchema>;

export interface KeyStoreOptions {
  dataDir: string;
  accountId: string;
  region: string;
  /** 32-byte root key; when absent, `root.key` in the data dir is used or created (mode 0600). */
  rootKey?: Buffer | undefined;
  now?: () => Date;
}

function loadOrCreateRootKey(dataDir: string): Buffer {
  const file = join(dataDir, 'root.key');
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a base64 32-byte key`);
    return key;
  }
  const key = randomBytes(32);
  writeFileAtomic(file, `${key.toString('base64')}\n`, 0o600);
  return key;
}

export function hashGrantToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class KeyStore {
  readonly accountId: string;
  readonly region: string;
  readonly now: () => Date;
  private readonly file: string;
  private readonly rootKey: Buffer;
  private readonly state: State;
  private readonly plainMaterial = new Map<string, Buffer>();

  constructor(options: KeyStoreOptions) {
    this.accountId = options.accountId;
    this.region = options.region;
    this.now = options.now ?? (() => new Date());
    this.file = join(options.dataDir, 'kms', 'state.json');
    this.rootKey = options.rootKey ?? loadOrCreateRootKey(options.dataDir);
    this.state = existsSync(this.file)
      ? stateSchema.parse(JSON.parse(readFileSync(this.file, 'utf8')))
      : { version: 1, keys: [], aliases: [], grants: [] };
    // Fail at start-up, not on first use, when the root key does not match the stored material.
    for (const key of this.state.keys) {
      for (let i = 0; i < key.materials.length; i++) this.material(key, i);
    }
  }

  private save(): void {
    writeFileAtomic(this.file, `${JSON.stringify(this.state)}\n`, 0o600);
  }

  /** Runs a change and saves it; the change throws before saving if it is refused. */
  mutate<T>(change: () => T): T {
    const result = change();
    this.save();
    return result;
  }

  keyArn(keyId: string): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`;
  }

  aliasArn(name: string): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:${name}`;
  }

  private wrap(keyId: string, index: number, material: Buffer): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.rootKey, iv);
    cipher.setAAD(Buffer.from(`${keyId}/${index}`, 'utf8'));
    const body = Buffer.concat([cipher.update(material), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
  }

  /** The plaintext material of one version of a key; throws when that version does not exist. */
  material(key: KeyRecord, index: number): Buffer {
    const cacheKey = `${key.keyId}/${index}`;
    const cached = this.plainMaterial.get(cacheKey);
    if (cached) return cached;
    const stored = key.materials[index];
    if (!stored) throw new KmsError('InvalidCiphertextException', '');
    const raw = Buffer.from(stored.wrapped, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.rootKey, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(cacheKey, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
    } catch (cause) {
      throw new Error(
        `key material ${cacheKey} cannot be unwrapped: the root key does not match this key store`,
        {
          cause,
        },
      );
    }
    this.plainMaterial.set(cacheKey, plain);
    return plain;
  }

  private addMaterial(key: KeyRecord, createdAt: number, rotationType?: 'AUTOMATIC' | 'ON_DEMAND'): void {
    const index = key.materials.length;
    const plain = randomBytes(32);
    const id = createHash('sha256').update(`${key.keyId}/${index}/`).update(randomBytes(16)).digest('hex');
    key.materials.push({
      id,
      createdAt,
      wrapped: this.wrap(key.keyId, index, plain),
      ...(rotationType ? { rotationType } : {}),
    });
    this.plainMaterial.set(`${key.keyId}/${index}`, plain);
  }

  createKey(input: { description: string; policy: string; tags: KeyRecord['tags'] }): KeyRecord {
    return this.mutate(() => {
      const now = this.now().getTime();
      const key: KeyRecord = {
        keyId: randomUUID(),
        createdAt: now,
        description: input.description,
        keyState: 'Enabled',
        policy: input.policy,
        tags: input.tags,
        rotation: { enabled: false, periodDays: 365 },
        materials: [],
      };
      this.addMaterial(key, now);
      this.state.keys.push(key);
      return key;
    });
  }

  /** Applies what time has made due: automatic rotations and ended deletion windows. */
  private catchUp(key: KeyRecord): KeyRecord | undefined {
    const now = this.now().getTime();
    let changed = false;
    if (key.keyState === 'PendingDeletion' && key.deletionDate !== undefined && now >= key.deletionDate) {
      this.state.keys = this.state.keys.filter((k) => k !== key);
      this.state.aliases = this.state.aliases.filter((a) => a.targetKeyId !== key.keyId);
      this.state.grants = this.state.grants.filter((g) => g.keyId !== key.keyId);
      for (let i = 0; i < key.materials.length; i++) this.plainMaterial.get(`${key.keyId}/${i}`)?.fill(0);
      this.save();
      return undefined;
    }
    if (key.keyState === 'Enabled' && key.rotation.enabled && key.rotation.nextRotationAt !== undefined) {
      while (key.rotation.nextRotationAt <= now) {
        this.addMaterial(key, key.rotation.nextRotationAt, 'AUTOMATIC');
        key.rotation.nextRotationAt += key.rotation.periodDays * DAY_MS;
        changed = true;
      }
    }
    if (changed) this.save();
    return key;
  }

  rotate(key: KeyRecord, type: 'AUTOMATIC' | 'ON_DEMAND'): void {
    this.mutate(() => this.addMaterial(key, this.now().getTime(), type));
  }

  /** Looks a key up by bare id; undefined when there is none (or it has just been deleted). */
  findKey(keyId: string): KeyRecord | undefined {
    const key = this.state.keys.find((k) => k.keyId === keyId);
    return key ? this.catchUp(key) : undefined;
  }

  allKeys(): KeyRecord[] {
    return [...this.state.keys].map((k) => this.catchUp(k)).filter((k): k is KeyRecord => k !== undefined);
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

  findAlias(name: string): AliasRecord | undefined {
    return this.state.aliases.find((a) => a.name === name);
  }

  aliases(): AliasRecord[] {
    this.allKeys();
    return [...this.state.aliases];
  }

  putAlias(name: string, targetKeyId: string): void {
    this.mutate(() => {
      const now = this.now().getTime();
      const existing = this.findAlias(name);
      if (existing) {
        existing.targetKeyId = targetKeyId;
        existing.updatedAt = now;
      } else {
        this.state.aliases.push({ name, targetKeyId, createdAt: now, updatedAt: now });
      }
    });
  }

  deleteAlias(name: string): void {
    this.mutate(() => {
      this.state.aliases = this.state.aliases.filter((a) => a.name !== name);
    });
  }

  grants(): GrantRecord[] {
    this.allKeys();
    return [...this.state.grants];
  }

  addGrant(grant: GrantRecord): void {
    this.mutate(() => this.state.grants.push(grant));
  }

  removeGrant(grantId: string): void {
    this.mutate(() => {
      this.state.grants = this.state.grants.filter((g) => g.grantId !== grantId);
    });
  }
}
