import type { CreateKeyCommandInput } from '@aws-sdk/client-kms';
import { demoRoles, type HasPrincipals } from '@eaas/aws-local/testing/keys';
import { rolesKeyPolicy } from '../../src/core/key-policy.js';

/**
 * CreateKey input for the seed's model of roles (`demoRoles`: `myKeyManager` administers the key;
 * `myKeyUser`, the service's role and the role `myAppRole` use it). The account root statement
 * stays, as in every key this service writes.
 */
export function demoKey(t: HasPrincipals, extra: Partial<CreateKeyCommandInput> = {}): CreateKeyCommandInput {
  return { Policy: JSON.stringify(rolesKeyPolicy(demoRoles(t))), ...extra };
}
