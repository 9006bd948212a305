import { describe, expect, it } from 'vitest';
import {
  defaultKeyPolicy,
  policyDocumentProblem,
  rolesKeyPolicy,
  USER_ACTIONS,
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

  it('leaves out the statement of an empty list', () => {
    const doc = rolesKeyPolicy({ accountId: '111122223333', administrators: [], users: ['arn:user'] });
    expect(doc.Statement.some((s) => s.Sid === 'Allow access for Key Administrators')).toBe(false);
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
