import {
  KEY_MANAGER,
  KEY_USER,
  type LocalIdentities,
  type LocalKmsOptions,
  type LocalS3Options,
  SERVICE,
  type SeedKey,
} from '@eaas/aws-local';
import type { BatchConfig } from '../src/config.js';
import { rolesKeyPolicy, upgradedRolesPolicy } from '../src/core/key-policy.js';
import {
  type PageKeyPolicyInput,
  pageKeyPolicy,
  upgradedPageKeyPolicy,
} from '../src/core/page-key-policy.js';
import { SERVICE_TAG } from '../src/services/keys/shared.js';
import type { StackConfig as Config } from './config.js';
import { roleNameOf } from './template-roles.js';

/**
 * The local stack's settings for the emulators of `@eaas/aws-local`, which know nothing of this
 * service: where they keep their data, their ports, and the service's seed key.
 */

export const DEFAULT_KEY_ALIAS = 'alias/eaas-default';
/** The upload page's key, as serverless.yml's PageKey alias names it. */
export const PAGE_KEY_ALIAS = 'alias/eaas-page';

/**
 * The seed's default key, created on the first start: administered by myKeyManager and used by
 * myKeyUser and the service, under the service's key policy. A seed key whose policy an earlier
 * version of the service wrote (administrators could grant themselves its use) gets the current
 * policy on each start.
 */
/**
 * How the deployment names itself in its keys (serverless.yml's values, resolved locally): the
 * reserved tag, and the roles its key policies name for use and for administration.
 */
export interface ServiceNames {
  tag?: string | undefined;
  serviceRoles?: readonly string[];
  adminRoles?: readonly string[];
}

export function defaultKeySeed(
  accountId: string,
  { tag, serviceRoles = [], adminRoles = [] }: ServiceNames = {},
): SeedKey {
  return {
    alias: DEFAULT_KEY_ALIAS,
    description: 'Default key of the local encryption service',
    tags: [
      { TagKey: 'eaas:purpose', TagValue: 'default' },
      // The reserved tag: the functions' roles may use only keys carrying it.
      ...(tag ? [{ TagKey: SERVICE_TAG, TagValue: tag }] : []),
    ],
    policy: (identities: LocalIdentities) =>
      rolesKeyPolicy({
        accountId,
        administrators: [identities.byName(KEY_MANAGER).arn],
        users: [identities.byName(KEY_USER).arn, identities.byName(SERVICE).arn],
        serviceRoles,
        adminRoles,
      }),
    upgradePolicy: (doc: unknown) => upgradedRolesPolicy(doc, accountId, serviceRoles, adminRoles),
  };
}

/**
 * The page's key, created on the first start with the policy the service writes for it
 * (src/core/page-key-policy.ts, serverless.yml's PageKey): the service's roles use it, people (the
 * identity pool's authenticated role, `eaas-local-people`) only in their own space. Tagged with the
 * reserved tag like the default key. On later starts its policy is brought to the current one (the
 * roles the template names may have changed). Undefined when the stack names no service or
 * administration role: the policy would name no one who may use the key.
 */
export function pageKeySeed(
  accountId: string,
  { tag, serviceRoles = [], adminRoles = [] }: ServiceNames = {},
): SeedKey | undefined {
  if (serviceRoles.length === 0 || adminRoles.length === 0) return undefined;
  const input: PageKeyPolicyInput = {
    accountId,
    peopleRoleArn: `arn:aws:iam::${accountId}:role/${roleNameOf('local', 'people')}`,
    serviceRoleArns: serviceRoles,
    adminRoleArns: adminRoles,
  };
  return {
    alias: PAGE_KEY_ALIAS,
    description: "The upload page's key: each person's documents, in their own space",
    tags: [
      { TagKey: 'eaas:purpose', TagValue: 'page' },
      ...(tag ? [{ TagKey: SERVICE_TAG, TagValue: tag }] : []),
    ],
    policy: () => pageKeyPolicy(input),
    upgradePolicy: (doc: unknown) => upgradedPageKeyPolicy(doc, input),
  };
}

/** The values the template's names and ARNs take locally (local/template-roles.ts). */
export function localValues(config: Config) {
  return {
    accountId: config.accountId,
    region: config.region,
    vaultBucket: config.vaultBucket,
    stagingBucket: config.stagingBucket,
    stage: 'local',
  };
}

/** The local KMS as configured: the data dir, the configured port, and the seed key. */
export function localKmsOptions(config: Config, service: ServiceNames = {}): LocalKmsOptions {
  return {
    dataDir: config.dataDir,
    accountId: config.accountId,
    region: config.region,
    rootKey: config.rootKey,
    host: config.host,
    port: config.kmsPort,
    maxSkewSeconds: config.sigv4MaxSkewSeconds,
    latencyMs: config.localLatencyMs,
    seedKey: defaultKeySeed(config.accountId, service),
    seedKeys: [pageKeySeed(config.accountId, service)].filter((k): k is SeedKey => k !== undefined),
  };
}

/**
 * The batch engine of re-encryption jobs on the local stack, as serverless.yml gives it to the
 * jobs and reencrypt functions with the local values: the rewrapbatch function's ARN
 * (`eaas-local-rewrapbatch`), BatchOperationsRole (`eaas-local-batch-operations`, `roleArn`, read
 * from the template by the caller), the reports bucket (`custom.batchReportsBucket`) and the
 * default threshold, so that `auto` stays scheduled below 100,000 documents. EAAS_BATCH_* settings,
 * when given, win.
 */
export function localBatch(config: Config, roleArn: string): BatchConfig {
  return (
    config.batch ?? {
      functionArn: `arn:aws:lambda:${config.region}:${config.accountId}:function:eaas-local-rewrapbatch`,
      roleArn,
      reportBucket: localBatchReportsBucket(config),
      reportPrefix: 'reports/',
      priority: 10,
      threshold: 100_000,
    }
  );
}

/** The local reports bucket, `custom.batchReportsBucket` of serverless.yml with the local values. */
export const localBatchReportsBucket = (config: Config) =>
  config.batch?.reportBucket ?? `eaas-local-batch-reports-${config.accountId}-${config.region}`;

/** The local S3 as configured, with the vault, staging and batch reports buckets, trusting the KMS's identities. */
export function localS3Options(config: Config, identities: LocalIdentities): LocalS3Options {
  return {
    dataDir: config.dataDir,
    buckets: [config.vaultBucket, config.stagingBucket, localBatchReportsBucket(config)],
    accountId: config.accountId,
    region: config.region,
    host: config.host,
    port: config.s3Port,
    maxSkewSeconds: config.sigv4MaxSkewSeconds,
    latencyMs: config.localLatencyMs,
    identities,
  };
}
