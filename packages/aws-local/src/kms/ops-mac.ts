import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { LocalAccess } from './access.js';
import { KmsError } from './errors.js';
import { specInfo } from './key-specs.js';
import type { KeyStore } from './key-store.js';
import { type Operation, operation, refuseDryRun, requireKeyUsage, requireUsable } from './operation.js';
import { specOf } from './records.js';
import { blob, dryRunShape, grantTokensShape, keyIdShape, macAlgorithmShape } from './shapes.js';

/**
 * GenerateMac and VerifyMac with HMAC keys (RFC 2104 over SHA-2, node's `createHmac`):
 * https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateMac.html and
 * .../API_VerifyMac.html. The message is 1 to 4096 bytes; "GenerateMac and VerifyMac do not
 * provide special handling for message digests".
 */

const MAX_MESSAGE = 4096;
/** The Mac member's bounds (API_VerifyMac). */
const MAX_MAC = 6144;

const HASH: Readonly<Record<string, string>> = {
  HMAC_SHA_224: 'sha224',
  HMAC_SHA_256: 'sha256',
  HMAC_SHA_384: 'sha384',
  HMAC_SHA_512: 'sha512',
};

const macInput = {
  KeyId: keyIdShape,
  Message: blob(1, MAX_MESSAGE),
  MacAlgorithm: macAlgorithmShape,
  GrantTokens: grantTokensShape,
  DryRun: dryRunShape,
};

/**
 * The MAC of the message under the key's current material. The MacAlgorithm "must be supported
 * by the HMAC KMS key identified by the KeyId parameter" (each HMAC spec has one): another is an
 * InvalidKeyUsageException, as is a key that is not an HMAC key.
 */
function mac(
  input: { KeyId: string; Message: Buffer; MacAlgorithm: string; DryRun?: boolean | undefined },
  store: KeyStore,
  access: LocalAccess,
  action: 'kms:GenerateMac' | 'kms:VerifyMac',
) {
  const key = store.resolve(input.KeyId, true);
  // kms:MacAlgorithm is the condition key of both operations (conditions-kms.html).
  access.require(key, action, undefined, { 'kms:MacAlgorithm': [input.MacAlgorithm] });
  requireUsable(store, key);
  requireKeyUsage(store, key, 'GENERATE_VERIFY_MAC', action.slice(4));
  const { keySpec } = specOf(key);
  if (!(specInfo(keySpec).macAlgorithms ?? []).includes(input.MacAlgorithm)) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `Algorithm ${input.MacAlgorithm} is incompatible with key spec ${keySpec} of ${store.keyArn(key.keyId)}.`,
    );
  }
  refuseDryRun(input.DryRun);
  // The cached material is passed as is (createHmac copies it); it is never logged or returned.
  const material = store.material(key, key.materials.length - 1);
  return {
    key,
    mac: createHmac(HASH[input.MacAlgorithm] ?? 'sha256', material)
      .update(input.Message)
      .digest(),
  };
}

export const macOperations: Record<string, Operation> = {
  GenerateMac: operation(z.object(macInput), (input, { store, access }) => {
    const out = mac(input, store, access, 'kms:GenerateMac');
    return {
      Mac: out.mac.toString('base64'),
      MacAlgorithm: input.MacAlgorithm,
      KeyId: store.keyArn(out.key.keyId),
    };
  }),

  VerifyMac: operation(z.object({ ...macInput, Mac: blob(1, MAX_MAC) }), (input, { store, access }) => {
    const out = mac(input, store, access, 'kms:VerifyMac');
    // Constant-time comparison; a MAC of another length is simply not equal.
    const valid = out.mac.length === input.Mac.length && timingSafeEqual(out.mac, input.Mac);
    if (!valid) {
      // "If the HMAC is not verified, the VerifyMac operation fails with a KMSInvalidMacException" (API_VerifyMac).
      throw new KmsError(
        'KMSInvalidMacException',
        'The MAC is not valid for this message, key and MAC algorithm.',
      );
    }
    return { KeyId: store.keyArn(out.key.keyId), MacValid: true, MacAlgorithm: input.MacAlgorithm };
  }),
};
