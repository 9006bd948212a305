import { authorize, policyDocumentProblem } from '@eaas/aws-rules';
import { describe, expect, it } from 'vitest';
import {
  ROOT_SID,
  SERVICE_ADMIN_DENY_SID,
  SERVICE_GRANTS_SID,
  SERVICE_POLICY_SID,
  SERVICE_SID,
} from '../../src/core/key-policy.js';
import { PEOPLE_SID, pageKeyPolicy, upgradedPageKeyPolicy } from '../../src/core/page-key-policy.js';

/**
 * The page key's policy: the service's statements of every key, and people's use of the key in
 * their own space only, decided by the same evaluator as every other key (packages/aws-rules),
 * with the IAM policy variable of the Cognito identity id.
 */

const ACCOUNT = '111122223333';
const PEOPLE = `arn:aws:iam::${ACCOUNT}:role/eaas-dev-people`;
const SERVICE = [
  `arn:aws:iam::${ACCOUNT}:role/eaas-dev-crypto`,
  `arn:aws:iam::${ACCOUNT}:role/eaas-dev-objects`,
];
const ADMIN = [`arn:aws:iam::${ACCOUNT}:role/eaas-dev-keys`];
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const input = { accountId: ACCOUNT, peopleRoleArn: PEOPLE, serviceRoleArns: SERVICE, adminRoleArns: ADMIN };

const A = 'us-east-1:0f3b8c2e-1111-4a5b-9c7d-aaaaaaaaaaaa';
const B = 'us-east-1:5e6f7a8b-2222-4c3d-8e9f-bbbbbbbbbbbb';
/** A person's role session, as the identity pool's credentials make it. */
const session = `arn:aws:sts::${ACCOUNT}:assumed-role/eaas-dev-people/CognitoIdentityCredentials`;

/** The decision for the session of the person with identity id `who`, on a document of `space`. */
const decide = (who: string, action: string, space: string | undefined, policy = pageKeyPolicy(input)) =>
  authorize(policy, [], {
    principal: session,
    action,
    keyArn: KEY,
    keyAccountId: ACCOUNT,
    encryptionContext: {
      'aws:x-amz-cek-alg': 'AES/GCM/NoPadding',
      ...(space === undefined ? {} : { 'eaas:space': space }),
    },
    grantIsForAWSResource: false,
    conditions: { 'cognito-identity.amazonaws.com:sub': [who] },
  });

describe('the page key policy', () => {
  it("has the service's statements of every key, no named administrator or user, and the people's", () => {
    const doc = pageKeyPolicy(input);
    expect(doc.Statement.map((s) => s.Sid)).toEqual([
      ROOT_SID,
      SERVICE_GRANTS_SID,
      SERVICE_POLICY_SID,
      SERVICE_ADMIN_DENY_SID,
      SERVICE_SID,
      PEOPLE_SID,
    ]);
    expect(doc.Statement.at(-1)).toEqual({
      Sid: 'PeopleUseTheirOwnSpace',
      Effect: 'Allow',
      Principal: { AWS: PEOPLE },
      Action: ['kms:Encrypt', 'kms:Decrypt'],
      Resource: '*',
      Condition: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable
        StringEquals: { 'kms:EncryptionContext:eaas:space': '${cognito-identity.amazonaws.com:sub}' },
      },
    });
    expect(doc.Statement.find((s) => s.Sid === SERVICE_SID)?.Condition).toEqual({
      ArnEquals: { 'aws:PrincipalArn': SERVICE },
    });
    expect(policyDocumentProblem(JSON.stringify(doc))).toBeUndefined();
  });

  it("names the account root in the deployment's partition", () => {
    const doc = pageKeyPolicy({ ...input, partition: 'aws-cn' });
    expect(doc.Statement[0]?.Principal).toEqual({ AWS: `arn:aws-cn:iam::${ACCOUNT}:root` });
    expect(JSON.stringify(doc)).not.toContain('arn:aws:iam::111122223333:root');
  });

  it('refuses to write a policy without the service roles (the key would be usable by no one)', () => {
    expect(() => pageKeyPolicy({ ...input, serviceRoleArns: [] })).toThrow();
    expect(() => pageKeyPolicy({ ...input, adminRoleArns: [] })).toThrow();
  });

  it('lets a person encrypt and decrypt in their own space, and refuses anyone else', () => {
    for (const action of ['kms:Encrypt', 'kms:Decrypt']) {
      expect(decide(A, action, A)).toMatchObject({ allowed: true, statement: { sid: PEOPLE_SID } });
      expect(decide(B, action, A)).toEqual({ allowed: false, reason: 'implicit-deny' });
      expect(decide(A, action, B)).toEqual({ allowed: false, reason: 'implicit-deny' });
      // No space in the context: no one's.
      expect(decide(A, action, undefined).allowed).toBe(false);
    }
  });

  it('gives people nothing else on the key', () => {
    for (const action of [
      'kms:DescribeKey',
      'kms:GenerateDataKey',
      'kms:ReEncryptFrom',
      'kms:CreateGrant',
      'kms:PutKeyPolicy',
    ])
      expect(decide(A, action, A).allowed, action).toBe(false);
  });

  it('is kept current: a stored document other than the current one is replaced', () => {
    const current = pageKeyPolicy(input);
    expect(upgradedPageKeyPolicy(JSON.parse(JSON.stringify(current)), input)).toBeUndefined();
    const renamed = pageKeyPolicy({ ...input, peopleRoleArn: `arn:aws:iam::${ACCOUNT}:role/old` });
    expect(upgradedPageKeyPolicy(renamed, input)).toEqual(current);
  });
});
