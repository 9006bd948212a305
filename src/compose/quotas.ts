import type { S3Client } from '@aws-sdk/client-s3';
import { S3QuotaStore } from '../aws/s3-quotas.js';
import type { Config } from '../config.js';
import { QuotaLedger } from '../services/quotas.js';

/** The per-caller quotas, counted in records under `quotas/` at the root of the vault bucket. */
export function quotaLedgerFor(config: Config, s3: S3Client): QuotaLedger {
  return new QuotaLedger(new S3QuotaStore(s3, config.vaultBucket), config.quotas);
}
