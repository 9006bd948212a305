import { describe, expect, it } from 'vitest';
import {
  type AuthzRequest,
  authorize,
  caseTwinKeys,
  type GrantLike,
  grantAllows,
  grantNarrows,
  resourcePolicyVerdict,
} from '../src/index.js';

/**
 * The evaluator's own table of cases, each taken from the AWS KMS or IAM documentation page it
 * cites. The service and the local KMS both decide with this one evaluator, so their two
 * authorization matrices would agree on a bug in it; these cases hold it to the documents instead.
 * The last group lists where it answers differently from AWS on purpose: what it does not
 * understand never allows.
 */

const DOC = {
  kmsAccess: 'https://docs.aws.amazon.com/kms/latest/developerguide/control-access.html',
  keyPolicies: 'https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html',
  defaultPolicy: 'https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html',
  kmsConditions: 'https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html',
  grants: 'https://docs.aws.amazon.com/kms/latest/developerguide/grants.html',
  grantConstraints: 'https://docs.aws.amazon.com/kms/latest/APIReference/API_GrantConstraints.html',
  createGrant: 'https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateGrant.html',
  iamEvaluation: 'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html',
  iamAction: 'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html',
  iamResource: 'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html',
  iamPrincipal: 'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html',
  iamCondition: 'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html',
  iamOperators:
    'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html',
  iamMultiValued:
    'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html',
  iamGlobalKeys: 'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html',
  iamNotAction: 'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html',
  iamNotPrincipal:
    'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html',
} as const;

const ACCOUNT = '111122223333';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const OTHER_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321`;
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const BOB = `arn:aws:iam::${ACCOUNT}:user/bob`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/app`;
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/app/session-1`;
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const OUTSIDE = 'arn:aws:iam::444455556666:user/mallory';

type Statement = Record<string, unknown>;

/** An Allow of kms:Encrypt to alice on any resource, with the given members replaced. */
function st(members: Statement = {}): Statement {
  return { Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'kms:Encrypt', Resource: '*', ...members };
}

function policy(...statements: Statement[]): unknown {
  return { Version: '2012-10-17', Statement: statements };
}

function request(members: Partial<AuthzRequest> = {}): AuthzRequest {
  return { principal: ALICE, action: 'kms:Encrypt', keyArn: KEY, keyAccountId: ACCOUNT, ...members };
}

interface Case {
  /** The page the expected answer comes from. */
  doc: string;
  /** What the page says, in a few words; the test's name. */
  says: string;
  policy: unknown;
  grants?: GrantLike[];
  request?: Partial<AuthzRequest>;
  /** The decision's reason: `key-policy` and `grant` allow, the others deny. */
  reason: 'key-policy' | 'grant' | 'explicit-deny' | 'implicit-deny';
}

const grant = (members: Partial<GrantLike> = {}): GrantLike => ({
  grantId: 'g-1',
  granteePrincipal: BOB,
  operations: ['Encrypt', 'Decrypt', 'DescribeKey'],
  ...members,
});

const contextCondition = (condition: Record<string, unknown>) => policy(st({ Condition: condition }));

const CASES: readonly Case[] = [
  // Evaluation order: default deny, explicit deny, allow.
  {
    doc: DOC.keyPolicies,
    says: 'no principal has any permission to a KMS key unless it is explicitly allowed',
    policy: policy(),
    reason: 'implicit-deny',
  },
  {
    doc: DOC.kmsAccess,
    says: 'a key policy statement that names the caller, the action and the key allows it',
    policy: policy(st()),
    reason: 'key-policy',
  },
  {
    doc: DOC.iamEvaluation,
    says: 'an explicit Deny in any policy overrides any Allow',
    policy: policy(st(), st({ Effect: 'Deny' })),
    reason: 'explicit-deny',
  },
  {
    doc: DOC.keyPolicies,
    says: 'allowed by a grant but denied by the key policy: denied ("explicitly allowed, and never denied")',
    policy: policy(st({ Effect: 'Deny', Principal: { AWS: BOB } })),
    grants: [grant()],
    request: { principal: BOB },
    reason: 'explicit-deny',
  },
  {
    doc: DOC.iamEvaluation,
    says: 'a Deny for another action does not apply',
    policy: policy(st(), st({ Effect: 'Deny', Action: 'kms:Decrypt' })),
    reason: 'key-policy',
  },
  {
    doc: DOC.grants,
    says: 'a grant allows its grantee its operations when the key policy says nothing of them',
    policy: policy(),
    grants: [grant()],
    request: { principal: BOB },
    reason: 'grant',
  },
  // Principals.
  {
    doc: DOC.defaultPolicy,
    says: 'the account root statement lets IAM policies allow the action',
    policy: policy(st({ Principal: { AWS: ROOT }, Action: 'kms:*' })),
    request: { iamAllows: (action) => action === 'kms:Encrypt' },
    reason: 'key-policy',
  },
  {
    doc: DOC.keyPolicies,
    says: 'without an IAM policy that allows it, the account root statement allows nothing',
    policy: policy(st({ Principal: { AWS: ROOT }, Action: 'kms:*' })),
    request: { iamAllows: () => false },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamPrincipal,
    says: 'an account id as principal is the account, as its root ARN is',
    policy: policy(st({ Principal: { AWS: ACCOUNT } })),
    request: { iamAllows: () => true },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamPrincipal,
    says: 'a Deny naming an account applies to the identities in it',
    policy: policy(st(), st({ Effect: 'Deny', Principal: { AWS: ROOT } })),
    reason: 'explicit-deny',
  },
  {
    doc: DOC.iamPrincipal,
    says: 'Principal "*" is everyone',
    policy: policy(st({ Principal: '*' })),
    request: { principal: BOB },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamPrincipal,
    says: 'a statement naming another user does not apply to the caller',
    policy: policy(st({ Principal: { AWS: BOB } })),
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamPrincipal,
    says: 'a role named as principal covers the sessions of that role',
    policy: policy(st({ Principal: { AWS: ROLE } })),
    request: { principal: SESSION },
    reason: 'key-policy',
  },
  // Actions and resources.
  {
    doc: DOC.iamAction,
    says: 'a * in an action matches any run of characters (kms:*)',
    policy: policy(st({ Action: 'kms:*' })),
    reason: 'key-policy',
  },
  {
    doc: DOC.iamAction,
    says: 'a * in an action matches only what it spans (kms:ReEncrypt* is not kms:Encrypt)',
    policy: policy(st({ Action: ['kms:ReEncrypt*', 'kms:GenerateDataKey*'] })),
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamAction,
    says: 'a ? in an action matches one character',
    policy: policy(st({ Action: 'kms:?ncrypt' })),
    reason: 'key-policy',
  },
  {
    doc: DOC.iamAction,
    says: 'action names are not case-sensitive',
    policy: policy(st({ Action: 'KMS:encrypt' })),
    reason: 'key-policy',
  },
  {
    doc: DOC.iamResource,
    says: 'a statement for another key ARN does not apply',
    policy: policy(st({ Resource: OTHER_KEY })),
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamResource,
    says: 'a statement naming the key ARN applies',
    policy: policy(st({ Resource: KEY })),
    reason: 'key-policy',
  },
  // Condition operators on the encryption context.
  {
    doc: DOC.kmsConditions,
    says: 'kms:EncryptionContext:<key> with StringEquals: the pair is in the request',
    policy: contextCondition({ StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } }),
    request: { encryptionContext: { tenant: 'acme', dept: 'x' } },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamOperators,
    says: 'StringEquals is case-sensitive in the value',
    policy: contextCondition({ StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } }),
    request: { encryptionContext: { tenant: 'ACME' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamOperators,
    says: 'StringEqualsIgnoreCase ignores the case of the value',
    policy: contextCondition({ StringEqualsIgnoreCase: { 'kms:EncryptionContext:tenant': 'acme' } }),
    request: { encryptionContext: { tenant: 'ACME' } },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamOperators,
    says: 'a key missing from the request does not match StringEquals',
    policy: contextCondition({ StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } }),
    request: { encryptionContext: {} },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamOperators,
    says: 'a key missing from the request satisfies a negated operator (StringNotEquals)',
    policy: contextCondition({ StringNotEquals: { 'kms:EncryptionContext:tenant': 'globex' } }),
    request: { encryptionContext: {} },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamOperators,
    says: 'StringLike matches * and ? in the value',
    policy: contextCondition({ StringLike: { 'kms:EncryptionContext:case': 'case-??' } }),
    request: { encryptionContext: { case: 'case-42' } },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamOperators,
    says: 'StringNotLike: a matching value fails the condition',
    policy: contextCondition({ StringNotLike: { 'kms:EncryptionContext:case': 'case-*' } }),
    request: { encryptionContext: { case: 'case-42' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamOperators,
    says: '...IfExists: a key missing from the request satisfies the condition',
    policy: contextCondition({ StringEqualsIfExists: { 'kms:EncryptionContext:tenant': 'acme' } }),
    request: { encryptionContext: { dept: 'x' } },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamOperators,
    says: '...IfExists: a present key must still match',
    policy: contextCondition({ StringEqualsIfExists: { 'kms:EncryptionContext:tenant': 'acme' } }),
    request: { encryptionContext: { tenant: 'globex' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamOperators,
    says: 'Null "true" holds when the key is absent from the request',
    policy: contextCondition({ Null: { 'kms:EncryptionContext:tenant': 'true' } }),
    request: { encryptionContext: {} },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamOperators,
    says: 'Null "false" fails when the key is absent from the request',
    policy: contextCondition({ Null: { 'kms:EncryptionContext:tenant': 'false' } }),
    request: { encryptionContext: {} },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamCondition,
    says: 'several values for one key: any of them may match (OR)',
    policy: contextCondition({ StringEquals: { 'kms:EncryptionContext:tenant': ['globex', 'acme'] } }),
    request: { encryptionContext: { tenant: 'acme' } },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamCondition,
    says: 'several keys or operators: all must hold (AND)',
    policy: contextCondition({
      StringEquals: { 'kms:EncryptionContext:tenant': 'acme' },
      StringLike: { 'kms:EncryptionContext:dept': 'sales-*' },
    }),
    request: { encryptionContext: { tenant: 'acme', dept: 'hr' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamCondition,
    says: 'condition key names are not case-sensitive, the context key in them included',
    policy: contextCondition({ StringEquals: { 'KMS:EncryptionContext:Tenant': 'acme' } }),
    request: { encryptionContext: { tenant: 'acme' } },
    reason: 'key-policy',
  },
  // Multivalued keys and set operators.
  {
    doc: DOC.iamMultiValued,
    says: 'ForAllValues: every key of the request context is in the set',
    policy: contextCondition({
      'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant', 'dept'] },
    }),
    request: { encryptionContext: { tenant: 'acme' } },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamMultiValued,
    says: 'ForAllValues: one key outside the set fails',
    policy: contextCondition({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant'] } }),
    request: { encryptionContext: { tenant: 'acme', extra: 'x' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamMultiValued,
    says: 'ForAllValues also holds when the request has no value for the key',
    policy: contextCondition({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant'] } }),
    request: { encryptionContext: {} },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamMultiValued,
    says: 'ForAnyValue: at least one key of the request context is in the set',
    policy: contextCondition({ 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': ['tenant'] } }),
    request: { encryptionContext: { tenant: 'acme', extra: 'x' } },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamMultiValued,
    says: 'ForAnyValue fails when the request has no value for the key',
    policy: contextCondition({ 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': ['tenant'] } }),
    request: { encryptionContext: {} },
    reason: 'implicit-deny',
  },
  // Other condition keys the evaluator knows.
  {
    doc: DOC.kmsConditions,
    says: 'kms:CallerAccount is the account of the caller',
    policy: policy(st({ Principal: '*', Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT } } })),
    request: { principal: OUTSIDE },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.kmsConditions,
    says: 'kms:GrantIsForAWSResource with Bool: true only when an AWS service asks for the grant',
    policy: policy(
      st({ Action: 'kms:CreateGrant', Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } }),
    ),
    request: { action: 'kms:CreateGrant', grantIsForAWSResource: false },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.kmsConditions,
    says: 'kms:GrantIsForAWSResource with Bool true allows the grant an AWS service asks for',
    policy: policy(
      st({ Action: 'kms:CreateGrant', Condition: { Bool: { 'kms:GrantIsForAWSResource': true } } }),
    ),
    request: { action: 'kms:CreateGrant', grantIsForAWSResource: true },
    reason: 'key-policy',
  },
  {
    doc: DOC.iamGlobalKeys,
    says: 'aws:PrincipalArn of a role session is the ARN of the role',
    policy: policy(st({ Principal: '*', Condition: { StringEquals: { 'aws:PrincipalArn': ROLE } } })),
    request: { principal: SESSION },
    reason: 'key-policy',
  },
  // Grants and their constraints.
  {
    doc: DOC.grants,
    says: 'a grant allows only the operations it lists',
    policy: policy(),
    grants: [grant({ operations: ['Decrypt'] })],
    request: { principal: BOB },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.grants,
    says: 'a grant allows only its grantee',
    policy: policy(),
    grants: [grant()],
    request: { principal: ALICE },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.grantConstraints,
    says: 'EncryptionContextSubset: the request context holds the pairs, and may hold more',
    policy: policy(),
    grants: [grant({ constraints: { EncryptionContextSubset: { tenant: 'acme' } } })],
    request: { principal: BOB, encryptionContext: { tenant: 'acme', dept: 'x' } },
    reason: 'grant',
  },
  {
    doc: DOC.grantConstraints,
    says: 'EncryptionContextSubset: a request without the pair is not allowed',
    policy: policy(),
    grants: [grant({ constraints: { EncryptionContextSubset: { tenant: 'acme' } } })],
    request: { principal: BOB, encryptionContext: { dept: 'x' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.grantConstraints,
    says: 'EncryptionContextEquals: the request context is exactly the pairs',
    policy: policy(),
    grants: [grant({ constraints: { EncryptionContextEquals: { tenant: 'acme' } } })],
    request: { principal: BOB, encryptionContext: { tenant: 'acme', dept: 'x' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.grantConstraints,
    says: 'in a grant constraint the key is not case-sensitive',
    policy: policy(),
    grants: [grant({ constraints: { EncryptionContextEquals: { Tenant: 'acme' } } })],
    request: { principal: BOB, encryptionContext: { tenant: 'acme' } },
    reason: 'grant',
  },
  {
    doc: DOC.grantConstraints,
    says: 'EncryptionContextEquals, keys compared without case: a pair more does not match',
    policy: policy(),
    grants: [grant({ constraints: { EncryptionContextEquals: { Tenant: 'acme' } } })],
    request: { principal: BOB, encryptionContext: { tenant: 'acme', doc: 'payroll' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.grantConstraints,
    says: 'in a grant constraint the value is case-sensitive',
    policy: policy(),
    grants: [grant({ constraints: { EncryptionContextSubset: { tenant: 'acme' } } })],
    request: { principal: BOB, encryptionContext: { tenant: 'Acme' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.grantConstraints,
    says: 'constraints do not apply to operations without an encryption context (DescribeKey)',
    policy: policy(),
    grants: [grant({ constraints: { EncryptionContextEquals: { tenant: 'acme' } } })],
    request: { principal: BOB, action: 'kms:DescribeKey' },
    reason: 'grant',
  },
];

/**
 * Where the evaluator answers differently from AWS, on purpose: what it does not understand never
 * allows (an Allow it cannot read matches nothing) and always denies (a Deny it cannot read
 * applies). Each case cites the page of the feature it leaves out.
 */
const FAILS_CLOSED: readonly Case[] = [
  {
    doc: DOC.iamNotAction,
    says: 'NotAction is not supported: an Allow with it allows nothing',
    policy: policy({ Effect: 'Allow', Principal: { AWS: ALICE }, NotAction: 'kms:Decrypt', Resource: '*' }),
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamNotAction,
    says: 'NotAction is not supported: a Deny with it denies',
    policy: policy(st(), {
      Effect: 'Deny',
      Principal: { AWS: ALICE },
      NotAction: 'kms:Encrypt',
      Resource: '*',
    }),
    reason: 'explicit-deny',
  },
  {
    doc: DOC.iamNotPrincipal,
    says: 'NotPrincipal is not supported: a Deny with it denies everyone',
    policy: policy(st(), { Effect: 'Deny', NotPrincipal: { AWS: ALICE }, Action: 'kms:*', Resource: '*' }),
    reason: 'explicit-deny',
  },
  {
    doc: DOC.kmsConditions,
    says: 'kms:ViaService is not supported: an Allow conditioned on it allows nothing',
    policy: contextCondition({ StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } }),
    reason: 'implicit-deny',
  },
  {
    doc: DOC.kmsConditions,
    says: 'kms:ViaService is not supported: a Deny conditioned on it denies',
    policy: policy(
      st(),
      st({
        Effect: 'Deny',
        Condition: { StringNotEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } },
      }),
    ),
    reason: 'explicit-deny',
  },
  {
    doc: DOC.iamMultiValued,
    says: 'a multivalued key needs a set operator; without one the Allow matches nothing',
    policy: contextCondition({ StringEquals: { 'kms:EncryptionContextKeys': 'tenant' } }),
    request: { encryptionContext: { tenant: 'acme' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.iamMultiValued,
    says: 'a set operator on a single-valued key is not read; the Allow matches nothing',
    policy: contextCondition({ 'ForAnyValue:StringEquals': { 'kms:EncryptionContext:tenant': 'acme' } }),
    request: { encryptionContext: { tenant: 'acme' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.keyPolicies,
    says: "another account's root as principal: that account's IAM policies are not known here",
    policy: policy(st({ Principal: { AWS: 'arn:aws:iam::444455556666:root' } })),
    request: { principal: OUTSIDE, iamAllows: () => true },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.grantConstraints,
    says: 'a request context holding a constraint key twice, in two cases, matches no constraint',
    policy: policy(),
    grants: [grant({ constraints: { EncryptionContextSubset: { tenant: 'acme' } } })],
    request: { principal: BOB, encryptionContext: { tenant: 'acme', TENANT: 'globex' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.grantConstraints,
    says: 'a request context holding any key twice, in two cases, matches no constraint',
    policy: policy(),
    grants: [grant({ constraints: { EncryptionContextSubset: { tenant: 'acme' } } })],
    request: { principal: BOB, encryptionContext: { tenant: 'acme', dept: 'x', DEPT: 'y' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.grantConstraints,
    says: 'an EncryptionContextEquals holding a key twice, in two cases, matches nothing (CreateGrant refuses it)',
    policy: policy(),
    grants: [grant({ constraints: { EncryptionContextEquals: { tenant: 'acme', Tenant: 'acme' } } })],
    request: { principal: BOB, encryptionContext: { tenant: 'acme', doc: 'payroll' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.grantConstraints,
    says: 'an EncryptionContextEquals holding a key twice matches not even a context with both twins',
    policy: policy(),
    grants: [grant({ constraints: { EncryptionContextEquals: { tenant: 'acme', Tenant: 'acme' } } })],
    request: { principal: BOB, encryptionContext: { tenant: 'acme', Tenant: 'acme' } },
    reason: 'implicit-deny',
  },
  {
    doc: DOC.grantConstraints,
    says: 'an EncryptionContextSubset holding a key twice, in two cases, matches nothing',
    policy: policy(),
    grants: [grant({ constraints: { EncryptionContextSubset: { tenant: 'acme', Tenant: 'acme' } } })],
    request: { principal: BOB, encryptionContext: { tenant: 'acme' } },
    reason: 'implicit-deny',
  },
];

function decide(c: Case): string {
  return authorize(c.policy, c.grants ?? [], request(c.request)).reason;
}

describe('the policy evaluator against the AWS KMS and IAM documentation', () => {
  for (const c of CASES)
    it(`${c.says} (${c.doc})`, () => {
      expect(decide(c)).toBe(c.reason);
    });
});

describe('where the evaluator fails closed instead of answering as AWS', () => {
  for (const c of FAILS_CLOSED)
    it(`${c.says} (${c.doc})`, () => {
      expect(decide(c)).toBe(c.reason);
    });
});

describe(`grants made under a grant narrow it (${DOC.createGrant})`, () => {
  const parent = (constraints?: GrantLike['constraints']): GrantLike =>
    grant({ operations: ['Encrypt', 'Decrypt', 'CreateGrant'], ...(constraints ? { constraints } : {}) });

  it('the same or fewer operations narrow; another operation does not', () => {
    expect(grantNarrows(parent(), { operations: ['Decrypt'] })).toBe(true);
    expect(grantNarrows(parent(), { operations: ['Decrypt', 'ReEncryptFrom'] })).toBe(false);
  });

  it('under EncryptionContextSubset: a constraint as strict or stricter, never none', () => {
    const p = parent({ EncryptionContextSubset: { tenant: 'acme' } });
    expect(
      grantNarrows(p, {
        operations: ['Decrypt'],
        constraints: { EncryptionContextSubset: { tenant: 'acme', dept: 'x' } },
      }),
    ).toBe(true);
    expect(
      grantNarrows(p, {
        operations: ['Decrypt'],
        constraints: { EncryptionContextEquals: { tenant: 'acme' } },
      }),
    ).toBe(true);
    expect(grantNarrows(p, { operations: ['Decrypt'] })).toBe(false);
    expect(
      grantNarrows(p, { operations: ['Decrypt'], constraints: { EncryptionContextSubset: { dept: 'x' } } }),
    ).toBe(false);
  });

  it('under EncryptionContextEquals: only the same pairs, as EncryptionContextEquals', () => {
    const p = parent({ EncryptionContextEquals: { tenant: 'acme' } });
    expect(
      grantNarrows(p, {
        operations: ['Decrypt'],
        constraints: { EncryptionContextEquals: { tenant: 'acme' } },
      }),
    ).toBe(true);
    expect(
      grantNarrows(p, {
        operations: ['Decrypt'],
        constraints: { EncryptionContextSubset: { tenant: 'acme' } },
      }),
    ).toBe(false);
    expect(
      grantNarrows(p, {
        operations: ['Decrypt'],
        constraints: { EncryptionContextEquals: { tenant: 'acme', dept: 'x' } },
      }),
    ).toBe(false);
  });

  it('constraint keys compare without case, values with case', () => {
    const equals = parent({ EncryptionContextEquals: { Tenant: 'acme' } });
    const eq = (c: Record<string, string>) => ({
      operations: ['Decrypt'],
      constraints: { EncryptionContextEquals: c },
    });
    expect(grantNarrows(equals, eq({ tenant: 'acme' }))).toBe(true);
    expect(grantNarrows(equals, eq({ tenant: 'Acme' }))).toBe(false);
    expect(grantNarrows(equals, eq({ tenant: 'acme', TENANT: 'acme' }))).toBe(false);
    const subset = parent({ EncryptionContextSubset: { tenant: 'acme' } });
    expect(
      grantNarrows(subset, {
        operations: ['Decrypt'],
        constraints: { EncryptionContextSubset: { TENANT: 'acme', dept: 'x' } },
      }),
    ).toBe(true);
    expect(grantNarrows(subset, eq({ Tenant: 'acme' }))).toBe(true);
    expect(grantNarrows(subset, eq({ Tenant: 'acme', tenant: 'acme' }))).toBe(false);
  });
});

describe(`constraint keys that differ only in case (${DOC.grantConstraints})`, () => {
  it('are found, so CreateGrant can refuse them', () => {
    expect(caseTwinKeys({ tenant: 'acme', Tenant: 'acme', dept: 'x' })).toEqual(['tenant', 'Tenant']);
    expect(caseTwinKeys({ tenant: 'acme', dept: 'x' })).toEqual([]);
  });

  it('an EncryptionContextEquals holding them leaves no slot free for an extra pair', () => {
    const g = grant({ constraints: { EncryptionContextEquals: { tenant: 'acme', Tenant: 'acme' } } });
    expect(
      grantAllows(g, request({ principal: BOB, encryptionContext: { tenant: 'acme', doc: 'payroll' } })),
    ).toBe(false);
    expect(
      authorize(
        policy(),
        [g],
        request({ principal: BOB, encryptionContext: { Tenant: 'acme', anything: 'x' } }),
      ).allowed,
    ).toBe(false);
  });
});

describe(`condition keys the caller supplies with the request (${DOC.iamGlobalKeys})`, () => {
  const tagged = (conditions: Record<string, string[]>, condition: Record<string, unknown>) =>
    authorize(policy(st({ Condition: condition })), [], request({ principal: ALICE, conditions })).reason;

  it('aws:ResourceTag/<key> matches the resource tag, the key in any case', () => {
    const cond = { StringEquals: { 'aws:ResourceTag/eaas:service': 'eaas-dev' } };
    expect(tagged({ 'aws:resourcetag/eaas:service': ['eaas-dev'] }, cond)).toBe('key-policy');
    expect(tagged({ 'aws:ResourceTag/eaas:service': ['eaas-prod'] }, cond)).toBe('implicit-deny');
    // A known key with no value (the resource has no such tag) fails a positive operator.
    expect(tagged({ 'aws:ResourceTag/eaas:service': [] }, cond)).toBe('implicit-deny');
  });

  it('a multi-valued key (aws:TagKeys) needs a set operator', () => {
    const conditions = { 'aws:TagKeys': ['eaas:service', 'team'] };
    expect(
      tagged(conditions, { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['eaas:service', 'team'] } }),
    ).toBe('key-policy');
    expect(tagged(conditions, { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team'] } })).toBe(
      'implicit-deny',
    );
    expect(tagged(conditions, { StringEquals: { 'aws:TagKeys': 'team' } })).toBe('implicit-deny');
  });

  it(`Null tells a key the request has from one it lacks (${DOC.iamOperators})`, () => {
    expect(tagged({ 'aws:RequestTag/team': [] }, { Null: { 'aws:RequestTag/team': 'true' } })).toBe(
      'key-policy',
    );
    expect(tagged({ 'aws:RequestTag/team': ['a'] }, { Null: { 'aws:RequestTag/team': 'true' } })).toBe(
      'implicit-deny',
    );
  });

  it(`ArnLike matches ARNs with wildcards, case-sensitively (${DOC.iamOperators})`, () => {
    const cond = { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/al*` } };
    expect(tagged({}, cond)).toBe('key-policy');
    expect(tagged({}, { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/AL*` } })).toBe(
      'implicit-deny',
    );
    expect(tagged({}, { ArnNotLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/bob` } })).toBe(
      'key-policy',
    );
  });

  it('a family the request knows (aws:ResourceTag/*) makes a tag it lacks absent, not unknown', () => {
    const cond = { StringEquals: { 'aws:ResourceTag/eaas:service': 'eaas-dev' } };
    const deny = { Effect: 'Deny', Principal: { AWS: ALICE }, Action: 'kms:Encrypt', Resource: '*' };
    const known = { 'aws:ResourceTag/*': [], 'aws:ResourceTag/team': ['a'] };
    expect(tagged(known, cond)).toBe('implicit-deny');
    // A Deny on a negated condition applies to a key without the tag, and not to one with it.
    const notOurs = {
      ...deny,
      Condition: { StringNotEquals: { 'aws:ResourceTag/eaas:service': 'eaas-dev' } },
    };
    const decide = (conditions: Record<string, string[]>) =>
      authorize(policy(st(), notOurs), [], request({ principal: ALICE, conditions })).reason;
    expect(decide(known)).toBe('explicit-deny');
    expect(decide({ ...known, 'aws:ResourceTag/eaas:service': ['eaas-dev'] })).toBe('key-policy');
  });

  it('a key the request does not know is not understood: an Allow matches nothing', () => {
    expect(tagged({}, { StringEquals: { 'kms:KeySpec': 'SYMMETRIC_DEFAULT' } })).toBe('implicit-deny');
  });
});

describe(`numeric condition operators (${DOC.iamOperators})`, () => {
  const decide = (value: string[], condition: Record<string, unknown>) =>
    authorize(
      policy(st({ Condition: condition })),
      [],
      request({ principal: ALICE, conditions: { 's3:max-keys': value } }),
    ).reason;

  it('compare numbers, the pattern as a string or a JSON number', () => {
    expect(decide(['10'], { NumericLessThanEquals: { 's3:max-keys': '10' } })).toBe('key-policy');
    expect(decide(['11'], { NumericLessThanEquals: { 's3:max-keys': 10 } })).toBe('implicit-deny');
    expect(decide(['5'], { NumericGreaterThan: { 's3:max-keys': '4.5' } })).toBe('key-policy');
    expect(decide(['5'], { NumericNotEquals: { 's3:max-keys': '5' } })).toBe('implicit-deny');
    expect(decide(['5'], { NumericEquals: { 's3:max-keys': '05' } })).toBe('key-policy');
  });

  it('a value that is not a number matches nothing; a missing one only ...IfExists', () => {
    expect(decide(['ten'], { NumericLessThan: { 's3:max-keys': '100' } })).toBe('implicit-deny');
    expect(decide([], { NumericLessThan: { 's3:max-keys': '100' } })).toBe('implicit-deny');
    expect(decide([], { NumericLessThanIfExists: { 's3:max-keys': '100' } })).toBe('key-policy');
  });
});

describe(`a resource-based policy on its own (${DOC.iamEvaluation})`, () => {
  const BUCKET = 'arn:aws:s3:::amzn-s3-demo-bucket';
  const s3req = (principal: string, action: string, resource: string, iam = false): AuthzRequest => ({
    principal,
    action,
    keyArn: resource,
    keyAccountId: ACCOUNT,
    iamAllows: () => iam,
  });
  const bucketPolicy = (...statements: Statement[]) => policy(...statements);

  it('an Allow naming the caller allows; a Deny wins over it', () => {
    const allow = {
      Effect: 'Allow',
      Principal: { AWS: ALICE },
      Action: 's3:GetObject',
      Resource: `${BUCKET}/*`,
    };
    const deny = { ...allow, Effect: 'Deny', Resource: `${BUCKET}/private/*` };
    const p = bucketPolicy(allow, deny);
    expect(resourcePolicyVerdict(p, s3req(ALICE, 's3:GetObject', `${BUCKET}/a`)).effect).toBe('allow');
    expect(resourcePolicyVerdict(p, s3req(ALICE, 's3:GetObject', `${BUCKET}/private/a`)).effect).toBe('deny');
    expect(resourcePolicyVerdict(p, s3req(BOB, 's3:GetObject', `${BUCKET}/a`)).effect).toBe('none');
  });

  it('a role session matches its role; an Allow to the account delegates to IAM', () => {
    const toRole = { Effect: 'Allow', Principal: { AWS: ROLE }, Action: 's3:*', Resource: `${BUCKET}/*` };
    expect(resourcePolicyVerdict(policy(toRole), s3req(SESSION, 's3:PutObject', `${BUCKET}/k`)).effect).toBe(
      'allow',
    );
    const toAccount = { ...toRole, Principal: { AWS: ROOT } };
    expect(resourcePolicyVerdict(policy(toAccount), s3req(BOB, 's3:PutObject', `${BUCKET}/k`)).effect).toBe(
      'none',
    );
    expect(
      resourcePolicyVerdict(policy(toAccount), s3req(BOB, 's3:PutObject', `${BUCKET}/k`, true)).effect,
    ).toBe('allow');
  });

  it('a Deny to "*" applies to every caller, outsiders too', () => {
    const tlsOnly = {
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Resource: [BUCKET, `${BUCKET}/*`],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    };
    const req = (secure: string) => ({
      ...s3req(OUTSIDE, 's3:ListBucket', BUCKET),
      conditions: { 'aws:SecureTransport': [secure] },
    });
    expect(resourcePolicyVerdict(policy(tlsOnly), req('false')).effect).toBe('deny');
    expect(resourcePolicyVerdict(policy(tlsOnly), req('true')).effect).toBe('none');
  });
});
