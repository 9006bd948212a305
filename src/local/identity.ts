import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-file.js';

/** A local IAM principal with long-term access keys, as the local stack knows it. */
export interface LocalPrincipal {
  /** Profile name in the credentials file. */
  readonly name: string;
  readonly arn: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** The principals of the seed's demo and the service's own identity. */
export const KEY_MANAGER = 'myKeyManager';
export const KEY_USER = 'myKeyUser';
export const SERVICE = 'eaas-service';

const principalSchema = z.object({
  name: z.string(),
  arn: z.string(),
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
});
const fileSchema = z.object({ accountId: z.string(), principals: z.array(principalSchema) });

const ACCESS_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function newAccessKeyId(): string {
  const bytes = randomBytes(16);
  let id = 'AKIA';
  for (const b of bytes) id += ACCESS_KEY_ALPHABET[b % ACCESS_KEY_ALPHABET.length];
  return id;
}

function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B');
}

function seedPrincipals(accountId: string): LocalPrincipal[] {
  const make = (name: string, arn: string): LocalPrincipal => ({
    name,
    arn,
    accessKeyId: newAccessKeyId(),
    secretAccessKey: newSecretAccessKey(),
  });
  return [
    make(KEY_MANAGER, `arn:aws:iam::${accountId}:user/${KEY_MANAGER}`),
    make(KEY_USER, `arn:aws:iam::${accountId}:user/${KEY_USER}`),
    make(SERVICE, `arn:aws:iam::${accountId}:role/${SERVICE}`),
  ];
}

/** Renders principals as an AWS shared credentials file, one profile per principal. */
export function renderCredentialsFile(principals: readonly LocalPrincipal[]): string {
  return principals
    .map(
      (p) =>
        `[${p.name}]\naws_access_key_id = ${p.accessKeyId}\naws_secret_access_key = ${p.secretAccessKey}\n`,
    )
    .join('\n');
}

/** Renders an AWS config file giving every profile the local region. */
export function renderConfigFile(principals: readonly LocalPrincipal[], region: string): string {
  return principals.map((p) => `[profile ${p.name}]\nregion = ${region}\noutput = json\n`).join('\n');
}

/**
 * The local principals, created on first start and kept in the data dir
 * (`principals.json`, `credentials`, `config`, all mode 0600).
 */
export class LocalIdentities {
  private readonly byKey = new Map<string, LocalPrincipal>();

  private constructor(
    readonly accountId: string,
    readonly principals: readonly LocalPrincipal[],
  ) {
    for (const p of principals) this.byKey.set(p.accessKeyId, p);
  }

  static open(dataDir: string, accountId: string, region: string): LocalIdentities {
    const file = join(dataDir, 'principals.json');
    let principals: LocalPrincipal[];
    if (existsSync(file)) {
      const parsed = fileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
      if (parsed.accountId !== accountId) {
        throw new Error(
          `${file} was made for account ${parsed.accountId}, not ${accountId}; use another EAAS_DATA_DIR or the same EAAS_ACCOUNT_ID`,
        );
      }
      principals = parsed.principals;
    } else {
      principals = seedPrincipals(accountId);
      writeFileAtomic(file, `${JSON.stringify({ accountId, principals }, null, 2)}\n`);
    }
    writeFileAtomic(join(dataDir, 'credentials'), renderCredentialsFile(principals));
    writeFileAtomic(join(dataDir, 'config'), renderConfigFile(principals, region));
    return new LocalIdentities(accountId, principals);
  }

  byAccessKeyId(accessKeyId: string): LocalPrincipal | undefined {
    return this.byKey.get(accessKeyId);
  }

  byName(name: string): LocalPrincipal {
    const found = this.principals.find((p) => p.name === name);
    if (!found) throw new Error(`no local principal named ${name}`);
    return found;
  }
}
