import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/core/errors.js';
import { ALICE, BOB, callerOf, KEY_A, uploadWorld } from '../helpers/upload-world.js';

/** POST /v1/uploads/{id}/parts in the service: which parts are signed again, and when it refuses. */

const MiB = 1024 * 1024;
const alice = callerOf(ALICE, [KEY_A]);
const bob = callerOf(BOB, [KEY_A]);

async function refusal(p: Promise<unknown>): Promise<DomainError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

async function started() {
  const world = uploadWorld();
  const out = await world.uploads.create(alice, { key: 'big', keyId: KEY_A, size: 17 * MiB + 1 });
  if (out.method !== 'multipart') throw new Error('multipart expected');
  const multipartId =
    [...(world.staging as unknown as { multipart: Map<string, unknown> }).multipart.keys()][0] ?? '';
  return { ...world, id: out.id, multipartId };
}

describe('resuming an upload', () => {
  it('signs the parts S3 does not hold, until the links expire, and lists the ones it holds', async () => {
    const { uploads, staging, clock, id, multipartId } = await started();
    const etag = staging.uploadPart(multipartId, 2, Buffer.alloc(8 * MiB));
    clock.advance(10);
    const out = await uploads.resume(alice, id);
    expect(out.uploaded).toEqual([{ partNumber: 2, etag, size: 8 * MiB }]);
    expect(out.parts.map((p) => [p.partNumber, p.size])).toEqual([
      [1, 8 * MiB],
      [3, MiB + 1],
    ]);
    // The links live only as long as the upload's: 900 s + 17 s, 10 s of which have passed.
    expect(out.parts[0]?.url).toContain('expires=907');
    expect(out.partSize).toBe(8 * MiB);
    const asked = await uploads.resume(alice, id, [2]);
    expect(asked.parts.map((p) => p.partNumber)).toEqual([2]);
    expect((await refusal(uploads.resume(alice, id, [4]))).code).toBe('ValidationError');
  });

  it("answers another caller's upload as none, and refuses an expired, cancelled or single-PUT one", async () => {
    const { uploads, clock, id } = await started();
    expect((await refusal(uploads.resume(bob, id))).code).toBe('NotFound');
    expect((await refusal(uploads.resume(alice, 'f'.repeat(32)))).code).toBe('NotFound');
    clock.advance(918);
    expect((await refusal(uploads.resume(alice, id))).code).toBe('UploadExpired');
    const other = await started();
    await other.uploads.cancel(alice, other.id);
    expect((await refusal(other.uploads.resume(alice, other.id))).code).toBe('InvalidState');
    const small = await other.uploads.create(alice, { key: 's', keyId: KEY_A, size: 5 });
    expect((await refusal(other.uploads.resume(alice, small.id))).code).toBe('InvalidState');
  });
});
