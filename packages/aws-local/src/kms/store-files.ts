import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { fsyncDir, removeFileDurable, writeFileAtomic } from '../atomic-file.js';
import {
  type AliasRecord,
  aliasSchema,
  type GrantRecord,
  grantSchema,
  type KeyRecord,
  keySchema,
  stateV1Schema,
} from './records.js';

/**
 * The local KMS's state on disk: one file per key (its metadata, policy, tags, rotation and
 * material versions wrapped under the root key), per alias and per grant, under `kms/keys`,
 * `kms/aliases` and `kms/grants`. A change writes only the record it changes, atomically (temporary
 * file, fsync, rename, fsync of the folder), mode 0600, so its cost does not grow with the number
 * of keys, aliases or grants. Each file is `{"version":2,"key"|"alias"|"grant":{...}}`.
 *
 * A data dir in the earlier single-file format (`kms/state.json`) is migrated on first start:
 * every record is written to its own file, then `state.json` is removed; a start interrupted
 * half-way migrates again from `state.json`, which is still there.
 */

const FORMAT = 2;

export interface StoredState {
  keys: KeyRecord[];
  aliases: AliasRecord[];
  grants: GrantRecord[];
}

/** An alias's file name: alias names hold `/` and may be longer than a file name may be. */
export function aliasFileName(name: string): string {
  return `${createHash('sha256').update(name, 'utf8').digest('hex')}.json`;
}

function parseRecord<S extends z.ZodType>(file: string, member: string, schema: S): z.output<S> {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new Error(`${file} is not a record of the local KMS: it is not JSON`, { cause });
  }
  const record = (doc as Record<string, unknown> | null)?.[member];
  const parsed = schema.safeParse(record);
  if ((doc as { version?: unknown } | null)?.version !== FORMAT || !parsed.success) {
    throw new Error(`${file} is not a version ${FORMAT} ${member} record of the local KMS`);
  }
  return parsed.data;
}

export class StoreFiles {
  private readonly keysDir: string;
  private readonly aliasesDir: string;
  private readonly grantsDir: string;
  private readonly legacyFile: string;

  constructor(private readonly dir: string) {
    this.keysDir = join(dir, 'keys');
    this.aliasesDir = join(dir, 'aliases');
    this.grantsDir = join(dir, 'grants');
    this.legacyFile = join(dir, 'state.json');
  }

  private keyFile(keyId: string): string {
    return join(this.keysDir, `${keyId}.json`);
  }

  private aliasFile(name: string): string {
    return join(this.aliasesDir, aliasFileName(name));
  }

  private grantFile(grantId: string): string {
    return join(this.grantsDir, `${grantId}.json`);
  }

  writeKey(key: KeyRecord, syncDir = true): void {
    writeFileAtomic(this.keyFile(key.keyId), `${JSON.stringify({ version: FORMAT, key })}\n`, 0o600, {
      syncDir,
    });
  }

  writeAlias(alias: AliasRecord, syncDir = true): void {
    writeFileAtomic(this.aliasFile(alias.name), `${JSON.stringify({ version: FORMAT, alias })}\n`, 0o600, {
      syncDir,
    });
  }

  writeGrant(grant: GrantRecord, syncDir = true): void {
    writeFileAtomic(this.grantFile(grant.grantId), `${JSON.stringify({ version: FORMAT, grant })}\n`, 0o600, {
      syncDir,
    });
  }

  removeKey(keyId: string): void {
    removeFileDurable(this.keyFile(keyId));
  }

  removeAlias(name: string): void {
    removeFileDurable(this.aliasFile(name));
  }

  removeGrant(grantId: string): void {
    removeFileDurable(this.grantFile(grantId));
  }

  /**
   * Reads every record, migrating a single-file data dir first. `check` runs on each key before
   * anything is written (the root key must unwrap its material), so a start with the wrong root
   * key fails without touching the data dir. Records of keys that no longer exist (a crash during
   * a key's deletion removes its aliases and grants first, its key file last) are removed.
   */
  load(check: (key: KeyRecord) => void): StoredState {
    for (const d of [this.dir, this.keysDir, this.aliasesDir, this.grantsDir]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
    }
    if (existsSync(this.legacyFile)) this.migrate(check);
    const keys = this.readAll(this.keysDir, 'key', keySchema, (k) => `${k.keyId}.json`);
    for (const key of keys) check(key);
    const keyIds = new Set(keys.map((k) => k.keyId));
    const aliases: AliasRecord[] = [];
    for (const alias of this.readAll(this.aliasesDir, 'alias', aliasSchema, (a) => aliasFileName(a.name))) {
      if (keyIds.has(alias.targetKeyId)) aliases.push(alias);
      else this.removeAlias(alias.name);
    }
    const grants: GrantRecord[] = [];
    for (const grant of this.readAll(this.grantsDir, 'grant', grantSchema, (g) => `${g.grantId}.json`)) {
      if (keyIds.has(grant.keyId)) grants.push(grant);
      else this.removeGrant(grant.grantId);
    }
    return { keys, aliases, grants };
  }

  private readAll<S extends z.ZodType>(
    dir: string,
    member: string,
    schema: S,
    fileName: (record: z.output<S>) => string,
  ): z.output<S>[] {
    const records: z.output<S>[] = [];
    for (const name of readdirSync(dir).sort()) {
      const file = join(dir, name);
      // A temporary file left by a write that a crash interrupted: the record kept its previous file.
      if (name.endsWith('.tmp')) {
        unlinkSync(file);
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const record = parseRecord(file, member, schema);
      if (fileName(record) !== name) throw new Error(`${file} holds the record of another ${member}`);
      records.push(record);
    }
    return records;
  }

  /** Writes every record of `kms/state.json` to its own file, syncs them, then removes `state.json`. */
  private migrate(check: (key: KeyRecord) => void): void {
    const state = stateV1Schema.parse(JSON.parse(readFileSync(this.legacyFile, 'utf8')));
    for (const key of state.keys) check(key);
    for (const key of state.keys) this.writeKey(key, false);
    for (const alias of state.aliases) this.writeAlias(alias, false);
    for (const grant of state.grants) this.writeGrant(grant, false);
    for (const d of [this.keysDir, this.aliasesDir, this.grantsDir]) fsyncDir(d);
    removeFileDurable(this.legacyFile);
  }
}
