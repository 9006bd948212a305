import { KEY_USER, type LocalRole } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localValues } from '../../local/emulator-options.js';
import { readRole, readTemplateRoles } from '../../local/template-roles.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The policies you deploy are the policies you test: each function of the local stack calls KMS,
 * S3 and CloudWatch Logs as a principal whose IAM policies are its role's in serverless.yml. A role
 * that lacks a permission fails here as the function would fail on AWS.
 */

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Policy = { Statement: Statement[] };

/** The roles with `action` taken out of every statement of the function's role. */
function without(roles: Record<string, LocalRole>, fn: string, action: string): Record<string, LocalRole> {
  const role = roles[fn];
  if (!role) throw new Error(`no role for ${fn}`);
  const policies = (role.policies as Policy[]).map((p) => ({
    ...p,
    Statement: p.Statement.map((st) => ({
      ...st,
      Action: [st.Action].flat().filter((a) => a !== action),
    })).filter((st) => st.Action.length > 0),
  }));
  return { ...roles, [fn]: { ...role, policies } };
}

const kmsCalls: { operation: string; principal?: string; status: number }[] = [];
let t: TestStack;
let lacking: TestStack;
let roles: Record<string, LocalRole>;

beforeAll(async () => {
  t = await startTestStack({ kmsOnRequest: (e) => kmsCalls.push(e) });
  roles = readTemplateRoles(localValues(t.config));
  lacking = await startTestStack({ roles: without(roles, 'crypto', 'kms:Encrypt') });
});
afterAll(async () => {
  await t.stop();
  await lacking.stop();
});

describe('the functions run as their template roles', () => {
  it('reads a role for every function, with its inline, named and self-attaching policies', () => {
    expect(Object.keys(roles).sort()).toEqual([
      'crypto',
      'jobs',
      'keys',
      'objects',
      'reencrypt',
      'rewrapbatch',
      'seal',
      'streams',
      'uploads',
      'whoami',
    ]);
    const actions = (fn: string) =>
      ((roles[fn]?.policies ?? []) as Policy[]).flatMap((p) => p.Statement.flatMap((s) => [s.Action].flat()));
    expect(actions('crypto')).toEqual(
      expect.arrayContaining(['kms:Encrypt', 'kms:Decrypt', 'kms:GetKeyPolicy', 'logs:PutLogEvents']),
    );
    // The seal unwraps a verified upload's data key (its verify step): kms:Decrypt only in the
    // statement held to the S3 Encryption Client's context key, and the delete it gains on the
    // vault reaches only the pending prefix of verified uploads.
    const sealStatements = ((roles.seal?.policies ?? []) as Policy[]).flatMap((p) => p.Statement);
    const decrypts = sealStatements.filter((s) => [s.Action].flat().includes('kms:Decrypt'));
    expect(decrypts).toHaveLength(1);
    expect(JSON.stringify(decrypts[0])).toContain('"kms:EncryptionContextKeys":"aws:x-amz-cek-alg"');
    const vaultDeletes = sealStatements.filter(
      (s) =>
        [s.Action].flat().includes('s3:DeleteObject') &&
        JSON.stringify(s.Resource).includes(t.config.vaultBucket),
    );
    expect(vaultDeletes.map((s) => JSON.stringify(s.Resource))).toEqual([
      expect.stringMatching(/uploads-verifying\/\*"$/),
    ]);
    // The streams function reads: it decrypts and gets, and makes, writes or deletes nothing.
    expect(actions('streams')).toEqual(
      expect.arrayContaining(['kms:Decrypt', 's3:GetObject', 's3:ListBucket']),
    );
    for (const a of ['kms:Encrypt', 'kms:GenerateDataKey', 's3:PutObject', 's3:DeleteObject'])
      expect(actions('streams'), a).not.toContain(a);
    expect(actions('keys')).not.toContain('kms:Encrypt');
    // Signatures and MACs are the crypto function's; key material, the keys function's; no other's.
    const signing = ['kms:Sign', 'kms:Verify', 'kms:GetPublicKey', 'kms:GenerateMac', 'kms:VerifyMac'];
    const material = ['kms:GetParametersForImport', 'kms:ImportKeyMaterial', 'kms:DeleteImportedKeyMaterial'];
    expect(actions('crypto')).toEqual(expect.arrayContaining(signing));
    expect(actions('keys')).toEqual(expect.arrayContaining(material));
    for (const fn of Object.keys(roles)) {
      if (fn !== 'crypto') for (const a of signing) expect(actions(fn), `${fn} ${a}`).not.toContain(a);
      if (fn !== 'keys') for (const a of material) expect(actions(fn), `${fn} ${a}`).not.toContain(a);
    }
    expect(roles.crypto?.arn).toBe(`arn:aws:iam::${t.config.accountId}:role/eaas-local-crypto`);
  });

  it('the batch engine: its function re-wraps and never decrypts; S3 Batch Operations may invoke that function only', () => {
    const allowed = (policies: readonly unknown[]) =>
      (policies as Policy[]).flatMap((p) =>
        p.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => [s.Action].flat()),
      );
    expect(allowed(roles.rewrapbatch?.policies ?? [])).toEqual(
      expect.arrayContaining(['kms:ReEncryptFrom', 'kms:ReEncryptTo', 's3:GetObject', 's3:PutObject']),
    );
    for (const a of ['kms:Decrypt', 'kms:Encrypt', 's3:CreateJob', 'iam:PassRole', 's3:DeleteObject'])
      expect(allowed(roles.rewrapbatch?.policies ?? []), a).not.toContain(a);
    // The jobs function creates and reads S3 jobs, passing the batch role only.
    expect(allowed(roles.jobs?.policies ?? [])).toEqual(
      expect.arrayContaining(['s3:CreateJob', 's3:DescribeJob', 's3:UpdateJobStatus', 'iam:PassRole']),
    );
    // Cancelling (POST /v1/jobs/{id}/cancel) is the jobs function's alone: the tick creates and reads.
    expect(allowed(roles.reencrypt?.policies ?? [])).toEqual(
      expect.arrayContaining(['s3:CreateJob', 's3:DescribeJob', 'iam:PassRole']),
    );
    expect(allowed(roles.reencrypt?.policies ?? [])).not.toContain('s3:UpdateJobStatus');
    const batch = readRole(localValues(t.config), 'BatchOperationsRole');
    expect(batch.name).toBe('eaas-local-batch-operations');
    const statements = (batch.policies as Policy[]).flatMap((p) => p.Statement);
    const invoke = statements.filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));
    expect(invoke.map((s) => s.Resource)).toEqual([
      `arn:aws:lambda:${t.config.region}:${t.config.accountId}:function:eaas-local-rewrapbatch`,
    ]);
    expect(allowed(batch.policies).sort()).toEqual(
      [
        'lambda:InvokeFunction',
        's3:GetBucketLocation',
        's3:GetObject',
        's3:GetObjectVersion',
        's3:ListBucket',
        's3:PutObject',
      ].sort(),
    );
  });

  it('calls KMS as the function role, never as one principal for all', async () => {
    kmsCalls.length = 0;
    await t.client(KEY_USER).encrypt({ keyId: 'alias/eaas-default', plaintext: Buffer.from('x') });
    const encrypt = kmsCalls.find((c) => c.operation === 'Encrypt');
    expect(encrypt?.principal).toBe(roles.crypto?.arn);
    expect(encrypt?.status).toBe(200);
  });

  it('a role without kms:Encrypt: encrypting fails as on AWS (KMS AccessDenied to the role), decrypting still works', async () => {
    const user = lacking.client(KEY_USER);
    const res = await user.raw('POST', '/v1/encrypt', { keyId: 'alias/eaas-default', plaintext: 'aGk=' });
    // The caller may encrypt (the key policy says so); KMS refuses the function's role.
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'AccessDenied' });
    // The same request with the template's role works (the other stack).
    const ok = await t
      .client(KEY_USER)
      .raw('POST', '/v1/encrypt', { keyId: 'alias/eaas-default', plaintext: 'aGk=' });
    expect(ok.status).toBe(200);
    // What the role still has works: data keys (GenerateDataKey) and decrypting.
    const dk = await user.raw('POST', '/v1/data-keys', { keyId: 'alias/eaas-default' });
    expect(dk.status).toBe(200);
  });
});
