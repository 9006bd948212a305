import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { KEY_USER, OUTSIDER, SERVICE } from '@eaas/aws-local';
import { EaasClient, uploadDocument } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localValues } from '../../local/emulator-options.js';
import { type LambdaHandler, type StreamingLambdaHandler, startGateway } from '../../local/gateway.js';
import { LOCAL_RESPONSE_STREAMS } from '../../local/response-stream.js';
import { readTemplateRoles } from '../../local/template-roles.js';
import type { FunctionName } from '../../src/http/routes.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * GET /v1/streams/{key+} over the local stack, with the real curl: a large document byte for
 * byte, and every refusal decided before the first byte (a JSON error, no document byte). The
 * local gateway's model of a streaming integration (prelude, chunked body, a transfer ended short
 * when the function fails mid-way, the 15-minute bound) against fake functions at the end.
 */

let t: TestStack;
let work: string;

/** curl as a caller would run it: SigV4 with the principal's keys; the exit code kept, not thrown. */
function curl(
  who: { accessKeyId: string; secretAccessKey: string },
  url: string,
  out: string,
): Promise<{ code: number; status: number; headers: string; stderr: string }> {
  const headersFile = `${out}.headers`;
  const args = [
    '-sS',
    '--aws-sigv4',
    'aws:amz:us-east-1:execute-api',
    '--user',
    `${who.accessKeyId}:${who.secretAccessKey}`,
    '-D',
    headersFile,
    '-o',
    out,
    '-w',
    '%{http_code}',
    url,
  ];
  return new Promise((resolve) => {
    execFile('curl', args, { maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
      let headers = '';
      try {
        headers = readFileSync(headersFile, 'utf8');
      } catch {
        headers = '';
      }
      resolve({ code, status: Number(stdout), headers: headers.toLowerCase(), stderr });
    });
  });
}

const sha256File = (file: string) =>
  new Promise<string>((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => hash.update(c))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });

const keysOf = (name: string) => {
  const p = t.principal(name);
  return { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey };
};

beforeAll(async () => {
  t = await startTestStack();
  work = mkdtempSync(join(tmpdir(), 'eaas-streams-'));
});
afterAll(async () => {
  await t.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('GET /v1/streams/{key+}', () => {
  it('streams a 50 MiB document to curl byte for byte, chunked, with its metadata view', async () => {
    const size = 50 * 1024 * 1024;
    const source = join(work, 'fifty.bin');
    writeFileSync(source, randomBytes(size));
    await uploadDocument(t.client(KEY_USER), {
      key: 'big/fifty.bin',
      keyId: 'alias/eaas-default',
      file: source,
      context: { tenant: 'acme' },
    });
    const out = join(work, 'fifty.out');
    const started = Date.now();
    const got = await curl(keysOf(KEY_USER), `${t.api}/v1/streams/big/fifty.bin`, out);
    const took = Date.now() - started;
    expect(got.code, got.stderr).toBe(0);
    expect(got.status).toBe(200);
    expect(got.headers).toContain('transfer-encoding: chunked');
    expect(got.headers).not.toContain('content-length:');
    expect(got.headers).toContain(`x-eaas-size: ${size}`);
    expect(got.headers).toContain('x-eaas-context: {"tenant":"acme"}');
    expect(got.headers).toContain('cache-control: no-store');
    expect(statSync(out).size).toBe(size);
    expect(await sha256File(out)).toBe(await sha256File(source));
    // The figure for the report: two passes over the object, then the body through the gateway.
    console.info(`streamed 50 MiB through the local gateway in ${took} ms`);
  }, 120_000);

  it('the typed client streams it too (documents.stream), and throws EaasError for a refusal', async () => {
    const { view, body } = await t.client(KEY_USER).documents.stream('big/fifty.bin');
    expect(view.size).toBe(50 * 1024 * 1024);
    const hash = createHash('sha256');
    let length = 0;
    for await (const chunk of body) {
      hash.update(chunk as Buffer);
      length += (chunk as Buffer).length;
    }
    expect(length).toBe(view.size);
    expect(hash.digest('hex')).toBe(await sha256File(join(work, 'fifty.bin')));
    await expect(t.client(OUTSIDER).documents.stream('big/fifty.bin')).rejects.toMatchObject({
      code: 'NotFound',
      status: 404,
    });
  }, 120_000);

  it('a tampered document releases no byte: a JSON InvalidCiphertext, as GET /v1/objects answers', async () => {
    const body = Buffer.from('a secret line of the document\n'.repeat(200));
    const key = 'tamper/streamed.txt';
    const put = await t
      .client(KEY_USER)
      .rawBytes('PUT', `/v1/objects/${encodeURIComponent(key)}`, body, { keyId: 'alias/eaas-default' });
    expect(put.status).toBe(200);
    const s3 = t.s3(SERVICE);
    const bucket = t.config.vaultBucket;
    const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from(
      await (stored.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())),
    );
    // A byte of the last block: the plaintext before it would stream, were the tag not checked first.
    const tampered = Buffer.from(bytes);
    const at = bytes.length - 20;
    tampered[at] = (tampered[at] as number) ^ 1;
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: tampered, Metadata: stored.Metadata }),
    );
    const out = join(work, 'tampered.out');
    const got = await curl(keysOf(KEY_USER), `${t.api}/v1/streams/${key}`, out);
    expect(got.code, got.stderr).toBe(0);
    expect(got.status).toBe(400);
    const answer = readFileSync(out);
    expect(JSON.parse(answer.toString('utf8'))).toMatchObject({ error: 'InvalidCiphertext' });
    expect(answer.includes(Buffer.from('a secret line'))).toBe(false);
    const objects = await t.client(KEY_USER).rawBytes('GET', `/v1/objects/${encodeURIComponent(key)}`);
    expect(objects.status).toBe(400);
  });

  it('a caller who may not decrypt gets the answer for a missing name, as GET /v1/objects, and no byte', async () => {
    const body = Buffer.from('for the key users only');
    const key = 'authz/streamed.txt';
    expect(
      (
        await t
          .client(KEY_USER)
          .rawBytes('PUT', `/v1/objects/${encodeURIComponent(key)}`, body, { keyId: 'alias/eaas-default' })
      ).status,
    ).toBe(200);
    const out = join(work, 'outsider.out');
    const got = await curl(keysOf(OUTSIDER), `${t.api}/v1/streams/${key}`, out);
    const objects = await t.client(OUTSIDER).rawBytes('GET', `/v1/objects/${encodeURIComponent(key)}`);
    expect(got.status).toBe(objects.status);
    expect(got.status).toBe(404);
    const answer = readFileSync(out);
    expect(JSON.parse(answer.toString('utf8'))).toMatchObject({ error: 'NotFound' });
    expect(answer.includes(body)).toBe(false);
  });

  it('a missing document is 404 NotFound; an unsigned request is refused by the gateway', async () => {
    const out = join(work, 'missing.out');
    const got = await curl(keysOf(KEY_USER), `${t.api}/v1/streams/no/such.bin`, out);
    expect(got.status).toBe(404);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ error: 'NotFound' });
    const unsigned = await fetch(`${t.api}/v1/streams/no/such.bin`);
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toEqual({ message: 'Missing Authentication Token' });
  });
});

describe('a streams role KMS refuses (the role lacks kms:Decrypt, or a key policy does not name it)', () => {
  let lacking: TestStack;
  beforeAll(async () => {
    const roles = readTemplateRoles(localValues(t.config));
    const role = roles.streams;
    if (!role) throw new Error('no streams role');
    type Policy = { Statement: { Action: string | string[] }[] };
    const policies = (role.policies as Policy[]).map((p) => ({
      ...p,
      Statement: p.Statement.map((st) => ({
        ...st,
        Action: [st.Action].flat().filter((a) => a !== 'kms:Decrypt'),
      })).filter((st) => st.Action.length > 0),
    }));
    lacking = await startTestStack({ roles: { ...roles, streams: { ...role, policies } } });
  });
  afterAll(() => lacking?.stop());

  it('is 403 AccessDenied before the first byte, while GET /v1/objects still reads it', async () => {
    const body = Buffer.from('readable through the objects route only');
    const key = 'lacking/doc.txt';
    const path = `/v1/objects/${encodeURIComponent(key)}`;
    expect(
      (await lacking.client(KEY_USER).rawBytes('PUT', path, body, { keyId: 'alias/eaas-default' })).status,
    ).toBe(200);
    const p = lacking.principal(KEY_USER);
    const out = join(work, 'lacking.out');
    const got = await curl(p, `${lacking.api}/v1/streams/${key}`, out);
    expect(got.status).toBe(403);
    const answer = readFileSync(out);
    expect(JSON.parse(answer.toString('utf8'))).toMatchObject({ error: 'AccessDenied' });
    expect(answer.includes(body)).toBe(false);
    const objects = await lacking.client(KEY_USER).rawBytes('GET', path);
    expect(Buffer.from(objects.bytes).equals(body)).toBe(true);
  });
});

describe('the local gateway models a streaming integration', () => {
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let behaviour: StreamingLambdaHandler = async () => undefined;
  const unused: LambdaHandler = async () => ({ statusCode: 500, body: '' });
  const functions = Object.fromEntries(
    (['crypto', 'jobs', 'keys', 'objects', 'uploads', 'whoami'] satisfies FunctionName[]).map((n) => [
      n,
      unused,
    ]),
  ) as Record<FunctionName, LambdaHandler | StreamingLambdaHandler>;
  functions.streams = (event, stream, context) => behaviour(event, stream, context);
  const prelude = (stream: Writable) =>
    LOCAL_RESPONSE_STREAMS.from(stream, { statusCode: 200, headers: { 'Content-Type': 'text/plain' } });

  beforeAll(async () => {
    gateway = await startGateway({
      host: '127.0.0.1',
      port: 0,
      region: t.config.region,
      accountId: t.config.accountId,
      identities: t.stack.kms.identities,
      functions,
      maxSkewSeconds: t.config.sigv4MaxSkewSeconds,
      streamTimeoutMs: 500,
    });
  });
  afterAll(() => gateway.close());

  it('a function that fails mid-way ends the transfer short: curl sees it truncated (exit 18)', async () => {
    behaviour = async (_event, stream) => {
      const out = prelude(stream);
      out.write(Buffer.alloc(100_000, 1));
      await new Promise((r) => setTimeout(r, 50));
      out.destroy(new Error('the tag did not match'));
      throw new Error('the tag did not match');
    };
    const got = await curl(keysOf(KEY_USER), `${gateway.endpoint}/v1/streams/x`, join(work, 'cut.out'));
    expect(got.status).toBe(200);
    expect(got.code).toBe(18);
    expect(got.stderr).toContain('transfer closed with outstanding read data remaining');
  });

  it("the typed client's stream fails on a transfer ended short, rather than ending", async () => {
    behaviour = async (_event, stream) => {
      const out = prelude(stream);
      out.write(Buffer.alloc(100_000, 1));
      await new Promise((r) => setTimeout(r, 50));
      out.destroy(new Error('the tag did not match'));
    };
    const client = new EaasClient({ endpoint: gateway.endpoint, credentials: keysOf(KEY_USER) });
    const { body } = await client.documents.stream('x');
    await expect(
      (async () => {
        for await (const _chunk of body) {
          // read to the end
        }
      })(),
    ).rejects.toThrow();
  });

  it('a function that ends its stream ends the transfer cleanly', async () => {
    behaviour = async (_event, stream) => {
      prelude(stream).end('all of it');
    };
    const out = join(work, 'clean.out');
    const got = await curl(keysOf(KEY_USER), `${gateway.endpoint}/v1/streams/x`, out);
    expect(got.code, got.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('all of it');
  });

  it('the stream bound: 504 before the prelude, a transfer ended short after it', async () => {
    behaviour = () => new Promise(() => undefined);
    const before = await curl(keysOf(KEY_USER), `${gateway.endpoint}/v1/streams/x`, join(work, 'late.out'));
    expect(before.status).toBe(504);
    behaviour = async (_event, stream) => {
      prelude(stream).write('a start, and nothing more');
      await new Promise(() => undefined);
    };
    const after = await curl(keysOf(KEY_USER), `${gateway.endpoint}/v1/streams/x`, join(work, 'slow.out'));
    expect(after.status).toBe(200);
    expect(after.code).toBe(18);
  });

  it('a function that fails before its prelude is a 502', async () => {
    behaviour = async () => {
      throw new Error('cold start failed');
    };
    const got = await curl(keysOf(KEY_USER), `${gateway.endpoint}/v1/streams/x`, join(work, 'failed.out'));
    expect(got.status).toBe(502);
    expect(JSON.parse(readFileSync(join(work, 'failed.out'), 'utf8'))).toEqual({
      message: 'Internal server error',
    });
  });
});
