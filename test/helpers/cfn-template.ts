/**
 * Reading a deployment's CloudFormation resources the way AWS would, for the deployment tests:
 * ARNs of intrinsic functions rendered for one account and region, IAM statements evaluated
 * (by the policy evaluator the local KMS uses), and the
 * dependency graph checked for cycles. Anything it does not understand throws, so a construct the
 * tests cannot judge fails them instead of passing unread.
 */

import { identityVerdict } from '@eaas/aws-rules';

export const ACCOUNT = '111122223333';
export const REGION = 'us-east-1';
/** The REST API's id in rendered execute-api ARNs. */
export const API_ID = 'a1b2c3d4e5';

export interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
}
export type Resources = Record<string, Resource>;

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, string | string[]>>;
  [other: string]: unknown;
}

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

export const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The name a bucket resource gets: its BucketName, or a stand-in from its logical id. */
function bucketName(resources: Resources, id: string): string {
  const declared = resources[id]?.Properties?.BucketName;
  return declared === undefined ? `${id.toLowerCase()}-generated` : render(resources, declared);
}

/** A value with Ref / Fn::GetAtt / Fn::Sub / Fn::Join in it, as the string CloudFormation makes. */
export function render(resources: Resources, value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') throw new Error(`cannot render ${JSON.stringify(value)}`);
  const [fn, arg] = Object.entries(value)[0] ?? [];
  const refOf = (id: string): string => {
    const pseudo = PSEUDO[id];
    if (pseudo !== undefined) return pseudo;
    if (resources[id]?.Type === 'AWS::S3::Bucket') return bucketName(resources, id);
    // The framework's REST API: an id of API Gateway's shape.
    if (id === 'ApiGatewayRestApi') return API_ID;
    const logGroup = resources[id]?.Properties?.LogGroupName;
    if (resources[id]?.Type === 'AWS::Logs::LogGroup' && typeof logGroup === 'string') return logGroup;
    throw new Error(`cannot render Ref ${id}`);
  };
  switch (fn) {
    case 'Ref':
      return refOf(arg as string);
    case 'Fn::Sub':
      // `${!Literal}` is the literal `${Literal}` (an IAM policy variable).
      return (arg as string).replace(/\$\{([^}]+)\}/g, (_m, id: string) =>
        id.startsWith('!') ? `\${${id.slice(1)}}` : refOf(id),
      );
    case 'Fn::Join': {
      const [sep, parts] = arg as [string, unknown[]];
      return parts.map((p) => render(resources, p)).join(sep);
    }
    case 'Fn::GetAtt': {
      const [id, attr] = arg as [string, string];
      if (resources[id]?.Type === 'AWS::S3::Bucket' && attr === 'Arn')
        return `arn:aws:s3:::${bucketName(resources, id)}`;
      if (resources[id]?.Type === 'AWS::IAM::Role' && attr === 'Arn')
        return `arn:aws:iam::${ACCOUNT}:role/${String(resources[id]?.Properties?.RoleName ?? id)}`;
      if (resources[id]?.Type === 'AWS::SQS::Queue' && attr === 'Arn')
        return `arn:aws:sqs:${REGION}:${ACCOUNT}:${String(resources[id]?.Properties?.QueueName ?? id)}`;
      throw new Error(`cannot render Fn::GetAtt ${id}.${attr}`);
    }
    default:
      throw new Error(`cannot render ${JSON.stringify(value)}`);
  }
}

/** Every statement a role carries: its inline policies and the managed policies of this template. */
export function roleStatements(resources: Resources, roleId: string): Statement[] {
  const role = resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role of the template`);
  const props = role.Properties ?? {};
  const inline = list(props.Policies as { PolicyDocument: { Statement: Statement[] } }[]);
  const managed = list(props.ManagedPolicyArns as unknown[]).map((arn) => {
    const id = (arn as { Ref?: string }).Ref;
    const policy = id === undefined ? undefined : resources[id];
    // Precondition: an AWS managed policy cannot be read here, so it is refused outright.
    if (policy?.Type !== 'AWS::IAM::ManagedPolicy')
      throw new Error(`${roleId} attaches a policy this template does not declare: ${JSON.stringify(arn)}`);
    return (policy.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument;
  });
  // Managed policies of the template that attach themselves to the role (their `Roles`).
  const attached = Object.values(resources)
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::ManagedPolicy' &&
        list(r.Properties?.Roles as unknown[]).some((ref) => (ref as { Ref?: string }).Ref === roleId),
    )
    .map((r) => (r.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument);
  return [...inline.map((p) => p.PolicyDocument), ...managed, ...attached].flatMap((doc) => doc.Statement);
}

/** The actions and rendered resource ARNs of a statement; NotAction and friends are refused. */
export function statementParts(resources: Resources, s: Statement): { actions: string[]; arns: string[] } {
  for (const key of ['NotAction', 'NotResource', 'NotPrincipal'])
    if (key in s) throw new Error(`statement uses ${key}, which these tests do not evaluate`);
  return { actions: list(s.Action), arns: list(s.Resource as unknown).map((r) => render(resources, r)) };
}

/**
 * Whether a role may do `action` on `arn`, as IAM decides it: its statements (resources rendered)
 * evaluated by the same evaluator the local KMS uses (@eaas/aws-rules), with `request`'s condition
 * keys. Tag families are known: a tag the request does not list is absent, not unknown.
 */
export function roleMay(
  resources: Resources,
  roleId: string,
  action: string,
  arn: string,
  request: Record<string, string[]> = {},
): boolean {
  // Condition values rendered too (`{Ref: AWS::AccountId}`...).
  const rendered = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(rendered) : v !== null && typeof v === 'object' ? render(resources, v) : v;
  const Statement = roleStatements(resources, roleId).map((s) => {
    const { actions, arns } = statementParts(resources, s);
    const Condition =
      s.Condition &&
      Object.fromEntries(
        Object.entries(s.Condition).map(([op, block]) => [
          op,
          Object.fromEntries(Object.entries(block).map(([k, v]) => [k, rendered(v)])),
        ]),
      );
    return { ...s, Action: actions, Resource: arns, ...(Condition ? { Condition } : {}) };
  });
  // kms:EncryptionContextKeys comes from the request's encryption context.
  const { 'kms:EncryptionContextKeys': contextKeys = [], ...conditions } = request;
  const verdict = identityVerdict([{ Version: '2012-10-17', Statement }], {
    principal: `arn:aws:iam::${ACCOUNT}:role/${roleId}`,
    action,
    keyArn: arn,
    keyAccountId: ACCOUNT,
    encryptionContext: Object.fromEntries(contextKeys.map((k) => [k, 'v'])),
    // Keys a request may leave out (absent, not unknown), unless `request` gives them.
    conditions: {
      'aws:ResourceTag/*': [],
      'aws:RequestTag/*': [],
      'aws:TagKeys': [],
      'kms:GrantOperations': [],
      'kms:KeySpec': [],
      'kms:KeyUsage': [],
      'kms:KeyOrigin': [],
      'kms:MultiRegion': [],
      'kms:BypassPolicyLockoutSafetyCheck': [],
      // This account's resources, unless `request` says otherwise.
      'aws:ResourceAccount': [ACCOUNT],
      ...conditions,
    },
  });
  return verdict === 'allow';
}

/** Logical ids a value refers to: Ref, Fn::GetAtt, and `${Id}` / `${Id.Attr}` in Fn::Sub. */
function referencesIn(value: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const v of value) referencesIn(v, into);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' && typeof v === 'string') into.add(v);
      else if (k === 'Fn::GetAtt') into.add(String(Array.isArray(v) ? v[0] : v).split('.')[0] ?? '');
      else if (k === 'Fn::Sub') {
        const pattern = Array.isArray(v) ? v[0] : v;
        for (const m of String(pattern).matchAll(/\$\{([^}!]+)\}/g))
          into.add((m[1] ?? '').split('.')[0] ?? '');
        if (Array.isArray(v)) referencesIn(v[1], into);
      } else referencesIn(v, into);
    }
  }
  return into;
}

/** A cycle of the template's dependencies (CloudFormation refuses such a stack), or undefined. */
export function dependencyCycle(resources: Resources): string[] | undefined {
  const edges = new Map<string, string[]>();
  for (const [id, r] of Object.entries(resources)) {
    const refs = referencesIn(r.Properties, new Set(list(r.DependsOn)));
    edges.set(
      id,
      [...refs].filter((ref) => ref in resources),
    );
  }
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'open') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'open');
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of edges.keys()) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}
