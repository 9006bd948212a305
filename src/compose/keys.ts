import type { S3Client } from '@aws-sdk/client-s3';
import { KmsKeyMaterial } from '../aws/kms-material.js';
import type { Config } from '../config.js';
import type { KeysDeps } from '../handlers/keys.js';
import { KeyService } from '../services/keys.js';
import type { KeyAccess } from './key-access.js';
import { type PageTokenOptions, pageTokensFor } from './page-tokens.js';
import { quotaLedgerFor } from './quotas.js';

/** The keys function's services: key administration with per-caller quotas, and the listings' tokens. */
export function keysServices(
  config: Config,
  { kms, admin, access }: KeyAccess,
  s3: S3Client,
  tokens: PageTokenOptions = {},
): Pick<KeysDeps, 'keys' | 'pageTokens'> {
  const keys = new KeyService(admin, access, config.accountId, {
    quotas: quotaLedgerFor(config, s3),
    // Unset: no operators; every caller names aliases under its own prefix.
    aliasOperators: config.aliasOperators ?? [],
    serviceTag: config.serviceTag,
    serviceRoles: config.serviceRoleArns ?? [],
    adminRoles: config.adminRoleArns ?? [],
    material: new KmsKeyMaterial(kms),
  });
  return { keys, pageTokens: pageTokensFor(config, tokens) };
}
