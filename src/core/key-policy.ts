import { parseJsonStrict } from './safe-json.js';

/**
 * KMS key policy documents as this service writes them: an administrators statement and a
 * users statement, in the shape the AWS console writes for a new key, plus the account root
 * statement that lets IAM policies decide as well.
 */

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal: { AWS: string | string[] } | '*';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[] | boolean>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Id?: string;
  Statement: PolicyStatement[];
}

/** What administrators may do: manage the key, never use it. */
export const ADMIN_ACTIONS: readonly string[] = [
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
];

/** What users may do: the cryptographic operations, never administration. */
export const USER_ACTIONS: readonly string[] = [
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:ReEncrypt*',
  'kms:GenerateDataKey*',
  'kms:DescribeKey',
];

/** Grants users may create for AWS services that use the key on their behalf. */
export const USER_GRANT_ACTIONS: readonly string[] = ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'];

/** Operations a grant may give on a symmetric key through this service. */
export const SERVICE_GRANT_OPERATIONS = [
  'Encrypt',
  'Decrypt',
  'ReEncryptFrom',
  'ReEncryptTo',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'DescribeKey',
] as const;

export const ADMIN_SID = 'Allow access for Key Administrators';
export const USER_SID = 'Allow use of the key';
export const USER_GRANT_SID = 'Allow attachment of persistent resources';
export const ROOT_SID = 'Enable IAM User Permissions';

export function accountRootArn(accountId: string): string {
  return `arn:aws:iam::${accountId}:root`;
}

/** The policy KMS gives a key created without one: the account root, so IAM decides. */
export function defaultKeyPolicy(accountId: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      {
        Sid: ROOT_SID,
        Effect: 'Allow',
        Principal: { AWS: accountRootArn(accountId) },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  };
}

export interface RolesPolicyInput {
  accountId: string;
  administrators: readonly string[];
  users: readonly string[];
}

/** A full key policy naming administrators and users; empty lists leave their statement out. */
export function rolesKeyPolicy({ accountId, administrators, users }: RolesPolicyInput): PolicyDocument {
  const statements: PolicyStatement[] = [...defaultKeyPolicy(accountId).Statement];
  if (administrators.length > 0) {
    statements.push({
      Sid: ADMIN_SID,
      Effect: 'Allow',
      Principal: { AWS: [...administrators] },
      Action: [...ADMIN_ACTIONS],
      Resource: '*',
    });
  }
  if (users.length > 0) {
    statements.push(
      {
        Sid: USER_SID,
        Effect: 'Allow',
        Principal: { AWS: [...users] },
        Action: [...USER_ACTIONS],
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
  return { Version: '2012-10-17', Id: 'eaas-key-policy-1', Statement: statements };
}

/**
 * Structural problems of a key policy document, as KMS reports them with
 * MalformedPolicyDocumentException; undefined when the document is well formed.
 */
export function policyDocumentProblem(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = parseJsonStrict(text);
  } catch {
    return 'The policy is not valid JSON, or uses the member name __proto__.';
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    return 'The policy must be a JSON object.';
  const raw = (doc as { Statement?: unknown }).Statement;
  const statements = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (statements.length === 0) return 'The policy must contain at least one Statement.';
  for (const [i, s] of statements.entries()) {
    if (s === null || typeof s !== 'object') return `Statement ${i} is not an object.`;
    const st = s as Record<string, unknown>;
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny')
      return `Statement ${i} has an Effect other than Allow or Deny.`;
    if (st.Principal === undefined && st.NotPrincipal === undefined)
      return `Statement ${i} has no Principal.`;
    for (const p of [st.Principal, st.NotPrincipal]) {
      if (p === undefined || p === '*') continue;
      if (p === null || typeof p !== 'object' || Array.isArray(p))
        return `Statement ${i} has a Principal that is neither "*" nor an object such as {"AWS": [...]}.`;
      for (const v of Object.values(p))
        if (typeof v !== 'string' && !(Array.isArray(v) && v.every((x) => typeof x === 'string')))
          return `Statement ${i} names principals that are not strings.`;
    }
    if (st.Action === undefined && st.NotAction === undefined) return `Statement ${i} has no Action.`;
    if (st.Resource === undefined && st.NotResource === undefined) return `Statement ${i} has no Resource.`;
  }
  return undefined;
}

/** Administrators and users as a policy written by this service names them. */
export interface PolicyRoles {
  administrators: string[];
  users: string[];
  /** Whether the document has exactly the shape `rolesKeyPolicy` writes. */
  managed: boolean;
}

export function rolesOf(doc: unknown, accountId: string): PolicyRoles {
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
  const managed =
    JSON.stringify(doc) === JSON.stringify(rolesKeyPolicy({ accountId, administrators, users }));
  return { administrators, users, managed };
}
