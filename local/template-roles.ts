import { readFileSync } from 'node:fs';
import type { LocalRole } from '@eaas/aws-local';
import { parse } from 'yaml';
import { SERVERLESS_YML } from './api-settings.js';
import { LOCAL_API_ID } from './proxy-event.js';

/**
 * The functions' roles as serverless.yml declares them, for the local stack: each function runs
 * locally under a principal whose IAM policies are its role's in the template (inline `Policies`,
 * the template's managed policies it names in `ManagedPolicyArns`, and those that attach
 * themselves to it with `Roles`). What a role lacks, or has too much of, shows in the tests as it
 * would in AWS. Serverless variables and the CloudFormation functions the roles use are resolved
 * with the local stack's values; anything else fails loudly, naming where.
 */

export interface LocalValues {
  accountId: string;
  region: string;
  vaultBucket: string;
  stagingBucket: string;
  /** The stage the names are made with: `local`. */
  stage: string;
}

type Json = unknown;
type Resources = Record<string, { Type: string; Properties?: Record<string, Json> }>;

/** A role principal's name: `eaas-local-<function>`, as the framework names the functions. */
export const roleNameOf = (stage: string, fn: string) => `eaas-${stage}-${fn}`;

/** A function's local role principal's ARN. */
const roleArnOf = (values: LocalValues, fn: string) =>
  `arn:aws:iam::${values.accountId}:role/${roleNameOf(values.stage, fn)}`;

/** The value of the reserved key tag (`custom.serviceTag`, `eaas:service`) with the local values. */
export function readServiceTag(values: LocalValues, file: string = SERVERLESS_YML): string {
  const root = parse(readFileSync(file, 'utf8')) as { service?: string; custom?: { serviceTag?: string } };
  const raw = root.custom?.serviceTag;
  if (typeof raw !== 'string') throw new Error('serverless.yml: custom.serviceTag is missing');
  return raw.replace(/\$\{self:service\}/g, String(root.service)).replace(/\$\{sls:stage\}/g, values.stage);
}

/**
 * The roles a `provider.environment` variable names (`EAAS_SERVICE_ROLE_ARNS`,
 * `EAAS_ADMIN_ROLE_ARNS`: an `Fn::GetAtt` of a function's role, or an `Fn::Join` of them), as the
 * local principals of those functions: the key policies name them locally as the deployed service
 * names its roles.
 */
export function readRoleList(
  roles: Record<string, LocalRole>,
  variable: string,
  file: string = SERVERLESS_YML,
): string[] {
  const root = parse(readFileSync(file, 'utf8')) as {
    provider?: { environment?: Record<string, Json> };
    functions?: Record<string, { role?: string }>;
  };
  const value = root.provider?.environment?.[variable] as
    | { 'Fn::Join'?: [string, Json[]]; 'Fn::GetAtt'?: [string, string] }
    | undefined;
  const parts = value?.['Fn::GetAtt'] ? [value] : value?.['Fn::Join']?.[1];
  if (!Array.isArray(parts))
    throw new Error(`serverless.yml: ${variable} is not a role's Arn or an Fn::Join of them`);
  return parts.map((part) => {
    const [id, attr] = ((part as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'] ?? []) as string[];
    const fn = Object.entries(root.functions ?? {}).find(([, def]) => def.role === id)?.[0];
    const role = fn === undefined ? undefined : roles[fn];
    if (attr !== 'Arn' || !role)
      throw new Error(`serverless.yml: ${variable} names ${id}, no function's role`);
    return role.arn;
  });
}

/** The template's resources and functions, and its values resolved with the local stack's. */
interface LocalTemplate {
  resources: Resources;
  functions: Record<string, { role?: string }>;
  /** A template value with every variable and CloudFormation function resolved; `where` names it in errors. */
  value(v: Json, where: string): Json;
}

function readTemplate(values: LocalValues, file: string): LocalTemplate {
  const root = parse(readFileSync(file, 'utf8')) as Record<string, Json>;
  const custom = (root.custom ?? {}) as Record<string, Json>;
  const resources = ((root.resources as { Resources?: Resources } | undefined)?.Resources ?? {}) as Resources;
  const functions = (root.functions ?? {}) as Record<string, { role?: string }>;

  /** `${...}` of the framework: params and options at their defaults, self references, the stage. */
  const variables = (text: string, where: string): string =>
    text.replace(/\$\{([^}]+)\}/g, (whole, expr: string) => {
      if (expr === 'sls:stage') return values.stage;
      if (expr === 'self:service') return String(root.service);
      if (expr === 'self:custom.stagingBucket') return values.stagingBucket;
      const fallback = /^(?:param|opt):[\w-]+,\s*'([^']*)'$/.exec(expr);
      if (fallback) return fallback[1] ?? '';
      if (expr.startsWith('self:custom.')) {
        const found = expr
          .slice('self:custom.'.length)
          .split('.')
          .reduce<Json>((o, k) => (o as Record<string, Json> | undefined)?.[k], custom);
        if (typeof found === 'string') return variables(found, where);
      }
      return whole;
    });

  /** A resource's Ref and Arn with the local stack's values. */
  const ref = (id: string, where: string): string => {
    const r = resources[id];
    if (id === 'VaultBucket') return values.vaultBucket;
    if (id === 'StagingBucket') return values.stagingBucket;
    // The framework's REST API (its Ref is the API id): the local gateway's.
    if (id === 'ApiGatewayRestApi') return LOCAL_API_ID;
    if (r?.Type === 'AWS::Logs::LogGroup') return variables(String(r.Properties?.LogGroupName), where);
    if (r) return id;
    throw new Error(`serverless.yml ${where}: cannot resolve a reference to ${id}`);
  };
  const arn = (id: string, where: string): string => {
    if (id === 'VaultBucket' || id === 'StagingBucket') return `arn:aws:s3:::${ref(id, where)}`;
    const r = resources[id];
    // A queue (the failure queue): no local SQS receives it, the ARN only has to be the template's.
    if (r?.Type === 'AWS::SQS::Queue')
      return `arn:aws:sqs:${values.region}:${values.accountId}:${variables(String(r.Properties?.QueueName ?? id), where)}`;
    // A role: the local principal of the one function that runs under it (a bucket policy's
    // aws:PrincipalArn condition names it).
    if (r?.Type === 'AWS::IAM::Role') {
      const users = Object.entries(functions).filter(([, f]) => f.role === id);
      // A role no function runs under (PeopleRole, the identity pool's): its own RoleName.
      if (users.length === 0 && r.Properties?.RoleName !== undefined)
        return `arn:aws:iam::${values.accountId}:role/${String(value(r.Properties.RoleName, where))}`;
      const [fn] = users[0] ?? [];
      if (users.length !== 1 || fn === undefined)
        throw new Error(`serverless.yml ${where}: the role ${id} is not the role of exactly one function`);
      return roleArnOf(values, fn);
    }
    // A KMS key of the stack (the StagingKey): none is made locally, and the local staging bucket
    // keeps S3's default encryption (SSE-S3). The ARN is one no local key has (their ids are
    // UUIDs), so a statement that allows only this key allows none here, as no request can name
    // a key that does not exist.
    if (r?.Type === 'AWS::KMS::Key') return `arn:aws:kms:${values.region}:${values.accountId}:key/${id}`;
    throw new Error(`serverless.yml ${where}: cannot resolve the Arn of ${id}`);
  };
  const pseudo: Record<string, string> = {
    'AWS::AccountId': values.accountId,
    'AWS::Region': values.region,
    'AWS::Partition': 'aws',
  };
  const value = (v: Json, where: string): Json => {
    if (typeof v === 'string') {
      const text = variables(v, where);
      if (text.includes('${')) throw new Error(`serverless.yml ${where}: unresolved ${text}`);
      return text;
    }
    if (Array.isArray(v)) return v.map((x, i) => value(x, `${where}[${i}]`));
    if (v === null || typeof v !== 'object') return v;
    const entries = Object.entries(v as Record<string, Json>);
    const [fn, arg] = entries[0] ?? [];
    if (entries.length === 1 && fn === 'Ref') return pseudo[String(arg)] ?? ref(String(arg), where);
    if (entries.length === 1 && fn === 'Fn::GetAtt') {
      const [id, attr] = arg as [string, string];
      if (attr !== 'Arn') throw new Error(`serverless.yml ${where}: cannot resolve Fn::GetAtt ${id}.${attr}`);
      return arn(id, where);
    }
    if (entries.length === 1 && fn === 'Fn::Sub')
      return variables(String(arg), where).replace(
        /\$\{([^}]+)\}/g,
        (_m, name: string) => pseudo[name] ?? ref(name, where),
      );
    if (entries.length === 1 && fn === 'Fn::Join') {
      const [sep, parts] = arg as [string, Json[]];
      return parts.map((p, i) => String(value(p, `${where}.Fn::Join[${i}]`))).join(sep);
    }
    if (entries.length === 1 && fn?.startsWith('Fn::'))
      throw new Error(`serverless.yml ${where}: cannot resolve ${fn}`);
    return Object.fromEntries(entries.map(([k, x]) => [k, value(x, `${where}.${k}`)]));
  };
  return { resources, functions, value };
}

/** A role's identity-based policies: inline, managed ones it names, and those naming it. */
function documentsOf(template: LocalTemplate, roleId: string): Json[] {
  const { resources, value } = template;
  const role = resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role')
    throw new Error(`serverless.yml: ${roleId} is not a role of the template`);
  const props = role.Properties ?? {};
  const inline = ((props.Policies ?? []) as { PolicyDocument: Json }[]).map((p) => p.PolicyDocument);
  const named = ((props.ManagedPolicyArns ?? []) as Json[]).map((a) => {
    const id = (a as { Ref?: string }).Ref;
    const policy = id === undefined ? undefined : resources[id];
    if (policy?.Type !== 'AWS::IAM::ManagedPolicy')
      throw new Error(
        `serverless.yml: ${roleId} attaches a policy the template does not declare: ${JSON.stringify(a)}`,
      );
    return policy.Properties?.PolicyDocument;
  });
  const attached = Object.values(resources)
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::ManagedPolicy' &&
        ((r.Properties?.Roles ?? []) as { Ref?: string }[]).some((x) => x.Ref === roleId),
    )
    .map((r) => r.Properties?.PolicyDocument);
  return [...inline, ...named, ...attached].map((doc, i) => value(doc, `${roleId} policy ${i}`));
}

export function readTemplateRoles(
  values: LocalValues,
  file: string = SERVERLESS_YML,
): Record<string, LocalRole> {
  const template = readTemplate(values, file);
  const roles: Record<string, LocalRole> = {};
  for (const [fn, def] of Object.entries(template.functions)) {
    if (!def.role) throw new Error(`serverless.yml: function ${fn} names no role`);
    roles[fn] = {
      name: roleNameOf(values.stage, fn),
      arn: roleArnOf(values, fn),
      policies: documentsOf(template, def.role),
    };
  }
  return roles;
}

/**
 * A role of the template no function runs under, by its logical id (`PeopleRole`, the identity
 * pool's authenticated role): its `RoleName` with the local values, its ARN, and its policies.
 * Temporary sessions of it are what the local identity pool gives; the role itself has no keys.
 */
export function readRole(values: LocalValues, logicalId: string, file: string = SERVERLESS_YML): LocalRole {
  const template = readTemplate(values, file);
  const role = template.resources[logicalId];
  if (role?.Type !== 'AWS::IAM::Role')
    throw new Error(`serverless.yml: ${logicalId} is not a role of the template`);
  const raw = role.Properties?.RoleName;
  if (raw === undefined) throw new Error(`serverless.yml: ${logicalId} has no RoleName`);
  const name = String(template.value(raw, `${logicalId}.RoleName`));
  return {
    name,
    arn: `arn:aws:iam::${values.accountId}:role/${name}`,
    policies: documentsOf(template, logicalId),
  };
}

/** A bucket policy as the local stack applies it: the document, and the statements it leaves out. */
export interface LocalBucketPolicy {
  /** The policy with the local values (role ARNs `arn:aws:iam::<account>:role/eaas-local-<fn>`, bucket ARNs). */
  document: { Version?: string; Statement: Record<string, unknown>[] };
  /** The Sids (or indexes) of the statements left out, each with why. */
  leftOut: { statement: string; why: string }[];
}

/** Whether a statement's condition tests `key` (condition keys are case-insensitive). */
const conditionNames = (statement: Record<string, unknown>, key: string): boolean =>
  Object.values((statement.Condition ?? {}) as Record<string, Record<string, unknown>>).some((block) =>
    Object.keys(block ?? {}).some((k) => k.toLowerCase() === key.toLowerCase()),
  );

/**
 * The bucket policy serverless.yml gives a bucket (`VaultBucket` or `StagingBucket`, by its
 * resource id), as the local stack applies it; undefined when the template gives it none. The
 * statements conditioned on `aws:SecureTransport` are left out: every local request is plain HTTP
 * on the loopback, so `aws:SecureTransport` is false for all of them and a TLS-only Deny would
 * refuse everything (https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html,
 * "Enforce encryption of data in transit"). A statement naming the stack's KMS key (the staging
 * bucket's OnlyStagingKey) is kept with an ARN no local key has (see `arn` above): locally, no
 * request may name a key for that bucket, as on AWS none may name another than the StagingKey.
 */
export function readBucketPolicy(
  values: LocalValues,
  bucketId: 'VaultBucket' | 'StagingBucket',
  file: string = SERVERLESS_YML,
): LocalBucketPolicy | undefined {
  const { resources, value } = readTemplate(values, file);
  const found = Object.entries(resources).filter(
    ([, r]) =>
      r.Type === 'AWS::S3::BucketPolicy' &&
      (r.Properties?.Bucket as { Ref?: string } | undefined)?.Ref === bucketId,
  );
  if (found.length > 1) throw new Error(`serverless.yml: more than one bucket policy for ${bucketId}`);
  const [entry] = found;
  if (!entry) return undefined;
  const [id, resource] = entry;
  const document = value(resource.Properties?.PolicyDocument, `${id}.PolicyDocument`) as {
    Version?: string;
    Statement?: Record<string, unknown> | Record<string, unknown>[];
  };
  const statements = [document.Statement ?? []].flat();
  const leftOut: LocalBucketPolicy['leftOut'] = [];
  const kept = statements.filter((st, i) => {
    if (!conditionNames(st, 'aws:SecureTransport')) return true;
    leftOut.push({
      statement: typeof st.Sid === 'string' ? st.Sid : String(i),
      why: 'conditioned on aws:SecureTransport, false for every local (plain HTTP) request',
    });
    return false;
  });
  return { document: { ...document, Statement: kept }, leftOut };
}
