import type { KMSClient } from '@aws-sdk/client-kms';
import { KmsKeyAdmin } from '../aws/kms-admin.js';
import type { Config } from '../config.js';
import { AccessControl } from '../services/access.js';

/**
 * What every function that touches a key shares: the KMS client, the key administration adapter
 * over it, and the authorization of callers on keys (with its cache of policies and grants). The
 * local stack builds one for all its functions; a Lambda function builds its own.
 */
export interface KeyAccess {
  readonly kms: KMSClient;
  readonly admin: KmsKeyAdmin;
  readonly access: AccessControl;
}

export function keyAccess(config: Config, kms: KMSClient): KeyAccess {
  const admin = new KmsKeyAdmin(kms);
  return { kms, admin, access: new AccessControl(admin, { ttlMs: config.authzCacheSeconds * 1000 }) };
}
