import { authorize, defaultKeyPolicy, policyDocumentProblem } from '@eaas/aws-rules';
import { describe, expect, it } from 'vitest';
import { withoutAdminDeny } from '../../src/core/admin-deny.js';
import {
  ADMIN_ACTIONS,
  ADMIN_DENY_SID,
  ADMIN_SID,
  CRYPTO_ACTIONS,
  ROOT_SID,
  rolesKeyPolicy,
  rolesOf,
  SERVICE_ROLE_ACTIONS,
  SERVICE_SID,
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
      serviceRoles: [],
      adminRoles: [],
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

  it("version 3: the account root administers and never uses the key; the service's roles use it", () => {
    const service = [
      'arn:aws:iam::111122223333:role/eaas-dev-crypto',
      'arn:aws:iam::111122223333:role/eaas-dev-seal',
    ];
    const keysRole = 'arn:aws:iam::111122223333:role/eaas-dev-keys';
    const roles = { accountId: '111122223333', administrators: ['arn:admin'], users: ['arn:user'] };
    const v3 = rolesKeyPolicy({ ...roles, serviceRoles: service, adminRoles: [keysRole] });
    expect(v3.Id).toBe('eaas-key-policy-3');
    const root = v3.Statement.find((st) => st.Sid === ROOT_SID);
    expect(root?.Principal).toEqual({ AWS: 'arn:aws:iam::111122223333:root' });
    const rootActions = [root?.Action].flat() as string[];
    expect(rootActions).toContain('kms:PutKeyPolicy');
    for (const a of [...CRYPTO_ACTIONS, 'kms:*', 'kms:CreateGrant']) expect(rootActions, a).not.toContain(a);
    const svc = v3.Statement.find((st) => st.Sid === SERVICE_SID);
    expect(svc).toMatchObject({
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::111122223333:root' },
      Action: [...SERVICE_ROLE_ACTIONS],
      Condition: { ArnEquals: { 'aws:PrincipalArn': service } },
    });
    // An IAM principal with kms:* in its IAM policy cannot use the key; the service's role can.
    const req = (principal: string, action: string) => ({
      principal,
      action,
      keyArn: 'arn:aws:kms:us-east-1:111122223333:key/k',
      keyAccountId: '111122223333',
      iamAllows: () => true,
    });
    const anyone = 'arn:aws:iam::111122223333:user/anyone';
    expect(authorize(v3, [], req(anyone, 'kms:Decrypt')).allowed).toBe(false);
    expect(authorize(v3, [], req(anyone, 'kms:PutKeyPolicy')).allowed).toBe(true);
    expect(authorize(v3, [], req(service[1] ?? '', 'kms:GenerateDataKey')).allowed).toBe(true);
    // Through IAM: a service role whose IAM policy lacks the action is refused.
    const lacking = {
      ...req(service[1] ?? '', 'kms:Decrypt'),
      iamAllows: (a: string) => a !== 'kms:Decrypt',
    };
    expect(authorize(v3, [], lacking).allowed).toBe(false);
    expect(authorize(v3, [], req('arn:user', 'kms:Decrypt')).allowed).toBe(true);
    expect(authorize(v3, [], req('arn:admin', 'kms:Decrypt')).allowed).toBe(false);
    // Grants: the service's administration role and the named administrators only, never an IAM
    // principal whose IAM policy allows CreateGrant (it could grant itself the key's use).
    expect(authorize(v3, [], req(anyone, 'kms:CreateGrant')).allowed).toBe(false);
    expect(authorize(v3, [], req(service[1] ?? '', 'kms:CreateGrant')).allowed).toBe(false);
    expect(authorize(v3, [], req(keysRole, 'kms:CreateGrant')).allowed).toBe(true);
    expect(authorize(v3, [], req('arn:admin', 'kms:CreateGrant')).allowed).toBe(true);
    const bypass = { ...req(keysRole, 'kms:PutKeyPolicy'), iamAllows: () => false };
    expect(
      authorize(v3, [], { ...bypass, conditions: { 'kms:BypassPolicyLockoutSafetyCheck': ['true'] } })
        .allowed,
    ).toBe(false);
    // PutKeyPolicy: the keys role by name, so KMS's lockout check needs no IAM.
    expect(
      authorize(v3, [], {
        ...req(keysRole, 'kms:PutKeyPolicy'),
        iamAllows: () => false,
        conditions: { 'kms:BypassPolicyLockoutSafetyCheck': [] },
      }).allowed,
    ).toBe(true);
    // The administration role administers, so it is denied the key's use, like the administrators.
    expect(authorize(v3, [], req(keysRole, 'kms:Encrypt')).allowed).toBe(false);
    // Read back as the service's own, and version 2 (root kms:*) upgraded to it; a redeploy's new roles too.
    const doc = JSON.parse(JSON.stringify(v3));
    const expected = { serviceRoles: service, adminRoles: [keysRole] };
    expect(rolesOf(doc, roles.accountId, expected)).toMatchObject({ serviceRoles: service, managed: true });
    // The same shape naming other roles is not this deployment's own.
    const other = rolesKeyPolicy({
      ...roles,
      serviceRoles: ['arn:aws:iam::111122223333:role/x'],
      adminRoles: [keysRole],
    });
    expect(rolesOf(JSON.parse(JSON.stringify(other)), roles.accountId, expected).managed).toBe(false);
    expect(upgradedRolesPolicy(doc, roles.accountId, service, [keysRole])).toBeUndefined();
    const v2 = JSON.parse(JSON.stringify(rolesKeyPolicy(roles)));
    expect(upgradedRolesPolicy(v2, roles.accountId, service, [keysRole])).toEqual(v3);
    const renamed = ['arn:aws:iam::111122223333:role/eaas-dev-crypto2'];
    expect(upgradedRolesPolicy(doc, roles.accountId, renamed, [keysRole])).toEqual(
      rolesKeyPolicy({ ...roles, serviceRoles: renamed, adminRoles: [keysRole] }),
    );
    const edited = { ...v2, Statement: [...v2.Statement, { Effect: 'Allow' }] };
    expect(upgradedRolesPolicy(edited, roles.accountId, service, [keysRole])).toBeUndefined();
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

describe("withoutAdminDeny: only the administrators' Deny the service writes", () => {
  const OPERATOR = 'arn:aws:iam::111122223333:user/operator';
  const OTHER = 'arn:aws:iam::111122223333:user/other';
  const base = rolesKeyPolicy({ accountId: '111122223333', administrators: [OPERATOR, OTHER], users: [] });
  const statements = (doc: unknown) => (doc as { Statement: Record<string, unknown>[] }).Statement;
  const written = statements(base).find((s) => s.Sid === ADMIN_DENY_SID) as Record<string, unknown>;
  const withDeny = (deny: Record<string, unknown>) => ({
    ...base,
    Statement: [...statements(base).filter((s) => s.Sid !== ADMIN_DENY_SID), deny],
  });

  it('drops the statement rolesKeyPolicy writes, its lists in any order or as one string', () => {
    expect(statements(withoutAdminDeny(base)).some((s) => s.Sid === ADMIN_DENY_SID)).toBe(false);
    const reordered = withDeny({
      ...written,
      Principal: { AWS: [OTHER, OPERATOR, OTHER] },
      Action: [...CRYPTO_ACTIONS].reverse(),
    });
    expect(statements(withoutAdminDeny(reordered)).some((s) => s.Sid === ADMIN_DENY_SID)).toBe(false);
  });

  it.each([
    ['another principal', { Principal: { AWS: '*' } }],
    ['fewer principals', { Principal: { AWS: [OPERATOR] } }],
    ['more principals', { Principal: { AWS: [OPERATOR, OTHER, 'arn:aws:iam::111122223333:root'] } }],
    ['a principal other than AWS', { Principal: { AWS: [OPERATOR, OTHER], Service: 's3.amazonaws.com' } }],
    ['the principal *', { Principal: '*' }],
    ['another action', { Action: 'kms:ReEncrypt*' }],
    ['fewer actions', { Action: CRYPTO_ACTIONS.slice(1) }],
    ['more actions', { Action: [...CRYPTO_ACTIONS, 'kms:PutKeyPolicy'] }],
    ['another resource', { Resource: ['*'] }],
    ['a condition', { Condition: { Bool: { 'aws:SecureTransport': 'false' } } }],
    ['NotAction', { NotAction: 'kms:DescribeKey' }],
    ['NotResource', { NotResource: 'arn:aws:kms:us-east-1:111122223333:key/x' }],
    ['NotPrincipal', { NotPrincipal: { AWS: OPERATOR } }],
  ])('keeps a Deny with that Sid and %s: it was written by hand', (_what, change) => {
    const deny = { ...written, ...change };
    expect(statements(withoutAdminDeny(withDeny(deny)))).toContainEqual(deny);
  });

  it('keeps the Deny when the administrators statement is missing or not the only one', () => {
    const noAdmins = { ...base, Statement: statements(base).filter((s) => s.Sid !== ADMIN_SID) };
    expect(statements(withoutAdminDeny(noAdmins))).toContainEqual(written);
    const admins = statements(base).find((s) => s.Sid === ADMIN_SID) as object;
    const twice = { ...base, Statement: [...statements(base), admins] };
    expect(statements(withoutAdminDeny(twice))).toContainEqual(written);
  });

  it.each([
    ['a Deny', { Effect: 'Deny' }],
    ['other actions', { Action: 'kms:Nothing' }],
    ['a condition', { Condition: { Bool: { 'aws:SecureTransport': 'true' } } }],
    ['another resource', { Resource: ['*'] }],
  ])(
    'keeps the Deny when the administrators statement has that Sid but %s: it was written by hand',
    (_what, change) => {
      const admins = statements(base).find((s) => s.Sid === ADMIN_SID) as Record<string, unknown>;
      const forged = {
        ...base,
        Statement: [...statements(base).filter((s) => s.Sid !== ADMIN_SID), { ...admins, ...change }],
      };
      expect(statements(withoutAdminDeny(forged))).toContainEqual(written);
    },
  );

  it('keeps a Deny that borrows the Sid next to the one the service writes', () => {
    const freeze = {
      Sid: ADMIN_DENY_SID,
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:ReEncrypt*',
      Resource: '*',
    };
    const kept = statements(withoutAdminDeny({ ...base, Statement: [...statements(base), freeze] }));
    expect(kept).toContainEqual(freeze);
    expect(kept).not.toContainEqual(written);
  });
});
