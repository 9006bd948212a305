import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { DecryptCommand } from '@aws-sdk/client-kms';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { KEY_USER, SERVICE } from '@eaas/aws-local';
import { type CreatedUpload, EaasError } from '@eaas/client';
import { expect } from 'vitest';
import type { TestStack } from './local-stack.js';

/**
 * Shared by the client-sealed upload tests: what an uploader does with the service's answer (the
 * cipher, the presigned parts), and what a reader sees in the vault (the object as stored, and an
 * S3EC V3 reader written from the specification, independent of the service's code).
 */

/** The vault object as stored: its bytes, metadata and ETag. */
export async function storedObject(t: TestStack, key: string) {
  const obj = await t.s3(SERVICE).send(new GetObjectCommand({ Bucket: t.config.vaultBucket, Key: key }));
  const body = Buffer.from(
    await (obj.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
  return { body, metadata: obj.Metadata ?? {}, etag: obj.ETag };
}

/** Whether the vault holds `key` (HeadObject; 404 is no). */
export async function storedExists(t: TestStack, key: string): Promise<boolean> {
  return t
    .s3(SERVICE)
    .send(new HeadObjectCommand({ Bucket: t.config.vaultBucket, Key: key }))
    .then(
      () => true,
      (e: { $metadata?: { httpStatusCode?: number } }) => {
        if (e.$metadata?.httpStatusCode === 404) return false;
        throw e;
      },
    );
}

/** The keys myKeyUser's listing shows under `prefix`. */
export async function listedKeys(t: TestStack, prefix: string): Promise<string[]> {
  return (await t.client(KEY_USER).documents.list({ prefix })).objects.map((o) => o.key);
}

/** The S3EC V3 reader of the specification: data key from KMS, HKDF-SHA512, AES-256-GCM. */
export async function independentOpen(t: TestStack, key: string): Promise<Buffer> {
  const { body, metadata } = await storedObject(t, key);
  expect(metadata['x-amz-c']).toBe('115');
  const wrapped = Buffer.from(metadata['x-amz-3'] as string, 'base64');
  const context = JSON.parse(metadata['x-amz-t'] as string) as Record<string, string>;
  const out = await t
    .kms(KEY_USER)
    .send(new DecryptCommand({ CiphertextBlob: wrapped, EncryptionContext: context }));
  const dataKey = Buffer.from(out.Plaintext as Uint8Array);
  const messageId = Buffer.from(metadata['x-amz-i'] as string, 'base64');
  const info = (label: string) => Buffer.concat([Buffer.from([0x00, 0x73]), Buffer.from(label)]);
  const commitment = Buffer.from(hkdfSync('sha512', dataKey, messageId, info('COMMITKEY'), 28));
  expect(commitment.toString('base64')).toBe(metadata['x-amz-d']);
  const contentKey = Buffer.from(hkdfSync('sha512', dataKey, messageId, info('DERIVEKEY'), 32));
  dataKey.fill(0);
  const decipher = createDecipheriv('aes-256-gcm', contentKey, Buffer.alloc(12, 1));
  decipher.setAAD(Buffer.from([0x00, 0x73]));
  decipher.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
}

/** Encrypts `bytes` with the answered cipher as a client does, with its tag. */
export function sealWith(created: CreatedUpload, bytes: Buffer): Buffer {
  const c = created.cipher;
  if (!c) throw new Error('no cipher');
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(c.key, 'base64'), Buffer.from(c.iv, 'base64'));
  cipher.setAAD(Buffer.from(c.aad, 'base64'));
  return Buffer.concat([cipher.update(bytes), cipher.final(), cipher.getAuthTag()]);
}

/** PUTs `body` to the presigned parts, each its size in order: their numbers and ETags. */
export async function putParts(created: CreatedUpload, body: Buffer) {
  const etags: { partNumber: number; etag: string }[] = [];
  let offset = 0;
  for (const part of created.parts ?? []) {
    const res = await fetch(part.url, { method: 'PUT', body: body.subarray(offset, offset + part.size) });
    expect(res.status).toBe(200);
    etags.push({ partNumber: part.partNumber, etag: res.headers.get('etag') ?? '' });
    offset += part.size;
  }
  return etags;
}

/** The API's refusal of `p` (an EaasError). */
export async function refusal(p: Promise<unknown>): Promise<EaasError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EaasError);
  return error as EaasError;
}
