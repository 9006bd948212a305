/**
 * Reproductions of review findings on the restructuring (51e53ed..aafecec). Each test asserts the
 * SAFE behaviour, so it FAILS on the reviewed commit while the finding stands.
 */
import { type AuthzRequest, authorize, grantAllows } from '@eaas/aws-rules';
import { describe, expect, it } from 'vitest';
import { fromS3Error } from '../../src/aws/s3-errors.js';
import { ADMIN_DENY_SID, rolesKeyPolicy, withoutAdminDeny } from '../../src/core/key-policy.js';
import { type StarterDecision, starterMayRewrap } from '../../src/core/rewrap-job.js';
import { ALICE, callerOf, KEY_A, recordOf, uploadWorld } from '../helpers/upload-world.js';

const ACCOUNT = '111122223333';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`;
const KEY2 = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`;
const USER = `arn:aws:iam::${ACCOUNT}:user/reader`;
const OPERATOR = `arn:aws:iam::${ACCOUNT}:user/operator`;

const req = (context: Record<string, string>): AuthzRequest => ({
  principal: USER,
  action: 'kms:Decrypt',
  keyArn: KEY,
  keyAccountId: ACCOUNT,
  encryptionContext: context,
});

describe('F1 grant EncryptionContextEquals with keys differing only in case', () => {
  // A grant CreateGrant accepts through the API (contextProblems does not refuse case twins).
  const grant = {
    grantId: 'g1',
    granteePrincipal: USER,
    operations: ['Decrypt'],
    constraints: { EncryptionContextEquals: { tenant: 'acme', Tenant: 'acme' } },
  };

  it('does not let a request with ONE of the twin keys plus an arbitrary extra pair match "Equals"', () => {
    // Equals means "exactly these pairs". The request carries doc=payroll, which the grant never names.
    expect(grantAllows(grant, req({ tenant: 'acme', doc: 'payroll' }))).toBe(false);
    expect(authorize({ Statement: [] }, [grant], req({ Tenant: 'acme', anything: 'x' })).allowed).toBe(false);
  });
});

describe("F2 withoutAdminDeny identifies the admins' Deny by Sid alone", () => {
  const base = rolesKeyPolicy({ accountId: ACCOUNT, administrators: [OPERATOR], users: [USER] });
  // A hand-written legal hold: nobody may move data off this key. It reuses the Sid (e.g. copied
  // from the service's statement and edited), but it is not the statement the service writes.
  const freeze = {
    Sid: ADMIN_DENY_SID,
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: 'kms:ReEncrypt*',
    Resource: '*',
  };
  const policyWithFreeze = { ...base, Statement: [...base.Statement, freeze] };

  it('keeps a Deny that merely borrows the Sid (other Principal/Action than the service writes)', () => {
    const stripped = withoutAdminDeny(policyWithFreeze) as { Statement: object[] };
    expect(stripped.Statement).toContainEqual(freeze);
  });

  it('so a re-encryption job does not move objects off a frozen key', () => {
    const decider =
      (policy: unknown, keyArn: string): StarterDecision =>
      (action, context, only) =>
        authorize(only === 'except-admin-deny' ? withoutAdminDeny(policy) : policy, [], {
          principal: OPERATOR,
          action,
          keyArn,
          keyAccountId: ACCOUNT,
          encryptionContext: context,
        });
    expect(starterMayRewrap(decider(policyWithFreeze, KEY), decider(base, KEY2), { tenant: 'acme' })).toBe(
      false,
    );
  });
});

describe('F3 S3 409 ConditionalRequestConflict is answered as a lost condition', () => {
  const answer = (name: string, status: number) =>
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

  it('an upload whose seal meets a transient 409 is not failed for good as "written meanwhile"', async () => {
    const world = uploadWorld();
    const alice = callerOf(ALICE, [KEY_A]);
    const { id } = await world.uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 5 });
    world.staging.set(`incoming/${id}`, 'hello');
    // S3: "A conflicting operation occurred ... retry" - nothing was written at `doc`.
    world.vault.fail('putStream', fromS3Error(answer('ConditionalRequestConflict', 409), 'doc'));
    await world.uploads.seal(id).catch(() => undefined);
    expect(world.vault.objects.has('doc')).toBe(false);
    expect(recordOf(world.staging, id).state).not.toBe('failed');
  });
});

describe('F4 S3 4xx answers become InternalError with S3 details in the message', () => {
  it("does not put S3's error name and the stored key into a message callers see", () => {
    const e = fromS3Error(
      Object.assign(new Error('x'), { name: 'InvalidObjectState', $metadata: { httpStatusCode: 403 } }),
      'secret/plan.docx.instruction',
    );
    expect(e.message).not.toContain('InvalidObjectState');
  });
});
