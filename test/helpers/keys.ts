import type { CreateKeyCommandInput } from '@aws-sdk/client-kms';
import { demoRoles, type HasPrincipals } from '@eaas/aws-local/testing/keys';
import { rolesKeyPolicy } from '../../src/core/key-policy.js';
import { SERVICE_TAG } from '../../src/services/keys/shared.js';

/** The local stack's reserved tag value (serverless.yml's custom.serviceTag for the stage `local`). */
export const LOCAL_SERVICE_TAG = 'eaas-local';

/** The reserved tag of a key made outside the service for the local stack (see demoKey). */
export const LOCAL_SERVICE_TAGS = [{ TagKey: SERVICE_TAG, TagValue: LOCAL_SERVICE_TAG }];

/**
 * CreateKey input for the seed's model of roles (`demoRoles`: `myKeyManager` administers the key;
 * `myKeyUser`, the service's role and the role `myAppRole` use it). The account root statement
 * stays, as in every key this service writes. The key carries the reserved tag, as an operator
 * tags a key made outside the service for it (docs/deploying.md, "Least privilege"): without it,
 * the functions' roles cannot reach the key.
 */
export function demoKey(t: HasPrincipals, extra: Partial<CreateKeyCommandInput> = {}): CreateKeyCommandInput {
  return {
    Policy: JSON.stringify(rolesKeyPolicy(demoRoles(t))),
    ...extra,
    Tags: [...LOCAL_SERVICE_TAGS, ...(extra.Tags ?? [])],
  };
}
