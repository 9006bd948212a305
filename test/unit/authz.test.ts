import {
  type AuthzRequest,
  authorize,
  defaultKeyPolicy,
  describeDecision,
  type GrantLike,
  globMatch,
  grantAllows,
  grantNarrows,
  policyDocumentProblem,
} from '@eaas/aws-rules';
import { describe, expect, it } from 'vitest';
import { ADMIN_DENY_SID, ADMIN_SID, rolesKeyPolicy, USER_SID } from '../../src/core/key-policy.js';

const ACCOUNT = '111122223333';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`;
const MANAGER = `arn:aws:iam::${ACCOUNT}:user/myKeyManager`;
const USER = `arn:aws:iam::${ACCOUNT}:user/myKeyUser`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/app-role`;
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/app-role/session-1`;
const NOBODY = `arn:aws:iam::${ACCOUNT}:user/nobody`;

const policy = rolesKeyPolicy({ accountId: ACCOUNT, administrators: [MANAGER], users: [USER, ROLE] });
const req = (principal: string, action: string, extra: Partial<AuthzRequest> = {}): AuthzRequest => ({
  principal,
  action,
  keyArn: KEY,
  keyAccountId: ACCOUNT,
  ...extra,
});
/** A policy of one statement allowing the user kms:Decrypt under a condition. */
const withCondition = (Condition: unknown) => ({
  Statement: [{ Effect: 'Allow', Principal: { AWS: USER }, Action: 'kms:Decrypt', Resource: '*', Condition }],
});
const allowed = (doc: unknown, r: AuthzRequest, grants: GrantLike[] = []) =>
  authorize(doc, grants, r).allowed;

describe('key policy: administrators manage, users use', () => {
  it.each([
    'kms:Encrypt',
    'kms:Decrypt',
    'kms:ReEncryptFrom',
    'kms:ReEncryptTo',
    'kms:GenerateDataKey',
    'kms:GenerateDataKeyWithoutPlaintext',
  ])('a user may %s; an administrator may not, even with a grant or IAM allowing it', (action) => {
    expect(authorize(policy, [], req(USER, action))).toEqual({
      allowed: true,
      reason: 'key-policy',
      statement: { index: 2, sid: USER_SID },
    });
    const selfGrant: GrantLike = {
      grantId: 'g-self',
      granteePrincipal: MANAGER,
      operations: [action.replace('kms:', '')],
    };
    expect(authorize(policy, [selfGrant], req(MANAGER, action, { iamAllows: () => true }))).toEqual({
      allowed: false,
      reason: 'explicit-deny',
      statement: { index: 4, sid: ADMIN_DENY_SID },
    });
  });

  it.each([
    'kms:DisableKey',
    'kms:EnableKeyRotation',
    'kms:PutKeyPolicy',
    'kms:ScheduleKeyDeletion',
    'kms:RotateKeyOnDemand',
    'kms:CreateAlias',
  ])('an administrator may %s; a user may not', (action) => {
    expect(authorize(policy, [], req(MANAGER, action))).toMatchObject({
      allowed: true,
      statement: { sid: ADMIN_SID },
    });
    expect(allowed(policy, req(USER, action))).toBe(false);
  });

  it('an assumed-role session acts as its role', () => {
    expect(allowed(policy, req(SESSION, 'kms:Encrypt'))).toBe(true);
    expect(allowed(policy, req(`arn:aws:sts::${ACCOUNT}:assumed-role/other-role/s`, 'kms:Encrypt'))).toBe(
      false,
    );
  });

  it('a principal named nowhere is denied', () => {
    expect(authorize(policy, [], req(NOBODY, 'kms:Encrypt'))).toEqual({
      allowed: false,
      reason: 'implicit-deny',
    });
  });

  it('users may create grants only for AWS resources', () => {
    expect(allowed(policy, req(USER, 'kms:CreateGrant'))).toBe(false);
    expect(allowed(policy, req(USER, 'kms:CreateGrant', { grantIsForAWSResource: true }))).toBe(true);
  });
});

describe('the account root delegates to IAM', () => {
  const root = defaultKeyPolicy(ACCOUNT);

  it('matches only when the caller is in the account and its IAM policy allows the action', () => {
    expect(allowed(root, req(USER, 'kms:Encrypt'))).toBe(false);
    expect(allowed(root, req(USER, 'kms:Encrypt', { iamAllows: (a) => a === 'kms:Encrypt' }))).toBe(true);
    expect(allowed(root, req(USER, 'kms:Decrypt', { iamAllows: (a) => a === 'kms:Encrypt' }))).toBe(false);
    expect(
      allowed(root, req('arn:aws:iam::999999999999:user/x', 'kms:Encrypt', { iamAllows: () => true })),
    ).toBe(false);
  });
});

describe('Deny wins, wildcards, resources', () => {
  const doc = {
    Statement: [
      { Sid: 'all', Effect: 'Allow', Principal: { AWS: USER }, Action: 'kms:*', Resource: '*' },
      { Sid: 'no-decrypt', Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*' },
    ],
  };

  it('an explicit Deny wins over an Allow and names its statement', () => {
    const d = authorize(doc, [], req(USER, 'kms:Decrypt'));
    expect(d).toEqual({
      allowed: false,
      reason: 'explicit-deny',
      statement: { index: 1, sid: 'no-decrypt' },
    });
    expect(describeDecision(d)).toBe('denied by key policy statement no-decrypt');
  });

  it('kms:* and kms:ReEncrypt* and kms:GenerateDataKey* match what they should and nothing else', () => {
    expect(allowed(doc, req(USER, 'kms:Encrypt'))).toBe(true);
    expect(globMatch('kms:ReEncrypt*', 'kms:ReEncryptFrom', true)).toBe(true);
    expect(globMatch('kms:GenerateDataKey*', 'kms:GenerateDataKeyWithoutPlaintext', true)).toBe(true);
    expect(globMatch('kms:GenerateDataKey*', 'kms:GenerateRandom', true)).toBe(false);
    expect(globMatch('kms:encrypt', 'kms:Encrypt', true)).toBe(true);
  });

  it('a Resource naming another key does not match', () => {
    const other = {
      Statement: [{ Effect: 'Allow', Principal: { AWS: USER }, Action: 'kms:Encrypt', Resource: `${KEY}x` }],
    };
    expect(allowed(other, req(USER, 'kms:Encrypt'))).toBe(false);
  });
});

describe('conditions on the encryption context', () => {
  const ctx = (encryptionContext: Record<string, string>) => req(USER, 'kms:Decrypt', { encryptionContext });

  it('StringEquals on kms:EncryptionContext:<key>', () => {
    const doc = withCondition({ StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } });
    expect(allowed(doc, ctx({ tenant: 'acme', x: '1' }))).toBe(true);
    expect(allowed(doc, ctx({ tenant: 'other' }))).toBe(false);
    expect(allowed(doc, ctx({}))).toBe(false);
  });

  it('StringLike with wildcards', () => {
    const doc = withCondition({ StringLike: { 'kms:EncryptionContext:case': 'case-*' } });
    expect(allowed(doc, ctx({ case: 'case-42' }))).toBe(true);
    expect(allowed(doc, ctx({ case: 'other-42' }))).toBe(false);
  });

  it('ForAllValues and ForAnyValue on kms:EncryptionContextKeys', () => {
    const all = withCondition({
      'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant', 'case'] },
    });
    expect(allowed(all, ctx({ tenant: 'a' }))).toBe(true);
    expect(allowed(all, ctx({ tenant: 'a', extra: 'b' }))).toBe(false);
    const any = withCondition({ 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'tenant' } });
    expect(allowed(any, ctx({ tenant: 'a', extra: 'b' }))).toBe(true);
    expect(allowed(any, ctx({ extra: 'b' }))).toBe(false);
  });

  it('compares numbers with the numeric operators', () => {
    expect(
      allowed(withCondition({ NumericLessThan: { 'kms:EncryptionContext:n': '5' } }), ctx({ n: '1' })),
    ).toBe(true);
    expect(
      allowed(withCondition({ NumericLessThan: { 'kms:EncryptionContext:n': '5' } }), ctx({ n: '7' })),
    ).toBe(false);
    expect(
      allowed(withCondition({ NumericLessThan: { 'kms:EncryptionContext:n': '5' } }), ctx({ n: 'x' })),
    ).toBe(false);
  });

  it('what it does not understand matches nothing, never allows', () => {
    for (const condition of [
      { NumericLessThanOrEqualsButNot: { 'kms:EncryptionContext:n': '5' } },
      { StringEquals: { 'aws:SourceVpc': 'vpc-1' } },
      { StringEquals: { 'kms:EncryptionContextKeys': 'tenant' } },
      { 'ForAllValues:StringEquals': { 'kms:EncryptionContext:tenant': 'acme' } },
      'not an object',
    ]) {
      expect(
        allowed(withCondition(condition), ctx({ tenant: 'acme', n: '1' })),
        JSON.stringify(condition),
      ).toBe(false);
    }
    expect(
      allowed(
        { Statement: [{ Effect: 'Allow', NotPrincipal: { AWS: NOBODY }, Action: 'kms:*', Resource: '*' }] },
        req(USER, 'kms:Encrypt'),
      ),
    ).toBe(false);
    expect(
      allowed(
        {
          Statement: [
            { Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'kms:*', Resource: '*' },
          ],
        },
        req(USER, 'kms:Encrypt'),
      ),
    ).toBe(false);
    expect(
      allowed(
        { Statement: [{ Effect: 'Maybe', Principal: '*', Action: 'kms:*', Resource: '*' }] },
        req(USER, 'kms:Encrypt'),
      ),
    ).toBe(false);
    expect(allowed('not a policy', req(USER, 'kms:Encrypt'))).toBe(false);
  });
});

describe('grants', () => {
  const grant: GrantLike = {
    grantId: 'g-acme',
    granteePrincipal: NOBODY,
    operations: ['Encrypt', 'Decrypt'],
    constraints: { EncryptionContextSubset: { tenant: 'acme' } },
  };

  it('allow the grantee the named operations with a context that satisfies the subset', () => {
    const d = authorize(
      policy,
      [grant],
      req(NOBODY, 'kms:Encrypt', { encryptionContext: { tenant: 'acme', doc: '1' } }),
    );
    expect(d).toEqual({ allowed: true, reason: 'grant', grantId: 'g-acme' });
    expect(describeDecision(d)).toBe('allowed by grant g-acme');
  });

  it('refuse other contexts, other operations and other principals', () => {
    expect(grantAllows(grant, req(NOBODY, 'kms:Encrypt', { encryptionContext: { tenant: 'other' } }))).toBe(
      false,
    );
    expect(grantAllows(grant, req(NOBODY, 'kms:Encrypt'))).toBe(false);
    expect(
      grantAllows(grant, req(NOBODY, 'kms:GenerateDataKey', { encryptionContext: { tenant: 'acme' } })),
    ).toBe(false);
    expect(grantAllows(grant, req(USER, 'kms:Encrypt', { encryptionContext: { tenant: 'acme' } }))).toBe(
      false,
    );
  });

  it('EncryptionContextEquals needs the exact context', () => {
    const exact: GrantLike = { ...grant, constraints: { EncryptionContextEquals: { tenant: 'acme' } } };
    expect(grantAllows(exact, req(NOBODY, 'kms:Decrypt', { encryptionContext: { tenant: 'acme' } }))).toBe(
      true,
    );
    expect(
      grantAllows(exact, req(NOBODY, 'kms:Decrypt', { encryptionContext: { tenant: 'acme', x: '1' } })),
    ).toBe(false);
  });

  it('a grant to a role serves its assumed-role sessions', () => {
    const toRole: GrantLike = { grantId: 'g-role', granteePrincipal: ROLE, operations: ['Decrypt'] };
    expect(grantAllows(toRole, req(SESSION, 'kms:Decrypt'))).toBe(true);
  });

  it('an explicit Deny in the policy beats a grant', () => {
    const deny = {
      Statement: [
        { Sid: 'stop', Effect: 'Deny', Principal: { AWS: NOBODY }, Action: 'kms:Encrypt', Resource: '*' },
      ],
    };
    expect(
      authorize(deny, [grant], req(NOBODY, 'kms:Encrypt', { encryptionContext: { tenant: 'acme' } })),
    ).toMatchObject({
      allowed: false,
      reason: 'explicit-deny',
    });
  });
});

describe('findings of the security review', () => {
  it('a Deny the evaluator does not understand denies (fails closed)', () => {
    const allowAll = {
      Sid: 'all',
      Effect: 'Allow',
      Principal: { AWS: USER },
      Action: 'kms:*',
      Resource: '*',
    };
    for (const deny of [
      { Effect: 'Deny', NotPrincipal: { AWS: MANAGER }, Action: 'kms:*', Resource: '*' },
      {
        Effect: 'Deny',
        Principal: '*',
        Action: 'kms:Decrypt',
        Resource: '*',
        Condition: { NumericLessThan: { 'kms:X': '1' } },
      },
      { Effect: 'Deny', Principal: { Service: 'logs.amazonaws.com' }, Action: 'kms:Decrypt', Resource: '*' },
    ]) {
      expect(allowed({ Statement: [allowAll, deny] }, req(USER, 'kms:Decrypt')), JSON.stringify(deny)).toBe(
        false,
      );
    }
  });

  it('StringNotEquals and IfExists work as IAM defines them', () => {
    const deny = {
      Statement: [
        { Effect: 'Allow', Principal: { AWS: USER }, Action: 'kms:Decrypt', Resource: '*' },
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringNotEquals: { 'kms:EncryptionContext:tenant': 'acme' } },
        },
      ],
    };
    expect(allowed(deny, req(USER, 'kms:Decrypt', { encryptionContext: { tenant: 'acme' } }))).toBe(true);
    expect(allowed(deny, req(USER, 'kms:Decrypt', { encryptionContext: { tenant: 'evil' } }))).toBe(false);
    expect(allowed(deny, req(USER, 'kms:Decrypt'))).toBe(false);
    const ifExists = {
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: USER },
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringEqualsIfExists: { 'kms:EncryptionContext:tenant': 'acme' } },
        },
      ],
    };
    expect(allowed(ifExists, req(USER, 'kms:Decrypt'))).toBe(true);
    expect(allowed(ifExists, req(USER, 'kms:Decrypt', { encryptionContext: { tenant: 'evil' } }))).toBe(
      false,
    );
  });

  it('a statement or grant naming one role session does not match other sessions of the role', () => {
    const alice = `arn:aws:sts::${ACCOUNT}:assumed-role/app-role/alice`;
    const bob = `arn:aws:sts::${ACCOUNT}:assumed-role/app-role/bob`;
    const doc = {
      Statement: [{ Effect: 'Allow', Principal: { AWS: alice }, Action: 'kms:Decrypt', Resource: '*' }],
    };
    expect(allowed(doc, req(alice, 'kms:Decrypt'))).toBe(true);
    expect(allowed(doc, req(bob, 'kms:Decrypt'))).toBe(false);
    expect(
      grantAllows(
        { grantId: 'g', granteePrincipal: alice, operations: ['Decrypt'] },
        req(bob, 'kms:Decrypt'),
      ),
    ).toBe(false);
  });

  it('context conditions and grant constraints read own keys only', () => {
    const doc = withCondition({ StringLike: { 'kms:EncryptionContext:constructor': '*' } });
    expect(allowed(doc, req(USER, 'kms:Decrypt', { encryptionContext: {} }))).toBe(false);
    const g: GrantLike = {
      grantId: 'g',
      granteePrincipal: USER,
      operations: ['Decrypt'],
      constraints: { EncryptionContextSubset: { toString: 'x' } },
    };
    expect(grantAllows(g, req(USER, 'kms:Decrypt', { encryptionContext: {} }))).toBe(false);
  });

  it('a statement without Resource matches nothing and is a malformed policy', () => {
    const doc = { Statement: [{ Effect: 'Allow', Principal: { AWS: USER }, Action: 'kms:*' }] };
    expect(allowed(doc, req(USER, 'kms:Encrypt'))).toBe(false);
    expect(policyDocumentProblem(JSON.stringify(doc))).toContain('no Resource');
  });
});

describe('findings of the second review', () => {
  it('condition operator names are looked up as own entries only', () => {
    const doc = withCondition({ Constructor: { 'kms:EncryptionContext:dept': 'finance' } });
    expect(allowed(doc, req(USER, 'kms:Decrypt', { encryptionContext: { dept: 'hr' } }))).toBe(false);
    expect(policyDocumentProblem('{"Statement":[{"__proto__":{}}]}')).toEqual(expect.any(String));
  });

  it('a Deny naming the account root applies to every principal of the account', () => {
    const doc = {
      Statement: [
        { Effect: 'Allow', Principal: { AWS: USER }, Action: 'kms:Decrypt', Resource: '*' },
        {
          Effect: 'Deny',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: 'kms:Decrypt',
          Resource: '*',
        },
      ],
    };
    expect(allowed(doc, req(USER, 'kms:Decrypt'))).toBe(false);
    expect(allowed(doc, req(USER, 'kms:Encrypt'))).toBe(false);
  });

  it('wildcard matching takes linear time on hostile input', () => {
    const started = Date.now();
    expect(globMatch('*-*-*-*-*-*-y', '-'.repeat(5000))).toBe(false);
    expect(globMatch('a*b?c*', 'axxbycz')).toBe(true);
    expect(globMatch('a*b?c', 'abc')).toBe(false);
    expect(globMatch('*', '')).toBe(true);
    // Not a timing assertion on the machine: a generous bound that only a backtracking blow-up exceeds.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('review findings', () => {
  it('a * in the value does not use up the wildcard: a StringLike Deny still applies', () => {
    expect(globMatch('*prod*', '*eu-prod')).toBe(true);
    expect(globMatch('a*b', 'a*b')).toBe(true);
    expect(globMatch('a*b', 'a**xb')).toBe(true);
    const doc = {
      Statement: [
        { Effect: 'Allow', Principal: { AWS: USER }, Action: 'kms:*', Resource: '*' },
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:*',
          Resource: '*',
          Condition: { StringLike: { 'kms:EncryptionContext:env': '*prod*' } },
        },
      ],
    };
    expect(allowed(doc, req(USER, 'kms:Decrypt', { encryptionContext: { env: '*eu-prod' } }))).toBe(false);
    expect(allowed(doc, req(USER, 'kms:Decrypt', { encryptionContext: { env: 'dev' } }))).toBe(true);
  });

  it('Null: a Deny when the context is empty, as AWS documents it', () => {
    const doc = {
      Statement: [
        { Effect: 'Allow', Principal: { AWS: USER }, Action: 'kms:*', Resource: '*' },
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:Encrypt',
          Resource: '*',
          Condition: { Null: { 'kms:EncryptionContextKeys': 'true' } },
        },
      ],
    };
    expect(allowed(doc, req(USER, 'kms:Encrypt'))).toBe(false);
    expect(allowed(doc, req(USER, 'kms:Encrypt', { encryptionContext: { tenant: 'acme' } }))).toBe(true);
  });

  it('the context key in kms:EncryptionContext:<key> is matched without case; two candidates fail closed', () => {
    const deny = {
      Statement: [
        { Effect: 'Allow', Principal: { AWS: USER }, Action: 'kms:*', Resource: '*' },
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:*',
          Resource: '*',
          Condition: { StringEquals: { 'kms:EncryptionContext:Tenant': 'globex' } },
        },
      ],
    };
    expect(allowed(deny, req(USER, 'kms:Decrypt', { encryptionContext: { tenant: 'globex' } }))).toBe(false);
    expect(
      allowed(deny, req(USER, 'kms:Decrypt', { encryptionContext: { tenant: 'acme', TENANT: 'x' } })),
    ).toBe(false);
    const allow = withCondition({ StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } });
    expect(allowed(allow, req(USER, 'kms:Decrypt', { encryptionContext: { Tenant: 'acme' } }))).toBe(true);
    expect(
      allowed(allow, req(USER, 'kms:Decrypt', { encryptionContext: { tenant: 'acme', Tenant: 'acme' } })),
    ).toBe(false);
  });

  it('a Deny naming another account applies to its callers; an Allow naming it never allows here', () => {
    const other = '444455556666';
    const foreigner = `arn:aws:iam::${other}:user/eve`;
    const doc = {
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*' },
        { Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${other}:root` }, Action: 'kms:*', Resource: '*' },
      ],
    };
    expect(allowed(doc, req(foreigner, 'kms:Decrypt'))).toBe(false);
    expect(allowed(doc, req(USER, 'kms:Decrypt'))).toBe(true);
    const allowOther = {
      Statement: [{ Effect: 'Allow', Principal: { AWS: other }, Action: 'kms:*', Resource: '*' }],
    };
    expect(allowed(allowOther, req(foreigner, 'kms:Decrypt', { iamAllows: () => true }))).toBe(false);
  });

  it('grant constraints bind the operations that take a context, not DescribeKey', () => {
    const grant: GrantLike = {
      grantId: 'g',
      granteePrincipal: NOBODY,
      operations: ['Decrypt', 'DescribeKey'],
      constraints: { EncryptionContextSubset: { tenant: 'acme' } },
    };
    expect(grantAllows(grant, req(NOBODY, 'kms:DescribeKey'))).toBe(true);
    expect(grantAllows(grant, req(NOBODY, 'kms:Decrypt'))).toBe(false);
  });

  it('a grant made under a grant may only narrow it', () => {
    const parent: GrantLike = {
      grantId: 'p',
      granteePrincipal: NOBODY,
      operations: ['Decrypt', 'CreateGrant'],
      constraints: { EncryptionContextSubset: { tenant: 'acme' } },
    };
    const sub = (tenant: Record<string, string>) => ({ EncryptionContextSubset: tenant });
    expect(
      grantNarrows(parent, { operations: ['Decrypt'], constraints: sub({ tenant: 'acme', x: 'y' }) }),
    ).toBe(true);
    expect(grantNarrows(parent, { operations: ['Decrypt'] })).toBe(false);
    expect(grantNarrows(parent, { operations: ['Encrypt'], constraints: sub({ tenant: 'acme' }) })).toBe(
      false,
    );
    expect(grantNarrows(parent, { operations: ['Decrypt'], constraints: sub({ tenant: 'globex' }) })).toBe(
      false,
    );
    expect(
      grantNarrows(parent, {
        operations: ['Decrypt'],
        constraints: { EncryptionContextEquals: { tenant: 'acme' } },
      }),
    ).toBe(true);
  });
});
