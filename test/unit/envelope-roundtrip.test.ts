import { createDecipheriv, type DecipherGCM, hkdfSync, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeHeader,
  EnvelopeDecryptError,
  EnvelopeFormatError,
  encodeHeader,
  headerLocation,
  kmsContextFor,
  opener,
  sealer,
  userContextOf,
} from '../../src/core/envelope/index.js';

/** Splits bytes into chunks of the given sizes (cycled), as a network would deliver them. */
function chunked(bytes: Buffer, sizes: number[]): Readable {
  const parts: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length] ?? 1);
    parts.push(bytes.subarray(at, at + n));
    at += n;
  }
  return Readable.from(parts);
}

async function seal(
  version: 'v2' | 'v3',
  plaintext: Buffer,
  dataKey: Buffer,
  context: Record<string, string> = {},
) {
  const { header, stream } = sealer({
    version,
    dataKey: Buffer.from(dataKey),
    wrappedKey: Buffer.from('wrapped'),
    kmsContext: kmsContextFor(version, context),
  });
  return { header, body: await buffer(Readable.from([plaintext]).pipe(stream)) };
}

/** The format read from the specification alone, with Node's crypto: what another S3EC does. */
function independentOpen(metadata: Record<string, string>, dataKey: Buffer, body: Buffer): Buffer {
  const tag = body.subarray(body.length - 16);
  const ct = body.subarray(0, body.length - 16);
  let decipher: DecipherGCM;
  if (metadata['x-amz-c'] === '115') {
    const messageId = Buffer.from(metadata['x-amz-i'] as string, 'base64');
    const info = (label: string) => Buffer.concat([Buffer.from([0x00, 0x73]), Buffer.from(label)]);
    const commitment = Buffer.from(hkdfSync('sha512', dataKey, messageId, info('COMMITKEY'), 28));
    expect(commitment.toString('base64')).toBe(metadata['x-amz-d']);
    const key = Buffer.from(hkdfSync('sha512', dataKey, messageId, info('DERIVEKEY'), 32));
    decipher = createDecipheriv('aes-256-gcm', key, Buffer.alloc(12, 1));
    decipher.setAAD(Buffer.from([0x00, 0x73]));
  } else {
    expect(metadata['x-amz-cek-alg']).toBe('AES/GCM/NoPadding');
    decipher = createDecipheriv(
      'aes-256-gcm',
      dataKey,
      Buffer.from(metadata['x-amz-iv'] as string, 'base64'),
    );
  }
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ct), decipher.final()]);
}

describe('seal and open', () => {
  it('round-trips any size in any chunking, both versions, and another implementation reads it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('v2' as const, 'v3' as const),
        fc.uint8Array({ minLength: 0, maxLength: 70_000 }),
        fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 5 }),
        async (version, bytes, sizes) => {
          const plaintext = Buffer.from(bytes);
          const dataKey = randomBytes(32);
          const { header, body } = await seal(version, plaintext, dataKey);
          expect(body.length).toBe(plaintext.length + 16);
          const { metadata } = encodeHeader(header);
          expect(independentOpen(metadata, dataKey, body).equals(plaintext)).toBe(true);
          const out = await buffer(
            chunked(body, sizes).pipe(opener(decodeHeader(metadata), Buffer.from(dataKey))),
          );
          expect(out.equals(plaintext)).toBe(true);
        },
      ),
      { numRuns: 40, seed: 20261128 },
    );
  });

  it('zeroes the data key it is given, and never writes the same IV or message id twice', async () => {
    const key = randomBytes(32);
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      for (const version of ['v2', 'v3'] as const) {
        const given = Buffer.from(key);
        const { header } = sealer({ version, dataKey: given, wrappedKey: Buffer.from('w'), kmsContext: {} });
        expect(given.every((b) => b === 0)).toBe(true);
        const nonce = (header.iv ?? header.messageId)?.toString('hex') ?? '';
        expect(seen.has(nonce)).toBe(false);
        seen.add(nonce);
      }
    }
  });

  it('any flipped byte of the body fails the open', async () => {
    const plaintext = randomBytes(3000);
    const dataKey = randomBytes(32);
    for (const version of ['v2', 'v3'] as const) {
      const { header, body } = await seal(version, plaintext, dataKey);
      for (const at of [0, 1500, 2999, 3000, 3015]) {
        const tampered = Buffer.from(body);
        tampered[at] = (tampered[at] as number) ^ 0x01;
        await expect(
          buffer(Readable.from([tampered]).pipe(opener(header, Buffer.from(dataKey)))),
        ).rejects.toThrow(EnvelopeDecryptError);
      }
    }
  });
});

describe('content metadata', () => {
  it('keeps the caller context beside the reserved content algorithm, and refuses the reserved key', async () => {
    const { header } = await seal('v3', Buffer.from('x'), randomBytes(32), { tenant: 'acme' });
    const { metadata } = encodeHeader(header);
    expect(JSON.parse(metadata['x-amz-t'] as string)).toEqual({ tenant: 'acme', 'aws:x-amz-cek-alg': '115' });
    expect(userContextOf(decodeHeader(metadata))).toEqual({ tenant: 'acme' });
    expect(() => kmsContextFor('v3', { 'aws:x-amz-cek-alg': '115' })).toThrow(EnvelopeFormatError);
  });

  it('refuses kms_cmk_id on write, and shows every stored key but the content algorithm (issue 12)', async () => {
    expect(() => kmsContextFor('v3', { tenant: 'acme', kms_cmk_id: 'restricted' })).toThrow(
      EnvelopeFormatError,
    );
    // Another writer's header with kms_cmk_id: it is part of what KMS binds, so it is shown.
    const { header } = await seal('v3', Buffer.from('x'), randomBytes(32), {});
    const other = {
      ...header,
      kmsContext: { tenant: 'acme', kms_cmk_id: 'restricted', 'aws:x-amz-cek-alg': '115' },
    };
    const decoded = decodeHeader(encodeHeader(other).metadata);
    expect(userContextOf(decoded)).toEqual({ tenant: 'acme', kms_cmk_id: 'restricted' });
    expect(decoded.kmsContext).toEqual(other.kmsContext);
  });

  it('V3 with an instruction file keeps x-amz-c, -d and -i in the object metadata', async () => {
    const dataKey = randomBytes(32);
    const { header, body } = await seal('v3', Buffer.from('instructed'), dataKey, { a: 'b' });
    const { metadata, instruction } = encodeHeader(header, { instructionFile: true });
    expect(Object.keys(metadata).sort()).toEqual(['x-amz-c', 'x-amz-d', 'x-amz-i']);
    expect(Object.keys(JSON.parse(instruction as string)).sort()).toEqual(['x-amz-3', 'x-amz-t', 'x-amz-w']);
    expect(headerLocation(metadata)).toBe('instruction');
    const decoded = decodeHeader(metadata, instruction);
    const out = await buffer(Readable.from([body]).pipe(opener(decoded, dataKey)));
    expect(out.toString()).toBe('instructed');
    // The object-only keys may not come from the instruction file.
    const forged = JSON.stringify({ ...JSON.parse(instruction as string), 'x-amz-d': metadata['x-amz-d'] });
    expect(() => decodeHeader(metadata, forged)).toThrow(EnvelopeFormatError);
  });

  it('V2 with an instruction file has no S3EC keys in the object metadata', async () => {
    const { header } = await seal('v2', Buffer.from('x'), randomBytes(32));
    const { metadata, instruction } = encodeHeader(header, { instructionFile: true });
    expect(metadata).toEqual({});
    expect(headerLocation(metadata)).toBe('none');
    expect(decodeHeader(metadata, instruction).version).toBe('v2');
  });

  it('refuses mixed versions, missing keys, unknown algorithms and an unbound content algorithm', async () => {
    const { header } = await seal('v3', Buffer.from('x'), randomBytes(32));
    const { metadata } = encodeHeader(header);
    const broken: Record<string, string | undefined>[] = [
      { ...metadata, 'x-amz-key-v2': 'AAAA' },
      { ...metadata, 'x-amz-c': '114' },
      { ...metadata, 'x-amz-w': '02' },
      { ...metadata, 'x-amz-t': '{"aws:x-amz-cek-alg":"AES/GCM/NoPadding"}' },
      { ...metadata, 'x-amz-t': '{"tenant":1,"aws:x-amz-cek-alg":"115"}' },
      { ...metadata, 'x-amz-t': 'not json' },
      { ...metadata, 'x-amz-i': Buffer.alloc(12).toString('base64') },
      { ...metadata, 'x-amz-m': '{"kms_cmk_id":"x"}' },
      { ...metadata, 'x-amz-3': undefined },
      { ...metadata, 'x-amz-key': 'v1' },
      {},
    ];
    for (const m of broken) expect(() => decodeHeader(m), JSON.stringify(m)).toThrow(EnvelopeFormatError);
  });
});
