import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { KmsError } from '../../src/kms/errors.js';
import { blob, paginate, parseInput, str } from '../../src/kms/shapes.js';

const shape = z.object({
  KeyId: str(1, 5),
  Plaintext: blob(1, 4),
  Limit: z.number().int().min(1).max(10).optional(),
});

function failure(input: unknown): KmsError {
  try {
    parseInput(shape, input);
  } catch (e) {
    if (e instanceof KmsError) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

describe('parseInput maps problems to the KMS error AWS gives', () => {
  it('decodes blobs', () => {
    expect(parseInput(shape, { KeyId: 'k', Plaintext: 'aGk=' }).Plaintext.toString()).toBe('hi');
  });

  it('missing member: ValidationException naming it in lower camel case', () => {
    expect(failure({ Plaintext: 'aGk=' })).toMatchObject({
      type: 'ValidationException',
      message:
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
    });
  });

  it('wrong JSON type or bad base64: SerializationException', () => {
    expect(failure({ KeyId: 1, Plaintext: 'aGk=' }).type).toBe('SerializationException');
    expect(failure({ KeyId: 'k', Plaintext: '!!' }).type).toBe('SerializationException');
  });

  it('length and range constraints: ValidationException with the bound', () => {
    expect(failure({ KeyId: 'toolong', Plaintext: 'aGk=' }).message).toContain('less than or equal to 5');
    expect(failure({ KeyId: 'k', Plaintext: 'aGVsbG8=' }).message).toContain('less than or equal to 4');
    expect(failure({ KeyId: 'k', Plaintext: 'aGk=', Limit: 11 }).message).toContain(
      'value less than or equal to 10',
    );
  });
});

describe('paginate', () => {
  const items = Array.from({ length: 7 }, (_, i) => i);

  it('walks every item once with opaque markers', () => {
    const seen: number[] = [];
    let marker: string | undefined;
    do {
      const p = paginate(items, 3, marker, 100);
      seen.push(...p.page);
      marker = p.nextMarker;
      expect(p.truncated).toBe(marker !== undefined);
    } while (marker);
    expect(seen).toEqual(items);
  });

  it('refuses a marker it did not make', () => {
    expect(() => paginate(items, 3, 'bm9wZQ', 100)).toThrow(KmsError);
  });
});
