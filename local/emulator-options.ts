import {
  KEY_MANAGER,
  KEY_USER,
  type LocalIdentities,
  type LocalKmsOptions,
  type LocalS3Options,
  SERVICE,
  type SeedKey,
} from '@eaas/aws-local';
import { rolesKeyPolicy, upgradedRolesPolicy } from '../src/core/key-policy.js';
import { SERVICE_TAG } from '../src/services/keys/shared.js';
import type { StackConfig as Config } from './config.js';

/**
 * The local stack's settings for the emulators of `@eaas/aws-local`, which know nothing of this
 * service: where they keep their data, their ports, and the service's seed key.
 */

export const DEFAULT_KEY_ALIAS = 'alias/eaas-default';

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
    seedKey: defaultKeySeed(config.accountId, service),
  };
}

/** The local S3 as configured, with the vault and staging buckets, trusting the KMS's identities. */
export function localS3Options(config: Config, identities: LocalIdentities): LocalS3Options {
  return {
    dataDir: config.dataDir,
    buckets: [config.vaultBucket, config.stagingBucket],
    accountId: config.accountId,
    region: config.region,
    host: config.host,
    port: config.s3Port,
    maxSkewSeconds: config.sigv4MaxSkewSeconds,
    identities,
  };
}
