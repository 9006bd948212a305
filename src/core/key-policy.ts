import {
  CONSOLE_ADMIN_ACTIONS,
  CONSOLE_USER_ACTIONS,
  CONSOLE_USER_GRANT_ACTIONS,
  defaultKeyPolicy,
  type PolicyDocument,
  type PolicyStatement,
} from '@eaas/aws-rules';
import {
  GRANT_OPERATIONS,
  IMPORT_ACTIONS,
  type KeyKind,
  SYMMETRIC,
  useOperationsOf,
  userActionsOf,
} from './key-kinds.js';

/**
 * KMS key policy documents as this service writes them: an administrators statement and a
 * users statement, in the shape the AWS console writes for a new key, plus the account root
 * statement that lets IAM policies decide as well.
 */

/**
 * What administrators may do: manage the key, never use it. Each action is named: a wildcard such
 * as the console's `kms:Create*` or `kms:Get*` would also cover actions no administrator here
 * needs (`UpdatePrimaryRegion`...) and any that AWS adds later. The key material actions
 * (`GetParametersForImport`...) come only with a key whose owner brings its material
 * (`adminActionsOf`).
 * `CreateGrant` stays: administrators give grants (through the API, and directly in KMS); the
 * Deny statement below keeps any grant they make for themselves from working.
 */
export const ADMIN_ACTIONS: readonly string[] = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:PutKeyPolicy',
  'kms:ListKeyPolicies',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:UpdateKeyDescription',
  'kms:GetKeyRotationStatus',
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
  'kms:RotateKeyOnDemand',
  'kms:ListKeyRotations',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:CreateGrant',
  'kms:ListGrants',
  'kms:RevokeGrant',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ListResourceTags',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
];

/**
 * The actions that change a key or who may use it: whoever a policy may allow one of them
 * administers the key, for separation of duties. The administrators' actions but the read-only
 * ones, and those on key material and replicas that no one gets here.
 */
export const MANAGE_ACTIONS: readonly string[] = [
  ...ADMIN_ACTIONS.filter((a) => !/^kms:(Describe|Get|List)/.test(a)),
  'kms:ImportKeyMaterial',
  'kms:DeleteImportedKeyMaterial',
  'kms:ReplicateKey',
  'kms:UpdatePrimaryRegion',
];

/**
 * Every operation that uses a key's material, from the KMS API reference: whoever may do one of
 * them uses the key. The Deny statement for administrators names them all.
 */
export const CRYPTO_ACTIONS: readonly string[] = [
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:GenerateDataKeyPair',
  'kms:GenerateDataKeyPairWithoutPlaintext',
  'kms:GenerateMac',
  'kms:VerifyMac',
  'kms:Sign',
  'kms:Verify',
  'kms:DeriveSharedSecret',
];

/** What users may do: the cryptographic operations, never administration (the console's list). */
export const USER_ACTIONS: readonly string[] = CONSOLE_USER_ACTIONS;

/** Grants users may create for AWS services that use the key on their behalf. */
export const USER_GRANT_ACTIONS: readonly string[] = CONSOLE_USER_GRANT_ACTIONS;

/** Operations a grant may give through this service, on a key of the kind that takes them. */
export const SERVICE_GRANT_OPERATIONS = GRANT_OPERATIONS;

/**
 * The administrators' actions on a key of this kind: ADMIN_ACTIONS, and for a key whose material
 * its owner brings (origin EXTERNAL) the key material actions, which only such a key takes.
 */
export function adminActionsOf(kind: Pick<KeyKind, 'origin'>): readonly string[] {
  return kind.origin === 'EXTERNAL' ? [...ADMIN_ACTIONS, ...IMPORT_ACTIONS] : ADMIN_ACTIONS;
}

export const ADMIN_SID = 'Allow access for Key Administrators';
export const USER_SID = 'Allow use of the key';
export const USER_GRANT_SID = 'Allow attachment of persistent resources';
export const ADMIN_DENY_SID = 'Deny use of the key to Key Administrators';
export const SERVICE_SID = 'Allow use by the encryption service';
export const SERVICE_GRANTS_SID = 'Allow grants by the encryption service';
export const SERVICE_POLICY_SID = 'Allow the encryption service to put the key policy';
export const SERVICE_ADMIN_DENY_SID = "Deny use of the key to the encryption service's administration";
export const SERVICE_MATERIAL_SID = 'Allow key material by the encryption service';
/** The account root statement's Sid, as the default key policy names it. */
export const ROOT_SID = 'Enable IAM User Permissions';

/**
 * What the service's own roles do with a key on its callers' behalf (the crypto, objects, seal and
 * re-encryption functions), and nothing else: the cryptographic operations the API offers on a
 * key of its kind (those a grant through it may give). SERVICE_ROLE_ACTIONS: a symmetric key's.
 */
export const serviceRoleActionsOf = (kind: Pick<KeyKind, 'spec' | 'usage'>): string[] =>
  useOperationsOf(kind).map((op) => `kms:${op}`);
export const SERVICE_ROLE_ACTIONS: readonly string[] = serviceRoleActionsOf(SYMMETRIC);

export interface RolesPolicyInput {
  accountId: string;
  administrators: readonly string[];
  users: readonly string[];
  /**
   * The service's roles that use keys on callers' behalf (EAAS_SERVICE_ROLE_ARNS). Given: the
   * policy (version 3) lets the account root (IAM policies) administer the key, and use it only
   * for those roles (`aws:PrincipalArn`), so no other IAM principal of the account can use the key
   * around the service's checks, while each role's IAM policy still bounds what it does. Empty: the
   * version 2 policy, whose account root statement allows `kms:*`, as the AWS default one does.
   */
  serviceRoles?: readonly string[] | undefined;
  /**
   * The service's administration roles (EAAS_ADMIN_ROLE_ARNS: the keys function's): in version 3
   * the only principals of the account that may make grants through IAM (named administrators
   * make them through their own statement), and named for PutKeyPolicy, so that KMS's lockout
   * check passes on the key policy alone.
   */
  adminRoles?: readonly string[] | undefined;
  /**
   * The key's spec, usage and origin (SYMMETRIC when absent): the users' and the service's
   * statements name the operations a key of that kind takes, and the administrators' the key
   * material actions when its owner brings the material. A symmetric key's policy is the same
   * document as before there were kinds, so the version stays.
   */
  kind?: KeyKind | undefined;
}

/**
 * A full key policy naming administrators and users; empty lists leave their statements out.
 *
 * The last statement denies the administrators every cryptographic operation. In KMS an explicit
 * Deny in the key policy wins over any Allow, from the key policy, IAM policies (through the
 * account root statement) or grants alike ("No AWS principal ... has any permissions to a KMS key
 * unless they are explicitly allowed, and never denied, in a key policy, IAM policy, or grant":
 * https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html; the evaluation
 * flowchart: https://docs.aws.amazon.com/kms/latest/developerguide/policy-evaluation.html). So an
 * administrator who calls KMS directly and grants itself Decrypt, or whose IAM policies allow
 * `kms:*`, still cannot use the key.
 */
export function rolesKeyPolicy(input: RolesPolicyInput): PolicyDocument {
  return buildRolesPolicy(input, (input.serviceRoles ?? []).length > 0 ? 3 : 2);
}

/** The administrators' actions in the policies this service wrote before version 2: the console's. */
const VERSION_1_ADMIN_ACTIONS: readonly string[] = CONSOLE_ADMIN_ACTIONS;

function buildRolesPolicy(
  {
    accountId,
    administrators,
    users,
    serviceRoles = [],
    adminRoles = [],
    kind = SYMMETRIC,
  }: RolesPolicyInput,
  version: 1 | 2 | 3,
): PolicyDocument {
  const adminActions = adminActionsOf(kind);
  const root = defaultKeyPolicy(accountId).Statement[0]?.Principal;
  const statements: PolicyStatement[] =
    version === 3
      ? [
          // The account's IAM policies may administer the key, never use it, nor give its use by
          // a grant (CreateGrant is the service's, below, and the named administrators'), nor
          // import or delete its material (the service's administration role's, below): any IAM
          // principal allowed those could delete the material, or import material it knows into
          // the key before its owner does.
          {
            Sid: ROOT_SID,
            Effect: 'Allow',
            Principal: root,
            Action: adminActions.filter(
              (a) => a !== 'kms:CreateGrant' && (adminRoles.length === 0 || !IMPORT_ACTIONS.includes(a)),
            ),
            Resource: '*',
          } as PolicyStatement,
          ...(adminRoles.length > 0
            ? [
                ...(kind.origin === 'EXTERNAL'
                  ? [
                      {
                        Sid: SERVICE_MATERIAL_SID,
                        Effect: 'Allow',
                        Principal: root,
                        Action: [...IMPORT_ACTIONS],
                        Resource: '*',
                        Condition: { ArnEquals: { 'aws:PrincipalArn': [...adminRoles] } },
                      } as PolicyStatement,
                    ]
                  : []),
                {
                  Sid: SERVICE_GRANTS_SID,
                  Effect: 'Allow',
                  Principal: root,
                  Action: 'kms:CreateGrant',
                  Resource: '*',
                  Condition: { ArnEquals: { 'aws:PrincipalArn': [...adminRoles] } },
                } as PolicyStatement,
                {
                  Sid: SERVICE_POLICY_SID,
                  Effect: 'Allow',
                  Principal: { AWS: [...adminRoles] },
                  Action: 'kms:PutKeyPolicy',
                  Resource: '*',
                  Condition: { BoolIfExists: { 'kms:BypassPolicyLockoutSafetyCheck': 'false' } },
                } as PolicyStatement,
                // It administers: separation of duties holds for it as for the administrators.
                {
                  Sid: SERVICE_ADMIN_DENY_SID,
                  Effect: 'Deny',
                  Principal: { AWS: [...adminRoles] },
                  Action: [...CRYPTO_ACTIONS],
                  Resource: '*',
                } as PolicyStatement,
              ]
            : []),
          // The service's roles, still through IAM (their IAM policies bound each function to its
          // own actions and to this deployment's keys), and no other principal of the account.
          {
            Sid: SERVICE_SID,
            Effect: 'Allow',
            Principal: root,
            Action: serviceRoleActionsOf(kind),
            Resource: '*',
            Condition: { ArnEquals: { 'aws:PrincipalArn': [...serviceRoles] } },
          } as PolicyStatement,
        ]
      : [...defaultKeyPolicy(accountId).Statement];
  if (administrators.length > 0) {
    statements.push({
      Sid: ADMIN_SID,
      Effect: 'Allow',
      Principal: { AWS: [...administrators] },
      Action: [...(version === 1 ? VERSION_1_ADMIN_ACTIONS : adminActions)],
      Resource: '*',
    });
  }
  if (users.length > 0) {
    statements.push(
      {
        Sid: USER_SID,
        Effect: 'Allow',
        Principal: { AWS: [...users] },
        Action: userActionsOf(kind, USER_ACTIONS),
        Resource: '*',
      },
      {
        Sid: USER_GRANT_SID,
        Effect: 'Allow',
        Principal: { AWS: [...users] },
        Action: [...USER_GRANT_ACTIONS],
        Resource: '*',
        Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      },
    );
  }
  if (administrators.length > 0 && version >= 2) {
    statements.push({
      Sid: ADMIN_DENY_SID,
      Effect: 'Deny',
      Principal: { AWS: [...administrators] },
      Action: [...CRYPTO_ACTIONS],
      Resource: '*',
    });
  }
  return { Version: '2012-10-17', Id: `eaas-key-policy-${version}`, Statement: statements };
}

/**
 * For a document exactly as this service wrote it before version 2 (administrators allowed
 * `kms:Create*`, so `CreateGrant` for themselves, and no Deny), the current policy for the same
 * administrators and users; undefined for any other document.
 */
export function upgradedRolesPolicy(
  doc: unknown,
  accountId: string,
  serviceRoles: readonly string[] = [],
  adminRoles: readonly string[] = [],
): PolicyDocument | undefined {
  const { administrators, users, serviceRoles: named, adminRoles: namedAdmin } = rolesOf(doc, accountId);
  const current = rolesKeyPolicy({ accountId, administrators, users, serviceRoles, adminRoles });
  const earlier = [1, 2, 3]
    .map((v) =>
      buildRolesPolicy({ accountId, administrators, users, serviceRoles, adminRoles }, v as 1 | 2 | 3),
    )
    .filter((p) => p.Id !== current.Id);
  // Version 3 with other roles (a redeploy renamed them) is brought to today's roles too.
  if (named.length > 0 && serviceRoles.length > 0)
    earlier.push(
      buildRolesPolicy({ accountId, administrators, users, serviceRoles: named, adminRoles: namedAdmin }, 3),
    );
  const text = JSON.stringify(doc);
  if (text === JSON.stringify(current) || !earlier.some((p) => JSON.stringify(p) === text)) return undefined;
  return current;
}

/** Administrators and users as a policy written by this service names them. */
export interface PolicyRoles {
  administrators: string[];
  users: string[];
  /** The service's roles a version 3 policy names; none in earlier ones. */
  serviceRoles: string[];
  /** The service's administration roles a version 3 policy names. */
  adminRoles: string[];
  /** Whether the document has exactly the shape `rolesKeyPolicy` writes. */
  managed: boolean;
}

export function rolesOf(
  doc: unknown,
  accountId: string,
  expected?: { serviceRoles: readonly string[]; adminRoles: readonly string[]; kind?: KeyKind | undefined },
): PolicyRoles {
  const statements =
    doc !== null && typeof doc === 'object' && Array.isArray((doc as PolicyDocument).Statement)
      ? (doc as PolicyDocument).Statement
      : [];
  const principalsOf = (sid: string): string[] => {
    const st = statements.find((s) => s !== null && typeof s === 'object' && s.Sid === sid);
    const principal: unknown = st?.Principal;
    const aws =
      principal !== null && typeof principal === 'object' ? (principal as { AWS?: unknown }).AWS : undefined;
    const list = Array.isArray(aws) ? aws : aws === undefined ? [] : [aws];
    return list.filter((p): p is string => typeof p === 'string');
  };
  const administrators = principalsOf(ADMIN_SID);
  const users = principalsOf(USER_SID);
  const conditioned = (sid: string): string[] => {
    const st = statements.find((x) => x !== null && typeof x === 'object' && x.Sid === sid);
    const named = (st?.Condition as { ArnEquals?: { 'aws:PrincipalArn'?: unknown } } | undefined)
      ?.ArnEquals?.['aws:PrincipalArn'];
    return (Array.isArray(named) ? named : named === undefined ? [] : [named]).filter(
      (p): p is string => typeof p === 'string',
    );
  };
  const serviceRoles = conditioned(SERVICE_SID);
  const adminRoles = conditioned(SERVICE_GRANTS_SID);
  // The service's own only with the roles this deployment names, when it says which.
  const sameRoles =
    expected === undefined ||
    (JSON.stringify(serviceRoles) === JSON.stringify(expected.serviceRoles) &&
      JSON.stringify(adminRoles) === JSON.stringify(expected.adminRoles));
  const managed =
    sameRoles &&
    JSON.stringify(doc) ===
      JSON.stringify(
        rolesKeyPolicy({ accountId, administrators, users, serviceRoles, adminRoles, kind: expected?.kind }),
      );
  return { administrators, users, serviceRoles, adminRoles, managed };
}
