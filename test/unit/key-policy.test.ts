import { defaultKeyPolicy, policyDocumentProblem } from '@eaas/aws-rules';
import { describe, expect, it } from 'vitest';
import {
  ADMIN_ACTIONS,
  ADMIN_DENY_SID,
  CRYPTO_ACTIONS,
  rolesKeyPolicy,
  rolesOf,
  USER_ACTIONS,
  upgradedRolesPolicy,
} from '../../src/core/key-policy.js';

describe('key policy documents', () => {
  it('the default policy lets the account root (IAM) decide', () => {
    expect(defaultKeyPolicy('111122223333').Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::111122223333:root' },
        Action: 'kms:*',
      }),
    ]);
  });

  it('administrators get management actions and no cryptographic ones; users the reverse', () => {
    const doc = rolesKeyPolicy({
      accountId: '111122223333',
      administrators: ['arn:admin'],
      users: ['arn:user'],
    });
    const admin = doc.Statement.find((s) => s.Sid === 'Allow access for Key Administrators');
    const use = doc.Statement.find((s) => s.Sid === 'Allow use of the key');
    const adminActions = [admin?.Action ?? []].flat();
    const userActions = [use?.Action ?? []].flat();
    expect(adminActions.length).toBeGreaterThan(0);
    expect(adminActions.some((a) => /Encrypt|Decrypt|GenerateDataKey/.test(a))).toBe(false);
    expect(userActions).toEqual([...USER_ACTIONS]);
    expect(userActions.some((a) => /Disable|Enable|Put|Delete|Schedule/.test(a))).toBe(false);
    expect(policyDocumentProblem(JSON.stringify(doc))).toBeUndefined();
  });

  it('administrators get named actions only, and a Deny of every cryptographic operation', () => {
    const doc = rolesKeyPolicy({ accountId: '111122223333', administrators: ['arn:admin'], users: [] });
    expect(ADMIN_ACTIONS.every((a) => /^kms:[A-Za-z]+$/.test(a))).toBe(true);
    expect(ADMIN_ACTIONS).toContain('kms:CreateGrant');
    expect(ADMIN_ACTIONS.some((a) => CRYPTO_ACTIONS.includes(a))).toBe(false);
    expect(doc.Statement.find((s) => s.Sid === ADMIN_DENY_SID)).toEqual({
      Sid: ADMIN_DENY_SID,
      Effect: 'Deny',
      Principal: { AWS: ['arn:admin'] },
      Action: [...CRYPTO_ACTIONS],
      Resource: '*',
    });
    expect(CRYPTO_ACTIONS).toEqual(
      expect.arrayContaining([
        'kms:ReEncryptTo',
        'kms:GenerateDataKeyWithoutPlaintext',
        'kms:DeriveSharedSecret',
      ]),
    );
  });

  it('reads its roles back as managed; upgrades a policy written before the Deny, and nothing else', () => {
    const roles = { accountId: '111122223333', administrators: ['arn:admin'], users: ['arn:user'] };
    const doc = JSON.parse(JSON.stringify(rolesKeyPolicy(roles)));
    expect(rolesOf(doc, roles.accountId)).toEqual({
      administrators: ['arn:admin'],
      users: ['arn:user'],
      managed: true,
    });
    expect(upgradedRolesPolicy(doc, roles.accountId)).toBeUndefined();
    const before = {
      ...doc,
      Id: 'eaas-key-policy-1',
      Statement: doc.Statement.filter((s: { Sid: string }) => s.Sid !== ADMIN_DENY_SID).map(
        (s: { Sid: string }) =>
          s.Sid === 'Allow access for Key Administrators'
            ? {
                ...s,
                Action: [
                  'kms:Create*',
                  'kms:Describe*',
                  'kms:Enable*',
                  'kms:List*',
                  'kms:Put*',
                  'kms:Update*',
                  'kms:Revoke*',
                  'kms:Disable*',
                  'kms:Get*',
                  'kms:Delete*',
                  'kms:TagResource',
                  'kms:UntagResource',
                  'kms:ScheduleKeyDeletion',
                  'kms:CancelKeyDeletion',
                  'kms:RotateKeyOnDemand',
                ],
              }
            : s,
      ),
    };
    expect(rolesOf(before, roles.accountId).managed).toBe(false);
    expect(upgradedRolesPolicy(before, roles.accountId)).toEqual(rolesKeyPolicy(roles));
    const edited = { ...before, Statement: [...before.Statement, { Effect: 'Allow' }] };
    expect(upgradedRolesPolicy(edited, roles.accountId)).toBeUndefined();
  });

  it('leaves out the statement of an empty list', () => {
    const doc = rolesKeyPolicy({ accountId: '111122223333', administrators: [], users: ['arn:user'] });
    expect(doc.Statement.some((s) => s.Sid === 'Allow access for Key Administrators')).toBe(false);
    expect(doc.Statement.some((s) => s.Effect === 'Deny')).toBe(false);
  });

  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['no statements', '{"Statement":[]}'],
    ['a bad effect', '{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*"}]}'],
    ['no principal', '{"Statement":[{"Effect":"Allow","Action":"kms:*"}]}'],
    ['no action', '{"Statement":[{"Effect":"Allow","Principal":"*","Resource":"*"}]}'],
    ['no resource', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*"}]}'],
  ])('finds a problem in %s', (_what, text) => {
    expect(policyDocumentProblem(text)).toEqual(expect.any(String));
  });
});
