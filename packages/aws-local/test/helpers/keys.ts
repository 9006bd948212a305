import type { CreateKeyCommandInput } from '@aws-sdk/client-kms';
import {
  CONSOLE_ADMIN_ACTIONS,
  CONSOLE_USER_ACTIONS,
  CONSOLE_USER_GRANT_ACTIONS,
  defaultKeyPolicy,
  type PolicyDocument,
} from '@eaas/aws-rules';
import { APP_ROLE, KEY_MANAGER, KEY_USER, type LocalPrincipal, SERVICE } from '../../src/identity.js';

export interface HasPrincipals {
  config: { accountId: string };
  principal(name: string): LocalPrincipal;
}

export interface ConsolePolicyInput {
  accountId: string;
  administrators: readonly string[];
  users: readonly string[];
}

/**
 * The key policy the AWS console writes for a new symmetric key with key administrators and key
 * users (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html): the
 * account root statement, the administrators' statement, the users' statement, and the users'
 * grants for AWS resources.
 */
export function consoleKeyPolicy({ accountId, administrators, users }: ConsolePolicyInput): PolicyDocument {
  return {
    Version: '2012-10-17',
    Id: 'key-consolepolicy-3',
    Statement: [
      ...defaultKeyPolicy(accountId).Statement,
      {
        Sid: 'Allow access for Key Administrators',
        Effect: 'Allow',
        Principal: { AWS: [...administrators] },
        Action: [...CONSOLE_ADMIN_ACTIONS],
        Resource: '*',
      },
      {
        Sid: 'Allow use of the key',
        Effect: 'Allow',
        Principal: { AWS: [...users] },
        Action: [...CONSOLE_USER_ACTIONS],
        Resource: '*',
      },
      {
        Sid: 'Allow attachment of persistent resources',
        Effect: 'Allow',
        Principal: { AWS: [...users] },
        Action: [...CONSOLE_USER_GRANT_ACTIONS],
        Resource: '*',
        Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      },
    ],
  };
}

/**
 * The tests' model of a key's roles: `myKeyManager` administers the key; `myKeyUser`, the
 * service's role and the role `myAppRole` use it.
 */
export function demoRoles(t: HasPrincipals): ConsolePolicyInput {
  return {
    accountId: t.config.accountId,
    administrators: [t.principal(KEY_MANAGER).arn],
    users: [
      t.principal(KEY_USER).arn,
      t.principal(SERVICE).arn,
      `arn:aws:iam::${t.config.accountId}:role/${APP_ROLE}`,
    ],
  };
}

/** CreateKey input for the tests' model of roles (`demoRoles`), under the console's policy. */
export function demoKey(t: HasPrincipals, extra: Partial<CreateKeyCommandInput> = {}): CreateKeyCommandInput {
  return { Policy: JSON.stringify(consoleKeyPolicy(demoRoles(t))), ...extra };
}
