import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, ROUTES } from '../../src/http/routes.js';
import { SERVICE } from '../../src/local/identity.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';

const exec = promisify(execFile);
let t: TestKms;
let unpacked: string;

interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
}

beforeAll(async () => {
  await exec('npm', ['run', 'package'], { timeout: 120_000 });
  t = await startTestKms();
  unpacked = mkdtempSync(join(tmpdir(), 'eaas-bundle-'));
  for (const fn of Object.keys(FUNCTIONS)) {
    await exec('unzip', ['-q', '-o', join('.serverless', `${fn}.zip`), '-d', join(unpacked, fn)]);
  }
}, 180_000);
afterAll(async () => {
  await t?.stop();
  rmSync(unpacked, { recursive: true, force: true });
});

describe('npm run package (osls, offline)', () => {
  it('produces a CloudFormation template with every route behind AWS_IAM', () => {
    const template = JSON.parse(
      readFileSync('.serverless/cloudformation-template-update-stack.json', 'utf8'),
    ) as Template;
    const methods = Object.values(template.Resources).filter((r) => r.Type === 'AWS::ApiGateway::Method');
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
      const entry = readdirSync(join(dir, 'src', 'handlers')).find(
        (f) => f.startsWith(`${fn}.`) && f.endsWith('.js'),
      );
      expect(entry).toBeDefined();
      const service = t.principal(SERVICE);
      const script = `
      const { handler } = require(${JSON.stringify(join(dir, 'src', 'handlers', entry ?? ''))});
      const event = require(${JSON.stringify(join(process.cwd(), 'events', `${event}.json`))});
      handler(event, { awsRequestId: 'bundle-test', getRemainingTimeInMillis: () => 29000 })
        .then((r) => process.stdout.write(JSON.stringify(r)));
    `;
      const { stdout } = await exec(process.execPath, ['-e', script], {
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: service.accessKeyId,
          AWS_SECRET_ACCESS_KEY: service.secretAccessKey,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          EAAS_KMS_ENDPOINT: t.kms.endpoint,
          POWERTOOLS_LOG_LEVEL: 'ERROR',
        },
        timeout: 30_000,
      });
      const result = JSON.parse(stdout) as { statusCode: number; body: string };
      expect(result.statusCode, result.body).toBe(status);
    },
  );
});
