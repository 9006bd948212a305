import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_MANAGER, KEY_USER } from '../../src/identity.js';
import { AWS_CLI, type CliEnv, cliAvailable, runShell, runShellFailing } from '../helpers/aws-cli.js';
import { externalKey } from '../helpers/import.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';

/**
 * The AWS documentation's procedure for importing key material, step by step, with the real AWS
 * CLI v2 and OpenSSL against the local KMS:
 * https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-conceptual.html
 * (create a key with no key material, download the wrapping public key and import token, encrypt
 * the key material, import it), then use the key, delete the material and reimport it.
 */

let t: TestKms;
let env: CliEnv;

beforeAll(async () => {
  t = await startTestKms();
  env = { dataDir: t.dataDir, cwd: mkdtempSync(join(tmpdir(), 'eaas-import-cli-')) };
  writeFileSync(join(env.cwd, 'policy.json'), externalKey(t).Policy ?? '');
  writeFileSync(join(env.cwd, 'secret.txt'), 'protected by my own key\n');
});
afterAll(async () => {
  await t.stop();
  rmSync(env.cwd, { recursive: true, force: true });
});

describe.runIf(cliAvailable)('importing key material with the AWS CLI and OpenSSL', () => {
  const aws = (profile: string) => `${AWS_CLI} --profile ${profile} --endpoint-url ${t.kms.endpoint} kms`;

  /** Step 2: the wrapping public key and import token, as the docs save them (base64-decoded). */
  const getParameters = (keyId: string, algorithm: string, spec: string) =>
    runShell(
      [
        `${aws(KEY_MANAGER)} get-parameters-for-import --key-id ${keyId} --wrapping-algorithm ${algorithm} --wrapping-key-spec ${spec} --query '[PublicKey,ImportToken]' --output text > params.txt`,
        'cut -f1 params.txt | base64 --decode > WrappingPublicKey.bin',
        'cut -f2 params.txt | base64 --decode > ImportToken.bin',
      ].join(' && '),
      env,
    );

  it('RSAES_OAEP_SHA_256 with RSA_2048: import, encrypt and decrypt, delete (decrypt fails), reimport (decrypts again)', async () => {
    // Step 1: a symmetric encryption key with no key material.
    const created = await runShell(
      `${aws(KEY_MANAGER)} create-key --origin EXTERNAL --policy file://policy.json --description 'imported key material'`,
      env,
    );
    const md = (
      JSON.parse(created.stdout) as { KeyMetadata: { KeyId: string; Origin: string; KeyState: string } }
    ).KeyMetadata;
    expect(md).toMatchObject({ Origin: 'EXTERNAL', KeyState: 'PendingImport' });
    const keyId = md.KeyId;

    // Step 2: download the wrapping public key and import token.
    await getParameters(keyId, 'RSAES_OAEP_SHA_256', 'RSA_2048');
    // Step 3: 256 bits of key material, encrypted under the wrapping public key (RSAES_OAEP_SHA_256).
    await runShell(
      [
        'openssl rand -out PlaintextKeyMaterial.bin 32',
        'openssl pkeyutl -encrypt -in PlaintextKeyMaterial.bin -out EncryptedKeyMaterial.bin -inkey WrappingPublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256',
      ].join(' && '),
      env,
    );
    // Step 4: import the key material.
    await runShell(
      `${aws(KEY_MANAGER)} import-key-material --key-id ${keyId} --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE`,
      env,
    );
    const described = await runShell(`${aws(KEY_MANAGER)} describe-key --key-id ${keyId}`, env);
    expect(JSON.parse(described.stdout)).toMatchObject({
      KeyMetadata: {
        KeyState: 'Enabled',
        Origin: 'EXTERNAL',
        ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
      },
    });

    // Use the key.
    await runShell(
      `${aws(KEY_USER)} encrypt --key-id ${keyId} --plaintext fileb://secret.txt --output text --query CiphertextBlob | base64 --decode > secret.enc`,
      env,
    );
    const decrypt = `${aws(KEY_USER)} decrypt --ciphertext-blob fileb://secret.enc --output text --query Plaintext | base64 --decode`;
    expect((await runShell(decrypt, env)).stdout).toBe('protected by my own key\n');

    // Delete the key material: the key is PendingImport and decrypting fails.
    await runShell(`${aws(KEY_MANAGER)} delete-imported-key-material --key-id ${keyId}`, env);
    const state = await runShell(
      `${aws(KEY_MANAGER)} describe-key --key-id ${keyId} --query KeyMetadata.KeyState --output text`,
      env,
    );
    expect(state.stdout.trim()).toBe('PendingImport');
    expect(await runShellFailing(decrypt, env)).toContain(
      'An error occurred (KMSInvalidStateException) when calling the Decrypt operation',
    );

    // Reimport the same material with new parameters: the old ciphertext decrypts again.
    await getParameters(keyId, 'RSAES_OAEP_SHA_256', 'RSA_2048');
    await runShell(
      [
        'openssl pkeyutl -encrypt -in PlaintextKeyMaterial.bin -out EncryptedKeyMaterial.bin -inkey WrappingPublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256',
        `${aws(KEY_MANAGER)} import-key-material --key-id ${keyId} --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE`,
      ].join(' && '),
      env,
    );
    expect((await runShell(decrypt, env)).stdout).toBe('protected by my own key\n');

    // Different material is refused.
    await getParameters(keyId, 'RSAES_OAEP_SHA_256', 'RSA_2048');
    const different = await runShellFailing(
      [
        'openssl rand -out Other.bin 32',
        'openssl pkeyutl -encrypt -in Other.bin -out EncryptedOther.bin -inkey WrappingPublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256',
        `${aws(KEY_MANAGER)} import-key-material --key-id ${keyId} --encrypted-key-material fileb://EncryptedOther.bin --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE`,
      ].join(' && '),
      env,
    );
    expect(different).toContain('An error occurred (IncorrectKeyMaterialException)');
  });

  it('RSA_AES_KEY_WRAP_SHA_256 with RSA_4096, wrapped with openssl enc -id-aes256-wrap-pad', async () => {
    const created = await runShell(
      `${aws(KEY_MANAGER)} create-key --origin EXTERNAL --policy file://policy.json --query KeyMetadata.KeyId --output text`,
      env,
    );
    const keyId = created.stdout.trim();
    await getParameters(keyId, 'RSA_AES_KEY_WRAP_SHA_256', 'RSA_4096');
    // As the docs do it: an AES key wraps the material (RFC 5649, IV A65959A6), RSA-OAEP SHA-256
    // wraps the AES key, and the two are concatenated.
    await runShell(
      [
        'openssl rand -out PlaintextKeyMaterial2.bin 32',
        'openssl rand -out aes-key.bin 32',
        'openssl enc -id-aes256-wrap-pad -K "$(xxd -p < aes-key.bin | tr -d \'\\n\')" -iv A65959A6 -in PlaintextKeyMaterial2.bin -out key-material-wrapped.bin',
        'openssl pkeyutl -encrypt -in aes-key.bin -out aes-key-wrapped.bin -inkey WrappingPublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256',
        'cat aes-key-wrapped.bin key-material-wrapped.bin > EncryptedKeyMaterial2.bin',
        `${aws(KEY_MANAGER)} import-key-material --key-id ${keyId} --encrypted-key-material fileb://EncryptedKeyMaterial2.bin --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE`,
      ].join(' && '),
      env,
    );
    const roundTrip = await runShell(
      [
        `${aws(KEY_USER)} encrypt --key-id ${keyId} --plaintext fileb://secret.txt --output text --query CiphertextBlob | base64 --decode > secret2.enc`,
        `${aws(KEY_USER)} decrypt --ciphertext-blob fileb://secret2.enc --output text --query Plaintext | base64 --decode`,
      ].join(' && '),
      env,
    );
    expect(roundTrip.stdout).toBe('protected by my own key\n');
  });
});
