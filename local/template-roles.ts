import { readFileSync } from 'node:fs';
import type { LocalRole } from '@eaas/aws-local';
import { parse } from 'yaml';
import { SERVERLESS_YML } from './api-settings.js';

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

/** The value of the reserved key tag (`custom.serviceTag`, `eaas:service`) with the local values. */
export function readServiceTag(values: LocalValues, file: string = SERVERLESS_YML): string {
  const root = parse(readFileSync(file, 'utf8')) as { service?: string; custom?: { serviceTag?: string } };
  const raw = root.custom?.serviceTag;
  if (typeof raw !== 'string') throw new Error('serverless.yml: custom.serviceTag is missing');
  return raw.replace('${self:service}', String(root.service)).replace('${sls:stage}', values.stage);
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

export function readTemplateRoles(
  values: LocalValues,
  file: string = SERVERLESS_YML,
): Record<string, LocalRole> {
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
    if (r?.Type === 'AWS::Logs::LogGroup') return variables(String(r.Properties?.LogGroupName), where);
    if (r) return id;
    throw new Error(`serverless.yml ${where}: cannot resolve a reference to ${id}`);
  };
  const arn = (id: string, where: string): string => {
    if (id === 'VaultBucket' || id === 'StagingBucket') return `arn:aws:s3:::${ref(id, where)}`;
    // A queue (the failure queue): no local SQS receives it, the ARN only has to be the template's.
    const r = resources[id];
    if (r?.Type === 'AWS::SQS::Queue')
      return `arn:aws:sqs:${values.region}:${values.accountId}:${variables(String(r.Properties?.QueueName ?? id), where)}`;
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

  const documentsOf = (roleId: string): Json[] => {
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
  };

  const roles: Record<string, LocalRole> = {};
  for (const [fn, def] of Object.entries(functions)) {
    if (!def.role) throw new Error(`serverless.yml: function ${fn} names no role`);
    const name = roleNameOf(values.stage, fn);
    roles[fn] = {
      name,
      arn: `arn:aws:iam::${values.accountId}:role/${name}`,
      policies: documentsOf(def.role),
    };
  }
  return roles;
}
