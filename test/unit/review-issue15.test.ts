import { type AuthzRequest, type GrantLike, grantAllows } from '@eaas/aws-rules';
import { describe, expect, it } from 'vitest';
import type { DomainError } from '../../src/core/errors.js';
import { AccessControl } from '../../src/services/access.js';
import { KeyService } from '../../src/services/keys.js';
import { ACCOUNT, MemoryKms } from '../fakes/kms.js';

/**
 * The security review of issue 15's API (grant constraints on keys without a context, signing
 * conditions, key states, validation), against in-memory fakes of the ports. The same through
 * the API and the local KMS: test/integration/api-review-issue15.test.ts.
 */

const user = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;
const ALICE = user('alice');
const BOB = user('bob');
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`;
const as = (arn: string) => ({ caller: { arn }, record: () => undefined });
const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    return error as DomainError;
  }
  throw new Error('expected a refusal');
};

describe('grant constraints on keys whose operations take no encryption context', () => {
  const setup = () => {
    const kms = new MemoryKms();
    const keys = new KeyService(kms, new AccessControl(kms, { ttlMs: 0 }), ACCOUNT);
    return { kms, keys };
  };
  const acme = { encryptionContextSubset: { tenant: 'acme' } };

  it.each([
    [{ keySpec: 'ECC_NIST_P256' }, ['Sign', 'Verify']],
    [{ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' }, ['Sign']],
    [{ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' }, ['Decrypt']],
    [{ keySpec: 'HMAC_256' }, ['GenerateMac']],
  ] as const)(
    'refuses constraints on a %j key with 400 ValidationError, before KMS is asked',
    async (kind, operations) => {
      const { kms, keys } = setup();
      const { key } = await keys.create(as(ALICE), { ...kind });
      const before = kms.calls.createGrant ?? 0;
      const error = await refusal(
        keys.createGrant(as(ALICE), key.arn, {
          grantee: BOB,
          operations: [...operations],
          constraints: acme,
        }),
      );
      expect(error).toMatchObject({
        code: 'ValidationError',
        message: expect.stringContaining('takes no encryption context'),
      });
      expect(kms.calls.createGrant ?? 0).toBe(before);
      // Without the constraint, the grant is made.
      await keys.createGrant(as(ALICE), key.arn, { grantee: BOB, operations: [...operations] });
    },
  );

  it('still takes constraints on a symmetric encryption key', async () => {
    const { keys } = setup();
    const { key } = await keys.create(as(ALICE), {});
    await keys.createGrant(as(ALICE), key.arn, { grantee: BOB, operations: ['Encrypt'], constraints: acme });
  });
});

describe('the evaluator fails closed for a constrained grant and a context-less operation', () => {
  const req = (action: string, extra: Partial<AuthzRequest> = {}): AuthzRequest => ({
    principal: BOB,
    action,
    keyArn: KEY,
    keyAccountId: ACCOUNT,
    ...extra,
  });
  const constrained: GrantLike = {
    grantId: 'g',
    granteePrincipal: BOB,
    operations: [
      'Sign',
      'Verify',
      'GenerateMac',
      'VerifyMac',
      'GetPublicKey',
      'DescribeKey',
      'RetireGrant',
      'Encrypt',
    ],
    constraints: { EncryptionContextSubset: { tenant: 'acme' } },
  };

  it.each(['kms:Sign', 'kms:Verify', 'kms:GenerateMac', 'kms:VerifyMac', 'kms:GetPublicKey'])(
    '%s is not allowed by a constrained grant, whatever the context',
    (action) => {
      expect(grantAllows(constrained, req(action))).toBe(false);
      expect(grantAllows(constrained, req(action, { encryptionContext: { tenant: 'acme' } }))).toBe(false);
      expect(grantAllows({ ...constrained, constraints: undefined }, req(action))).toBe(true);
    },
  );

  it('DescribeKey and RetireGrant ignore the constraint; Encrypt is bound by it', () => {
    expect(grantAllows(constrained, req('kms:DescribeKey'))).toBe(true);
    expect(grantAllows(constrained, req('kms:RetireGrant'))).toBe(true);
    expect(grantAllows(constrained, req('kms:Encrypt', { encryptionContext: { tenant: 'acme' } }))).toBe(
      true,
    );
    expect(grantAllows(constrained, req('kms:Encrypt'))).toBe(false);
  });
});
