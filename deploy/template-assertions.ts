/**
 * The project's own assertions over the packaged CloudFormation template (`npm run check:deploy`,
 * deploy/check-deploy.ts), plain TypeScript over the template's JSON: what cdk-nag's packs do not
 * say about this service. Each failure is a finding like cdk-nag's (rule id, resource logical id,
 * message), suppressible only through deploy/nag-suppressions.yml. Anything a rule cannot read
 * (an intrinsic function where it expects a list, a NotAction, a resource it cannot prove names
 * one key, a tag condition whose value is not a literal string) is a finding too, never a pass.
 * Known residual risks ({@link knownRisks}) are warnings the check prints, not findings.
 */

export interface Finding {
  /** The rule, e.g. `AwsSolutions-IAM5` or `Eaas-KmsTagCondition`. */
  rule: string;
  /** The part cdk-nag puts in brackets after some rule ids (`Resource::*`), if any. */
  finding?: string;
  /** The resource's logical id in the template. */
  resource: string;
  level: 'error' | 'warning';
  message: string;
}

export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Condition?: string;
  [other: string]: unknown;
}
export interface Template {
  Resources: Record<string, TemplateResource>;
  [other: string]: unknown;
}

/** The reserved key tag every key of this service carries (custom.serviceTag in serverless.yml). */
export const SERVICE_TAG_KEY = 'eaas:service';

export const RULES = {
  kms: 'Eaas-KmsTagCondition',
  starResource: 'Eaas-IamStarResource',
  bucketEncryption: 'Eaas-S3Encryption',
  bucketTls: 'Eaas-S3TlsOnly',
  lambdaTimeout: 'Eaas-LambdaTimeout',
  lambdaConcurrency: 'Eaas-LambdaReservedConcurrency',
  apiAuth: 'Eaas-ApiIamAuth',
} as const;

/** The known residual risks {@link knownRisks} reports: warnings printed, never failures. */
export const RISKS = {
  kmsTagResource: 'Eaas-KmsTagResourceRisk',
} as const;

/** All of the project's assertions, in a stable order. */
export function assertTemplate(template: Template): Finding[] {
  return [
    ...checkKmsStatements(template),
    ...checkStarResources(template),
    ...checkBuckets(template),
    ...checkFunctions(template),
    ...checkApiMethods(template),
  ];
}

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const resourcesOf = (template: Template, type: string): [string, TemplateResource][] =>
  Object.entries(template.Resources ?? {}).filter(([, r]) => r.Type === type);

/**
 * A value with intrinsic functions as one string, written as cdk-nag writes them: `Ref` as `<Id>`,
 * `Fn::GetAtt` as `<Id.Attr>`, `Fn::Sub` with each `${Name}` as `<Name>`, `Fn::Join` joined;
 * anything else as `<?>`.
 */
export function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (!isObject(value)) return '<?>';
  const [fn, arg] = Object.entries(value)[0] ?? [];
  if (fn === 'Ref' && typeof arg === 'string') return `<${arg}>`;
  if (fn === 'Fn::GetAtt')
    return `<${Array.isArray(arg) ? arg.join('.') : typeof arg === 'string' ? arg : '?'}>`;
  if (fn === 'Fn::Sub') {
    const [pattern, vars] = typeof arg === 'string' ? [arg, {}] : Array.isArray(arg) ? arg : [];
    if (typeof pattern === 'string') {
      const named = isObject(vars) ? vars : {};
      return pattern.replace(/\$\{([^}!]+)\}/g, (_m, name: string) =>
        name in named ? flatten(named[name]) : `<${name}>`,
      );
    }
  }
  if (fn === 'Fn::Join' && Array.isArray(arg) && typeof arg[0] === 'string' && Array.isArray(arg[1]))
    return arg[1].map(flatten).join(arg[0]);
  return '<?>';
}

// --- (a) KMS statements on keys carry the reserved tag's condition ---

/** Actions IAM documents on `*` only (no key ARN): no tag condition can apply to them. */
const ONLY_ON_STAR = new Set(['kms:listkeys', 'kms:listaliases']);
/** Actions bound by the tag the request sets (aws:RequestTag), not by the key's. */
const REQUEST_TAG_ACTIONS = new Set(['kms:createkey', 'kms:tagresource']);
/** Pseudo parameters: one value per stack, within one ARN field. */
const PSEUDO = /^<AWS::(Partition|Region|AccountId|URLSuffix)>/;

/** The template's resources' types by logical id, for {@link reachesAnyKey}. */
export function resourceTypes(template: Template): Record<string, string> {
  return Object.fromEntries(Object.entries(template.Resources ?? {}).map(([id, r]) => [id, r.Type]));
}

/**
 * Whether `<Id>` or `<Id.Attr>` names one resource of the template whose Ref or attribute is a
 * fixed value CloudFormation makes (an AWS:: resource, not a custom one or a parameter).
 */
function templateResource(placeholder: string, types: Readonly<Record<string, string>>): string | undefined {
  const id = /^<([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?>$/.exec(placeholder)?.[1];
  const type = id === undefined ? undefined : types[id];
  return type?.startsWith('AWS::') && !type.startsWith('AWS::CloudFormation::') ? type : undefined;
}

type Token = { kind: 'literal'; text: string } | { kind: 'fixed' } | { kind: 'wide' };

/**
 * A flattened resource as literal characters, fixed values (pseudo parameters, the template's own
 * resources) and wide parts: `*`, `?`, IAM policy variables (`${...}`), and any placeholder the
 * check cannot resolve to one value (`<?>`, a parameter's `<Name>`).
 */
function tokenize(resource: string, types: Readonly<Record<string, string>>): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < resource.length; ) {
    const rest = resource.slice(i);
    const pseudo = PSEUDO.exec(rest);
    const placeholder = /^<[^<>]*>/.exec(rest);
    const variable = /^\$\{[^}]*\}?/.exec(rest);
    if (pseudo) {
      tokens.push({ kind: 'fixed' });
      i += pseudo[0].length;
    } else if (placeholder) {
      tokens.push({ kind: templateResource(placeholder[0], types) ? 'fixed' : 'wide' });
      i += placeholder[0].length;
    } else if (variable) {
      tokens.push({ kind: 'wide' });
      i += variable[0].length;
    } else if (rest.startsWith('*') || rest.startsWith('?') || rest.startsWith('<')) {
      tokens.push({ kind: 'wide' });
      i += 1;
    } else {
      tokens.push({ kind: 'literal', text: rest.charAt(0) });
      i += 1;
    }
  }
  return tokens;
}

/**
 * Whether a resource (as flattened) may reach a KMS key other than one it names. Fail closed:
 * anything not provably one key, or provably no key, counts as reaching any key.
 *
 * - One key: a `<Ref>` or `<Id.Arn>` of an AWS:: resource of the template (`types`), or an ARN
 *   with no wildcard, no policy variable and no placeholder but pseudo parameters and the
 *   template's own resources (a literal key ARN in any region names that one key).
 * - No key: an ARN whose service is a literal other than `kms` (every field before it fixed),
 *   one starting with an AWS:: non-KMS resource of the template (`<Bucket.Arn>/*`), or one with
 *   the literal `alias/` (no key ARN contains it; aliases do not authorize key operations).
 * - Everything else reaches any key: `*`, `key/*`, `arn:aws:kms:eu-west-1:...:key/*`, a `Ref` to a
 *   parameter, an `Fn::If` (`<?>`), a parameter in a field (`arn:aws:kms:<Region>:...`).
 */
export function reachesAnyKey(resource: string, types: Readonly<Record<string, string>> = {}): boolean {
  if (templateResource(resource, types)) return false;
  const lead = /^<[^<>]*>/.exec(resource)?.[0];
  const leadType = lead === undefined ? undefined : templateResource(lead, types);
  if (leadType !== undefined && !leadType.startsWith('AWS::KMS::')) return false;
  const tokens = tokenize(resource, types);
  if (tokens.every((t) => t.kind !== 'wide')) return false;
  const literalRuns = tokens
    .map((t) => (t.kind === 'literal' ? t.text : '\u0000'))
    .join('')
    .split('\u0000');
  if (literalRuns.some((run) => run.includes('alias/'))) return false;
  // The ARN's fields up to the service, if every token before the third colon is fixed.
  const fields: Token[][] = [[]];
  for (const t of tokens) {
    if (fields.length > 3) break;
    if (t.kind === 'literal' && t.text === ':') fields.push([]);
    else fields[fields.length - 1]?.push(t);
  }
  const text = (f: Token[] | undefined) =>
    f?.every((t) => t.kind === 'literal')
      ? f.map((t) => (t.kind === 'literal' ? t.text : '')).join('')
      : undefined;
  const sound = fields.length > 3 && fields.slice(0, 3).every((f) => f.every((t) => t.kind !== 'wide'));
  const service = text(fields[2]);
  if (sound && text(fields[0]) === 'arn' && service !== undefined && service.toLowerCase() !== 'kms')
    return false;
  return true;
}

/**
 * The values a condition block binds `key` to with StringEquals (or StringLike without a
 * wildcard), no IfExists; `undefined` if it binds none. Values are returned as written: the
 * caller requires each to be the literal string the functions use.
 */
function tagValues(condition: unknown, key: string): unknown[] | undefined {
  if (!isObject(condition)) return undefined;
  let values: unknown[] | undefined;
  for (const [operator, entries] of Object.entries(condition)) {
    const op = operator.toLowerCase();
    if (op !== 'stringequals' && op !== 'stringlike') continue;
    if (!isObject(entries)) continue;
    for (const [k, v] of Object.entries(entries)) {
      if (k.toLowerCase() !== key.toLowerCase()) continue;
      const vs = list(v);
      const any = vs.some(
        (x) => x === '' || (typeof x === 'string' && op === 'stringlike' && /[*?]/.test(x)),
      );
      if (vs.length > 0 && !any) values = [...(values ?? []), ...vs];
    }
  }
  return values;
}

interface PolicyStatement {
  where: string;
  statement: unknown;
}

/** Identity policies, read from these types: the `Policies` of the first, `PolicyDocument` of the rest. */
const WITH_INLINE_POLICIES = ['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group'];
const POLICY_TYPES = [
  'AWS::IAM::ManagedPolicy',
  'AWS::IAM::Policy',
  'AWS::IAM::RolePolicy',
  'AWS::IAM::UserPolicy',
  'AWS::IAM::GroupPolicy',
];

/**
 * Every statement of the identity policies: roles', users' and groups' inline policies, managed
 * policies, AWS::IAM::Policy, RolePolicy, UserPolicy and GroupPolicy. A policy or document the
 * check cannot read (an `Fn::If`, a JSON string, no Statement) is one unreadable statement.
 */
function identityStatements(resource: TemplateResource): PolicyStatement[] {
  const docs: { where: string; doc: unknown }[] = [];
  const props = resource.Properties ?? {};
  if (WITH_INLINE_POLICIES.includes(resource.Type))
    for (const policy of list(props.Policies))
      docs.push({
        where: `policy ${isObject(policy) ? String(policy.PolicyName) : '?'}`,
        doc: isObject(policy) ? policy.PolicyDocument : undefined,
      });
  if (POLICY_TYPES.includes(resource.Type)) docs.push({ where: 'policy', doc: props.PolicyDocument });
  return docs.flatMap(({ where, doc }) =>
    isObject(doc) && doc.Statement !== undefined
      ? list(doc.Statement).map((statement, i) => ({ where: `${where}, statement ${i + 1}`, statement }))
      : [{ where: `${where}, its document`, statement: undefined }],
  );
}

/**
 * The tag value the functions give the keys they create (EAAS_SERVICE_TAG), as the framework
 * rendered it into the template: one literal string across the functions that set it, else
 * undefined (an intrinsic function, or functions that disagree), which no condition matches.
 */
function serviceTagOf(template: Template): string | undefined {
  const values = new Set(
    resourcesOf(template, 'AWS::Lambda::Function').map(([, r]) => {
      const env = (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables;
      return env?.EAAS_SERVICE_TAG;
    }),
  );
  values.delete(undefined);
  const [only] = values;
  return values.size === 1 && typeof only === 'string' && only !== '' ? only : undefined;
}

/** An Allow statement's actions, or why the check cannot read them. */
function allowedActions(statement: Record<string, unknown>): string[] | string {
  if (statement.NotAction !== undefined || statement.NotResource !== undefined)
    return 'an Allow with NotAction or NotResource reaches actions or resources it does not list';
  const actions = list(statement.Action);
  if (actions.length === 0 || actions.some((a) => typeof a !== 'string')) return 'cannot read the actions';
  return actions as string[];
}

/**
 * (a) No identity-policy statement allows a KMS action on keys it does not name (`*`, `key/*`,
 * or anything the check cannot prove names one key) unless a condition binds it to this
 * deployment's keys: `aws:ResourceTag/eaas:service` for actions on a key,
 * `aws:RequestTag/eaas:service` for kms:CreateKey and kms:TagResource, each with the literal
 * value the functions tag their keys with (EAAS_SERVICE_TAG). kms:ListKeys and kms:ListAliases,
 * which IAM knows only on `*`, need none.
 */
export function checkKmsStatements(template: Template): Finding[] {
  const findings: Finding[] = [];
  const expected = serviceTagOf(template);
  const types = resourceTypes(template);
  const resourceTag = `aws:ResourceTag/${SERVICE_TAG_KEY}`;
  const requestTag = `aws:RequestTag/${SERVICE_TAG_KEY}`;
  for (const [id, resource] of Object.entries(template.Resources ?? {})) {
    for (const { where, statement } of identityStatements(resource)) {
      const fail = (message: string) =>
        findings.push({ rule: RULES.kms, resource: id, level: 'error', message: `${where}: ${message}` });
      if (!isObject(statement) || (statement.Effect !== 'Allow' && statement.Effect !== 'Deny')) {
        fail('cannot read the statement (no Effect of Allow or Deny)');
        continue;
      }
      if (statement.Effect !== 'Allow') continue;
      const actions = allowedActions(statement);
      if (typeof actions === 'string') {
        fail(actions);
        continue;
      }
      const kmsActions = actions.filter((a) => a === '*' || a.toLowerCase().startsWith('kms:'));
      if (kmsActions.length === 0) continue;
      const wide = list(statement.Resource)
        .map(flatten)
        .filter((r) => reachesAnyKey(r, types));
      if (list(statement.Resource).length === 0) wide.push('(no Resource)');
      if (wide.length === 0) continue;
      const byResourceTag = tagValues(statement.Condition, resourceTag);
      const byRequestTag = tagValues(statement.Condition, requestTag);
      for (const action of kmsActions) {
        const a = action.toLowerCase();
        if (ONLY_ON_STAR.has(a)) continue;
        const needs = REQUEST_TAG_ACTIONS.has(a) ? requestTag : resourceTag;
        if ((REQUEST_TAG_ACTIONS.has(a) ? byRequestTag : byResourceTag) === undefined)
          fail(`allows ${action} on ${wide.join(', ')} without a StringEquals condition on ${needs}`);
      }
      for (const [key, values] of [
        [resourceTag, byResourceTag],
        [requestTag, byRequestTag],
      ] as const)
        for (const value of values ?? [])
          if (expected === undefined)
            fail(
              `its condition on ${key} cannot be checked: the functions' EAAS_SERVICE_TAG is not one literal string in the template`,
            );
          else if (typeof value !== 'string')
            fail(
              `its condition on ${key} is ${JSON.stringify(value)}, not the literal ${expected} the functions tag their keys with (EAAS_SERVICE_TAG)`,
            );
          else if (value !== expected)
            fail(
              `its tag condition names ${value}, but the functions tag their keys ${expected} (EAAS_SERVICE_TAG)`,
            );
    }
  }
  return findings;
}

/**
 * Known residual risks of the template: warnings `npm run check:deploy` prints, never failures.
 * An Allow of kms:TagResource bound only by `aws:RequestTag/eaas:service` (no
 * `aws:ResourceTag/eaas:service`) lets the role add the reserved tag to an untagged key of the
 * account whose key policy delegates to IAM, which then counts as one of this deployment's keys.
 */
export function knownRisks(template: Template): Finding[] {
  const findings: Finding[] = [];
  const types = resourceTypes(template);
  for (const [id, resource] of Object.entries(template.Resources ?? {}))
    for (const { where, statement } of identityStatements(resource)) {
      if (!isObject(statement) || statement.Effect !== 'Allow') continue;
      const actions = allowedActions(statement);
      if (typeof actions === 'string' || !actions.some((a) => a.toLowerCase() === 'kms:tagresource'))
        continue;
      if (!list(statement.Resource).some((r) => reachesAnyKey(flatten(r), types))) continue;
      if (tagValues(statement.Condition, `aws:ResourceTag/${SERVICE_TAG_KEY}`) !== undefined) continue;
      findings.push({
        rule: RISKS.kmsTagResource,
        resource: id,
        level: 'warning',
        message: `${where}: kms:TagResource with only aws:RequestTag lets the role add the reserved tag to an untagged key whose policy delegates to IAM`,
      });
    }
  return findings;
}

// --- (a') Allow statements on "*": only actions IAM documents on "*" ---

/**
 * The actions an Allow may hold on `"*"`, each one IAM documents with no resource ARN (Service
 * Authorization Reference, its "Resource types" column empty), and the only ones this template
 * uses on `"*"`: kms:CreateKey (no key exists before it), kms:ListKeys and kms:ListAliases (the
 * keys role), xray:PutTraceSegments and xray:PutTelemetryRecords (TracingWritePolicy). The
 * functions' log statements name their log groups, so no logs or cloudwatch action is here.
 */
export const ALLOWED_ON_STAR = [
  'kms:CreateKey',
  'kms:ListKeys',
  'kms:ListAliases',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  // S3 Batch Operations' CreateJob has no resource type (the job does not exist yet):
  // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
  's3:CreateJob',
] as const;
const ALLOWED_ON_STAR_LOWER = new Set<string>(ALLOWED_ON_STAR.map((a) => a.toLowerCase()));

/** Whether a flattened resource is, or may be at deployment, `*`: nothing in it but wide parts. */
function mayBeStar(resource: string, types: Readonly<Record<string, string>>): boolean {
  const tokens = tokenize(resource, types);
  return tokens.length > 0 && tokens.every((t) => t.kind === 'wide') && resource !== '?';
}

/**
 * (a') No identity-policy Allow statement on `"*"` (or a resource that may be `"*"`: a parameter,
 * an `Fn::If`) holds an action outside {@link ALLOWED_ON_STAR}: with a suppression of
 * AwsSolutions-IAM5[Resource::*] in place for a role, a new action on `"*"` still fails here.
 */
export function checkStarResources(template: Template): Finding[] {
  const findings: Finding[] = [];
  const types = resourceTypes(template);
  for (const [id, resource] of Object.entries(template.Resources ?? {}))
    for (const { where, statement } of identityStatements(resource)) {
      if (!isObject(statement) || statement.Effect !== 'Allow') continue;
      const fail = (message: string) =>
        findings.push({
          rule: RULES.starResource,
          resource: id,
          level: 'error',
          message: `${where}: ${message}`,
        });
      const actions = allowedActions(statement);
      if (typeof actions === 'string') {
        fail(actions);
        continue;
      }
      const resources = list(statement.Resource);
      if (resources.length > 0 && !resources.some((r) => mayBeStar(flatten(r), types))) continue;
      const others = actions.filter((a) => !ALLOWED_ON_STAR_LOWER.has(a.toLowerCase()));
      if (others.length > 0)
        fail(
          `allows ${others.join(', ')} on "*", where only ${ALLOWED_ON_STAR.join(', ')} are allowed (actions IAM documents on "*" only)`,
        );
    }
  return findings;
}

// --- (b) Buckets: encrypted at rest, TLS only ---

const SSE_ALGORITHMS = new Set(['AES256', 'aws:kms', 'aws:kms:dsse']);

/** Whether a bucket policy's statement denies every S3 request to `bucketId` not made over TLS. */
function deniesInsecureTransport(statement: unknown, names: string[]): boolean {
  if (!isObject(statement) || statement.Effect !== 'Deny') return false;
  const principal = statement.Principal;
  const everyone = principal === '*' || (isObject(principal) && list(principal.AWS).includes('*'));
  const actions = list(statement.Action);
  const allS3 = actions.includes('s3:*') || actions.includes('*');
  const bool = isObject(statement.Condition) ? statement.Condition.Bool : undefined;
  const insecure = isObject(bool) && [false, 'false'].includes(bool['aws:SecureTransport'] as string);
  const resources = list(statement.Resource).map(flatten);
  const named = (r: string) => names.some((n) => r.includes(n));
  const bucketLevel = resources.some((r) => named(r) && !r.endsWith('/*'));
  const objectLevel = resources.some((r) => named(r) && r.endsWith('/*'));
  return everyone && allS3 && insecure && bucketLevel && objectLevel;
}

/**
 * (b) Every bucket has default encryption (BucketEncryption with an SSE algorithm) and a bucket
 * policy that denies `s3:*` to everyone on the bucket and its objects when `aws:SecureTransport`
 * is false.
 */
export function checkBuckets(template: Template): Finding[] {
  const findings: Finding[] = [];
  const policies = resourcesOf(template, 'AWS::S3::BucketPolicy');
  for (const [id, bucket] of resourcesOf(template, 'AWS::S3::Bucket')) {
    const props = bucket.Properties ?? {};
    const encryption = isObject(props.BucketEncryption)
      ? list(props.BucketEncryption.ServerSideEncryptionConfiguration)
      : [];
    const encrypted =
      encryption.length > 0 &&
      encryption.every((rule) => {
        const byDefault = isObject(rule) ? rule.ServerSideEncryptionByDefault : undefined;
        return isObject(byDefault) && SSE_ALGORITHMS.has(byDefault.SSEAlgorithm as string);
      });
    if (!encrypted)
      findings.push({
        rule: RULES.bucketEncryption,
        resource: id,
        level: 'error',
        message: 'The bucket has no BucketEncryption (ServerSideEncryptionByDefault with an SSE algorithm)',
      });
    // How the bucket's ARN or name appears in a policy: Ref, GetAtt, or its literal name.
    const names = [`<${id}>`, `<${id}.Arn>`];
    const name = props.BucketName === undefined ? undefined : flatten(props.BucketName);
    if (name !== undefined && !name.includes('<?>')) names.push(name);
    const tlsOnly = policies.some(([, policy]) => {
      const target = flatten(policy.Properties?.Bucket);
      if (!names.includes(target)) return false;
      const doc = policy.Properties?.PolicyDocument;
      return list(isObject(doc) ? doc.Statement : undefined).some((s) => deniesInsecureTransport(s, names));
    });
    if (!tlsOnly)
      findings.push({
        rule: RULES.bucketTls,
        resource: id,
        level: 'error',
        message:
          'No bucket policy denies s3:* to everyone on the bucket and its objects when aws:SecureTransport is false',
      });
  }
  return findings;
}

// --- (c) Functions: a timeout and a reserved concurrency each ---

/** (c) Every function sets Timeout and ReservedConcurrentExecutions. */
export function checkFunctions(template: Template): Finding[] {
  const findings: Finding[] = [];
  for (const [id, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
    const props = fn.Properties ?? {};
    if (props.Timeout === undefined)
      findings.push({
        rule: RULES.lambdaTimeout,
        resource: id,
        level: 'error',
        message: "The function sets no Timeout (Lambda's default is 3 seconds)",
      });
    if (props.ReservedConcurrentExecutions === undefined)
      findings.push({
        rule: RULES.lambdaConcurrency,
        resource: id,
        level: 'error',
        message:
          "The function reserves no concurrency (ReservedConcurrentExecutions): it can take the account's whole pool, or be starved by another function",
      });
  }
  return findings;
}

// --- (d) The API: AWS_IAM on every method but the CORS preflights ---

/**
 * Every method of the REST API is authorized with AWS_IAM (SigV4), except OPTIONS, the CORS
 * preflights browsers send without credentials, which must be MOCK integrations (no function
 * behind them). The suppressions of cdk-nag's Cognito and authorization rules rest on this.
 */
export function checkApiMethods(template: Template): Finding[] {
  const findings: Finding[] = [];
  for (const [id, method] of resourcesOf(template, 'AWS::ApiGateway::Method')) {
    const props = method.Properties ?? {};
    const integration = isObject(props.Integration) ? props.Integration : {};
    if (props.HttpMethod === 'OPTIONS') {
      if (integration.Type !== 'MOCK')
        findings.push({
          rule: RULES.apiAuth,
          resource: id,
          level: 'error',
          message: 'An unauthenticated OPTIONS method that is not a MOCK integration reaches a backend',
        });
    } else if (props.AuthorizationType !== 'AWS_IAM')
      findings.push({
        rule: RULES.apiAuth,
        resource: id,
        level: 'error',
        message: `The method's AuthorizationType is ${String(props.AuthorizationType ?? 'NONE')}, not AWS_IAM`,
      });
  }
  return findings;
}
