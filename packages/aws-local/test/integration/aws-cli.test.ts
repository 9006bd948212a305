import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_MANAGER, KEY_USER } from '../../src/identity.js';
import { AWS_CLI, type CliEnv, cliAvailable, runShell, runShellFailing } from '../helpers/aws-cli.js';
import { demoKey } from '../helpers/keys.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';

let t: TestKms;
let env: CliEnv;
let key2: string;

beforeAll(async () => {
  t = await startTestKms();
  env = { dataDir: t.dataDir, cwd: mkdtempSync(join(tmpdir(), 'eaas-cli-')) };
  writeFileSync(join(env.cwd, 'secret.txt'), 'my database password\n');
  // The seed's key policy: myKeyManager administers the key, myKeyUser uses it.
  writeFileSync(join(env.cwd, 'policy.json'), demoKey(t).Policy ?? '');
  const created = await runShell(
    `${AWS_CLI} --profile ${KEY_MANAGER} --endpoint-url ${t.kms.endpoint} kms create-key --description 'second key' --policy file://policy.json`,
    env,
  );
  key2 = (JSON.parse(created.stdout) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
});
afterAll(async () => {
  await t.stop();
  rmSync(env.cwd, { recursive: true, force: true });
});

describe.runIf(cliAvailable)('the seed demo through the real AWS CLI v2', () => {
  const aws = (profile: string) => `${AWS_CLI} --profile ${profile} --endpoint-url ${t.kms.endpoint}`;

  it('encrypt, decrypt, re-encrypt, enable rotation, rotation status, generate a data key', async () => {
    const user = aws(KEY_USER);
    const K = 'alias/eaas-default';
    await runShell(
      `${user} kms encrypt --key-id ${K} --plaintext fileb://secret.txt --output text --query CiphertextBlob | base64 --decode > encryptedsecret.txt`,
      env,
    );
    expect(
      readFileSync(join(env.cwd, 'encryptedsecret.txt')).includes(Buffer.from('my database password')),
    ).toBe(false);

    const dec = await runShell(
      `${user} kms decrypt --ciphertext-blob fileb://encryptedsecret.txt --output text --query Plaintext | base64 --decode`,
      env,
    );
    expect(dec.stdout).toBe('my database password\n');

    const re = await runShell(
      `${user} kms re-encrypt --destination-key-id ${key2} --ciphertext-blob fileb://encryptedsecret.txt`,
      env,
    );
    const reOut = JSON.parse(re.stdout) as { CiphertextBlob: string; KeyId: string; SourceKeyId: string };
    expect(reOut.KeyId).toBe(`arn:aws:kms:us-east-1:111122223333:key/${key2}`);
    expect(reOut).not.toHaveProperty('Plaintext');
    writeFileSync(join(env.cwd, 'reencrypted.bin'), Buffer.from(reOut.CiphertextBlob, 'base64'));
    const dec2 = await runShell(
      `${user} kms decrypt --ciphertext-blob fileb://reencrypted.bin --output text --query Plaintext | base64 --decode`,
      env,
    );
    expect(dec2.stdout).toBe('my database password\n');

    const manager = aws(KEY_MANAGER);
    // The administrator cannot use the key; the user cannot administer it.
    const denied = await runShellFailing(
      `${manager} kms encrypt --key-id ${key2} --plaintext fileb://secret.txt`,
      env,
    );
    expect(denied).toContain('An error occurred (AccessDeniedException) when calling the Encrypt operation');
    expect(denied).toContain(`user/${KEY_MANAGER} is not authorized to perform: kms:Encrypt`);
    expect(await runShellFailing(`${user} kms enable-key-rotation --key-id ${key2}`, env)).toContain(
      'An error occurred (AccessDeniedException) when calling the EnableKeyRotation operation',
    );
    await runShell(`${manager} kms enable-key-rotation --key-id ${key2}`, env);
    const status = await runShell(`${manager} kms get-key-rotation-status --key-id ${key2}`, env);
    // Debian's CLI 2.9 predates RotationPeriodInDays and drops it from its output; the SDK tests check the period.
    expect(JSON.parse(status.stdout)).toMatchObject({ KeyRotationEnabled: true });

    const dk = await runShell(`${user} kms generate-data-key --key-id ${K} --key-spec AES_256`, env);
    const dkOut = JSON.parse(dk.stdout) as { Plaintext: string; CiphertextBlob: string; KeyId: string };
    expect(Buffer.from(dkOut.Plaintext, 'base64')).toHaveLength(32);
    expect(dkOut.CiphertextBlob.length).toBeGreaterThan(0);
  });

  it('shows KMS errors as the CLI shows AWS errors', async () => {
    const stderr = await runShellFailing(`${aws(KEY_USER)} kms describe-key --key-id alias/missing`, env);
    expect(stderr).toContain('An error occurred (NotFoundException) when calling the DescribeKey operation');
  });

  it('a profile with a wrong secret is refused with InvalidSignatureException', async () => {
    const creds = readFileSync(join(t.dataDir, 'credentials'), 'utf8');
    const forged = join(env.cwd, 'forged-credentials');
    writeFileSync(
      forged,
      creds.replace(
        /aws_secret_access_key = .*/g,
        'aws_secret_access_key = wrongwrongwrongwrongwrongwrongwrongwrong',
      ),
    );
    const stderr = await runShellFailing(
      `AWS_SHARED_CREDENTIALS_FILE=${forged} ${aws(KEY_USER)} kms list-keys`,
      env,
    );
    expect(stderr).toContain('InvalidSignatureException');
  });
});
