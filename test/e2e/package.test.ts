import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SERVICE } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/http/routes.js';
import { dependencyCycle, type Resources, render, roleMay, roleStatements } from '../helpers/cfn-template.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';

const exec = promisify(execFile);
let t: TestKms;
let unpacked: string;

interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] }>;
}
/** The page's origin, given as a deployment parameter: the buckets' CORS must name exactly it. */
const WEB_ORIGIN = 'https://docs.example.test';
let template: Template;

beforeAll(async () => {
  await exec('npm', ['run', 'package', '--', `--param=webOrigin=${WEB_ORIGIN}`], { timeout: 120_000 });
  template = JSON.parse(
    readFileSync('.serverless/cloudformation-template-update-stack.json', 'utf8'),
  ) as Template;
  t = await startTestKms();
  unpacked = mkdtempSync(join(tmpdir(), 'eaas-bundle-'));
  for (const zip of readdirSync('.serverless').filter((f) => f.endsWith('.zip'))) {
    await exec('unzip', [
      '-q',
      '-o',
      join('.serverless', zip),
      '-d',
      join(unpacked, zip.replace(/\.zip$/, '')),
    ]);
  }
}, 180_000);
afterAll(async () => {
  await t?.stop();
  rmSync(unpacked, { recursive: true, force: true });
});

describe('npm run package (osls, offline)', () => {
  it('produces a CloudFormation template with every route behind AWS_IAM', () => {
    const methods = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::ApiGateway::Method' && r.Properties.HttpMethod !== 'OPTIONS',
    );
    expect(methods).toHaveLength(ROUTES.length);
    for (const m of methods) expect(m.Properties.AuthorizationType).toBe('AWS_IAM');
    const resources = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::ApiGateway::Resource')
      .map((r) => r.Properties.PathPart);
    for (const route of ROUTES) expect(resources).toContain(route.path.split('/').at(-1));
    const fns = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    for (const f of fns) expect(f.Properties.Runtime).toBe('nodejs22.x');
  });

  it.each([
    ['crypto', 'encrypt', 200],
    ['crypto', 'decrypt', 400],
    ['whoami', 'whoami', 200],
    ['keys', 'describe-key', 200],
  ])(
    'the bundled %s function answers events/%s.json with %i against a KMS endpoint',
    async (fn, event, status) => {
      const dir = join(unpacked, fn);
      const entry = readdirSync(join(dir, 'src', 'functions')).find(
        (f) => f.startsWith(`${fn}.`) && f.endsWith('.js'),
      );
      expect(entry).toBeDefined();
      const service = t.principal(SERVICE);
      const script = `
      const { handler } = require(${JSON.stringify(join(dir, 'src', 'functions', entry ?? ''))});
      const event = require(${JSON.stringify(join(process.cwd(), 'events', `${event}.json`))});
      handler(event, { awsRequestId: 'bundle-test', getRemainingTimeInMillis: () => 29000 })
        .then((r) => process.stdout.write('\\n' + JSON.stringify(r)));
    `;
      const { stdout } = await exec(process.execPath, ['-e', script], {
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: service.accessKeyId,
          AWS_SECRET_ACCESS_KEY: service.secretAccessKey,
          EAAS_KMS_ENDPOINT: t.kms.endpoint,
          POWERTOOLS_LOG_LEVEL: 'ERROR',
        },
        timeout: 30_000,
      });
      // The answer is the last line; the lines before it are the logger's (the audit record, at
      // any log level, since this run names no audit log group).
      const lines = stdout.split('\n');
      const result = JSON.parse(lines.at(-1) ?? '') as { statusCode: number; body: string };
      expect(result.statusCode, result.body).toBe(status);
      expect(lines.some((l) => l.includes('"message":"audit"'))).toBe(true);
    },
  );

  it('runs every function with a role of its own from the template, and creates no shared role', () => {
    const resources = template.Resources as Resources;
    expect(resources.IamRoleLambdaExecution).toBeUndefined();
    const fns = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    const roles = fns.map(
      ([, f]) => (f.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0],
    );
    expect(new Set(roles).size).toBe(fns.length);
    for (const role of roles) expect(resources[role]?.Type).toBe('AWS::IAM::Role');
    const sealRole = roles[fns.findIndex(([id]) => id === 'SealLambdaFunction')] ?? '';
    const key = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(roleMay(resources, sealRole, 'kms:Decrypt', key)).toBe(false);
    for (const role of roles)
      for (const s of roleStatements(resources, role)) {
        const actions = [s.Action].flat();
        for (const action of actions) expect(action, role).not.toMatch(/^(\*|s3:\*|kms:\*)$/);
        // S3 Batch Operations' CreateJob alone has no resource type (the job does not exist yet).
        if (actions.some((a) => a.startsWith('s3:')) && !actions.every((a) => a === 's3:CreateJob'))
          expect([s.Resource].flat(), role).not.toContain('*');
      }
  });

  it('has no dependency cycle: the staging bucket, its notification, the seal and its role deploy in order', () => {
    expect(dependencyCycle(template.Resources as Resources)).toBeUndefined();
  });

  it('sends the staging bucket incoming/ ObjectCreated events to the seal, under a 15-minute timeout', () => {
    const resources = template.Resources as Resources;
    const staging = template.Resources.StagingBucket?.Properties as {
      NotificationConfiguration: { LambdaConfigurations: unknown[] };
    };
    expect(staging.NotificationConfiguration.LambdaConfigurations).toEqual([
      {
        Event: 's3:ObjectCreated:*',
        Function: { 'Fn::GetAtt': ['SealLambdaFunction', 'Arn'] },
        Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'incoming/' }] } },
      },
    ]);
    const seal = template.Resources.SealLambdaFunction?.Properties as {
      Timeout: number;
      Environment: { Variables: Record<string, unknown> };
    };
    expect(seal.Timeout).toBe(900);
    // The seal ignores events of any other bucket: its configured name must be this bucket's.
    expect(render(resources, seal.Environment.Variables.EAAS_STAGING_BUCKET)).toBe(
      render(resources, { Ref: 'StagingBucket' }),
    );
  });

  it('allows CORS from exactly the webOrigin parameter on both buckets', () => {
    for (const id of ['StagingBucket', 'VaultBucket']) {
      const props = template.Resources[id]?.Properties as { CorsConfiguration?: { CorsRules: object[] } };
      const cors = props?.CorsConfiguration?.CorsRules ?? [];
      expect(cors.length, id).toBeGreaterThan(0);
      for (const rule of cors) expect(rule, id).toMatchObject({ AllowedOrigins: [WEB_ORIGIN] });
    }
  });

  it('makes the stage a resource: throttled per method, execution logging off, JSON access logs without bodies, traced', () => {
    const stages = Object.values(template.Resources).filter((r) => r.Type === 'AWS::ApiGateway::Stage');
    expect(stages).toHaveLength(1);
    const stage = stages[0]?.Properties as {
      StageName: string;
      TracingEnabled: boolean;
      AccessLogSetting: { Format: string };
      MethodSettings: Record<string, unknown>[];
    };
    expect(stage.StageName).toBe('dev');
    expect(stage.TracingEnabled).toBe(true);
    const deployments = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::ApiGateway::Deployment',
    );
    expect(deployments.map((d) => d.Properties.StageName)).toEqual([undefined]);
    for (const m of stage.MethodSettings)
      expect(m).toMatchObject({ LoggingLevel: 'OFF', DataTraceEnabled: false });
    expect(stage.MethodSettings).toContainEqual(
      expect.objectContaining({
        HttpMethod: '*',
        ResourcePath: '/*',
        ThrottlingRateLimit: 100,
        ThrottlingBurstLimit: 200,
      }),
    );
    expect(stage.MethodSettings).toContainEqual(
      expect.objectContaining({
        HttpMethod: 'POST',
        ResourcePath: '/~1v1~1encrypt',
        ThrottlingRateLimit: 50,
      }),
    );
    const format = JSON.parse(stage.AccessLogSetting.Format) as Record<string, string>;
    expect(Object.values(format).some((v) => /body|requestOverride|header/i.test(v))).toBe(false);
    expect(format).toMatchObject({ status: '$context.status', userArn: '$context.identity.userArn' });
  });

  it('answers CORS preflights for the webOrigin parameter, and keeps the API functions under the 29 s integration timeout', () => {
    const options = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::ApiGateway::Method' && r.Properties.HttpMethod === 'OPTIONS',
    );
    expect(options.length).toBeGreaterThan(0);
    for (const o of options) {
      const params = JSON.stringify(o.Properties.Integration);
      expect(params).toContain(`'${WEB_ORIGIN}'`);
      expect(params).toContain('X-Amz-Security-Token');
    }
    for (const [id, r] of Object.entries(template.Resources).filter(
      ([, r]) => r.Type === 'AWS::Lambda::Function',
    )) {
      const p = r.Properties as { Timeout: number; ReservedConcurrentExecutions?: number };
      // Invoked asynchronously (the seal, the re-encryption worker) or by S3 Batch Operations
      // (rewrapbatch): no integration timeout, bounded concurrency instead.
      if (['SealLambdaFunction', 'ReencryptLambdaFunction', 'RewrapbatchLambdaFunction'].includes(id))
        expect(p.ReservedConcurrentExecutions, id).toBeGreaterThan(0);
      // The streamed read's method streams (ResponseTransferMode STREAM): up to 15 minutes.
      else if (id === 'StreamsLambdaFunction') {
        expect(p.Timeout, id).toBeLessThanOrEqual(900);
        const streamed = Object.values(template.Resources).filter(
          (m) =>
            m.Type === 'AWS::ApiGateway::Method' &&
            JSON.stringify(m.Properties.Integration ?? {}).includes('response-streaming-invocations'),
        );
        expect(streamed.length, id).toBeGreaterThan(0);
        for (const m of streamed)
          expect((m.Properties.Integration as { ResponseTransferMode?: string }).ResponseTransferMode).toBe(
            'STREAM',
          );
      } else expect(p.Timeout, id).toBeLessThan(29);
    }
  });

  it('bundles the seal handler (built on first use, so loading it needs no configuration)', () => {
    const dir = join(unpacked, 'seal', 'src', 'functions');
    const entry = readdirSync(dir).find((f) => f.startsWith('seal.') && f.endsWith('.js'));
    expect(entry).toBeDefined();
    const script = `process.stdout.write(typeof require(${JSON.stringify(join(dir, entry ?? ''))}).handler)`;
    return exec(process.execPath, ['-e', script], { env: { PATH: process.env.PATH } }).then(({ stdout }) =>
      expect(stdout).toBe('function'),
    );
  });
});
