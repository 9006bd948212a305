import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3EventRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_USER } from '../../src/identity.js';
import { AWS_CLI, type CliEnv, cliAvailable, runShell, runShellFailing } from '../helpers/aws-cli.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';

let t: TestS3;
let env: CliEnv;
const events: S3EventRecord[] = [];

beforeAll(async () => {
  t = await startTestS3({ onObjectCreated: (record) => void events.push(record) });
  env = { dataDir: t.dataDir, cwd: mkdtempSync(join(tmpdir(), 'eaas-s3-cli-')) };
});
afterAll(async () => {
  await t.stop();
  rmSync(env.cwd, { recursive: true, force: true });
});

describe.runIf(cliAvailable)('the local S3 through the real AWS CLI v2', () => {
  const aws = () => `${AWS_CLI} --profile ${KEY_USER} --endpoint-url ${t.s3.endpoint}`;

  it('cp of a 30 MB file up (multipart) and down, byte for byte', async () => {
    const data = randomBytes(30 * 1000 * 1000);
    writeFileSync(join(env.cwd, 'big.bin'), data);
    await runShell(`${aws()} s3 cp --only-show-errors big.bin 's3://eaas-staging/in coming/big.bin'`, env);
    await t.s3.notificationsDelivered();
    const created = events.find((e) => e.s3.object.key === 'in+coming/big.bin');
    // The CLI splits anything over 8 MB into parts.
    expect(created).toMatchObject({
      eventName: 'ObjectCreated:CompleteMultipartUpload',
      s3: { object: { size: data.length } },
    });
    expect(created?.s3.object.eTag).toMatch(/-4$/);

    await runShell(`${aws()} s3 cp --only-show-errors 's3://eaas-staging/in coming/big.bin' down.bin`, env);
    expect(readFileSync(join(env.cwd, 'down.bin')).equals(data)).toBe(true);
  });

  it('ls lists buckets and keys', async () => {
    writeFileSync(join(env.cwd, 'small.txt'), 'small\n');
    await runShell(`${aws()} s3 cp --only-show-errors small.txt s3://eaas-vault/docs/small.txt`, env);
    const buckets = await runShell(`${aws()} s3 ls`, env);
    expect(buckets.stdout).toMatch(/eaas-staging\n.*eaas-vault/);
    const keys = await runShell(`${aws()} s3 ls s3://eaas-vault/docs/`, env);
    expect(keys.stdout).toMatch(/\s6 small\.txt/);
    const top = await runShell(`${aws()} s3 ls s3://eaas-vault/`, env);
    expect(top.stdout).toContain('PRE docs/');
  });

  it('presign gives a URL that fetch can read until it expires', async () => {
    writeFileSync(join(env.cwd, 'shared.txt'), 'shared through a presigned URL');
    await runShell(`${aws()} s3 cp --only-show-errors shared.txt s3://eaas-vault/shared.txt`, env);
    const url = (
      await runShell(`${aws()} s3 presign s3://eaas-vault/shared.txt --expires-in 60`, env)
    ).stdout.trim();
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('shared through a presigned URL');
  });

  it('s3api copy-object with a wrong --copy-source-if-match fails with PreconditionFailed and changes nothing', async () => {
    writeFileSync(join(env.cwd, 'doc.txt'), 'document');
    await runShell(
      `${aws()} s3api put-object --bucket eaas-vault --key doc.txt --body doc.txt --metadata v=1`,
      env,
    );
    const stderr = await runShellFailing(
      `${aws()} s3api copy-object --bucket eaas-vault --key doc.txt --copy-source eaas-vault/doc.txt --metadata-directive REPLACE --metadata v=2 --copy-source-if-match '"00000000000000000000000000000000"'`,
      env,
    );
    expect(stderr).toContain('An error occurred (PreconditionFailed) when calling the CopyObject operation');
    const head = JSON.parse(
      (await runShell(`${aws()} s3api head-object --bucket eaas-vault --key doc.txt`, env)).stdout,
    ) as {
      ETag: string;
      Metadata: Record<string, string>;
    };
    expect(head.Metadata).toEqual({ v: '1' });

    // With the right ETag it rewrites the metadata in place and keeps the ETag.
    const copied = await runShell(
      `${aws()} s3api copy-object --bucket eaas-vault --key doc.txt --copy-source eaas-vault/doc.txt --metadata-directive REPLACE --metadata v=2 --copy-source-if-match '${head.ETag}'`,
      env,
    );
    expect(JSON.parse(copied.stdout)).toMatchObject({ CopyObjectResult: { ETag: head.ETag } });
  });

  it('s3api put-, get-, list- and delete-bucket-inventory-configuration', async () => {
    const config = {
      Id: 'cli',
      IsEnabled: true,
      Destination: {
        S3BucketDestination: { Bucket: 'arn:aws:s3:::eaas-staging', Format: 'CSV', Prefix: 'inv' },
      },
      Filter: { Prefix: 'docs/' },
      IncludedObjectVersions: 'Current',
      OptionalFields: ['Size', 'LastModifiedDate'],
      Schedule: { Frequency: 'Weekly' },
    };
    writeFileSync(join(env.cwd, 'inventory.json'), JSON.stringify(config));
    const bucket = '--bucket eaas-vault --id cli';
    await runShell(
      `${aws()} s3api put-bucket-inventory-configuration ${bucket} --inventory-configuration file://inventory.json`,
      env,
    );
    const got = await runShell(`${aws()} s3api get-bucket-inventory-configuration ${bucket}`, env);
    expect(JSON.parse(got.stdout)).toEqual({ InventoryConfiguration: config });
    const listed = await runShell(
      `${aws()} s3api list-bucket-inventory-configurations --bucket eaas-vault`,
      env,
    );
    expect(JSON.parse(listed.stdout)).toMatchObject({
      IsTruncated: false,
      InventoryConfigurationList: [config],
    });
    await runShell(`${aws()} s3api delete-bucket-inventory-configuration ${bucket}`, env);
    const gone = await runShellFailing(`${aws()} s3api get-bucket-inventory-configuration ${bucket}`, env);
    expect(gone).toContain('NoSuchConfiguration');
  });

  it('a wrong secret is SignatureDoesNotMatch', async () => {
    const creds = readFileSync(join(t.dataDir, 'credentials'), 'utf8');
    const forged = join(env.cwd, 'forged-credentials');
    writeFileSync(
      forged,
      creds.replace(/aws_secret_access_key = .*/g, 'aws_secret_access_key = wrongwrongwrongwrongwrongwrong'),
    );
    const stderr = await runShellFailing(
      `AWS_SHARED_CREDENTIALS_FILE=${forged} ${aws()} s3 ls s3://eaas-vault/`,
      env,
    );
    expect(stderr).toContain('SignatureDoesNotMatch');
  });
});
