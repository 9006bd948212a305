import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import {
  authenticate,
  commitmentOf,
  decodeHeader,
  derivedKeyOf,
  EnvelopeDecryptError,
  EnvelopeFormatError,
  opener,
  userContextOf,
} from '../../src/core/envelope/index.js';

/**
 * Known answers published by AWS:
 * - aws/amazon-s3-encryption-client-go, v4/client/decryption_client_v4_test.go (commit 3e1740e):
 *   GetMockV2Object, GetMockV3Object, GetMockV3ObjectWithIncorrectKCValue,
 *   GetMockV3ObjectWithInvalidKCValue, and the V2 CBC object refused without legacy modes.
 * - aws/aws-sdk-ruby, gems/aws-sdk-s3/spec/fixtures/encryption/kdf_kat.json (commit f56988dd).
 * The Go tests' KMS mock answers every Decrypt with the data key given here.
 */

const hex = (s: string) => Buffer.from(s, 'hex');
const b64 = (s: string) => Buffer.from(s, 'base64');

async function open(metadata: Record<string, string>, dataKey: Buffer, body: Buffer): Promise<Buffer> {
  const header = decodeHeader(metadata);
  return buffer(Readable.from([body]).pipe(opener(header, dataKey)));
}

const V2 = {
  dataKey: 'hJUv7S6K2cHF64boS9ixHX0TZAjBZLT4ZpEO4XxkGnY=',
  metadata: {
    'x-amz-key-v2': 'PsuclPnlo2O0MQoov6kL1TBlaZG6oyNwWuAqmAgq7g8b9ZeeORi3VTMg624FU9jx',
    'x-amz-iv': 'dqqlq2dRVSQ5hFRb',
    'x-amz-matdesc': '{"aws:x-amz-cek-alg":"AES/GCM/NoPadding"}',
    'x-amz-wrap-alg': 'kms+context',
    'x-amz-cek-alg': 'AES/GCM/NoPadding',
  },
  body: '6b134eb7a353131de92faff64f594b2794e3544e31776cca26fe3bbeeffc68742d1007234f11c6670522602326868e29f37e9d2678f1614ec1a2418009b9772100929aadbed9a21a',
  plaintext:
    'af150d7156bf5b3f5c461e5c6ac820acc5a33aab7085d920666c250ff251209d5a4029b3bd78250fab6e11aed52fae948d407056a9519b68',
};

const V3 = {
  dataKey: 'lP6AbIQTmptyb/+WQq+ubDw+w7na0T1LGSByZGuaono=',
  metadata: {
    'x-amz-3': '8gSzlk7giyfFbLPUVgoVjvQebI1827jp8lDkO+n2chsiSoegx1sjm8NdPk0Bl70I',
    'x-amz-c': '115',
    'x-amz-d': '6JOSx47RkdyfciJkNauuC4RpkMcWZY4a+i1RzQ==',
    'x-amz-i': 'sE9zLb4tsEBJkvEhLMZFxMj9oZJBbQ6ZOgOqHA==',
    'x-amz-t': '{"aws:x-amz-cek-alg":"115"}',
    'x-amz-w': '12',
  },
  body: '2d4ff4dafe27f69f628872d82b5a1002ed1a21b8485d532bd8159f6487945b3641af5865fc0a029a3650053600c6d213625b9a0cc9c239577c09f3423dedc5641e88b6835824417c',
  plaintext:
    '8f2c59c6dbfcacf356f3da40788cbde67ca38161a4702cbcf757af663e1c24a600001b2f500417dbf5a050f57db6737422b2ed6a44c75e0d',
};

describe('AWS S3 Encryption Client Go v4 mock objects', () => {
  it('GetMockV2Object opens to its plaintext', async () => {
    const out = await open(V2.metadata, b64(V2.dataKey), hex(V2.body));
    expect(out.toString('hex')).toBe(V2.plaintext);
    expect(userContextOf(decodeHeader(V2.metadata))).toEqual({});
  });

  it('GetMockV3Object opens to its plaintext, with the metadata keys in any case', async () => {
    const upper = Object.fromEntries(Object.entries(V3.metadata).map(([k, v]) => [k.toUpperCase(), v]));
    expect((await open(upper, b64(V3.dataKey), hex(V3.body))).toString('hex')).toBe(V3.plaintext);
  });

  it('GetMockV3ObjectWithIncorrectKCValue is refused before any content is decrypted', () => {
    const metadata = {
      ...V3.metadata,
      'x-amz-d': 'FiQepGw+/O+3MuYrmQU5mAkotUnxB+W+EwYDHw==',
      'x-amz-i': 'cPwtbK08jrpe3x+QElyG+vGtkk9jDn6KmOta2Q==',
    };
    expect(() => opener(decodeHeader(metadata), b64(V3.dataKey))).toThrow(EnvelopeDecryptError);
  });

  it('GetMockV3ObjectWithInvalidKCValue (x-amz-d not base64) is a format error', () => {
    expect(() => decodeHeader({ ...V3.metadata, 'x-amz-d': 'notvalidbase64' })).toThrow(EnvelopeFormatError);
  });

  it('the V2 AES/CBC object is refused: legacy unauthenticated modes are never enabled', () => {
    expect(() =>
      decodeHeader({
        'x-amz-key-v2': 'gNuYjzkLTzfhOcIX9h1l8jApWcAAQqzlryOE166kdDojaHH/+7cCqR5HU8Bpxmij',
        'x-amz-iv': 'Vmauu+TMEgaXa26ObqpARA==',
        'x-amz-matdesc': '{"kms_cmk_id":"test-key-id"}',
        'x-amz-wrap-alg': 'kms',
        'x-amz-cek-alg': 'AES/CBC/PKCS5Padding',
      }),
    ).toThrow(EnvelopeFormatError);
  });

  it('a wrong data key, a flipped body byte or a truncated body fails at the tag', async () => {
    const wrongKey = Buffer.alloc(32, 7);
    await expect(open(V2.metadata, wrongKey, hex(V2.body))).rejects.toThrow(EnvelopeDecryptError);
    for (const at of [0, 30, 56, 71]) {
      const tampered = hex(V3.body);
      tampered[at] = (tampered[at] as number) ^ 1;
      await expect(open(V3.metadata, b64(V3.dataKey), tampered), `byte ${at}`).rejects.toThrow(
        EnvelopeDecryptError,
      );
    }
    await expect(open(V3.metadata, b64(V3.dataKey), hex(V3.body).subarray(0, 60))).rejects.toThrow(
      EnvelopeDecryptError,
    );
    await expect(open(V3.metadata, b64(V3.dataKey), Buffer.alloc(0))).rejects.toThrow(EnvelopeDecryptError);
  });

  it('authenticate() checks the tag and releases nothing', async () => {
    const header = decodeHeader(V3.metadata);
    expect(await authenticate(header, b64(V3.dataKey), Readable.from([hex(V3.body)]))).toBe(56);
    const tampered = hex(V3.body);
    tampered[3] = (tampered[3] as number) ^ 0x80;
    await expect(authenticate(header, b64(V3.dataKey), Readable.from([tampered]))).rejects.toThrow(
      EnvelopeDecryptError,
    );
  });
});

describe('aws-sdk-ruby kdf_kat.json (HKDF-SHA512 of suite 0x0073)', () => {
  const vectors = [
    {
      data_key: '80d90dc4cc7e77d8a6332efa44eba56230a7fe7b89af37d1e501ab2e07c0a163',
      message_id: 'b8ea76bed24c7b85382a148cb9dcd1cfdfb765f55ded4dfa6e0c4c79',
      encryption_key: '6dd14f546cc006e639126e83f5d4d1b118576bb5df97f38c6fb3a1db87bbc338',
      commitment_key: 'f89818bc0a346d3a3426b68e9509b6b2ae5fe1f904aa329fb73625db',
    },
    {
      data_key: '501afb8227d22e75e68010414b8abdaf3064c081e8e922dafef4992036394d60',
      message_id: '61a00b4981a5aacfd136c55cb726e32d2a547dc7600a7d4675c69127',
      encryption_key: 'e14786a714748d1d2c3a4a6816dec56ddf1881bbeabb4f39420ffb9f63700b2f',
      commitment_key: '5c1e73e47f6fe3a70d6d094283aceaa76d2975feb829212d88f0afc1',
    },
    {
      data_key: '09b579890de8618fa436ced66b655af4aa6ec760fabf3eb9e7cc7fd22e79851e',
      message_id: '9faa68cd791762eb7280bab11ca1d4011de7e3a255a628d9fbe54f0a',
      encryption_key: 'bd99a917127150fae9e6f87193b122c52ae72fbcdc30e8d18cdf81fabf8b2df3',
      commitment_key: 'ebbeb009a83d2dad7ce3d8df0b7814d1dfe7e9e89703f768ab6ffe3f',
      plaintext: '48656c6c6f2c20576f726c6421',
      ciphertext: 'ac9f0d1185cbc1d2b7e77788b4',
      auth_tag: 'abe58c0c421fa648faca6de694057e9a',
    },
  ];

  it.each(vectors.map((v, i) => [i, v] as const))('vector %i derives its keys', (_i, v) => {
    expect(derivedKeyOf(hex(v.data_key), hex(v.message_id)).toString('hex')).toBe(v.encryption_key);
    expect(commitmentOf(hex(v.data_key), hex(v.message_id)).toString('hex')).toBe(v.commitment_key);
  });

  it('vector 2 opens as a V3 object body', async () => {
    const v = vectors[2] as Required<(typeof vectors)[2]>;
    const metadata = {
      'x-amz-c': '115',
      'x-amz-3': 'AAAA',
      'x-amz-w': '12',
      'x-amz-t': '{"aws:x-amz-cek-alg":"115"}',
      'x-amz-d': hex(v.commitment_key).toString('base64'),
      'x-amz-i': hex(v.message_id).toString('base64'),
    };
    const out = await open(metadata, hex(v.data_key), Buffer.concat([hex(v.ciphertext), hex(v.auth_tag)]));
    expect(out.toString('hex')).toBe(v.plaintext);
  });
});
