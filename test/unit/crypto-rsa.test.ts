import { constants, publicEncrypt, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/core/errors.js';
import { rsaPlaintextLimit } from '../../src/core/key-kinds.js';
import type { EnvelopeCodec } from '../../src/ports.js';
import { CryptoService, formatOf, type KeyGuard } from '../../src/services/crypto.js';
import { MemoryCryptoKeys } from '../fakes/kms.js';

/**
 * RSA keys for ENCRYPT_DECRYPT in the crypto service, over the in-memory KMS: the algorithm is
 * passed through, the limits are KMS's, a context is refused, decrypt failures stay uniform, and
 * a caller refused by the guard learns nothing about the key's kind.
 */

const noEnvelope: EnvelopeCodec = {
  encrypt: async () => {
    throw new Error('no envelope under these tests');
  },
  decrypt: async () => {
    throw new Error('no envelope under these tests');
  },
};

function world() {
  const kms = new MemoryCryptoKeys();
  const service = new CryptoService(kms, noEnvelope);
  return { kms, service, rsa: kms.addRsa('RSA_2048'), symmetric: kms.addSymmetric() };
}

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
  throw new Error('expected a refusal');
};

/** A guard refusing everything, counting its calls. */
function refusingGuard() {
  const seen: string[] = [];
  const guard: KeyGuard = async (keyId, action) => {
    seen.push(`${action} ${keyId}`);
    throw new DomainError('AccessDenied', 'no');
  };
  return { guard, seen };
}

describe('RSA plaintext limits', () => {
  it('are the ones KMS documents for each size and algorithm', () => {
    expect(rsaPlaintextLimit('RSA_2048', 'RSAES_OAEP_SHA_1')).toBe(214);
    expect(rsaPlaintextLimit('RSA_2048', 'RSAES_OAEP_SHA_256')).toBe(190);
    expect(rsaPlaintextLimit('RSA_3072', 'RSAES_OAEP_SHA_1')).toBe(342);
    expect(rsaPlaintextLimit('RSA_3072', 'RSAES_OAEP_SHA_256')).toBe(318);
    expect(rsaPlaintextLimit('RSA_4096', 'RSAES_OAEP_SHA_1')).toBe(470);
    expect(rsaPlaintextLimit('RSA_4096', 'RSAES_OAEP_SHA_256')).toBe(446);
    expect(rsaPlaintextLimit('SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_256')).toBeUndefined();
  });
});

describe('formatOf', () => {
  it('takes a ciphertext starting 0x02 for an SDK message, unless an RSA algorithm is named', () => {
    const c = Buffer.concat([Buffer.from([0x02]), randomBytes(255)]);
    expect(formatOf(c)).toBe('aws-encryption-sdk');
    expect(formatOf(c, 'RSAES_OAEP_SHA_256')).toBe('kms');
    expect(formatOf(c, 'RSAES_OAEP_SHA_1')).toBe('kms');
    expect(formatOf(c, 'SYMMETRIC_DEFAULT')).toBe('aws-encryption-sdk');
  });
});

describe('encrypt and decrypt under an RSA key', () => {
  it('round trips with each algorithm, and names it', async () => {
    const { service, rsa } = world();
    for (const algorithm of ['RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1'] as const) {
      const enc = await service.encrypt(rsa, Buffer.from('secret'), undefined, undefined, algorithm);
      expect(enc).toMatchObject({ keyArn: rsa, format: 'kms', algorithm });
      const dec = await service.decrypt(enc.ciphertext, undefined, rsa, undefined, 'kms:Decrypt', algorithm);
      expect(dec.plaintext.toString()).toBe('secret');
      expect(dec.algorithm).toBe(algorithm);
    }
  });

  it('decrypts a ciphertext made with the public key elsewhere, whatever its first byte', async () => {
    const { service, kms, rsa } = world();
    let ciphertext: Buffer | undefined;
    for (let i = 0; i < 4000 && !ciphertext; i++) {
      const c = publicEncrypt(
        { key: kms.publicKeyOf(rsa), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        Buffer.from('offline'),
      );
      if (c[0] === 0x02) ciphertext = c;
    }
    const dec = await service.decrypt(
      ciphertext as Buffer,
      undefined,
      rsa,
      undefined,
      'kms:Decrypt',
      'RSAES_OAEP_SHA_256',
    );
    expect(dec.plaintext.toString()).toBe('offline');
  });

  it('refuses a plaintext over the limit with 413, before KMS and never as an envelope', async () => {
    const { service, kms, rsa } = world();
    expect(
      await codeOf(service.encrypt(rsa, randomBytes(191), undefined, undefined, 'RSAES_OAEP_SHA_256')),
    ).toBe('PayloadTooLarge');
    expect(
      await codeOf(service.encrypt(rsa, randomBytes(215), undefined, undefined, 'RSAES_OAEP_SHA_1')),
    ).toBe('PayloadTooLarge');
    expect(kms.calls.encrypt ?? 0).toBe(0);
    // No algorithm and over 4 KiB: the key's kind refuses it, not the envelope.
    expect(await codeOf(service.encrypt(rsa, randomBytes(5000), undefined))).toBe('InvalidKeyUsage');
    expect(await codeOf(service.encrypt(rsa, randomBytes(10), undefined))).toBe('InvalidKeyUsage');
  });

  it('refuses an encryption context with an RSA algorithm before the guard is asked', async () => {
    const { service, rsa } = world();
    const { guard, seen } = refusingGuard();
    const context = { tenant: 'acme' };
    expect(await codeOf(service.encrypt(rsa, Buffer.from('x'), context, guard, 'RSAES_OAEP_SHA_256'))).toBe(
      'ValidationError',
    );
    expect(
      await codeOf(service.decrypt(randomBytes(256), context, rsa, guard, 'kms:Decrypt', 'RSAES_OAEP_SHA_1')),
    ).toBe('ValidationError');
    expect(
      await codeOf(
        service.reEncrypt(
          {
            ciphertext: randomBytes(256),
            destinationKeyId: rsa,
            context: undefined,
            destinationContext: context,
            destinationAlgorithm: 'RSAES_OAEP_SHA_256',
          },
          guard,
        ),
      ),
    ).toBe('ValidationError');
    expect(
      await codeOf(
        service.decrypt(randomBytes(256), undefined, undefined, guard, 'kms:Decrypt', 'RSAES_OAEP_SHA_256'),
      ),
    ).toBe('ValidationError');
    expect(seen).toEqual([]);
  });

  it('an RSA algorithm with a symmetric key is InvalidKeyUsage on encrypt, InvalidCiphertext on decrypt', async () => {
    const { service, symmetric } = world();
    expect(
      await codeOf(service.encrypt(symmetric, Buffer.from('x'), undefined, undefined, 'RSAES_OAEP_SHA_256')),
    ).toBe('InvalidKeyUsage');
    const { ciphertext } = await service.encrypt(symmetric, Buffer.from('x'), undefined);
    expect(
      await codeOf(
        service.decrypt(ciphertext, undefined, symmetric, undefined, 'kms:Decrypt', 'RSAES_OAEP_SHA_256'),
      ),
    ).toBe('InvalidCiphertext');
  });

  it('every decrypt failure is InvalidCiphertext: wrong algorithm, wrong key, tampered, no algorithm', async () => {
    const { service, kms, rsa } = world();
    const other = kms.addRsa();
    const { ciphertext } = await service.encrypt(
      rsa,
      Buffer.from('x'),
      undefined,
      undefined,
      'RSAES_OAEP_SHA_256',
    );
    const tampered = Buffer.from(ciphertext);
    tampered[10] = (tampered[10] ?? 0) ^ 0xff;
    const attempts: [Uint8Array, string | undefined, string | undefined][] = [
      [ciphertext, rsa, 'RSAES_OAEP_SHA_1'],
      [ciphertext, other, 'RSAES_OAEP_SHA_256'],
      [tampered, rsa, 'RSAES_OAEP_SHA_256'],
      [ciphertext, rsa, undefined],
      [ciphertext, undefined, undefined],
    ];
    for (const [c, keyId, algorithm] of attempts)
      expect(await codeOf(service.decrypt(c, undefined, keyId, undefined, 'kms:Decrypt', algorithm))).toBe(
        'InvalidCiphertext',
      );
  });

  it('a caller refused by the guard gets 403 before anything about the key kind, and KMS is not asked', async () => {
    const { service, kms, rsa, symmetric } = world();
    const { guard } = refusingGuard();
    const calls = [
      service.encrypt(rsa, randomBytes(5000), undefined, guard),
      service.encrypt(rsa, randomBytes(300), undefined, guard, 'RSAES_OAEP_SHA_256'),
      service.encrypt(symmetric, randomBytes(10), undefined, guard, 'RSAES_OAEP_SHA_256'),
      service.reEncrypt(
        {
          ciphertext: randomBytes(256),
          destinationKeyId: symmetric,
          context: undefined,
          destinationContext: undefined,
          destinationAlgorithm: 'RSAES_OAEP_SHA_256',
        },
        guard,
      ),
    ];
    for (const call of calls) expect(await codeOf(call)).toBe('AccessDenied');
    expect(kms.calls).toEqual({});
  });
});

describe('re-encrypt with RSA keys', () => {
  it('moves an RSA ciphertext to a symmetric key and back, naming both algorithms', async () => {
    const { service, rsa, symmetric } = world();
    const { ciphertext } = await service.encrypt(
      rsa,
      Buffer.from('moved'),
      undefined,
      undefined,
      'RSAES_OAEP_SHA_1',
    );
    const toSymmetric = await service.reEncrypt({
      ciphertext,
      sourceKeyId: rsa,
      sourceAlgorithm: 'RSAES_OAEP_SHA_1',
      destinationKeyId: symmetric,
      context: undefined,
      destinationContext: { tenant: 'acme' },
    });
    expect(toSymmetric).toMatchObject({
      sourceAlgorithm: 'RSAES_OAEP_SHA_1',
      destinationAlgorithm: 'SYMMETRIC_DEFAULT',
      format: 'kms',
    });
    const back = await service.reEncrypt({
      ciphertext: toSymmetric.ciphertext,
      context: { tenant: 'acme' },
      destinationKeyId: rsa,
      destinationContext: undefined,
      destinationAlgorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(back.destinationAlgorithm).toBe('RSAES_OAEP_SHA_256');
    const dec = await service.decrypt(
      back.ciphertext,
      undefined,
      rsa,
      undefined,
      'kms:Decrypt',
      'RSAES_OAEP_SHA_256',
    );
    expect(dec.plaintext.toString()).toBe('moved');
  });

  it('an RSA source algorithm needs the source key', async () => {
    const { service, symmetric } = world();
    expect(
      await codeOf(
        service.reEncrypt({
          ciphertext: randomBytes(256),
          sourceAlgorithm: 'RSAES_OAEP_SHA_256',
          destinationKeyId: symmetric,
          context: undefined,
          destinationContext: undefined,
        }),
      ),
    ).toBe('ValidationError');
  });
});
