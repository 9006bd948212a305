import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetKeyPolicyCommand, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, jsonOf, runCli } from '../helpers/cli-keys-run.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * `eaas keys ...` and `eaas jobs ...` as processes against the local stack: a key's life from the
 * command line, a re-encryption job started, watched to its end and listed, and every exit code a
 * real run gives, each with its error on standard error and nothing on standard output.
 */

let t: TestStack;
const dir = mkdtempSync(join(tmpdir(), 'eaas-cli-keys-'));
const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;
const eaas = (as: string, ...args: string[]) => runCli(t, ['--output', 'json', ...args], { as });

/** A failed run: its exit code, the error (with the API's code) on stderr, nothing on stdout. */
function failed(run: CliRun, code: number, error?: RegExp) {
  expect(run.stdout, run.stderr).toBe('');
  expect(run.code, run.stderr).toBe(code);
  expect(run.stderr).toMatch(/^eaas: |error: /);
  if (error) expect(run.stderr).toMatch(error);
}

interface KeyOut {
  key: { keyId: string; arn: string; state: string; aliases?: string[] };
}

beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.stop());

describe.concurrent('eaas keys', () => {
  it('creates, describes, lists, disables, enables, rotates and schedules the deletion of a key', async () => {
    const created = jsonOf<KeyOut & { administrators: string[] }>(
      await eaas(
        KEY_MANAGER,
        'keys',
        'create',
        '--description',
        'cli test',
        '--user',
        arn(KEY_USER),
        '--alias',
        'alias/cli-life',
        '--tag',
        'team=cli',
      ),
    );
    const id = created.key.keyId;
    expect(created.key.state).toBe('Enabled');
    expect(created.administrators).toContain(arn(KEY_MANAGER));

    const described = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'describe', 'alias/cli-life'));
    expect(described.key.keyId).toBe(id);
    expect(described.key.aliases).toContain('alias/cli-life');

    const listed = jsonOf<{ keys: { keyId: string }[] }>(
      await eaas(KEY_MANAGER, 'keys', 'list', '--limit', '100'),
    );
    expect(listed.keys.map((k) => k.keyId)).toContain(id);
    // Text output: a table with a header line.
    const text = await runCli(t, ['--output', 'text', 'keys', 'list'], { as: KEY_MANAGER });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.split('\n')[0]).toMatch(/^KEYID\s+STATE\s+KEYSPEC/);
    expect(text.stdout).toContain(id);

    expect(jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'disable', id)).key.state).toBe('Disabled');
    expect(jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'enable', id)).key.state).toBe('Enabled');

    const rotation = jsonOf<{ enabled: boolean; periodInDays: number }>(
      await eaas(KEY_MANAGER, 'keys', 'rotation', 'enable', id, '--period', '180'),
    );
    expect(rotation).toMatchObject({ enabled: true, periodInDays: 180 });
    expect(jsonOf(await eaas(KEY_MANAGER, 'keys', 'rotation', 'show', id))).toMatchObject({ enabled: true });
    expect(jsonOf(await eaas(KEY_MANAGER, 'keys', 'rotation', 'disable', id))).toMatchObject({
      enabled: false,
    });
    expect(jsonOf(await eaas(KEY_MANAGER, 'keys', 'rotate', id))).toMatchObject({
      keyId: expect.any(String),
    });
    const rotations = jsonOf<{ rotations: unknown[] }>(await eaas(KEY_MANAGER, 'keys', 'rotations', id));
    expect(rotations.rotations.length).toBeGreaterThanOrEqual(1);

    const scheduled = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'schedule-deletion', id, '--days', '7'));
    expect(scheduled.key.state).toBe('PendingDeletion');
    expect(jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'cancel-deletion', id)).key.state).toBe('Disabled');
  });

  it('reads and sets a policy from a file, and creates, lists and revokes grants', async () => {
    const { key } = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'create'));
    const file = join(dir, 'policy.json');
    writeFileSync(
      file,
      JSON.stringify({ administrators: [arn(KEY_MANAGER)], users: [arn(KEY_USER), arn(GRANTEE)] }),
    );
    const put = jsonOf<{ users: string[] }>(
      await eaas(KEY_MANAGER, 'keys', 'policy', 'put', key.keyId, '--file', file),
    );
    expect(put.users).toEqual(expect.arrayContaining([arn(KEY_USER), arn(GRANTEE)]));
    const got = jsonOf<{ users: string[]; policy: unknown }>(
      await eaas(KEY_MANAGER, 'keys', 'policy', 'get', key.keyId),
    );
    expect(got.users).toContain(arn(GRANTEE));
    expect(got.policy).toBeDefined();

    const grant = jsonOf<{ grantId: string }>(
      await eaas(
        KEY_MANAGER,
        'keys',
        'grants',
        'create',
        key.keyId,
        '--grantee',
        arn(OUTSIDER),
        '--operation',
        'Encrypt',
        '--operation',
        'Decrypt',
        '--context-subset',
        'tenant=acme',
      ),
    );
    const grants = jsonOf<{ grants: { grantId: string; operations: string[] }[] }>(
      await eaas(KEY_MANAGER, 'keys', 'grants', 'list', key.keyId),
    );
    expect(grants.grants.find((g) => g.grantId === grant.grantId)?.operations.sort()).toEqual([
      'Decrypt',
      'Encrypt',
    ]);
    expect(
      jsonOf(await eaas(KEY_MANAGER, 'keys', 'grants', 'revoke', key.keyId, grant.grantId)),
    ).toMatchObject({
      revoked: true,
    });
    const after = jsonOf<{ grants: { grantId: string }[] }>(
      await eaas(KEY_MANAGER, 'keys', 'grants', 'list', key.keyId),
    );
    expect(after.grants.map((g) => g.grantId)).not.toContain(grant.grantId);
  });

  it('puts, lists and deletes aliases', async () => {
    const { key } = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'create'));
    expect(
      jsonOf(await eaas(KEY_MANAGER, 'keys', 'aliases', 'put', 'alias/cli-alias', key.keyId)),
    ).toMatchObject({
      alias: 'alias/cli-alias',
    });
    const listed = jsonOf<{ aliases: { name: string }[] }>(
      await eaas(KEY_MANAGER, 'keys', 'aliases', 'list', '--key', key.keyId),
    );
    expect(listed.aliases.map((a) => a.name)).toEqual(['alias/cli-alias']);
    expect(jsonOf(await eaas(KEY_MANAGER, 'keys', 'aliases', 'delete', 'alias/cli-alias'))).toMatchObject({
      deleted: true,
    });
  });

  it('imports material from a file into an EXTERNAL key, and prints an asymmetric public key as PEM', async () => {
    const { key } = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'create', '--origin', 'EXTERNAL'));
    expect(key.state).toBe('PendingImport');
    const material = join(dir, 'material.bin');
    writeFileSync(material, randomBytes(32));
    const imported = jsonOf<KeyOut>(
      await eaas(KEY_MANAGER, 'keys', 'import', key.keyId, '--material', material),
    );
    expect(imported.key.state).toBe('Enabled');

    const signing = jsonOf<KeyOut>(
      await eaas(
        KEY_MANAGER,
        'keys',
        'create',
        '--key-spec',
        'ECC_NIST_P256',
        '--key-usage',
        'SIGN_VERIFY',
        '--user',
        arn(KEY_USER),
      ),
    );
    // Its users read the public key (administrators do not use keys).
    const pem = await runCli(t, ['--output', 'text', 'keys', 'public-key', signing.key.keyId], {
      as: KEY_USER,
    });
    expect(pem.code, pem.stderr).toBe(0);
    expect(pem.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    const json = jsonOf<{ publicKey: string }>(await eaas(KEY_USER, 'keys', 'public-key', signing.key.keyId));
    expect(Buffer.from(json.publicKey, 'base64').length).toBeGreaterThan(50);
    const out = join(dir, 'public.pem');
    const written = await eaas(KEY_USER, 'keys', 'public-key', signing.key.keyId, '--out', out);
    expect(written.code, written.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(pem.stdout);
  });
});

describe('eaas keys policy upgrade', () => {
  /** Writes a key's policy straight in KMS: the one the service wrote, naming one service role fewer. */
  async function asAnEarlierDeploymentWroteIt(keyId: string): Promise<void> {
    const kms = t.kms(KEY_MANAGER);
    const { Policy } = await kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }));
    const doc = JSON.parse(Policy ?? '{}') as {
      Statement: { Sid?: string; Condition?: { ArnEquals?: Record<string, string[]> } }[];
    };
    const service = doc.Statement.find((st) => st.Sid === 'Allow use by the encryption service');
    const roles = service?.Condition?.ArnEquals?.['aws:PrincipalArn'];
    if (!roles || roles.length < 2) throw new Error('no service roles in the policy');
    roles.pop();
    await kms.send(
      new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: JSON.stringify(doc) }),
    );
  }

  it("puts again the policies an earlier deployment wrote, says what it would do first, and leaves others' own", async () => {
    const old = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'create')).key.keyId;
    const current = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'create')).key.keyId;
    const custom = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'create')).key.keyId;
    await asAnEarlierDeploymentWroteIt(old);
    // Someone's own document: the service's, with one more statement.
    const mine = jsonOf<{ policy: { Statement: unknown[] } }>(
      await eaas(KEY_MANAGER, 'keys', 'policy', 'get', custom),
    ).policy;
    mine.Statement.push({
      Sid: 'Our auditors read it',
      Effect: 'Allow',
      Principal: { AWS: arn(OUTSIDER) },
      Action: 'kms:DescribeKey',
      Resource: '*',
    });
    const file = join(dir, 'custom-policy.json');
    writeFileSync(file, JSON.stringify(mine));
    await eaas(KEY_MANAGER, 'keys', 'policy', 'put', custom, '--file', file);
    const policyOf = async (keyId: string) =>
      jsonOf<{ managed: boolean; outdated: boolean; users: string[] }>(
        await eaas(KEY_MANAGER, 'keys', 'policy', 'get', keyId),
      );
    expect(await policyOf(old)).toMatchObject({ managed: false, outdated: true, users: [] });
    expect(await policyOf(custom)).toMatchObject({ managed: false, outdated: false });

    const plan = jsonOf<{ keys: { keyId: string; result: string }[] }>(
      await eaas(KEY_MANAGER, 'keys', 'policy', 'upgrade', old, current, custom, '--dry-run'),
    );
    expect(plan.keys.map((k) => k.result)).toEqual(['would upgrade', 'current', 'custom']);
    expect(await policyOf(old)).toMatchObject({ managed: false, outdated: true });

    const done = jsonOf<{ keys: { keyId: string; result: string }[] }>(
      await eaas(KEY_MANAGER, 'keys', 'policy', 'upgrade', '--all'),
    );
    const resultOf = (keyId: string) => done.keys.find((k) => k.keyId === keyId)?.result;
    expect([resultOf(old), resultOf(current), resultOf(custom)]).toEqual(['upgraded', 'current', 'custom']);
    expect(await policyOf(old)).toMatchObject({ managed: true, outdated: false });
    expect((await policyOf(custom)).managed).toBe(false);
  });

  it('refuses a key it may not administer (exit 4, the table still printed), and a wrong invocation (exit 2)', async () => {
    const key = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'create')).key.keyId;
    const run = await eaas(KEY_USER, 'keys', 'policy', 'upgrade', key);
    expect(run.code, run.stderr).toBe(4);
    expect((JSON.parse(run.stdout) as { keys: { result: string }[] }).keys.map((k) => k.result)).toEqual([
      'refused',
    ]);
    expect(run.stderr).toMatch(/UpgradeIncomplete/);
    failed(await eaas(KEY_MANAGER, 'keys', 'policy', 'upgrade'), 2, /--all/);
    failed(await eaas(KEY_MANAGER, 'keys', 'policy', 'upgrade', key, '--all'), 2, /not both/);
  });
});

describe('eaas jobs', () => {
  it('starts a job, watches it to its end (exit 0), and lists it for its starter only', async () => {
    const source = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'create')).key.arn;
    const destination = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'create')).key.arn;
    const job = jsonOf<{ id: string; state: string }>(
      await eaas(
        KEY_MANAGER,
        'jobs',
        'start',
        '--source',
        source,
        '--destination',
        destination,
        '--prefix',
        'cli/',
      ),
    );
    expect(job.id).toMatch(/^[0-9a-f-]{36}$/);
    const watched = await eaas(KEY_MANAGER, 'jobs', 'watch', job.id, '--interval', '0.5');
    expect(watched.code, watched.stderr).toBe(0);
    expect(JSON.parse(watched.stdout)).toMatchObject({ id: job.id, state: 'succeeded' });
    expect(jsonOf(await eaas(KEY_MANAGER, 'jobs', 'status', job.id))).toMatchObject({ state: 'succeeded' });

    const second = jsonOf<{ id: string }>(
      await eaas(
        KEY_MANAGER,
        'jobs',
        'start',
        '--older-than-rotation',
        '--destination',
        destination,
        '--dry-run',
        '--watch',
        '--interval',
        '0.5',
      ),
    );
    const listed = jsonOf<{ jobs: { id: string }[]; nextToken?: string }>(
      await eaas(KEY_MANAGER, 'jobs', 'list'),
    );
    expect(listed.jobs.map((j) => j.id)).toEqual([second.id, job.id]);
    const page = jsonOf<{ jobs: { id: string }[]; nextToken?: string }>(
      await eaas(KEY_MANAGER, 'jobs', 'list', '--limit', '1'),
    );
    expect(page.jobs.map((j) => j.id)).toEqual([second.id]);
    expect(page.nextToken).toBeDefined();
    const next = jsonOf<{ jobs: { id: string }[] }>(
      await eaas(KEY_MANAGER, 'jobs', 'list', '--limit', '1', '--next-token', page.nextToken ?? ''),
    );
    expect(next.jobs.map((j) => j.id)).toEqual([job.id]);
    // Another caller: none of them, and its token refused.
    const others = jsonOf<{ jobs: unknown[]; nextToken?: string }>(await eaas(OUTSIDER, 'jobs', 'list'));
    expect(others.jobs).toEqual([]);
    expect(others.nextToken).toBeUndefined();
    failed(await eaas(OUTSIDER, 'jobs', 'list', '--next-token', page.nextToken ?? ''), 2, /InvalidPageToken/);
  });
});

describe.concurrent('exit codes of real runs: the error on stderr, nothing on stdout', () => {
  it('2: a wrong command line, and a request the API refuses as invalid (400)', async () => {
    failed(await eaas(KEY_MANAGER, 'keys', 'list', '--bogus'), 2, /unknown option '--bogus'/);
    failed(await eaas(KEY_MANAGER, 'keys', 'describe'), 2, /missing required argument/);
    const { key } = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'create'));
    failed(
      await eaas(
        KEY_MANAGER,
        'keys',
        'grants',
        'create',
        key.keyId,
        '--grantee',
        'not-an-arn',
        '--operation',
        'Encrypt',
      ),
      2,
      /^eaas: ValidationError: /,
    );
  });

  it('3: a wrong secret, and no credentials at all', async () => {
    failed(
      await runCli(t, ['keys', 'list'], {
        as: KEY_MANAGER,
        env: { AWS_SECRET_ACCESS_KEY: 'wrong'.repeat(8) },
      }),
      3,
      /SignatureDoesNotMatch|InvalidSignatureException/,
    );
    failed(await runCli(t, ['keys', 'list']), 3, /NoCredentials|Could not load credentials/);
  });

  it('4: access denied, 5: an unknown key or job, 6: an existing alias and a disabled key', async () => {
    const { key } = jsonOf<KeyOut>(await eaas(KEY_MANAGER, 'keys', 'create', '--user', arn(KEY_USER)));
    failed(await eaas(KEY_USER, 'keys', 'disable', key.keyId), 4, /AccessDenied/);
    // A key the caller may not describe is refused alike whether it exists or not (403, not an
    // oracle of key ids), so 5 comes from a job id that names no job.
    failed(
      await eaas(KEY_MANAGER, 'keys', 'describe', '0bad0bad-0000-4000-8000-000000000000'),
      4,
      /AccessDenied/,
    );
    failed(await eaas(KEY_MANAGER, 'jobs', 'status', '0bad0bad-0000-4000-8000-000000000000'), 5, /NotFound/);
    jsonOf(await eaas(KEY_MANAGER, 'keys', 'create', '--alias', 'alias/cli-taken'));
    failed(await eaas(KEY_MANAGER, 'keys', 'create', '--alias', 'alias/cli-taken'), 6);
    jsonOf(await eaas(KEY_MANAGER, 'keys', 'disable', key.keyId));
    failed(
      await eaas(KEY_MANAGER, 'jobs', 'start', '--older-than-rotation', '--destination', key.keyId),
      6,
      /KeyDisabled|Disabled/,
    );
  });

  it('1: an endpoint nothing answers at', async () => {
    failed(
      await runCli(t, ['--endpoint', 'http://127.0.0.1:9', 'keys', 'list'], { as: KEY_MANAGER }),
      1,
      /Unreachable/,
    );
  });
});

describe('throttled (7): the gateway throttles a method as API Gateway does', () => {
  let throttled: TestStack;
  beforeAll(async () => {
    throttled = await startTestStack({
      api: { methodThrottles: { 'GET /v1/keys': { rate: 0.001, burst: 0 } } },
    });
  });
  afterAll(() => throttled.stop());

  it('exits 7 with TooManyRequestsException on stderr', async () => {
    failed(await runCli(throttled, ['keys', 'list'], { as: KEY_MANAGER }), 7, /TooManyRequestsException/);
  });
});
