import type { PolicyDocument, PolicyStatement } from '@eaas/aws-rules';
import { rolesKeyPolicy } from './key-policy.js';

/**
 * The key policy of the upload page's key (alias `alias/eaas-page`): the statements every key of
 * the service gets when the deployment names its roles (version 3 of `rolesKeyPolicy`: the account
 * administers through IAM, the service's roles use it, its administration role grants and puts
 * the policy but never uses it), with no named administrator or user, plus one statement for the
 * people who sign in to the page: the identity pool's authenticated role may encrypt and decrypt
 * only in its own space, the encryption context pair `eaas:space` equal to the caller's Cognito
 * identity id.
 *
 * The identity id is IAM's policy variable `${cognito-identity.amazonaws.com:sub}`
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif,
 * https://docs.aws.amazon.com/cognito/latest/developerguide/iam-roles.html#access-policies), which
 * the evaluator of `@eaas/aws-rules` resolves from the request's condition keys, as IAM does from
 * the session's. Only the actions the page's routes make the service check for the caller:
 * `kms:Encrypt` (uploads, replacing and deleting a document) and `kms:Decrypt` (listing, reading,
 * downloading). No DescribeKey, nor data keys or re-encryption: people have no context there, and
 * the service does those with its own roles.
 */

/** The people's statement's Sid. */
export const PEOPLE_SID = 'PeopleUseTheirOwnSpace';

/** The encryption context key of a person's space (the service sets it, callers never may). */
export const SPACE_CONTEXT_KEY = 'eaas:space';

/** The policy variable naming the caller's Cognito identity id, as IAM writes it. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, written as IAM writes it
export const COGNITO_IDENTITY_VARIABLE = '${cognito-identity.amazonaws.com:sub}';

/** What people may do with the page's key: what the documents, uploads and downloads routes check. */
export const PEOPLE_ACTIONS: readonly string[] = ['kms:Encrypt', 'kms:Decrypt'];

export interface PageKeyPolicyInput {
  accountId: string;
  /** `aws` unless given (`aws-cn`, `aws-us-gov`): the account root's ARN is in it. */
  partition?: string | undefined;
  /** The identity pool's authenticated role (serverless.yml `PeopleRole`). */
  peopleRoleArn: string;
  /** The service's roles that use keys on callers' behalf (EAAS_SERVICE_ROLE_ARNS). */
  serviceRoleArns: readonly string[];
  /** The service's administration roles (EAAS_ADMIN_ROLE_ARNS). */
  adminRoleArns: readonly string[];
}

/** The people's statement alone. */
export function peopleStatement(peopleRoleArn: string): PolicyStatement {
  return {
    Sid: PEOPLE_SID,
    Effect: 'Allow',
    Principal: { AWS: peopleRoleArn },
    Action: [...PEOPLE_ACTIONS],
    Resource: '*',
    Condition: {
      StringEquals: { [`kms:EncryptionContext:${SPACE_CONTEXT_KEY}`]: COGNITO_IDENTITY_VARIABLE },
    },
  } as PolicyStatement;
}

/** The page key's policy document. */
export function pageKeyPolicy(input: PageKeyPolicyInput): PolicyDocument {
  if (input.serviceRoleArns.length === 0 || input.adminRoleArns.length === 0)
    throw new Error("The page key's policy names the service's roles and its administration roles.");
  const base = rolesKeyPolicy({
    accountId: input.accountId,
    administrators: [],
    users: [],
    serviceRoles: input.serviceRoleArns,
    adminRoles: input.adminRoleArns,
  });
  const partition = input.partition ?? 'aws';
  const root = `arn:aws:iam::${input.accountId}:root`;
  const inPartition = (statement: PolicyStatement): PolicyStatement => {
    const principal = statement.Principal as { AWS?: unknown } | undefined;
    if (partition === 'aws' || principal?.AWS !== root) return statement;
    return { ...statement, Principal: { AWS: `arn:${partition}:iam::${input.accountId}:root` } };
  };
  return {
    Version: '2012-10-17',
    Id: 'eaas-page-key-policy-1',
    Statement: [...base.Statement.map(inPartition), peopleStatement(input.peopleRoleArn)],
  };
}

/**
 * For the page key's stored policy: the current document when it differs (a redeploy renamed the
 * roles, or an earlier version wrote it), undefined when it is current. The page key is the
 * deployment's, administered by no one through the API, so its policy is always the service's.
 */
export function upgradedPageKeyPolicy(doc: unknown, input: PageKeyPolicyInput): PolicyDocument | undefined {
  const current = pageKeyPolicy(input);
  return JSON.stringify(doc) === JSON.stringify(current) ? undefined : current;
}
