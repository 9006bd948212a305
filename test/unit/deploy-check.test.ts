import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applySuppressions, parseSuppressions } from '../../deploy/suppressions.js';
import {
  assertTemplate,
  checkApiMethods,
  checkBuckets,
  checkFunctions,
  checkKmsStatements,
  checkStarResources,
  type Finding,
  knownRisks,
  RISKS,
  RULES,
  reachesAnyKey,
  type Template,
  type TemplateResource,
} from '../../deploy/template-assertions.js';

/**
 * The project's own assertions of `npm run check:deploy` (deploy/template-assertions.ts) and its
 * suppression file's rules, on small hand-made template fragments: each assertion is shown to
 * fail on what it forbids and to pass on what the real template does, so that none can silently
 * stop working.
 */

/** An Fn::Sub, its `${Name}` written `<Name>` here (as the check prints them). */
const sub = (pattern: string) => ({ 'Fn::Sub': pattern.replace(/<([^>]+)>/g, (_m, name) => `$\{${name}}`) });
const KEYS = sub('arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*');
const OUR_KEYS = { StringEquals: { 'aws:ResourceTag/eaas:service': 'eaas-dev' } };
const OUR_NEW_KEYS = { StringEquals: { 'aws:RequestTag/eaas:service': 'eaas-dev' } };

const template = (resources: Record<string, TemplateResource>): Template => ({ Resources: resources });

/** A role with one inline policy of the given statements. */
const role = (...statements: unknown[]): TemplateResource => ({
  Type: 'AWS::IAM::Role',
  Properties: {
    AssumeRolePolicyDocument: {},
    Policies: [{ PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
  },
});
const managedPolicy = (...statements: unknown[]): TemplateResource => ({
  Type: 'AWS::IAM::ManagedPolicy',
  Properties: { PolicyDocument: { Version: '2012-10-17', Statement: statements } },
});
const allow = (Action: unknown, Resource: unknown, Condition?: unknown) => ({
  Effect: 'Allow',
  Action,
  Resource,
  ...(Condition === undefined ? {} : { Condition }),
});

/** A function as the framework renders it: EAAS_SERVICE_TAG a literal string. */
const fn = (tag: unknown = 'eaas-dev'): TemplateResource => ({
  Type: 'AWS::Lambda::Function',
  Properties: { Environment: { Variables: { EAAS_SERVICE_TAG: tag } } },
});
/** The findings of Eaas-KmsTagCondition, beside a function tagging its keys eaas-dev (`Fn`). */
const kms = (resources: Record<string, TemplateResource>) =>
  checkKmsStatements(template({ Fn: fn(), ...resources })).map((f) => `${f.resource}: ${f.message}`);
/** A standalone policy resource of the given type (AWS::IAM::Policy, RolePolicy...). */
const policyOf = (Type: string, ...statements: unknown[]): TemplateResource => ({
  Type,
  Properties: { PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: statements } },
});

describe('Eaas-KmsTagCondition: KMS statements on keys are bound to the deployment by its tag', () => {
  it('fails a statement on key/* without the tag condition, in a role and in a managed policy', () => {
    expect(kms({ Crypto: role(allow(['kms:Encrypt', 'kms:Decrypt'], KEYS)) })).toEqual([
      'Crypto: policy p, statement 1: allows kms:Encrypt on arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/* without a StringEquals condition on aws:ResourceTag/eaas:service',
      'Crypto: policy p, statement 1: allows kms:Decrypt on arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/* without a StringEquals condition on aws:ResourceTag/eaas:service',
    ]);
    expect(kms({ Read: managedPolicy(allow('kms:DescribeKey', KEYS)) })).toHaveLength(1);
  });

  it('passes a statement on key/* with StringEquals on aws:ResourceTag/eaas:service', () => {
    expect(kms({ Crypto: role(allow(['kms:Encrypt', 'kms:Decrypt'], KEYS, OUR_KEYS)) })).toEqual([]);
    expect(kms({ Read: managedPolicy(allow('kms:DescribeKey', KEYS, OUR_KEYS)) })).toEqual([]);
  });

  it('does not take a condition that a missing tag satisfies, or one on another key', () => {
    const ifExists = { StringEqualsIfExists: { 'aws:ResourceTag/eaas:service': 'eaas-dev' } };
    const anyValue = { StringLike: { 'aws:ResourceTag/eaas:service': '*' } };
    const otherTag = { StringEquals: { 'aws:ResourceTag/team': 'eaas-dev' } };
    const notNull = { Null: { 'aws:ResourceTag/eaas:service': 'false' } };
    for (const condition of [ifExists, anyValue, otherTag, notNull])
      expect(kms({ R: role(allow('kms:Decrypt', KEYS, condition)) })).toHaveLength(1);
  });

  it('fails KMS actions on "*" and wildcard actions, but for ListKeys and ListAliases', () => {
    expect(kms({ R: role(allow('kms:Decrypt', '*')) })).toHaveLength(1);
    expect(kms({ R: role(allow('kms:*', '*')) })).toHaveLength(1);
    expect(kms({ R: role(allow('*', '*')) })).toHaveLength(1);
    expect(kms({ R: role(allow('kms:Get*', 'arn:aws:kms:*:*:*')) })).toHaveLength(1);
    expect(kms({ R: role(allow(['kms:ListKeys', 'kms:ListAliases'], '*')) })).toEqual([]);
    expect(kms({ R: role(allow('kms:*', '*', OUR_KEYS)) })).toEqual([]);
  });

  it('binds kms:CreateKey and kms:TagResource by the request tag', () => {
    expect(kms({ R: role(allow('kms:CreateKey', '*')) })).toEqual([
      'R: policy p, statement 1: allows kms:CreateKey on * without a StringEquals condition on aws:RequestTag/eaas:service',
    ]);
    expect(kms({ R: role(allow('kms:CreateKey', '*', OUR_KEYS)) })).toHaveLength(1);
    expect(kms({ R: role(allow('kms:CreateKey', '*', OUR_NEW_KEYS)) })).toEqual([]);
    expect(kms({ R: role(allow('kms:TagResource', KEYS)) })).toHaveLength(1);
    expect(kms({ R: role(allow('kms:TagResource', KEYS, OUR_NEW_KEYS)) })).toEqual([]);
    expect(kms({ R: role(allow('kms:TagResource', KEYS, OUR_KEYS)) })).toEqual([
      'R: policy p, statement 1: allows kms:TagResource on arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/* without a StringEquals condition on aws:RequestTag/eaas:service',
    ]);
    const both = { StringEquals: { ...OUR_KEYS.StringEquals, ...OUR_NEW_KEYS.StringEquals } };
    expect(kms({ R: role(allow('kms:TagResource', KEYS, both)) })).toEqual([]);
  });

  it('leaves alone Deny statements, other services, aliases and keys the template names', () => {
    expect(kms({ R: role({ Effect: 'Deny', Action: 'kms:UntagResource', Resource: '*' }) })).toEqual([]);
    expect(kms({ R: role(allow('s3:GetObject', '*')) })).toEqual([]);
    expect(kms({ R: role(allow('kms:CreateAlias', sub('arn:<AWS::Partition>:kms:*:*:alias/*'))) })).toEqual(
      [],
    );
    const logsKey: TemplateResource = { Type: 'AWS::KMS::Key', Properties: {} };
    expect(
      kms({ LogsKey: logsKey, R: role(allow('kms:Decrypt', { 'Fn::GetAtt': ['LogsKey', 'Arn'] })) }),
    ).toEqual([]);
  });

  it('fails what it cannot judge: NotAction, NotResource, an unreadable statement', () => {
    expect(kms({ R: role({ Effect: 'Allow', NotAction: 's3:*', Resource: '*' }) })).toHaveLength(1);
    expect(kms({ R: role({ Effect: 'Allow', Action: 'kms:Decrypt', NotResource: 'x' }) })).toHaveLength(1);
    expect(kms({ R: role({ 'Fn::If': ['C', {}, {}] }) })).toHaveLength(1);
  });

  it("fails a tag condition that names another value than the functions' EAAS_SERVICE_TAG", () => {
    const fn: TemplateResource = {
      Type: 'AWS::Lambda::Function',
      Properties: { Environment: { Variables: { EAAS_SERVICE_TAG: 'eaas-prod' } } },
    };
    expect(kms({ Fn: fn, R: role(allow('kms:Decrypt', KEYS, OUR_KEYS)) })).toEqual([
      'R: policy p, statement 1: its tag condition names eaas-dev, but the functions tag their keys eaas-prod (EAAS_SERVICE_TAG)',
    ]);
  });

  it('knows which resources reach keys the template does not name', () => {
    expect(reachesAnyKey('*')).toBe(true);
    expect(reachesAnyKey('arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*')).toBe(true);
    expect(reachesAnyKey('arn:aws:kms:us-east-1:111122223333:*')).toBe(true);
    expect(reachesAnyKey('arn:aws:kms:us-east-1:111122223333:alias/*')).toBe(false);
    expect(reachesAnyKey('arn:aws:kms:us-east-1:111122223333:key/1234')).toBe(false);
    expect(reachesAnyKey('<LogsKey.Arn>', { LogsKey: 'AWS::KMS::Key' })).toBe(false);
    expect(reachesAnyKey('<Vault.Arn>/*', { Vault: 'AWS::S3::Bucket' })).toBe(false);
    expect(reachesAnyKey('arn:<AWS::Partition>:s3:::b/*')).toBe(false);
  });

  it('fails closed on resources it cannot prove name one key', () => {
    // What it cannot render, a parameter, a custom resource, a template key with a wildcard.
    expect(reachesAnyKey('<?>')).toBe(true);
    expect(reachesAnyKey('<LogsKey.Arn>')).toBe(true);
    expect(reachesAnyKey('<KeyArn>', { LogsKey: 'AWS::KMS::Key' })).toBe(true);
    expect(reachesAnyKey('<Made.Arn>', { Made: 'Custom::Key' })).toBe(true);
    expect(reachesAnyKey('<LogsKey.Arn>*', { LogsKey: 'AWS::KMS::Key' })).toBe(true);
    // Another region or account, a parameter in a field, a policy variable.
    expect(reachesAnyKey('arn:aws:kms:eu-west-1:444455556666:key/*')).toBe(true);
    expect(reachesAnyKey('arn:aws:kms:<Region>:<AWS::AccountId>:key/1234')).toBe(true);
    expect(reachesAnyKey(`arn:aws:kms:us-east-1:111122223333:key/$\{aws:PrincipalTag/k}`)).toBe(true);
    expect(reachesAnyKey('arn:aws:*:us-east-1:111122223333:key/1234*')).toBe(true);
    expect(reachesAnyKey('arn:<Partition>:s3:::b/*')).toBe(true);
    // One literal key, wherever it is, is one key.
    expect(reachesAnyKey('arn:aws:kms:eu-west-1:444455556666:key/1234')).toBe(false);

    const decrypt = (Resource: unknown) => kms({ R: role(allow('kms:Decrypt', Resource)) });
    for (const resource of [
      { 'Fn::If': ['C', KEYS, { 'Fn::GetAtt': ['K', 'Arn'] }] },
      { Ref: 'KeyArnParameter' },
      sub('arn:<AWS::Partition>:kms:<RegionParameter>:<AWS::AccountId>:key/1234'),
      'arn:aws:kms:eu-west-1:111122223333:key/*',
    ])
      expect(decrypt(resource)).toHaveLength(1);
  });

  it('requires the literal EAAS_SERVICE_TAG value in the tag condition, and that value resolved', () => {
    const byRef = { StringEquals: { 'aws:ResourceTag/eaas:service': { Ref: 'Tag' } } };
    expect(kms({ R: role(allow('kms:Decrypt', KEYS, byRef)) })).toEqual([
      'R: policy p, statement 1: its condition on aws:ResourceTag/eaas:service is {"Ref":"Tag"}, not the literal eaas-dev the functions tag their keys with (EAAS_SERVICE_TAG)',
    ]);
    const newByRef = { StringEquals: { 'aws:RequestTag/eaas:service': [sub('eaas-<Stage>')] } };
    expect(kms({ R: role(allow('kms:CreateKey', '*', newByRef)) })).toHaveLength(1);
    // The functions' value unresolved (an intrinsic function), or none at all: no condition passes.
    expect(kms({ Fn: fn({ Ref: 'Tag' }), R: role(allow('kms:Decrypt', KEYS, OUR_KEYS)) })).toEqual([
      "R: policy p, statement 1: its condition on aws:ResourceTag/eaas:service cannot be checked: the functions' EAAS_SERVICE_TAG is not one literal string in the template",
    ]);
    expect(
      checkKmsStatements(template({ R: role(allow('kms:Decrypt', KEYS, OUR_KEYS)) })).map((f) => f.message),
    ).toHaveLength(1);
    // Functions that disagree.
    expect(kms({ G: fn('eaas-prod'), R: role(allow('kms:Decrypt', KEYS, OUR_KEYS)) })).toHaveLength(1);
  });

  it('reads every identity policy type: roles, users, groups, and the standalone policies', () => {
    const star = allow('kms:*', '*');
    for (const type of [
      'AWS::IAM::Policy',
      'AWS::IAM::RolePolicy',
      'AWS::IAM::UserPolicy',
      'AWS::IAM::GroupPolicy',
      'AWS::IAM::ManagedPolicy',
    ]) {
      expect(kms({ P: policyOf(type, star) })).toEqual([
        'P: policy, statement 1: allows kms:* on * without a StringEquals condition on aws:ResourceTag/eaas:service',
      ]);
      expect(kms({ P: policyOf(type, allow('kms:Decrypt', KEYS, OUR_KEYS)) })).toEqual([]);
    }
    for (const type of ['AWS::IAM::User', 'AWS::IAM::Group'])
      expect(kms({ U: { ...role(star), Type: type } })).toHaveLength(1);
    // A document it cannot read: an Fn::If, or one without a Statement.
    const unreadable = {
      Type: 'AWS::IAM::Policy',
      Properties: { PolicyDocument: { 'Fn::If': ['C', {}, {}] } },
    };
    expect(kms({ P: unreadable })).toEqual([
      'P: policy, its document: cannot read the statement (no Effect of Allow or Deny)',
    ]);
  });
});

describe('Eaas-IamStarResource: Allow statements on "*" hold only actions IAM documents on "*"', () => {
  const star = (resources: Record<string, TemplateResource>) =>
    checkStarResources(template(resources)).map((f) => `${f.resource}: ${f.message}`);

  it('passes the actions the template uses on "*", bound or not', () => {
    expect(
      star({
        Keys: role(
          allow('kms:CreateKey', '*', OUR_NEW_KEYS),
          allow(['kms:ListKeys', 'kms:ListAliases'], '*'),
        ),
      }),
    ).toEqual([]);
    expect(
      star({ Tracing: managedPolicy(allow(['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], '*')) }),
    ).toEqual([]);
    // Denies take rights away; other resources are another rule's business.
    expect(star({ R: role({ Effect: 'Deny', Action: 'kms:UntagResource', Resource: '*' }) })).toEqual([]);
    expect(star({ R: role(allow('kms:Decrypt', KEYS, OUR_KEYS)) })).toEqual([]);
  });

  it('fails any other action on "*", even one a tag condition binds, and what may be "*"', () => {
    expect(star({ R: role(allow(['kms:ListKeys', 'logs:CreateLogGroup'], '*')) })).toEqual([
      'R: policy p, statement 1: allows logs:CreateLogGroup on "*", where only kms:CreateKey, kms:ListKeys, kms:ListAliases, xray:PutTraceSegments, xray:PutTelemetryRecords, s3:CreateJob are allowed (actions IAM documents on "*" only)',
    ]);
    expect(star({ R: role(allow('kms:Decrypt', '*', OUR_KEYS)) })).toHaveLength(1);
    expect(star({ R: role(allow('xray:*', ['arn:aws:xray:::x', '*'])) })).toHaveLength(1);
    expect(star({ R: role(allow('kms:List*', '*')) })).toHaveLength(1);
    expect(star({ P: policyOf('AWS::IAM::RolePolicy', allow('s3:GetObject', '*')) })).toHaveLength(1);
    expect(star({ R: role(allow('s3:GetObject', { Ref: 'BucketArnParameter' })) })).toHaveLength(1);
    expect(
      star({ R: role(allow('s3:GetObject', { 'Fn::If': ['C', '*', 'arn:aws:s3:::b/*'] })) }),
    ).toHaveLength(1);
    expect(star({ R: role({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }) })).toHaveLength(1);
  });
});

describe('Eaas-KmsTagResourceRisk: the known residual risk of kms:TagResource', () => {
  it('warns of a kms:TagResource bound only by aws:RequestTag, and of nothing else', () => {
    const risks = knownRisks(template({ Fn: fn(), R: role(allow('kms:TagResource', KEYS, OUR_NEW_KEYS)) }));
    expect(risks).toEqual([
      {
        rule: RISKS.kmsTagResource,
        resource: 'R',
        level: 'warning',
        message:
          'policy p, statement 1: kms:TagResource with only aws:RequestTag lets the role add the reserved tag to an untagged key whose policy delegates to IAM',
      },
    ]);
    // A warning, not a failure: the assertions pass the same statement.
    expect(kms({ R: role(allow('kms:TagResource', KEYS, OUR_NEW_KEYS)) })).toEqual([]);
    const both = { StringEquals: { ...OUR_KEYS.StringEquals, ...OUR_NEW_KEYS.StringEquals } };
    expect(knownRisks(template({ R: role(allow('kms:TagResource', KEYS, both)) }))).toEqual([]);
    expect(knownRisks(template({ R: role(allow('kms:Decrypt', KEYS, OUR_KEYS)) }))).toEqual([]);
  });
});

const encrypted = {
  ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
};
const bucket = (properties: Record<string, unknown> = { BucketEncryption: encrypted }): TemplateResource => ({
  Type: 'AWS::S3::Bucket',
  Properties: properties,
});
const tlsOnly = (id: string, statement: Record<string, unknown> = {}): TemplateResource => ({
  Type: 'AWS::S3::BucketPolicy',
  Properties: {
    Bucket: { Ref: id },
    PolicyDocument: {
      Statement: [
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:*',
          Resource: [
            { 'Fn::GetAtt': [id, 'Arn'] },
            { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, '/*']] },
          ],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          ...statement,
        },
      ],
    },
  },
});
const rules = (findings: Finding[]) => findings.map((f) => `${f.rule} ${f.resource}`);

describe('Eaas-S3Encryption and Eaas-S3TlsOnly: buckets are encrypted and TLS-only', () => {
  it('passes an encrypted bucket with a policy denying requests without TLS', () => {
    expect(checkBuckets(template({ Vault: bucket(), VaultPolicy: tlsOnly('Vault') }))).toEqual([]);
    // The framework's own bucket: a boolean false, the ARNs joined from a Ref.
    const deployment = tlsOnly('Deploy', {
      Resource: [
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::', { Ref: 'Deploy' }, '/*']] },
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::', { Ref: 'Deploy' }]] },
      ],
      Condition: { Bool: { 'aws:SecureTransport': false } },
    });
    expect(checkBuckets(template({ Deploy: bucket(), DeployPolicy: deployment }))).toEqual([]);
  });

  it('fails a bucket without encryption', () => {
    expect(rules(checkBuckets(template({ Vault: bucket({}), VaultPolicy: tlsOnly('Vault') })))).toEqual([
      `${RULES.bucketEncryption} Vault`,
    ]);
    const none = { ServerSideEncryptionConfiguration: [] };
    expect(rules(checkBuckets(template({ V: bucket({ BucketEncryption: none }), P: tlsOnly('V') })))).toEqual(
      [`${RULES.bucketEncryption} V`],
    );
  });

  it('fails a bucket without a TLS-only policy, or whose policy does not deny plain HTTP', () => {
    expect(rules(checkBuckets(template({ Vault: bucket() })))).toEqual([`${RULES.bucketTls} Vault`]);
    for (const broken of [
      { Effect: 'Allow' },
      { Action: 's3:GetObject' },
      { Principal: { AWS: 'arn:aws:iam::111122223333:root' } },
      { Condition: { Bool: { 'aws:SecureTransport': 'true' } } },
      { Resource: [{ 'Fn::GetAtt': ['Vault', 'Arn'] }] },
    ])
      expect(rules(checkBuckets(template({ Vault: bucket(), P: tlsOnly('Vault', broken) })))).toEqual([
        `${RULES.bucketTls} Vault`,
      ]);
    // Another bucket's policy does not count.
    expect(rules(checkBuckets(template({ A: bucket(), B: bucket(), P: tlsOnly('B') })))).toEqual([
      `${RULES.bucketTls} A`,
    ]);
  });
});

describe('Eaas-LambdaTimeout and Eaas-LambdaReservedConcurrency', () => {
  const fn = (properties: Record<string, unknown>): TemplateResource => ({
    Type: 'AWS::Lambda::Function',
    Properties: { Runtime: 'nodejs22.x', ...properties },
  });

  it('fails a function without reserved concurrency, and one without a timeout', () => {
    expect(rules(checkFunctions(template({ Api: fn({ Timeout: 25 }) })))).toEqual([
      `${RULES.lambdaConcurrency} Api`,
    ]);
    expect(rules(checkFunctions(template({ Seal: fn({ ReservedConcurrentExecutions: 10 }) })))).toEqual([
      `${RULES.lambdaTimeout} Seal`,
    ]);
  });

  it('passes a function with both', () => {
    expect(
      checkFunctions(template({ Seal: fn({ Timeout: 900, ReservedConcurrentExecutions: '10' }) })),
    ).toEqual([]);
  });
});

describe('Eaas-ApiIamAuth: AWS_IAM on every method but the MOCK preflights', () => {
  const method = (HttpMethod: string, AuthorizationType: string, Type: string): TemplateResource => ({
    Type: 'AWS::ApiGateway::Method',
    Properties: { HttpMethod, AuthorizationType, Integration: { Type } },
  });

  it('passes AWS_IAM methods and MOCK preflights, fails the others', () => {
    expect(
      checkApiMethods(
        template({ Post: method('POST', 'AWS_IAM', 'AWS_PROXY'), Opt: method('OPTIONS', 'NONE', 'MOCK') }),
      ),
    ).toEqual([]);
    expect(
      rules(
        checkApiMethods(
          template({
            Post: method('POST', 'NONE', 'AWS_PROXY'),
            Opt: method('OPTIONS', 'NONE', 'AWS_PROXY'),
          }),
        ),
      ),
    ).toEqual([`${RULES.apiAuth} Post`, `${RULES.apiAuth} Opt`]);
  });
});

describe('assertTemplate', () => {
  it('runs every assertion', () => {
    const found = assertTemplate(
      template({
        R: role(allow('kms:Decrypt', KEYS)),
        S: role(allow('s3:GetObject', '*')),
        B: bucket({}),
        F: { Type: 'AWS::Lambda::Function', Properties: {} },
        M: { Type: 'AWS::ApiGateway::Method', Properties: { HttpMethod: 'GET' } },
      }),
    );
    expect(new Set(found.map((f) => f.rule))).toEqual(new Set(Object.values(RULES)));
  });
});

describe('the suppression file', () => {
  const reason = 'Because this template needs it, for a reason a reviewer can check.';
  const finding = (rule: string, resource: string, detail?: string): Finding => ({
    rule,
    ...(detail === undefined ? {} : { finding: detail }),
    resource,
    level: 'error',
    message: 'm',
  });

  it('suppresses exactly the rule, finding and resources an entry names, and reports stale entries', () => {
    const suppressions = parseSuppressions(`
suppressions:
  - rule: AwsSolutions-IAM5
    finding: "Resource::*"
    resources: [KeysRole, GoneRole]
    reason: ${reason}
  - rule: AwsSolutions-S1
    resources: [Vault]
    reason: ${reason}
`);
    const findings = [
      finding('AwsSolutions-IAM5', 'KeysRole', 'Resource::*'),
      finding('AwsSolutions-IAM5', 'KeysRole', 'Resource::arn:aws:s3:::b/*'),
      finding('AwsSolutions-IAM5', 'OtherRole', 'Resource::*'),
      finding('AwsSolutions-S1', 'Staging'),
    ];
    const { open, suppressed, stale } = applySuppressions(findings, suppressions);
    expect(suppressed).toEqual([findings[0]]);
    expect(open).toEqual(findings.slice(1));
    expect(stale).toEqual([
      { rule: 'AwsSolutions-IAM5', finding: 'Resource::*', resource: 'GoneRole' },
      { rule: 'AwsSolutions-S1', resource: 'Vault' },
    ]);
  });

  it('does not let an entry without a finding cover findings that have one', () => {
    const suppressions = parseSuppressions(
      `suppressions:\n  - rule: AwsSolutions-IAM5\n    resources: [KeysRole]\n    reason: ${reason}\n`,
    );
    const { open, stale } = applySuppressions(
      [finding('AwsSolutions-IAM5', 'KeysRole', 'Resource::*')],
      suppressions,
    );
    expect(open).toHaveLength(1);
    expect(stale).toHaveLength(1);
  });

  it('refuses entries without a reason, with unknown keys, wildcards or duplicates', () => {
    const entry = (body: string) => `suppressions:\n  - ${body.trim().replace(/\n/g, '\n    ')}\n`;
    expect(() => parseSuppressions(entry('rule: AwsSolutions-S1\nresources: [Vault]'))).toThrow(/reason/);
    expect(() =>
      parseSuppressions(entry('rule: AwsSolutions-S1\nresources: [Vault]\nreason: Fine.')),
    ).toThrow(/reason/);
    expect(() =>
      parseSuppressions(entry(`rule: AwsSolutions-S1\nresources: [Vault]\nreason: ${reason}\nwhy: x`)),
    ).toThrow(/unknown key why/);
    expect(() =>
      parseSuppressions(entry(`rule: AwsSolutions-S1\nresources: ["Vault*"]\nreason: ${reason}`)),
    ).toThrow(/logical ids/);
    expect(() =>
      parseSuppressions(entry(`rule: AwsSolutions-IAM5[Resource::*]\nresources: [R]\nreason: ${reason}`)),
    ).toThrow(/finding/);
    expect(() =>
      parseSuppressions(
        `suppressions:\n${[1, 2].map(() => `  - rule: AwsSolutions-S1\n    resources: [Vault]\n    reason: ${reason}\n`).join('')}`,
      ),
    ).toThrow(/twice/);
  });

  it("parses the check's own file", () => {
    expect(parseSuppressions(readFileSync('deploy/nag-suppressions.yml', 'utf8')).length).toBeGreaterThan(0);
  });
});
