import { z } from 'zod';
import type { LocalAccess } from './access.js';
import {
  DATA_KEY_PAIR_SPECS,
  digestLength,
  generateDataKeyPair,
  privateKeyOf,
  publicKeyDer,
  SIGNING_ALGORITHMS,
  type SigningAlgorithmInfo,
  signMessage,
  verifyMessage,
} from './asymmetric-crypto.js';
import { KmsError, validation } from './errors.js';
import { algorithmsOf, specInfo } from './key-specs.js';
import type { KeyRecord, KeyStore } from './key-store.js';
import {
  type Operation,
  operation,
  refuseDryRun,
  refuseRecipient,
  requireKeyUsage,
  requireUsable,
} from './operation.js';
import { algorithmCondition, checkContext, encryptUnder } from './ops-crypto.js';
import { specOf } from './records.js';
import {
  blob,
  contextShape,
  dataKeyPairSpecShape,
  dryRunShape,
  grantTokensShape,
  keyIdShape,
  messageTypeShape,
  signingAlgorithmShape,
} from './shapes.js';

/**
 * Sign, Verify, GetPublicKey and GenerateDataKeyPair(WithoutPlaintext), as the KMS API reference
 * describes them: https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html,
 * .../API_Verify.html, .../API_GetPublicKey.html, .../API_GenerateDataKeyPair.html.
 */

/** "Messages can be 0-4096 bytes. To sign a larger message, provide a message digest." (API_Sign; the shape's minimum is 1.) */
const MAX_MESSAGE = 4096;
/** The Signature member's bounds (API_Verify). */
const MAX_SIGNATURE = 6144;

/** The private key of the key's current material. */
function privateKeyOfKey(store: KeyStore, key: KeyRecord) {
  return privateKeyOf(store.material(key, key.materials.length - 1));
}

/**
 * The signing algorithm, which must be one the key's spec lists ("Choose an algorithm that is
 * compatible with the type and size of the specified asymmetric KMS key", API_Sign): any other is
 * an InvalidKeyUsageException, as KMS answers it.
 */
function signingAlgorithm(store: KeyStore, key: KeyRecord, name: string): SigningAlgorithmInfo {
  const { keySpec } = specOf(key);
  const info = SIGNING_ALGORITHMS[name];
  if (!info || !(specInfo(keySpec).signingAlgorithms ?? []).includes(name)) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `Algorithm ${name} is incompatible with key spec ${keySpec} of ${store.keyArn(key.keyId)}.`,
    );
  }
  return info;
}

/**
 * MessageType: RAW (the default) has KMS hash the message; DIGEST is a digest, whose "length ...
 * must match the length of hashed messages for the specified signing algorithm" (API_Sign);
 * EXTERNAL_MU is for ML-DSA keys, which the local KMS does not make.
 */
function checkMessage(type: string, message: Uint8Array, name: string, info: SigningAlgorithmInfo): boolean {
  if (type === 'EXTERNAL_MU') {
    throw validation(`MessageType EXTERNAL_MU is valid only with ML_DSA key specs, not with ${name}.`);
  }
  if (type === 'DIGEST' && message.length !== digestLength(info.hash)) {
    throw validation(`Digest is invalid length for algorithm ${name}.`);
  }
  return type === 'DIGEST';
}

const signInput = {
  KeyId: keyIdShape,
  Message: blob(1, MAX_MESSAGE),
  MessageType: messageTypeShape,
  SigningAlgorithm: signingAlgorithmShape,
  GrantTokens: grantTokensShape,
  DryRun: dryRunShape,
};

/** The key, authorized and usable for signing; the algorithm and whether the message is a digest. */
function prepareSignature(
  input: { KeyId: string; Message: Buffer; MessageType?: string | undefined; SigningAlgorithm: string },
  store: KeyStore,
  access: LocalAccess,
  action: 'kms:Sign' | 'kms:Verify',
) {
  const type = input.MessageType ?? 'RAW';
  const key = store.resolve(input.KeyId, true);
  // Condition keys of Sign and Verify (conditions-kms.html): kms:SigningAlgorithm, kms:MessageType.
  access.require(key, action, undefined, {
    'kms:SigningAlgorithm': [input.SigningAlgorithm],
    'kms:MessageType': [type],
  });
  requireUsable(store, key);
  requireKeyUsage(store, key, 'SIGN_VERIFY', action.slice(4));
  const info = signingAlgorithm(store, key, input.SigningAlgorithm);
  const isDigest = checkMessage(type, input.Message, input.SigningAlgorithm, info);
  return { key, info, isDigest };
}

const pairInput = z.object({
  KeyId: keyIdShape,
  KeyPairSpec: dataKeyPairSpecShape,
  EncryptionContext: contextShape.optional(),
  GrantTokens: grantTokensShape,
  Recipient: z.unknown().optional(),
  DryRun: dryRunShape,
});

/**
 * A data key pair: the private key (PKCS #8 DER) encrypted under a symmetric encryption KMS key as
 * a ciphertext blob Decrypt opens, and the public key (DER SubjectPublicKeyInfo). "The KMS key
 * must be a symmetric encryption KMS key" (API_GenerateDataKeyPair): any other is an
 * InvalidKeyUsageException.
 */
async function dataKeyPair(
  input: z.output<typeof pairInput>,
  store: KeyStore,
  access: LocalAccess,
  action: string,
) {
  refuseRecipient(input.Recipient);
  if (!DATA_KEY_PAIR_SPECS.includes(input.KeyPairSpec)) {
    throw new KmsError(
      'UnsupportedOperationException',
      `The local KMS does not make ${input.KeyPairSpec} data key pairs.`,
    );
  }
  checkContext(input.EncryptionContext);
  const key = store.resolve(input.KeyId, true);
  access.require(key, action, input.EncryptionContext, {
    ...algorithmCondition(undefined),
    'kms:DataKeyPairSpec': [input.KeyPairSpec],
  });
  requireUsable(store, key);
  requireKeyUsage(store, key, 'ENCRYPT_DECRYPT', action.slice(4), true);
  refuseDryRun(input.DryRun);
  const pair = await generateDataKeyPair(input.KeyPairSpec);
  let ciphertext: Buffer;
  try {
    ciphertext = encryptUnder(store, key, pair.privateKey, input.EncryptionContext);
  } catch (e) {
    pair.privateKey.fill(0);
    throw e;
  }
  const current = key.materials[key.materials.length - 1];
  return {
    pair,
    response: {
      PrivateKeyCiphertextBlob: ciphertext.toString('base64'),
      PublicKey: pair.publicKey.toString('base64'),
      KeyId: store.keyArn(key.keyId),
      KeyPairSpec: input.KeyPairSpec,
      ...(current ? { KeyMaterialId: current.id } : {}),
    },
  };
}

export const asymmetricOperations: Record<string, Operation> = {
  Sign: operation(z.object(signInput), (input, { store, access }) => {
    const { key, info, isDigest } = prepareSignature(input, store, access, 'kms:Sign');
    refuseDryRun(input.DryRun);
    const signature = signMessage(privateKeyOfKey(store, key), info, input.Message, isDigest);
    return {
      KeyId: store.keyArn(key.keyId),
      Signature: signature.toString('base64'),
      SigningAlgorithm: input.SigningAlgorithm,
    };
  }),

  Verify: operation(
    z.object({ ...signInput, Signature: blob(1, MAX_SIGNATURE) }),
    (input, { store, access }) => {
      const { key, info, isDigest } = prepareSignature(input, store, access, 'kms:Verify');
      refuseDryRun(input.DryRun);
      if (!verifyMessage(privateKeyOfKey(store, key), info, input.Message, isDigest, input.Signature)) {
        // "If the signature is not verified, the Verify operation fails with a
        // KMSInvalidSignatureException exception" (API_Verify).
        throw new KmsError(
          'KMSInvalidSignatureException',
          'The signature is not valid for this message, key and signing algorithm.',
        );
      }
      return {
        KeyId: store.keyArn(key.keyId),
        SignatureValid: true,
        SigningAlgorithm: input.SigningAlgorithm,
      };
    },
  ),

  GetPublicKey: operation(
    z.object({ KeyId: keyIdShape, GrantTokens: grantTokensShape }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, true);
      access.require(key, 'kms:GetPublicKey');
      requireUsable(store, key);
      const { keySpec, keyUsage } = specOf(key);
      // Symmetric and HMAC keys have no public key: KMS answers UnsupportedOperationException.
      if (keySpec === 'SYMMETRIC_DEFAULT' || keyUsage === 'GENERATE_VERIFY_MAC') {
        throw new KmsError(
          'UnsupportedOperationException',
          `${store.keyArn(key.keyId)} key spec is ${keySpec}, which has no public key: GetPublicKey is for asymmetric KMS keys.`,
        );
      }
      return {
        KeyId: store.keyArn(key.keyId),
        PublicKey: publicKeyDer(privateKeyOfKey(store, key)).toString('base64'),
        CustomerMasterKeySpec: keySpec,
        KeySpec: keySpec,
        KeyUsage: keyUsage,
        ...algorithmsOf(keySpec, keyUsage),
      };
    },
  ),

  GenerateDataKeyPair: operation(pairInput, async (input, { store, access }) => {
    const { pair, response } = await dataKeyPair(input, store, access, 'kms:GenerateDataKeyPair');
    const plaintext = pair.privateKey.toString('base64');
    pair.privateKey.fill(0);
    return { ...response, PrivateKeyPlaintext: plaintext };
  }),

  GenerateDataKeyPairWithoutPlaintext: operation(pairInput, async (input, { store, access }) => {
    const { pair, response } = await dataKeyPair(
      input,
      store,
      access,
      'kms:GenerateDataKeyPairWithoutPlaintext',
    );
    pair.privateKey.fill(0);
    return response;
  }),
};
