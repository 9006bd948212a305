import { randomBytes } from 'node:crypto';
import { GRANTEE, KEY_USER } from '@eaas/aws-local';
import { EaasError, waitForSeal } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * POST /v1/uploads/{id}/parts through the typed client against the local stack: an uploader that
 * stopped half-way gets fresh URLs for the rest and the ETags of what S3 holds, completes, and the
 * document is sealed whole; anyone else's upload answers as none; an upload over answers 409.
 */

let t: TestStack;
const MiB = 1024 * 1024;

beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await t.stop();
});

async function putPart(url: string, body: Uint8Array): Promise<string> {
  const res = await fetch(url, { method: 'PUT', body });
  expect(res.status).toBe(200);
  return res.headers.get('etag') ?? '';
}

async function refusal(p: Promise<unknown>): Promise<EaasError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EaasError);
  return error as EaasError;
}

describe('resuming an upload', () => {
  it('the owner sends only the parts S3 lacks, completes, and the document is sealed whole', async () => {
    const api = t.client(KEY_USER).documents;
    const bytes = randomBytes(20 * MiB);
    const created = await api.createUpload({
      key: 'resume/doc.bin',
      keyId: 'alias/eaas-default',
      size: bytes.length,
    });
    expect(created.method).toBe('multipart');
    const [first] = created.parts ?? [];
    if (!first) throw new Error('no part');
    const firstEtag = await putPart(first.url, bytes.subarray(0, first.size));

    const resumed = await api.resumeUpload(created.id);
    expect(resumed).toMatchObject({ id: created.id, state: 'pending', partSize: 8 * MiB });
    expect(resumed.uploaded).toEqual([{ partNumber: 1, etag: firstEtag, size: 8 * MiB }]);
    expect(resumed.parts.map((p) => [p.partNumber, p.size])).toEqual([
      [2, 8 * MiB],
      [3, 4 * MiB],
    ]);
    const etags = [{ partNumber: 1, etag: firstEtag }];
    for (const part of resumed.parts) {
      const offset = (part.partNumber - 1) * resumed.partSize;
      etags.push({
        partNumber: part.partNumber,
        etag: await putPart(part.url, bytes.subarray(offset, offset + part.size)),
      });
    }
    await api.completeUpload(created.id, etags);
    expect((await waitForSeal(t.client(KEY_USER), created.id)).state).toBe('sealed');
    const ticket = await api.createDownload('resume/doc.bin');
    expect(ticket.size).toBe(bytes.length);

    // Over: sealed answers 409 InvalidState.
    const over = await refusal(api.resumeUpload(created.id));
    expect([over.status, over.code]).toEqual([409, 'InvalidState']);
  });

  it("answers another caller's upload as one that does not exist, and a cancelled one 409", async () => {
    const api = t.client(KEY_USER).documents;
    const created = await api.createUpload({
      key: 'resume/other.bin',
      keyId: 'alias/eaas-default',
      size: 17 * MiB,
    });
    const theirs = await refusal(t.client(GRANTEE).documents.resumeUpload(created.id));
    const none = await refusal(t.client(GRANTEE).documents.resumeUpload('0'.repeat(32)));
    expect([theirs.status, theirs.code]).toEqual([404, 'NotFound']);
    expect(theirs.message).toBe(none.message.replace('0'.repeat(32), created.id));
    const asked = await api.resumeUpload(created.id, [3]);
    expect(asked.parts.map((p) => p.partNumber)).toEqual([3]);
    const wrong = await refusal(api.resumeUpload(created.id, [9]));
    expect([wrong.status, wrong.code]).toEqual([400, 'ValidationError']);
    await api.cancelUpload(created.id);
    const cancelled = await refusal(api.resumeUpload(created.id));
    expect([cancelled.status, cancelled.code]).toEqual([409, 'InvalidState']);
  });
});
