import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../atomic-file.js';

/**
 * The identity pool's state in the data dir (`cognito-identity/pool.json`, mode 0600): its id,
 * made on first start, and the identities it gave, one per (provider, sub). Ids only: no token,
 * no credential is ever written here (the temporary credentials live in memory, LocalIdentities).
 */

const fileSchema = z.object({
  identityPoolId: z.string(),
  identities: z.array(z.object({ identityId: z.string(), providerName: z.string(), sub: z.string() })),
});

export interface IdentityRecord {
  readonly identityId: string;
  readonly providerName: string;
  readonly sub: string;
}

export class IdentityPoolStore {
  private readonly byLogin = new Map<string, IdentityRecord>();
  private readonly byId = new Map<string, IdentityRecord>();

  private constructor(
    private readonly file: string,
    readonly region: string,
    readonly identityPoolId: string,
    records: readonly IdentityRecord[],
  ) {
    for (const r of records) this.remember(r);
  }

  static open(dataDir: string, region: string): IdentityPoolStore {
    const dir = join(dataDir, 'cognito-identity');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, 'pool.json');
    if (existsSync(file)) {
      const parsed = fileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
      return new IdentityPoolStore(file, region, parsed.identityPoolId, parsed.identities);
    }
    const store = new IdentityPoolStore(file, region, `${region}:${randomUUID()}`, []);
    store.save();
    return store;
  }

  private remember(r: IdentityRecord): void {
    this.byLogin.set(`${r.providerName}\n${r.sub}`, r);
    this.byId.set(r.identityId, r);
  }

  private save(): void {
    writeFileAtomic(
      this.file,
      `${JSON.stringify({ identityPoolId: this.identityPoolId, identities: [...this.byId.values()] }, null, 2)}\n`,
    );
  }

  /** The identity of a login, made (and kept) on its first GetId. */
  identityOf(providerName: string, sub: string): IdentityRecord {
    const found = this.byLogin.get(`${providerName}\n${sub}`);
    if (found) return found;
    const record = { identityId: `${this.region}:${randomUUID()}`, providerName, sub };
    this.remember(record);
    this.save();
    return record;
  }

  byIdentityId(identityId: string): IdentityRecord | undefined {
    return this.byId.get(identityId);
  }

  get size(): number {
    return this.byId.size;
  }
}
