import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { KEY_MANAGER, KEY_USER, type S3RequestEvent } from '@eaas/aws-local';
import { KmsKeyAdmin } from '../../src/aws/kms-admin.js';
import { S3JobObjects } from '../../src/aws/s3-jobs.js';
import { AccessControl } from '../../src/services/access.js';
import { type RewrapOptions, RewrapService } from '../../src/services/rewrap.js';
import type { TestStack } from '../helpers/local-stack.js';

/**
 * Shared by the re-encryption job tests: an S3 Encryption Client writer written from the
 * specification (V2 and V3, header in metadata or in an instruction file), independent of the
 * service's code; a request log of the local S3; and job workers over the stack's own clients.
 */

/** HKDF-SHA512 of suite 0x0073 (specification, key derivation). */
function v3Keys(dataKey: Buffer, messageId: Buffer) {
  const info = (label: string) => Buffer.concat([Buffer.from([0x00, 0x73]), Buffer.from(label)]);
  return {
    key: Buffer.from(hkdfSync('sha512', dataKey, messageId, info('DERIVEKEY'), 32)),
    commitment: Buffer.from(hkdfSync('sha512', dataKey, messageId, info('COMMITKEY'), 28)),
  };
}

/** Writes `plaintext` as another S3EC writer would, under `keyId`, with the given format and header place. */
export async function writeForeign(
  kms: KMSClient,
  s3: S3Client,
  bucket: string,
  input: {
    key: string;
    keyId: string;
    plaintext: Buffer;
    version: 'v2' | 'v3';
    instruction: boolean;
    context?: Record<string, string>;
  },
): Promise<void> {
  const cek = input.version === 'v2' ? 'AES/GCM/NoPadding' : '115';
  const context = { ...input.context, 'aws:x-amz-cek-alg': cek };
  const dk = await kms.send(
    new GenerateDataKeyCommand({ KeyId: input.keyId, KeySpec: 'AES_256', EncryptionContext: context }),
  );
  const dataKey = Buffer.from(dk.Plaintext ?? new Uint8Array());
  const wrapped = Buffer.from(dk.CiphertextBlob ?? new Uint8Array()).toString('base64');
  let body: Buffer;
  let all: Record<string, string>;
  let objectOnly: string[];
  if (input.version === 'v2') {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
    body = Buffer.concat([cipher.update(input.plaintext), cipher.final(), cipher.getAuthTag()]);
    all = {
      'x-amz-key-v2': wrapped,
      'x-amz-iv': iv.toString('base64'),
      'x-amz-cek-alg': cek,
      'x-amz-tag-len': '128',
      'x-amz-wrap-alg': 'kms+context',
      'x-amz-matdesc': JSON.stringify(context),
    };
    objectOnly = [];
  } else {
    const messageId = randomBytes(28);
    const { key, commitment } = v3Keys(dataKey, messageId);
    const cipher = createCipheriv('aes-256-gcm', key, Buffer.alloc(12, 1));
    cipher.setAAD(Buffer.from([0x00, 0x73]));
    body = Buffer.concat([cipher.update(input.plaintext), cipher.final(), cipher.getAuthTag()]);
    all = {
      'x-amz-c': cek,
      'x-amz-3': wrapped,
      'x-amz-w': '12',
      'x-amz-t': JSON.stringify(context),
      'x-amz-d': commitment.toString('base64'),
      'x-amz-i': messageId.toString('base64'),
    };
    objectOnly = ['x-amz-c', 'x-amz-d', 'x-amz-i'];
  }
  dataKey.fill(0);
  let metadata = all;
  if (input.instruction) {
    metadata = Object.fromEntries(Object.entries(all).filter(([k]) => objectOnly.includes(k)));
    const instruction = Object.fromEntries(Object.entries(all).filter(([k]) => !objectOnly.includes(k)));
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${input.key}.instruction`,
        Body: JSON.stringify(instruction),
        Metadata: { 'x-amz-crypto-instr-file': '' },
      }),
    );
  }
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: input.key, Body: body, Metadata: metadata }));
}

/** The wrapped data key and KMS context of a stored object, read as any S3EC reader would. */
export async function wrappedKeyOf(s3: S3Client, bucket: string, key: string) {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  let fields: Record<string, string> = { ...head.Metadata };
  if (!fields['x-amz-key-v2'] && !fields['x-amz-3']) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${key}.instruction` }));
    fields = { ...fields, ...JSON.parse((await got.Body?.transformToString()) ?? '{}') };
  }
  const blob = fields['x-amz-key-v2'] ?? fields['x-amz-3'] ?? '';
  const context = JSON.parse(fields['x-amz-matdesc'] ?? fields['x-amz-t'] ?? '{}') as Record<string, string>;
  return { blob: Buffer.from(blob, 'base64'), context, metadata: head.Metadata ?? {} };
}

/** The key ARN KMS unwraps an object's data key with (the plaintext key is zeroed at once). */
export async function unwrapKeyOf(
  kms: KMSClient,
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<string> {
  const { blob, context } = await wrappedKeyOf(s3, bucket, key);
  const out = await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }));
  out.Plaintext?.fill(0);
  return out.KeyId ?? '';
}

/** Every request the local S3 answered, to count reads and writes per key. */
export class S3Log {
  readonly events: S3RequestEvent[] = [];
  readonly listener = (e: S3RequestEvent) => {
    this.events.push(e);
  };
  mark(): number {
    return this.events.length;
  }
  since(mark: number): S3RequestEvent[] {
    return this.events.slice(mark);
  }
}

/** A job worker over the stack's service clients, with its own options (clock, hooks, name). */
export function workerFor(t: TestStack, options: RewrapOptions, kms = t.stack.serviceKms): RewrapService {
  const admin = new KmsKeyAdmin(kms);
  return new RewrapService(
    admin,
    admin,
    new AccessControl(admin),
    new S3JobObjects(t.stack.serviceS3, t.config.vaultBucket, t.config.objectPrefix),
    new S3JobObjects(t.stack.serviceS3, t.config.vaultBucket),
    { retry: { baseMs: 1, maxMs: 5 }, ...options },
  );
}

/** A small seeded PRNG (mulberry32), so a failing crash run can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A key made through the API (by myKeyManager unless `as` says): its ARN. */
export async function createJobKey(
  t: TestStack,
  spec: { administrators: string[]; users: string[]; description?: string },
  as = KEY_MANAGER,
): Promise<string> {
  const res = await t.client(as).raw('POST', '/v1/keys', { description: 'jobs', ...spec });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return (res.body as { key: { arn: string } }).key.arn;
}

/** A document stored through the API by myKeyUser, under `keyId` with `context`. */
export async function putDocument(
  t: TestStack,
  key: string,
  body: Buffer,
  keyId: string,
  context: Record<string, string> = {},
): Promise<void> {
  const res = await t.client(KEY_USER).rawBytes('PUT', `/v1/objects/${encodeURIComponent(key)}`, body, {
    keyId,
    context: JSON.stringify(context),
  });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
}

/**
 * Another writer's documents in every S3EC format and header place (V2 and V3, header in metadata
 * or in an instruction file), one per size, under `keyId` with context tenant=acme:
 * `<prefix>foreign-<v2|v3>-<meta|instr>-<i>`, each with its plaintext.
 */
export async function writeForeignSet(
  kms: KMSClient,
  s3: S3Client,
  bucket: string,
  options: { prefix: string; keyId: string; sizes: readonly number[] },
): Promise<Map<string, Buffer>> {
  const written = new Map<string, Buffer>();
  for (const version of ['v2', 'v3'] as const)
    for (const instruction of [false, true])
      for (const [i, size] of options.sizes.entries()) {
        const key = `${options.prefix}foreign-${version}-${instruction ? 'instr' : 'meta'}-${i}`;
        const plaintext = randomBytes(size);
        await writeForeign(kms, s3, bucket, {
          key,
          keyId: options.keyId,
          plaintext,
          version,
          instruction,
          context: { tenant: 'acme' },
        });
        written.set(key, plaintext);
      }
  return written;
}

/** `count` documents `<prefix>doc-<i>` of `size(i)` random bytes, stored through the API under `keyId` (tenant=acme). */
export async function putDocuments(
  t: TestStack,
  prefix: string,
  count: number,
  keyId: string,
  size: (i: number) => number,
): Promise<Map<string, Buffer>> {
  const stored = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const key = `${prefix}doc-${i}`;
    const body = randomBytes(size(i));
    await putDocument(t, key, body, keyId, { tenant: 'acme' });
    stored.set(key, body);
  }
  return stored;
}
