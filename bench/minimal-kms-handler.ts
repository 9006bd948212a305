import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';

/**
 * The cold-start baseline: the smallest useful handler, one KMS Encrypt of the request's
 * plaintext with `@aws-sdk/client-kms` alone. Bundled with the deployed options by bench/cold-start.ts.
 */
let kms: KMSClient | undefined;

export const handler = async (event: { body: string }) => {
  kms ??= new KMSClient({ region: process.env.AWS_REGION, endpoint: process.env.EAAS_KMS_ENDPOINT });
  const { keyId, plaintext } = JSON.parse(event.body) as { keyId: string; plaintext: string };
  const out = await kms.send(
    new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(plaintext, 'base64') }),
  );
  return {
    statusCode: 200,
    body: JSON.stringify({ ciphertext: Buffer.from(out.CiphertextBlob ?? []).toString('base64') }),
  };
};
