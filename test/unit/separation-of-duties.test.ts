import {
  type AuthzRequest,
  authorize,
  type EncryptionContext,
  type GrantLike,
  type PolicyStatement,
} from '@eaas/aws-rules';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ADMIN_DENY_SID, CRYPTO_ACTIONS, MANAGE_ACTIONS, rolesKeyPolicy } from '../../src/core/key-policy.js';
import { dualRolePrincipals, mayManage } from '../../src/core/separation-of-duties.js';

const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`;
const ADMIN = `arn:aws:iam::${ACCOUNT}:user/admin`;
const USER = `arn:aws:iam::${ACCOUNT}:user/user`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/app`;
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/app/s1`;
const NOBODY = `arn:aws:iam::${ACCOUNT}:user/nobody`;
const FOREIGN = `arn:aws:iam::${OTHER_ACCOUNT}:user/x`;
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;

const service = rolesKeyPolicy({ accountId: ACCOUNT, administrators: [ADMIN], users: [USER, ROLE] });
const check = (policy: unknown, grants: GrantLike[] = []) =>
  dualRolePrincipals({ policy, keyArn: KEY, keyAccountId: ACCOUNT, grants });
const withStatements = (...extra: unknown[]) => ({ ...service, Statement: [...service.Statement, ...extra] });
const withoutDeny = (...extra: unknown[]) => ({
  ...service,
  Statement: [...service.Statement.filter((s) => s.Sid !== ADMIN_DENY_SID), ...extra],
});
const tenantPresent = { Null: { 'kms:EncryptionContext:tenant': 'false' } };

describe('separation of duties of a key policy', () => {
  it('accepts the policy the service writes', () => {
    expect(check(service)).toEqual([]);
  });

  it.each(['kms:Decrypt', 'kms:*', 'kms:ReEncryptTo', 'kms:GenerateDataKeyWithoutPlaintext'])(
    'refuses an administrator allowed %s under a tenant context (the attack of issue 12)',
    (action) => {
      const attack = {
        Effect: 'Allow',
        Principal: { AWS: ADMIN },
        Action: action,
        Resource: '*',
        Condition: tenantPresent,
      };
      expect(check(withoutDeny(attack))).toEqual([
        expect.objectContaining({ principal: ADMIN, via: 'policy', uses: expect.stringMatching(/^kms:/) }),
      ]);
      // With the Deny of every cryptographic operation, the Allow can never apply.
      expect(check(withStatements(attack))).toEqual([]);
    },
  );

  it('refuses Principal "*" with an aws:PrincipalArn condition naming an administrator', () => {
    const star = {
      Effect: 'Allow',
      Principal: '*',
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { StringEquals: { 'aws:PrincipalArn': ADMIN } },
    };
    expect(check(withoutDeny(star))).toEqual([expect.objectContaining({ principal: ADMIN, via: 'policy' })]);
    // ... and accepts it when the condition names a user only.
    const forUser = { ...star, Condition: { StringEquals: { 'aws:PrincipalArn': USER } } };
    expect(check(withStatements(forUser))).toEqual([]);
  });

  it('refuses a wildcard administrator statement whose condition a pattern decides', () => {
    const anyAdmin = {
      Effect: 'Allow',
      Principal: '*',
      Action: 'kms:PutKeyPolicy',
      Resource: '*',
      Condition: { StringLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/ops-*` } },
    };
    expect(check(withStatements(anyAdmin))).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ principal: expect.stringContaining('any principal') }),
      ]),
    );
  });

  it('an administrator not denied: the account root statement (IAM) or a grant it could be given', () => {
    expect(check(withoutDeny())).toEqual([
      expect.objectContaining({ principal: ADMIN, via: 'account root statement' }),
    ]);
    const noRoot = withoutDeny();
    noRoot.Statement = noRoot.Statement.slice(1);
    // Without the root statement, the administrators still may create grants (for themselves).
    expect(check(noRoot)).toEqual([
      expect.objectContaining({ principal: ADMIN, via: 'grant it could be given' }),
    ]);
  });

  it('a Deny counts only when it applies whatever the context and is understood', () => {
    const deny = (Condition: unknown) => ({
      Effect: 'Deny',
      Principal: { AWS: ADMIN },
      Action: 'kms:*',
      Resource: '*',
      Condition,
    });
    expect(check(withoutDeny(deny({ StringEquals: { 'kms:CallerAccount': ACCOUNT } })))).toEqual([]);
    expect(check(withoutDeny(deny(tenantPresent)))).not.toEqual([]);
    expect(check(withoutDeny(deny({ StringEquals: { 'aws:SourceVpce': 'vpce-1' } })))).not.toEqual([]);
    expect(check(withoutDeny(deny({ Bool: { 'kms:GrantIsForAWSResource': 'false' } })))).not.toEqual([]);
    expect(
      check(withoutDeny({ ...deny(undefined), Resource: 'arn:aws:kms:us-east-1:1:key/other' })),
    ).not.toEqual([]);
  });

  it('an Allow with a condition the evaluator does not know counts as satisfiable', () => {
    const allow = {
      Effect: 'Allow',
      Principal: { AWS: ADMIN },
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } },
    };
    expect(check(withoutDeny(allow))).toEqual([expect.objectContaining({ principal: ADMIN, via: 'policy' })]);
  });

  it('a grant already held by a principal that becomes an administrator', () => {
    const noRoot = { Statement: service.Statement.slice(1).filter((s) => s.Sid !== ADMIN_DENY_SID) };
    const noGrants = {
      Statement: noRoot.Statement.map((s) =>
        s.Sid === 'Allow access for Key Administrators'
          ? { ...s, Action: (s.Action as string[]).filter((a) => a !== 'kms:CreateGrant') }
          : s,
      ),
    };
    expect(check(noGrants)).toEqual([]);
    const held: GrantLike = { grantId: 'g', granteePrincipal: ADMIN, operations: ['Decrypt'] };
    expect(check(noGrants, [held])).toEqual([expect.objectContaining({ principal: ADMIN, via: 'grant' })]);
  });

  it('users who may create grants only for AWS resources do not manage the key', () => {
    const users = service.Statement.filter((s) => s.Sid !== 'Allow access for Key Administrators');
    expect(check({ Statement: users })).toEqual([]);
  });

  it('an assumed-role session named as administrator, its role as user', () => {
    const policy = {
      Statement: [
        { Effect: 'Allow', Principal: { AWS: SESSION }, Action: 'kms:PutKeyPolicy', Resource: '*' },
        { Effect: 'Allow', Principal: { AWS: ROLE }, Action: 'kms:Decrypt', Resource: '*' },
      ],
    };
    expect(check(policy)).toEqual([expect.objectContaining({ principal: SESSION, uses: 'kms:Decrypt' })]);
  });
});

describe('who may manage a key, for grants', () => {
  it('an administrator, its sessions, its account; not a user', () => {
    expect(mayManage(service, ADMIN, KEY)).toBe(true);
    expect(mayManage(service, USER, KEY)).toBe(false);
    expect(mayManage(service, ROOT, KEY)).toBe(true);
    expect(mayManage(service, `arn:aws:iam::${OTHER_ACCOUNT}:root`, KEY)).toBe(false);
    const sessionAdmin = {
      Statement: [{ Effect: 'Allow', Principal: { AWS: SESSION }, Action: 'kms:TagResource', Resource: '*' }],
    };
    expect(mayManage(sessionAdmin, ROLE, KEY)).toBe(true);
    const conditioned = {
      Statement: [
        {
          Effect: 'Allow',
          Principal: '*',
          Action: 'kms:PutKeyPolicy',
          Resource: '*',
          Condition: { StringLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/us*` } },
        },
      ],
    };
    expect(mayManage(conditioned, USER, KEY)).toBe(true);
    expect(mayManage(conditioned, ADMIN, KEY)).toBe(false);
  });
});

// ---- The property: whatever the check accepts, the evaluator lets no administrator use the key.

const POOL = [ADMIN, USER, ROLE, SESSION, NOBODY, FOREIGN, ROOT];

const principalArb = fc.constantFrom<unknown>(
  '*',
  { AWS: '*' },
  { AWS: ADMIN },
  { AWS: [USER, ROLE] },
  { AWS: SESSION },
  { AWS: ROOT },
  { AWS: ACCOUNT },
  { AWS: FOREIGN },
  { AWS: `arn:aws:iam::${OTHER_ACCOUNT}:root` },
  { Service: 'logs.amazonaws.com' },
  { AWS: ADMIN, Service: 'logs.amazonaws.com' },
);
const actionArb = fc.constantFrom(
  'kms:*',
  'kms:Re*',
  'kms:Create*',
  'kms:Put*',
  'kms:PutKeyPolicy',
  'kms:CreateGrant',
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:ReEncryptTo',
  'kms:GenerateDataKey*',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:DescribeKey',
  'kms:TagResource',
  'kms:*Key*',
  'kms:Sign',
);
const conditionArb = fc.constantFrom<[string, string, unknown]>(
  ['StringEquals', 'kms:EncryptionContext:tenant', 'acme'],
  ['StringEquals', 'kms:EncryptionContext:tenant', ['acme', 'globex']],
  ['StringLike', 'kms:EncryptionContext:tenant', 'a*'],
  ['StringNotEquals', 'kms:EncryptionContext:tenant', 'acme'],
  ['StringEqualsIfExists', 'kms:EncryptionContext:tenant', 'acme'],
  ['Null', 'kms:EncryptionContext:tenant', 'false'],
  ['Null', 'kms:EncryptionContext:tenant', 'true'],
  ['ForAnyValue:StringEquals', 'kms:EncryptionContextKeys', ['tenant']],
  ['ForAllValues:StringEquals', 'kms:EncryptionContextKeys', ['tenant', 'dept']],
  ['StringEquals', 'aws:PrincipalArn', ADMIN],
  ['StringEquals', 'aws:PrincipalArn', ROLE],
  ['StringNotEquals', 'aws:PrincipalArn', ADMIN],
  ['StringLike', 'aws:PrincipalArn', `arn:aws:iam::${ACCOUNT}:user/*`],
  ['StringLike', 'aws:PrincipalArn', '*admin*'],
  ['StringEqualsIgnoreCase', 'aws:PrincipalArn', ADMIN.toUpperCase()],
  ['StringEquals', 'kms:CallerAccount', ACCOUNT],
  ['StringNotEquals', 'kms:CallerAccount', OTHER_ACCOUNT],
  ['Bool', 'kms:GrantIsForAWSResource', 'true'],
  ['StringEquals', 'aws:SourceVpce', 'vpce-1'],
  ['ArnLike', 'aws:PrincipalArn', 'arn:aws:iam::*:user/admin'],
);
const statementArb = fc
  .record({
    effect: fc.constantFrom('Allow', 'Allow', 'Deny'),
    principal: principalArb,
    actions: fc.array(actionArb, { minLength: 1, maxLength: 3 }),
    notAction: fc.constantFrom(false, false, false, false, true),
    resource: fc.constantFrom('*', '*', KEY, 'arn:aws:kms:us-east-1:111122223333:key/other'),
    conditions: fc.array(conditionArb, { maxLength: 2 }),
  })
  .map(({ effect, principal, actions, notAction, resource, conditions }) => {
    const Condition: Record<string, Record<string, unknown>> = {};
    for (const [op, key, value] of conditions) Condition[op] = { ...Condition[op], [key]: value };
    return {
      Effect: effect,
      Principal: principal,
      [notAction ? 'NotAction' : 'Action']: actions.length === 1 ? actions[0] : actions,
      Resource: resource,
      ...(conditions.length > 0 ? { Condition } : {}),
    };
  });
const baseArb = fc.constantFrom<PolicyStatement[]>(
  [],
  service.Statement,
  service.Statement,
  service.Statement.slice(0, 1),
  service.Statement.filter((s) => s.Sid !== ADMIN_DENY_SID),
);
const policyArb = fc
  .tuple(baseArb, fc.array(statementArb, { maxLength: 4 }))
  .map(([base, extra]) => ({ Version: '2012-10-17', Statement: [...base, ...extra] }));
const contextArb: fc.Arbitrary<EncryptionContext> = fc.dictionary(
  fc.constantFrom('tenant', 'Tenant', 'dept'),
  fc.constantFrom('acme', 'globex', 'a1'),
  { maxKeys: 3 },
);
const grantArb: fc.Arbitrary<GrantLike> = fc.record({
  grantId: fc.constantFrom('g1', 'g2', 'g3'),
  granteePrincipal: fc.constantFrom(ADMIN, USER, ROLE, NOBODY),
  operations: fc.subarray(['Encrypt', 'Decrypt', 'ReEncryptTo', 'CreateGrant', 'DescribeKey'], {
    minLength: 1,
  }),
  constraints: fc.option(fc.record({ EncryptionContextSubset: fc.constant({ tenant: 'acme' }) }), {
    nil: undefined,
  }),
});

/**
 * One action of MANAGE_ACTIONS for each way the drawn actions can name them (`kms:*`, `kms:Put*`,
 * `kms:Create*`, `kms:*Key*`, `kms:Re*`, exact names), so deciding who manages stays fast.
 */
const MANAGING = [
  'kms:PutKeyPolicy',
  'kms:CreateGrant',
  'kms:CreateAlias',
  'kms:TagResource',
  'kms:DisableKey',
  'kms:ReplicateKey',
  'kms:RevokeGrant',
];

describe('property: an accepted policy lets no administrator use the key', () => {
  it('MANAGING are actions that make one an administrator', () => {
    expect(MANAGE_ACTIONS).toEqual(expect.arrayContaining(MANAGING));
  });

  it('for random policies, grants and contexts, the evaluator agrees with the check', () => {
    const seen = { accepted: 0, administrators: 0 };
    const req = (
      principal: string,
      action: string,
      ctx: EncryptionContext,
      extra: Partial<AuthzRequest> = {},
    ) => ({
      principal,
      action,
      keyArn: KEY,
      keyAccountId: ACCOUNT,
      encryptionContext: ctx,
      ...extra,
    });
    fc.assert(
      fc.property(
        policyArb,
        fc.array(grantArb, { maxLength: 2 }),
        fc.array(contextArb, { minLength: 1, maxLength: 3 }),
        (policy, grants, drawn) => {
          if (check(policy, grants).length > 0) return;
          seen.accepted++;
          const contexts = [{}, { tenant: 'acme' }, ...drawn];
          // Who the evaluator lets manage the key through its policy (the account root, IAM, aside).
          const admins = POOL.filter((p) =>
            MANAGING.some((a) => contexts.some((c) => authorize(policy, [], req(p, a, c)).allowed)),
          );
          seen.administrators += admins.length;
          // If anyone may create a grant, an administrator could be given every operation.
          const grantable = POOL.some((p) =>
            contexts.some((c) => authorize(policy, grants, req(p, 'kms:CreateGrant', c)).allowed),
          );
          for (const admin of admins) {
            const given: GrantLike[] = grantable
              ? [
                  ...grants,
                  {
                    grantId: 'self',
                    granteePrincipal: admin,
                    operations: CRYPTO_ACTIONS.map((a) => a.slice('kms:'.length)),
                  },
                ]
              : grants;
            for (const action of CRYPTO_ACTIONS)
              for (const c of contexts) {
                // Even when its IAM policies allow everything (through the account root statement):
                // that only adds to what the key policy allows, so it covers the case without IAM.
                if (authorize(policy, given, req(admin, action, c, { iamAllows: () => true })).allowed)
                  throw new Error(`${admin} may ${action} with ${JSON.stringify(c)}`);
              }
          }
        },
      ),
      { numRuns: 2000 },
    );
    // Enough accepted policies with administrators for the property to say something.
    expect(seen.accepted).toBeGreaterThan(300);
    expect(seen.administrators).toBeGreaterThan(300);
  }, 120_000);
});
