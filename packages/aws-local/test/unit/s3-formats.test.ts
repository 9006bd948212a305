import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AwsChunkedDecoder } from '../../src/s3/aws-chunked.js';
import { newChecksum } from '../../src/s3/checksums.js';
import { parseRange } from '../../src/s3/conditions.js';
import { formEncode } from '../../src/s3/keys.js';
import { parseXml, xmlDocument } from '../../src/s3/xml.js';

async function decode(
  body: Buffer,
  pieces: number[] = [],
): Promise<{ data: string; trailers: Map<string, string> }> {
  const parts: Buffer[] = [];
  let at = 0;
  for (const n of pieces) {
    parts.push(body.subarray(at, Math.min(body.length, at + n)));
    at = Math.min(body.length, at + n);
  }
  parts.push(body.subarray(at));
  const decoder = new AwsChunkedDecoder();
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(parts).pipe(decoder)) out.push(chunk as Buffer);
  return { data: Buffer.concat(out).toString(), trailers: decoder.trailers };
}

const frame = (chunks: string[], trailer = '') =>
  Buffer.from(
    `${chunks.map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`).join('')}0\r\n${trailer}\r\n`,
  );

describe('AwsChunkedDecoder', () => {
  it('decodes chunks and trailers however the bytes are split on the wire', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 40 }),
        async (chunks, pieces) => {
          const out = await decode(frame(chunks, 'x-amz-checksum-crc32:AAAAAA==\r\n'), pieces);
          expect(out.data).toBe(chunks.join(''));
          expect(out.trailers.get('x-amz-checksum-crc32')).toBe('AAAAAA==');
        },
      ),
    );
  });

  it.each([
    ['a truncated body', Buffer.from('5\r\nab'), 'IncompleteBody'],
    ['a bad size line', Buffer.from('g\r\nabc\r\n0\r\n\r\n'), 'InvalidRequest'],
    ['data longer than its size', Buffer.from('2\r\nabc\r\n0\r\n\r\n'), 'InvalidRequest'],
    ['bytes after the end', Buffer.from('0\r\n\r\nmore'), 'InvalidRequest'],
    [
      'an unexpected chunk signature',
      Buffer.from(`1;chunk-signature=${'a'.repeat(64)}\r\na\r\n0\r\n\r\n`),
      'InvalidRequest',
    ],
    ['a malformed trailer', Buffer.from('0\r\nno colon\r\n\r\n'), 'MalformedTrailerError'],
  ])('refuses %s', async (_what, body, code) => {
    await expect(decode(body)).rejects.toMatchObject({ code });
  });
});

describe('checksums', () => {
  it.each([
    ['crc32', 'cbf43926'],
    ['crc32c', 'e3069283'],
    ['crc64nvme', 'ae8b14860a799888'],
    ['sha1', 'f7c3bc1d808e04732adf679965ccc34ca7ae3441'],
  ] as const)('%s of "123456789" in two pieces is the standard check value', (algorithm, hex) => {
    const c = newChecksum(algorithm);
    c.update(Buffer.from('1234'));
    c.update(Buffer.from('56789'));
    expect(Buffer.from(c.digest(), 'base64').toString('hex')).toBe(hex);
  });
});

describe('parseRange', () => {
  it.each([
    ['bytes=0-0', 10, { start: 0, end: 0 }],
    ['bytes=3-', 10, { start: 3, end: 9 }],
    ['bytes=-4', 10, { start: 6, end: 9 }],
    ['bytes=5-1000', 10, { start: 5, end: 9 }],
    ['bytes=4-2', 10, undefined],
    ['bytes=1-2,4-5', 10, undefined],
    ['pages=1-2', 10, undefined],
    [undefined, 10, undefined],
  ])('%s of %i bytes is %o', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it.each([
    ['bytes=10-', 10],
    ['bytes=-0', 10],
    ['bytes=0-', 0],
  ])('%s of %i bytes is InvalidRange', (header, size) => {
    expect(() => parseRange(header, size)).toThrow(
      expect.objectContaining({ code: 'InvalidRange', status: 416 }),
    );
  });
});

describe('keys and XML', () => {
  it('form-encodes keys as S3 notifications do', () => {
    expect(formEncode('a b/(1)+ü*~.txt')).toBe('a+b/%281%29%2B%C3%BC*%7E.txt');
  });

  it('escapes what it writes so that it parses back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const clean = text.replace(/\0/g, '');
        expect(parseXml(xmlDocument('Root', { Key: clean })).children[0]?.text).toBe(clean);
      }),
    );
  });

  it.each([
    '<!DOCTYPE x [<!ENTITY e "boom">]><a>&e;</a>',
    '<a><b></a></b>',
    '<a>&nope;</a>',
    '<a></a><b></b>',
    '<a>&#xD800;</a>',
    'text',
  ])('refuses %s', (source) => {
    expect(() => parseXml(source)).toThrow();
  });
});
