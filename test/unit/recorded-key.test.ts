import { describe, expect, it } from 'vitest';
import { EAAS_METADATA, REWRAP_OF, recordedKeyOf } from '../../src/core/envelope/index.js';

/** Which key a document opens with while a re-encryption job's two writes are half done, and after. */

const A = 'arn:aws:kms:us-east-1:111122223333:key/a';
const B = 'arn:aws:kms:us-east-1:111122223333:key/b';
const object = (keyArn: string, wrappedAt: string) => ({
  etag: '"e1"',
  metadata: { [EAAS_METADATA.keyArn]: keyArn, [EAAS_METADATA.wrappedAt]: wrappedAt },
});
const file = (keyArn: string, wrappedAt: string | undefined, rewrapOf = '"e1"') => ({
  metadata: {
    [EAAS_METADATA.keyArn]: keyArn,
    ...(wrappedAt ? { [EAAS_METADATA.wrappedAt]: wrappedAt } : {}),
    [REWRAP_OF]: rewrapOf,
  },
});

describe('recordedKeyOf', () => {
  it("the instruction file's key while the copy is pending (its mark is this version, its wrap time newer)", () => {
    expect(recordedKeyOf(object(A, 't1'), file(B, 't2'))).toBe(B);
  });

  it("the object's key once the copy landed (the same wrap time), or for another version's mark", () => {
    expect(recordedKeyOf(object(B, 't2'), file(B, 't2'))).toBe(B);
    // A tool that later changes the object's key by a metadata copy is followed, not the old file.
    expect(recordedKeyOf(object(A, 't3'), file(B, 't3'))).toBe(A);
    expect(recordedKeyOf(object(A, 't1'), file(B, 't2', '"e0"'))).toBe(A);
  });

  it("the object's key when the file has no wrap time, or no instruction file is read", () => {
    expect(recordedKeyOf(object(A, 't1'), file(B, undefined))).toBe(A);
    expect(recordedKeyOf(object(A, 't1'))).toBe(A);
  });
});
