import { constants, createECDH, createHash, generateKeyPairSync, type KeyObject, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  oaepDecrypt,
  oaepEncrypt,
  oaepMaxPlaintext,
  SIGNING_ALGORITHMS,
  signMessage,
  verifyMessage,
} from '../../src/kms/asymmetric-crypto.js';

/**
 * The DIGEST paths build signatures from node's lower-level primitives: they must be the
 * signatures the standards define, i.e. verify with node's own RAW verification of the message.
 */

const message = Buffer.from('the local KMS signs what node verifies');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const curves: Record<string, KeyObject> = {
  prime256v1: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
  secp384r1: generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey,
  secp521r1: generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey,
  secp256k1: generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey,
};

function nodeVerifies(key: KeyObject, name: string, signature: Buffer): boolean {
  const { scheme, hash } = SIGNING_ALGORITHMS[name] ?? { scheme: 'ecdsa', hash: 'sha256' };
  return verify(
    hash,
    message,
    scheme === 'pss' ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: -2 } : key,
    signature,
  );
}

describe('signatures over a digest', () => {
  it.each(Object.keys(SIGNING_ALGORITHMS).filter((a) => a.startsWith('RSASSA')))('%s', (name) => {
    const alg = SIGNING_ALGORITHMS[name] as (typeof SIGNING_ALGORITHMS)[string];
    const digest = createHash(alg.hash).update(message).digest();
    const fromDigest = signMessage(rsa, alg, digest, true);
    const fromRaw = signMessage(rsa, alg, message, false);
    expect(nodeVerifies(rsa, name, fromDigest)).toBe(true);
    for (const sig of [fromDigest, fromRaw]) {
      expect(verifyMessage(rsa, alg, digest, true, sig)).toBe(true);
      expect(verifyMessage(rsa, alg, message, false, sig)).toBe(true);
    }
    // PKCS #1 v1.5 is deterministic: the same bytes either way.
    if (alg.scheme === 'pkcs1') expect(fromDigest.equals(fromRaw)).toBe(true);
    const tampered = Buffer.from(fromDigest);
    tampered[10] = (tampered[10] ?? 0) ^ 1;
    expect(verifyMessage(rsa, alg, digest, true, tampered)).toBe(false);
    expect(verifyMessage(rsa, alg, message, false, tampered)).toBe(false);
    expect(verifyMessage(rsa, alg, digest, true, Buffer.alloc(256, 0xff))).toBe(false);
    expect(verifyMessage(rsa, alg, digest, true, Buffer.from([1, 2, 3]))).toBe(false);
  });

  it.each(Object.keys(curves))('ECDSA on %s', (curve) => {
    const key = curves[curve] as KeyObject;
    for (const name of ['ECDSA_SHA_256', 'ECDSA_SHA_384', 'ECDSA_SHA_512']) {
      const alg = SIGNING_ALGORITHMS[name] as (typeof SIGNING_ALGORITHMS)[string];
      const digest = createHash(alg.hash).update(message).digest();
      const sig = signMessage(key, alg, digest, true);
      expect(nodeVerifies(key, name, sig), `${curve} ${name}`).toBe(true);
      expect(verifyMessage(key, alg, digest, true, sig)).toBe(true);
      expect(verifyMessage(key, alg, digest, true, signMessage(key, alg, message, false))).toBe(true);
      const other = createHash(alg.hash).update('another message').digest();
      expect(verifyMessage(key, alg, other, true, sig)).toBe(false);
      expect(verifyMessage(key, alg, digest, true, sig.subarray(0, sig.length - 1))).toBe(false);
      expect(verifyMessage(key, alg, digest, true, Buffer.from('not der'))).toBe(false);
      expect(verifyMessage(key, alg, message, false, Buffer.from('not der'))).toBe(false);
    }
  });

  it('the curve orders are right: (n-1)·G = -G', () => {
    // The order n of each curve is a constant of asymmetric-crypto.ts; an ECDSA signature that
    // node verifies (above) depends on it, and so does this identity.
    const orders: Record<string, string> = {
      prime256v1: 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551',
      secp256k1: 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141',
    };
    for (const [curve, hex] of Object.entries(orders)) {
      const g = createECDH(curve);
      g.setPrivateKey(Buffer.from(`${'00'.repeat(31)}01`, 'hex'));
      const minus = createECDH(curve);
      minus.setPrivateKey(Buffer.from((BigInt(`0x${hex}`) - 1n).toString(16).padStart(64, '0'), 'hex'));
      expect(minus.getPublicKey().subarray(1, 33).equals(g.getPublicKey().subarray(1, 33))).toBe(true);
    }
  });
});

describe('RSAES-OAEP', () => {
  it('round-trips up to the documented maximum and refuses tampering', () => {
    expect(oaepMaxPlaintext(rsa, 'sha1')).toBe(214);
    expect(oaepMaxPlaintext(rsa, 'sha256')).toBe(190);
    const plain = Buffer.alloc(190, 7);
    const ct = oaepEncrypt(rsa, 'sha256', plain);
    expect(oaepDecrypt(rsa, 'sha256', ct)?.equals(plain)).toBe(true);
    expect(oaepDecrypt(rsa, 'sha1', ct)).toBeUndefined();
    expect(oaepDecrypt(rsa, 'sha256', ct.subarray(1))).toBeUndefined();
  });
});
