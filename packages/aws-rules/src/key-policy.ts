import { parseJsonStrict } from './safe-json.js';

/**
 * KMS key policy documents as AWS defines them: the default key policy KMS gives a key created
 * without one, and the structural checks behind MalformedPolicyDocumentException. The policies a
 * particular application writes (administrators, users...) are not AWS's rules and live with it.
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

/** The Sid of the statement of the default key policy that lets IAM policies decide. */
export const ROOT_SID = 'Enable IAM User Permissions';

export function accountRootArn(accountId: string): string {
  return `arn:aws:iam::${accountId}:root`;
}

/**
 * The policy KMS gives a key created without one: the account root, so IAM decides
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
 */
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

/**
 * The actions of the statements the AWS console writes in a new key's policy for the key
 * administrators, the key users, and the users' grants for AWS resources
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
 */
export const CONSOLE_ADMIN_ACTIONS: readonly string[] = [
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
export const CONSOLE_USER_ACTIONS: readonly string[] = [
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:ReEncrypt*',
  'kms:GenerateDataKey*',
  'kms:DescribeKey',
];
/** Allowed to the key users when `kms:GrantIsForAWSResource` is true. */
export const CONSOLE_USER_GRANT_ACTIONS: readonly string[] = [
  'kms:CreateGrant',
  'kms:ListGrants',
  'kms:RevokeGrant',
];

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
