import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
} from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../atomic-file.js';
import { checkBucketPolicy } from './bucket-policy.js';
import { type CorsRule, corsRulesSchema } from './cors.js';
import { type BucketEncryption, bucketEncryptionSchema, DEFAULT_BUCKET_ENCRYPTION } from './encryption.js';
import { isErrno, readJson, unlinkQuietly } from './files.js';
import { type InventoryConfig, inventoryConfigSchema } from './inventory.js';
import { type ObjectFields, type ObjectRecord, objectRecordSchema } from './object-record.js';
import { SortedKeys } from './sorted-keys.js';

/**
 * One bucket on disk, under `buckets/<name>/`: `objects/<hh>/<sha256(key)>.json` is an object's
 * sidecar and `objects/<hh>/<sha256(key)>.<generation>.body` its bytes. Keys never become paths
 * (any character, `../` included, is safe), and bodies are immutable once written: a new version
 * gets a new generation, is renamed into place while nothing points at it, and becomes visible
 * when the sidecar is atomically replaced; the old body is unlinked after (a reader holding it
 * open keeps reading the old version). Commits are synchronous, so a conditional write's check
 * and its commit cannot interleave with another request. An index of every key is kept in
 * memory, rebuilt from the sidecars at start. The bucket's configuration sits beside: `cors.json`,
 * `policy.json` (the bucket policy's text), `encryption.json` (its default encryption) and
 * `inventory.json` (its inventory configurations).
 */

/** How a commit gets its body. */
export type BodySource =
  | { kind: 'file'; path: string }
  /** Hard-link (or copy) the body of another committed object: a server-side copy. */
  | { kind: 'object'; bucket: Bucket; record: ObjectRecord };

/** A body file that disappeared under a reader or a copy: the object changed meanwhile; try again. */
export class BodyGoneError extends Error {
  constructor() {
    super('the object changed while it was being read');
    this.name = 'BodyGoneError';
  }
}

export class Bucket {
  readonly sorted = new SortedKeys();
  private readonly objects = new Map<string, ObjectRecord>();
  private readonly objectsDir: string;
  private corsRules: CorsRule[] | undefined;
  private policyText: string | undefined;
  private policyDoc: unknown;
  private encryptionConfig: BucketEncryption | undefined;
  private inventoryConfigs = new Map<string, InventoryConfig>();

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly created: Date,
  ) {
    this.objectsDir = join(dir, 'objects');
    mkdirSync(this.objectsDir, { recursive: true, mode: 0o700 });
    this.load();
  }

  get(key: string): ObjectRecord | undefined {
    return this.objects.get(key);
  }

  get cors(): readonly CorsRule[] | undefined {
    return this.corsRules;
  }

  setCors(rules: CorsRule[] | undefined): void {
    const file = join(this.dir, 'cors.json');
    if (rules === undefined) unlinkQuietly(file);
    else writeFileAtomic(file, `${JSON.stringify(rules, null, 2)}\n`);
    this.corsRules = rules;
  }

  /** The bucket policy as it was put; undefined when there is none. */
  get policy(): string | undefined {
    return this.policyText;
  }

  /** The bucket policy, parsed, for evaluation. */
  get policyDocument(): unknown {
    return this.policyDoc;
  }

  /** Precondition (of a policy): checkBucketPolicy accepts it. */
  setPolicy(text: string | undefined): void {
    const file = join(this.dir, 'policy.json');
    const doc = text === undefined ? undefined : checkBucketPolicy(text, this.name);
    if (text === undefined) unlinkQuietly(file);
    else writeFileAtomic(file, text);
    this.policyText = text;
    this.policyDoc = doc;
  }

  /** The default encryption: as configured, else SSE-S3 (every bucket's since January 2023). */
  get encryption(): BucketEncryption {
    return this.encryptionConfig ?? DEFAULT_BUCKET_ENCRYPTION;
  }

  setEncryption(config: BucketEncryption | undefined): void {
    const file = join(this.dir, 'encryption.json');
    if (config === undefined) unlinkQuietly(file);
    else writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`);
    this.encryptionConfig = config;
  }

  /** The inventory configurations, by id in id order (as ListBucketInventoryConfigurations lists them). */
  get inventories(): readonly InventoryConfig[] {
    return [...this.inventoryConfigs.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  inventory(id: string): InventoryConfig | undefined {
    return this.inventoryConfigs.get(id);
  }

  /** Puts (or, with undefined, removes) the inventory configuration `id`. */
  setInventory(id: string, config: InventoryConfig | undefined): void {
    const next = new Map(this.inventoryConfigs);
    if (config === undefined) next.delete(id);
    else next.set(id, config);
    const file = join(this.dir, 'inventory.json');
    if (next.size === 0) unlinkQuietly(file);
    else writeFileAtomic(file, `${JSON.stringify([...next.values()], null, 2)}\n`);
    this.inventoryConfigs = next;
  }

  private paths(key: string): { dir: string; hash: string } {
    const hash = createHash('sha256').update(key, 'utf8').digest('hex');
    return { dir: join(this.objectsDir, hash.slice(0, 2)), hash };
  }

  bodyPath(record: Pick<ObjectRecord, 'key' | 'body'>): string {
    const { dir, hash } = this.paths(record.key);
    return join(dir, `${hash}.${record.body}.body`);
  }

  /** Opens the current body of a key; undefined when there is no such object. */
  async openBody(key: string): Promise<{ record: ObjectRecord; handle: FileHandle } | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const record = this.objects.get(key);
      if (!record) return undefined;
      try {
        return { record, handle: await open(this.bodyPath(record), 'r') };
      } catch (error) {
        // A newer version was committed between the lookup and the open: look again.
        if (!isErrno(error, 'ENOENT')) throw error;
      }
    }
    throw new BodyGoneError();
  }

  /**
   * Makes `fields` (with `source`'s bytes) the current version of `key`. `guard` sees the current
   * version first and throws to refuse (a failed condition); nothing changes then.
   */
  commit(
    key: string,
    source: BodySource,
    fields: ObjectFields,
    guard?: (current: ObjectRecord | undefined) => void,
  ): ObjectRecord {
    const current = this.objects.get(key);
    guard?.(current);
    const { dir, hash } = this.paths(key);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const reuse = source.kind === 'object' && source.bucket === this && source.record.key === key;
    const generation = reuse ? source.record.body : randomBytes(8).toString('hex');
    const record: ObjectRecord = { v: 1, key, body: generation, ...fields };
    const target = this.bodyPath(record);
    if (reuse) {
      if (current?.body !== generation) throw new BodyGoneError();
    } else if (source.kind === 'file') {
      renameSync(source.path, target);
    } else {
      linkOrCopy(source.bucket.bodyPath(source.record), target);
    }
    try {
      writeFileAtomic(join(dir, `${hash}.json`), `${JSON.stringify(record)}\n`);
    } catch (error) {
      if (!reuse) unlinkQuietly(target);
      throw error;
    }
    this.objects.set(key, record);
    this.sorted.add(key);
    if (current && current.body !== generation) unlinkQuietly(this.bodyPath(current));
    return record;
  }

  /** Removes a key; `guard` may refuse as for commit. Answers whether there was an object. */
  delete(key: string, guard?: (current: ObjectRecord | undefined) => void): boolean {
    const current = this.objects.get(key);
    guard?.(current);
    if (!current) return false;
    const { dir, hash } = this.paths(key);
    unlinkSync(join(dir, `${hash}.json`));
    this.objects.delete(key);
    this.sorted.remove(key);
    unlinkQuietly(this.bodyPath(current));
    return true;
  }

  /** Rebuilds the index from the sidecars and removes what no sidecar names (left by a crash). */
  private load(): void {
    const corsFile = join(this.dir, 'cors.json');
    if (existsSync(corsFile)) {
      const rules = corsRulesSchema.safeParse(readJson(corsFile));
      if (rules.success) this.corsRules = rules.data;
      else console.warn(`local S3: ignoring a damaged CORS configuration ${corsFile}`);
    }
    const policyFile = join(this.dir, 'policy.json');
    if (existsSync(policyFile)) {
      const text = readFileSync(policyFile, 'utf8');
      try {
        this.policyDoc = checkBucketPolicy(text, this.name);
        this.policyText = text;
      } catch {
        // A policy that cannot be read is no policy; but the bucket's owner should know.
        console.warn(`local S3: ignoring a damaged bucket policy ${policyFile}`);
      }
    }
    const encryptionFile = join(this.dir, 'encryption.json');
    if (existsSync(encryptionFile)) {
      const config = bucketEncryptionSchema.safeParse(readJson(encryptionFile));
      if (config.success) this.encryptionConfig = config.data;
      else console.warn(`local S3: ignoring a damaged encryption configuration ${encryptionFile}`);
    }
    const inventoryFile = join(this.dir, 'inventory.json');
    if (existsSync(inventoryFile)) {
      const configs = z.array(inventoryConfigSchema).safeParse(readJson(inventoryFile));
      if (configs.success) this.inventoryConfigs = new Map(configs.data.map((c) => [c.id, c]));
      else console.warn(`local S3: ignoring damaged inventory configurations ${inventoryFile}`);
    }
    for (const sub of readdirSync(this.objectsDir).filter((d) => /^[0-9a-f]{2}$/.test(d))) {
      const dir = join(this.objectsDir, sub);
      const files = readdirSync(dir);
      const referenced = new Set<string>();
      for (const file of files.filter((f) => /^[0-9a-f]{64}\.json$/.test(f))) {
        const parsed = objectRecordSchema.safeParse(readJson(join(dir, file)));
        if (!parsed.success || this.paths(parsed.data.key).hash !== file.slice(0, 64)) {
          console.warn(`local S3: ignoring a damaged object record ${join(dir, file)}`);
          continue;
        }
        const body = this.bodyPath(parsed.data);
        if (!existsSync(body)) {
          console.warn(
            `local S3: the body of ${this.name}/${parsed.data.key} is missing; dropping the object`,
          );
          unlinkQuietly(join(dir, file));
          continue;
        }
        referenced.add(body);
        this.objects.set(parsed.data.key, parsed.data);
        this.sorted.add(parsed.data.key);
      }
      for (const file of files) {
        const path = join(dir, file);
        if ((file.endsWith('.body') && !referenced.has(path)) || file.endsWith('.tmp')) unlinkQuietly(path);
      }
    }
  }
}

/** Bodies are immutable, so a hard link is a correct (and instant) copy; a copy where links fail. */
function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) throw new BodyGoneError();
    if (!isErrno(error, 'EPERM', 'ENOTSUP', 'EXDEV', 'EMLINK')) throw error;
    try {
      copyFileSync(from, to);
    } catch (copyError) {
      if (isErrno(copyError, 'ENOENT')) throw new BodyGoneError();
      throw copyError;
    }
  }
}
