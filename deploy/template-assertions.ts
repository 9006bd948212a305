/**
 * The project's own assertions over the packaged CloudFormation template (`npm run check:deploy`,
 * deploy/check-deploy.ts), plain TypeScript over the template's JSON: what cdk-nag's packs do not
 * say about this service. Each failure is a finding like cdk-nag's (rule id, resource logical id,
 * message), suppressible only through deploy/nag-suppressions.yml. Anything a rule cannot read
 * (an intrinsic function where it expects a list, a NotAction) is a finding too, never a pass.
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
  bucketEncryption: 'Eaas-S3Encryption',
  bucketTls: 'Eaas-S3TlsOnly',
  lambdaTimeout: 'Eaas-LambdaTimeout',
  lambdaConcurrency: 'Eaas-LambdaReservedConcurrency',
  apiAuth: 'Eaas-ApiIamAuth',
} as const;

/** All of the project's assertions, in a stable order. */
export function assertTemplate(template: Template): Finding[] {
  return [
    ...checkKmsStatements(template),
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
/** Actions that create or tag a key: bound by the tag the request sets. */
const REQUEST_TAG_ACTIONS = new Set(['kms:createkey', 'kms:tagresource']);
/** A key ARN any resource pattern that reaches keys of the account matches. */
const SAMPLE_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const PSEUDO = /^<AWS::(Partition|Region|AccountId|URLSuffix)>/;

/**
 * Whether a resource (as flattened) reaches KMS keys it does not name: `*`, `...:key/*`,
 * `arn:aws:kms:*:*:*`... Pseudo parameters may be anything within an ARN field; a `<Ref>` or
 * `<Id.Arn>` is one resource of the template (a named key), so it reaches no other key.
 */
export function reachesAnyKey(resource: string): boolean {
  let re = '';
  for (let i = 0; i < resource.length; ) {
    const pseudo = PSEUDO.exec(resource.slice(i));
    if (pseudo) {
      re += '[^:]*';
      i += pseudo[0].length;
      continue;
    }
    if (resource.charAt(i) === '<') return false;
    const c = resource.charAt(i);
    re += c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    i += 1;
  }
  return new RegExp(`^${re}$`).test(SAMPLE_KEY_ARN);
}

/** Whether a condition block binds `key` to a fixed value: StringEquals/StringLike, no IfExists. */
function tagValues(condition: unknown, key: string): unknown[] {
  if (!isObject(condition)) return [];
  const values: unknown[] = [];
  for (const [operator, entries] of Object.entries(condition)) {
    const op = operator.toLowerCase();
    if (op !== 'stringequals' && op !== 'stringlike') continue;
    if (!isObject(entries)) continue;
    for (const [k, v] of Object.entries(entries)) {
      if (k.toLowerCase() !== key.toLowerCase()) continue;
      const vs = list(v);
      const fixed = vs.every(
        (x) => (typeof x === 'string' && x !== '' && !(op === 'stringlike' && /[*?]/.test(x))) || isObject(x),
      );
      if (vs.length > 0 && fixed) values.push(...vs);
    }
  }
  return values;
}

interface PolicyStatement {
  where: string;
  statement: unknown;
}

/** Every statement of the identity policies (roles', users', groups' inline; managed; AWS::IAM::Policy). */
function identityStatements(resource: TemplateResource): PolicyStatement[] {
  const docs: { where: string; doc: unknown }[] = [];
  const props = resource.Properties ?? {};
  if (['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group'].includes(resource.Type))
    for (const policy of list(props.Policies))
      docs.push({
        where: `policy ${isObject(policy) ? String(policy.PolicyName) : '?'}`,
        doc: isObject(policy) ? policy.PolicyDocument : undefined,
      });
  if (['AWS::IAM::ManagedPolicy', 'AWS::IAM::Policy'].includes(resource.Type))
    docs.push({ where: 'policy', doc: props.PolicyDocument });
  return docs.flatMap(({ where, doc }) =>
    list(isObject(doc) ? doc.Statement : doc).map((statement, i) => ({
      where: `${where}, statement ${i + 1}`,
      statement,
    })),
  );
}

/** The tag value the functions give the keys they create (EAAS_SERVICE_TAG), if one literal. */
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
  return values.size === 1 && typeof only === 'string' ? only : undefined;
}

/**
 * (a) No identity-policy statement allows a KMS action on keys it does not name (`*`, `key/*`)
 * unless a condition binds it to this deployment's keys: `aws:ResourceTag/eaas:service` for
 * actions on a key, `aws:RequestTag/eaas:service` for kms:CreateKey (and kms:TagResource, which
 * either binds). kms:ListKeys and kms:ListAliases, which IAM knows only on `*`, need none.
 */
export function checkKmsStatements(template: Template): Finding[] {
  const findings: Finding[] = [];
  const expected = serviceTagOf(template);
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
      const actions = list(statement.Action);
      if (statement.NotAction !== undefined || statement.NotResource !== undefined) {
        fail('an Allow with NotAction or NotResource reaches KMS actions or keys it does not list');
        continue;
      }
      if (actions.some((a) => typeof a !== 'string')) {
        fail('cannot read the actions');
        continue;
      }
      const kmsActions = (actions as string[]).filter((a) => a === '*' || a.toLowerCase().startsWith('kms:'));
      if (kmsActions.length === 0) continue;
      const wide = list(statement.Resource).map(flatten).filter(reachesAnyKey);
      if (wide.length === 0) continue;
      const byResourceTag = tagValues(statement.Condition, resourceTag);
      const byRequestTag = tagValues(statement.Condition, requestTag);
      for (const action of kmsActions) {
        const a = action.toLowerCase();
        if (ONLY_ON_STAR.has(a)) continue;
        const needs =
          a === 'kms:createkey'
            ? byRequestTag.length > 0
            : REQUEST_TAG_ACTIONS.has(a)
              ? byRequestTag.length > 0 || byResourceTag.length > 0
              : byResourceTag.length > 0;
        if (!needs) {
          const condition =
            a === 'kms:createkey'
              ? requestTag
              : a === 'kms:tagresource'
                ? `${requestTag} (or ${resourceTag})`
                : resourceTag;
          fail(`allows ${action} on ${wide.join(', ')} without a StringEquals condition on ${condition}`);
        }
      }
      if (expected !== undefined)
        for (const value of [...byResourceTag, ...byRequestTag])
          if (typeof value === 'string' && value !== expected)
            fail(
              `its tag condition names ${value}, but the functions tag their keys ${expected} (EAAS_SERVICE_TAG)`,
            );
    }
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
