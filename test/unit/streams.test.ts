import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { LOCAL_RESPONSE_STREAMS, readPrelude } from '../../local/response-stream.js';
import { makeHandler } from '../../src/handlers/streams.js';
import type { AuditRecord } from '../../src/ports.js';
import { AccessControl } from '../../src/services/access.js';
import { type DocumentCaller, DocumentService } from '../../src/services/documents.js';
import { MemoryDataKeys } from '../fakes/data-keys.js';
import { MemoryKms } from '../fakes/kms.js';
import { MemoryBucket } from '../fakes/s3.js';
import { eventAs } from '../helpers/person-events.js';

/**
 * The streamed read's two passes against in-memory fakes: nothing leaves before the whole object
 * is authenticated, the second pass reads the first pass's version or fails before the first
 * byte, and a second pass that fails anyway (storage serving other bytes under the same ETag)
 * ends the response stream in error, never cleanly.
 */

/** A key policy letting `user` of the sample events' account use the key. */
const policyFor = (user: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::111122223333:user/${user}` },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
        Resource: '*',
      },
    ],
  });
const caller: DocumentCaller = {
  arn: 'arn:aws:iam::111122223333:user/reader',
  guard: async (keyId) => keyId,
};

/** The vault, with a hook run as each GetObject arrives (after the first: between the passes). */
class HookedBucket extends MemoryBucket {
  beforeGet: ((n: number) => void) | undefined;
  ignoreIfMatch = false;
  /** The GetObject whose body closes (without an error) after its first chunk, as a cut read does. */
  cutGet: number | undefined;
  private gets = 0;

  override async get(key: string, options: { ifMatch?: string | undefined } = {}) {
    const n = ++this.gets;
    this.beforeGet?.(n);
    const got = await super.get(key, this.ignoreIfMatch ? {} : options);
    if (n !== this.cutGet) return got;
    const bytes = await buffer(got.body as AsyncIterable<Buffer>);
    const body = new Readable({ read() {} });
    body.push(bytes.subarray(0, 64 * 1024));
    setImmediate(() => body.destroy());
    return { ...got, body };
  }
}

async function world(size = 200_000) {
  const kms = new MemoryKms();
  // The sample events' caller (myKeyUser) may use the one key, and not the other.
  const keyArn = kms.addKey(policyFor('myKeyUser'));
  const otherKey = kms.addKey(policyFor('someoneElse'));
  const vault = new HookedBucket('docs/');
  const documents = new DocumentService(new MemoryDataKeys().asKeys, vault, { version: 'v3' });
  const plaintext = randomBytes(size);
  // Stored whole through the service's own writer (a body up to 4 MiB).
  await documents.put(caller, 'a/doc.bin', plaintext, { keyId: keyArn, context: { tenant: 'acme' } });
  await documents.put(caller, 'theirs.bin', plaintext, { keyId: otherKey, context: { tenant: 'acme' } });
  return { kms, keyArn, vault, documents, plaintext };
}

/** The vault's own name of a document (behind its prefix). */
const storedKeyOf = (vault: MemoryBucket, key: string) =>
  vault.objects.has(`docs/${key}`) ? `docs/${key}` : key;

const drain = async (body: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

/** The stored body with one byte of its last block flipped (the tag is checked only at its end). */
function tamperedCopy(vault: MemoryBucket, key: string): Buffer {
  const stored = vault.objects.get(key);
  if (!stored) throw new Error('no object');
  const bytes = Buffer.from(stored.body);
  const at = bytes.length - 20;
  bytes[at] = (bytes[at] as number) ^ 1;
  return bytes;
}

describe('DocumentService.openAuthenticated', () => {
  it('streams the document after a first pass over the whole of it, both passes of the same version', async () => {
    const { vault, documents, plaintext } = await world();
    const ifMatch: (string | undefined)[] = [];
    const get = vault.get.bind(vault);
    vault.get = async (key, options = {}) => {
      ifMatch.push(options.ifMatch);
      return get(key, options);
    };
    const { view, body } = await documents.openAuthenticated(caller, 'a/doc.bin');
    expect((await drain(body)).equals(plaintext)).toBe(true);
    expect(ifMatch).toEqual([view.etag, view.etag]);
  });

  it('an object replaced between the passes fails before the first byte (PreconditionFailed), never mixing bytes', async () => {
    const { vault, documents } = await world();
    const storedKey = storedKeyOf(vault, 'a/doc.bin');
    const stored = vault.objects.get(storedKey);
    expect(stored).toBeDefined();
    vault.beforeGet = (n) => {
      // Another writer replaces it (a new ETag) once the first pass is done.
      if (n === 2) vault.set(storedKey, tamperedCopy(vault, storedKey), stored?.metadata);
    };
    await expect(documents.openAuthenticated(caller, 'a/doc.bin')).rejects.toMatchObject({
      code: 'PreconditionFailed',
    });
  });

  it('a tampered object fails the first pass: InvalidCiphertext, and no body is handed out', async () => {
    const { vault, documents } = await world();
    const storedKey = storedKeyOf(vault, 'a/doc.bin');
    const stored = vault.objects.get(storedKey);
    vault.set(storedKey, tamperedCopy(vault, storedKey), stored?.metadata);
    await expect(documents.openAuthenticated(caller, 'a/doc.bin')).rejects.toMatchObject({
      code: 'InvalidCiphertext',
    });
  });

  it('refuses a document over maxBytes (PayloadTooLarge) without reading its body', async () => {
    const { vault, documents } = await world(5000);
    const before = vault.calls.get;
    await expect(documents.openAuthenticated(caller, 'a/doc.bin', { maxBytes: 4999 })).rejects.toMatchObject({
      code: 'PayloadTooLarge',
    });
    expect(vault.calls.get).toBe(before);
  });
});

describe('the streams handler', () => {
  const context = { awsRequestId: 'test', getRemainingTimeInMillis: () => 900_000 } as unknown as Context;

  function handlerFor(w: Awaited<ReturnType<typeof world>>, maxBytes?: number) {
    const { kms, documents } = w;
    const audit: AuditRecord[] = [];
    const errors: string[] = [];
    const handler = makeHandler({
      audit: { record: (r) => void audit.push(r) },
      logger: { error: (message) => void errors.push(message) },
      documents,
      access: new AccessControl(kms),
      responseStreams: LOCAL_RESPONSE_STREAMS,
      ...(maxBytes !== undefined ? { maxBytes } : {}),
    });
    return { handler, audit, errors };
  }

  /** Invokes the handler as the local gateway does: its response stream, the prelude read off it. */
  async function invoke(handler: ReturnType<typeof makeHandler>, key: string) {
    const stream = new PassThrough();
    const event = eventAs('stream-object', undefined, { pathParameters: { key } });
    const done = handler(event, stream, context).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    const { prelude, body } = await readPrelude(stream);
    const chunks: Buffer[] = [];
    const ended = await new Promise<'end' | 'error'>((resolve) => {
      body.on('data', (c: Buffer) => chunks.push(c));
      body.once('end', () => resolve('end'));
      body.once('error', () => resolve('error'));
    });
    return { prelude, bytes: Buffer.concat(chunks), ended, failure: await done };
  }

  it('answers the prelude, then the document; the audit record names the key', async () => {
    const w = await world();
    const { plaintext } = w;
    const { handler, audit } = handlerFor(w);
    const got = await invoke(handler, 'a/doc.bin');
    expect(got.prelude.statusCode).toBe(200);
    expect(got.prelude.headers).toMatchObject({
      'x-eaas-size': String(plaintext.length),
      'Cache-Control': 'no-store',
    });
    expect(got.ended).toBe('end');
    expect(got.bytes.equals(plaintext)).toBe(true);
    expect(got.failure).toBeUndefined();
    expect(audit).toEqual([
      expect.objectContaining({ action: 'streamObject', outcome: 'success', keyArn: w.keyArn }),
    ]);
  });

  it('a second pass that fails at its tag (other bytes under the same ETag) ends the stream in error, not cleanly', async () => {
    const w = await world();
    const { vault, plaintext } = w;
    const storedKey = storedKeyOf(vault, 'a/doc.bin');
    const stored = vault.objects.get(storedKey);
    const tampered = tamperedCopy(vault, storedKey);
    // Storage that serves other bytes for the version the first pass authenticated.
    vault.ignoreIfMatch = true;
    vault.beforeGet = (n) => {
      if (n === 2) vault.set(storedKey, tampered, stored?.metadata);
    };
    const { handler, errors } = handlerFor(w);
    const got = await invoke(handler, 'a/doc.bin');
    expect(got.prelude.statusCode).toBe(200);
    expect(got.ended).toBe('error');
    // What arrived is not the document, and the stream never ended cleanly: the gateway ends the
    // transfer short, so that no client takes it for the document.
    expect(got.bytes.equals(plaintext)).toBe(false);
    // The invocation's error, which Lambda's runtime logs, names the cause and quotes nothing.
    expect(got.failure).toMatchObject({
      name: 'StreamedAnswerFailed',
      message: expect.stringMatching(/^The streamed answer failed \([A-Za-z]+\)\.$/),
    });
    expect(errors).toEqual(['streamed answer aborted']);
  });

  it('a client that goes away mid-stream ends the invocation quietly: no failure, nothing logged', async () => {
    const w = await world(2_000_000);
    const { handler, errors } = handlerFor(w);
    const stream = new PassThrough({ highWaterMark: 1024 });
    const event = eventAs('stream-object', undefined, { pathParameters: { key: 'a/doc.bin' } });
    const done = handler(event, stream, context);
    const { body } = await readPrelude(stream);
    await new Promise<void>((resolve) => body.once('data', () => resolve()));
    // As the local gateway does when the client's connection closes.
    stream.destroy();
    await expect(done).resolves.toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('a read that S3 cuts short (the body closes without an error) fails the function, unlike a client gone', async () => {
    const w = await world(2_000_000);
    w.vault.cutGet = 2;
    const { handler, errors } = handlerFor(w);
    const got = await invoke(handler, 'a/doc.bin');
    expect(got.prelude.statusCode).toBe(200);
    expect(got.ended).toBe('error');
    expect(got.failure).toMatchObject({ name: 'StreamedAnswerFailed' });
    expect(errors).toEqual(['streamed answer aborted']);
  });

  it('errors before the first byte are JSON answers: NotFound, PayloadTooLarge', async () => {
    const w = await world(5000);
    const missing = await invoke(handlerFor(w).handler, 'no/such.bin');
    expect(missing.prelude.statusCode).toBe(404);
    expect(JSON.parse(missing.bytes.toString('utf8'))).toMatchObject({ error: 'NotFound' });
    expect(missing.ended).toBe('end');
    const large = await invoke(handlerFor(w, 4096).handler, 'a/doc.bin');
    expect(large.prelude.statusCode).toBe(413);
    expect(JSON.parse(large.bytes.toString('utf8'))).toMatchObject({ error: 'PayloadTooLarge' });
  });

  it('a caller the key policy does not let decrypt gets the answer for a missing name, and no byte', async () => {
    const w = await world();
    const got = await invoke(handlerFor(w).handler, 'theirs.bin');
    expect(got.prelude.statusCode).toBe(404);
    expect(JSON.parse(got.bytes.toString('utf8'))).toMatchObject({ error: 'NotFound' });
    expect(got.bytes.includes(w.plaintext.subarray(0, 16))).toBe(false);
  });
});
