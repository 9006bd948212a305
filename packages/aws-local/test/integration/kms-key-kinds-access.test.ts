import { randomBytes } from 'node:crypto';
import {
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DecryptCommand,
  EncryptCommand,
  type KMSClient,
  ReEncryptCommand,
  SignCommand,
} from '@aws-sdk/client-kms';
import { defaultKeyPolicy } from '@eaas/aws-rules';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_USER, OUTSIDER, SERVICE } from '../../src/identity.js';
import { errorOf } from '../helpers/errors.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';

/**
 * What a key's kind reveals, and to whom: a caller with no rights on a key learns nothing about
 * its spec or usage (AccessDenied comes before any check of the kind), the key's spec, usage and
 * origin are condition keys of every operation on it (conditions-kms.html), DryRun answers only
 * for a request that would succeed, and no KeySpec name makes CreateKey fail with a 500.
 */

let t: TestKms;
let kms: KMSClient;
const keys: Record<string, string> = {};

async function create(input: CreateKeyCommandInput): Promise<string> {
  return (await kms.send(new CreateKeyCommand(input))).KeyMetadata?.KeyId as string;
}

beforeAll(async () => {
  t = await startTestKms();
  // The default key policy lets IAM decide: the service's role (kms:*) administers and uses.
  kms = t.client(SERVICE);
  keys.symmetric = await create({});
  keys.rsa = await create({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
  keys.p256 = await create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
  keys.hmac = await create({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
});
afterAll(async () => {
  await t.stop();
});

describe('keys of every kind', () => {
  it('answer AccessDenied to a caller without rights, whatever their kind (Decrypt and ReEncrypt)', async () => {
    const outsider = t.client(OUTSIDER);
    for (const KeyId of Object.values(keys)) {
      const decrypt = await errorOf(
        outsider.send(
          new DecryptCommand({
            KeyId,
            CiphertextBlob: randomBytes(256),
            EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
          }),
        ),
      );
      expect(decrypt.name).toBe('AccessDeniedException');
      const reEncrypt = await errorOf(
        outsider.send(
          new ReEncryptCommand({
            CiphertextBlob: randomBytes(256),
            DestinationKeyId: KeyId,
            DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
          }),
        ),
      );
      expect(reEncrypt.name).toBe('AccessDeniedException');
    }
  });

  it('answer InvalidKeyUsageException to a caller with rights, for a key of another usage', async () => {
    for (const KeyId of [keys.p256, keys.hmac]) {
      const error = await errorOf(kms.send(new DecryptCommand({ KeyId, CiphertextBlob: randomBytes(64) })));
      expect(error.name).toBe('InvalidKeyUsageException');
    }
  });

  it('have their spec, usage and origin as condition keys of every operation on them', async () => {
    const user = t.principal(KEY_USER).arn;
    const policy = (condition: Record<string, Record<string, string>>) =>
      JSON.stringify({
        ...defaultKeyPolicy(t.config.accountId),
        Statement: [
          ...defaultKeyPolicy(t.config.accountId).Statement,
          {
            Effect: 'Allow',
            Principal: { AWS: user },
            Action: 'kms:Sign',
            Resource: '*',
            Condition: condition,
          },
        ],
      });
    const fits = await create({
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      Policy: policy({
        StringEquals: {
          'kms:KeyUsage': 'SIGN_VERIFY',
          'kms:KeySpec': 'ECC_NIST_P256',
          'kms:KeyOrigin': 'AWS_KMS',
        },
      }),
    });
    const other = await create({
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      Policy: policy({ StringEquals: { 'kms:KeySpec': 'RSA_2048' } }),
    });
    const sign = (KeyId: string) =>
      t.client(KEY_USER).send(
        new SignCommand({
          KeyId,
          Message: Buffer.from('m'),
          MessageType: 'RAW',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      );
    expect((await sign(fits)).Signature?.length).toBeGreaterThan(0);
    expect((await errorOf(sign(other))).name).toBe('AccessDeniedException');
  });

  it('answer DryRun only for an RSA encryption that would succeed', async () => {
    const dryRun = await errorOf(
      kms.send(
        new EncryptCommand({
          KeyId: keys.rsa,
          Plaintext: randomBytes(32),
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
          DryRun: true,
        }),
      ),
    );
    expect(dryRun.name).toBe('DryRunOperationException');
    const tooLong = await errorOf(
      kms.send(
        new EncryptCommand({
          KeyId: keys.rsa,
          Plaintext: randomBytes(191),
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
          DryRun: true,
        }),
      ),
    );
    expect(tooLong.name).toBe('ValidationException');
  });

  it('are never made from a KeySpec that only an object prototype has', async () => {
    for (const KeySpec of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const error = await errorOf(
        kms.send(new CreateKeyCommand({ KeySpec: KeySpec as never, KeyUsage: 'ENCRYPT_DECRYPT' })),
      );
      expect({ KeySpec, name: error.name, status: error.status }).toEqual({
        KeySpec,
        name: 'ValidationException',
        status: 400,
      });
    }
  });

  it('are generated off the event loop: other requests are answered while an RSA key pair is made', async () => {
    const order: string[] = [];
    const rsa = kms
      .send(new CreateKeyCommand({ KeySpec: 'RSA_4096', KeyUsage: 'SIGN_VERIFY' }))
      .then(() => order.push('CreateKey RSA_4096'));
    // Sent after CreateKey: with generation on the event loop it would wait for the key pair.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const encrypt = kms
      .send(new EncryptCommand({ KeyId: keys.symmetric, Plaintext: Buffer.from('x') }))
      .then(() => order.push('Encrypt'));
    await Promise.all([rsa, encrypt]);
    expect(order).toEqual(['Encrypt', 'CreateKey RSA_4096']);
  });
});
