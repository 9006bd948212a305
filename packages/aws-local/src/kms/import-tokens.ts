import {
  constants,
  createCipheriv,
  createDecipheriv,
  hkdfSync,
  type KeyObject,
  privateDecrypt,
  randomBytes,
} from 'node:crypto';
import { decipherAll } from './decipher.js';

/**
 * Import tokens and the unwrapping of imported key material.
 *
 * GetParametersForImport gives an RSA wrapping public key and an import token, "an indivisible set
 * that must be used together", valid for 24 hours
 * (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-get-public-key-and-token.html).
 * The local KMS keeps no state for them: the token is the wrapping private key itself, with the key
 * id it is for, the wrapping algorithm and spec and its expiry, sealed (AES-256-GCM) under a key
 * derived from the root key. A token for another key, or one altered or made by another key
 * store, does not open or does not match; an expired one is recognised as such.
 *
 * Token plaintext: version (1) | key id (36 ASCII) | algorithm (1) | wrapping key spec (1)
 * | expiry, epoch ms (8, big-endian) | wrapping private key, PKCS#8 DER.
 * Token: IV (12) | ciphertext | tag (16).
 */

/** Wrapping algorithms the local KMS takes, in token order (their index is their code). */
export const WRAPPING_ALGORITHMS = [
  'RSAES_OAEP_SHA_1',
  'RSAES_OAEP_SHA_256',
  'RSA_AES_KEY_WRAP_SHA_1',
  'RSA_AES_KEY_WRAP_SHA_256',
] as const;
export type WrappingAlgorithm = (typeof WRAPPING_ALGORITHMS)[number];

/** RSA wrapping key specs and their modulus lengths (SM2 is China Regions only). */
export const WRAPPING_KEY_SPECS = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 } as const;
export type WrappingKeySpec = keyof typeof WRAPPING_KEY_SPECS;
const SPEC_NAMES = Object.keys(WRAPPING_KEY_SPECS) as WrappingKeySpec[];

const VERSION = 1;
const KEY_ID_LENGTH = 36;
const HEADER = 1 + KEY_ID_LENGTH + 1 + 1 + 8;
const AAD = Buffer.from('eaas local kms import token v1', 'utf8');

export interface ImportTokenContents {
  keyId: string;
  algorithm: WrappingAlgorithm;
  spec: WrappingKeySpec;
  /** Epoch ms after which the token and its public key are no longer valid. */
  validTo: number;
  /** PKCS#8 DER; the caller zeroes it once used. */
  privateKey: Buffer;
}

export class ImportTokens {
  private readonly key: Buffer;

  constructor(rootKey: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', rootKey, Buffer.alloc(0), 'eaas local kms import tokens', 32));
  }

  seal(t: ImportTokenContents): Buffer {
    const plain = Buffer.alloc(HEADER + t.privateKey.length);
    plain[0] = VERSION;
    plain.write(t.keyId, 1, KEY_ID_LENGTH, 'latin1');
    plain[1 + KEY_ID_LENGTH] = WRAPPING_ALGORITHMS.indexOf(t.algorithm);
    plain[2 + KEY_ID_LENGTH] = SPEC_NAMES.indexOf(t.spec);
    plain.writeBigUInt64BE(BigInt(t.validTo), 3 + KEY_ID_LENGTH);
    t.privateKey.copy(plain, HEADER);
    try {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', this.key, iv);
      cipher.setAAD(AAD);
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return Buffer.concat([iv, body, cipher.getAuthTag()]);
    } finally {
      plain.fill(0);
    }
  }

  /** The token's contents; undefined when it is not a token of this key store (or was altered). */
  open(token: Buffer): ImportTokenContents | undefined {
    if (token.length < 12 + HEADER + 16) return undefined;
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, token.subarray(0, 12));
      decipher.setAAD(AAD);
      decipher.setAuthTag(token.subarray(token.length - 16));
      plain = decipherAll(decipher, token.subarray(12, token.length - 16));
    } catch {
      return undefined;
    }
    const algorithm = WRAPPING_ALGORITHMS[plain[1 + KEY_ID_LENGTH] ?? -1];
    const spec = SPEC_NAMES[plain[2 + KEY_ID_LENGTH] ?? -1];
    if (plain[0] !== VERSION || !algorithm || !spec) {
      plain.fill(0);
      return undefined;
    }
    const contents = {
      keyId: plain.toString('latin1', 1, 1 + KEY_ID_LENGTH),
      algorithm,
      spec,
      validTo: Number(plain.readBigUInt64BE(3 + KEY_ID_LENGTH)),
      privateKey: Buffer.from(plain.subarray(HEADER)),
    };
    plain.fill(0);
    return contents;
  }
}

/** The IV of AES key wrap with padding (RFC 5649's alternative initial value). */
const KWP_IV = Buffer.from('A65959A6', 'hex');

/**
 * Unwraps EncryptedKeyMaterial with the wrapping private key, as the wrapping algorithm says
 * (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html):
 * RSAES_OAEP_SHA_* encrypt the material itself with RSA-OAEP (MGF1 with the same hash);
 * RSA_AES_KEY_WRAP_SHA_* are an RSA-OAEP-encrypted AES-256 key (as long as the modulus) followed by
 * the material wrapped under that AES key with AES key wrap with padding (RFC 5649). Undefined when
 * the bytes do not unwrap.
 */
export function unwrapKeyMaterial(
  algorithm: WrappingAlgorithm,
  privateKey: KeyObject,
  encrypted: Buffer,
): Buffer | undefined {
  const oaepHash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  const rsa = (data: Buffer) =>
    privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, data);
  try {
    if (algorithm.startsWith('RSAES_OAEP')) return rsa(encrypted);
    const modulusBytes = (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
    if (encrypted.length <= modulusBytes) return undefined;
    const aesKey = rsa(encrypted.subarray(0, modulusBytes));
    try {
      if (aesKey.length !== 32) return undefined;
      const decipher = createDecipheriv('id-aes256-wrap-pad', aesKey, KWP_IV);
      return decipherAll(decipher, encrypted.subarray(modulusBytes));
    } finally {
      aesKey.fill(0);
    }
  } catch {
    return undefined;
  }
}
