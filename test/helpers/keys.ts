import type { CreateKeyCommandInput } from '@aws-sdk/client-kms';
import { APP_ROLE, KEY_MANAGER, KEY_USER, type LocalPrincipal, SERVICE } from '@eaas/aws-local';
import type { Config } from '../../src/config.js';
import { rolesKeyPolicy } from '../../src/core/key-policy.js';

interface HasPrincipals {
  config: Config;
  principal(name: string): LocalPrincipal;
}

/**
 * CreateKey input for the seed's model: `myKeyManager` administers the key; `myKeyUser`, the
 * service's role and the role `myAppRole` use it. The account root statement stays, as in every
 * key this service writes.
 */
export function demoKey(t: HasPrincipals, extra: Partial<CreateKeyCommandInput> = {}): CreateKeyCommandInput {
  const policy = rolesKeyPolicy({
    accountId: t.config.accountId,
    administrators: [t.principal(KEY_MANAGER).arn],
    users: [
      t.principal(KEY_USER).arn,
      t.principal(SERVICE).arn,
      `arn:aws:iam::${t.config.accountId}:role/${APP_ROLE}`,
    ],
  });
  return { Policy: JSON.stringify(policy), ...extra };
}
