import type { Duplex } from 'node:stream';
import type { KeyringNode } from '@aws-crypto/material-management-node';
import type { Requester } from '../types.js';
import { type ApiKmsClientOptions, apiKmsClient } from './kms-adapter.js';

/**
 * AWS Encryption SDK messages made and read in this process with data keys from the eaas API.
 * The SDK's modules load on first use only, so that the rest of the client starts fast.
 */

/** The committing suite without a signature (0x0478), as the service's own messages use. */
export const ESDK_SUITE = 0x0478;
/** 64 KiB frames, as the service's own messages use. */
export const ESDK_FRAME_LENGTH = 64 * 1024;
/** The most encrypted data keys a message may carry to be read (each is one API call at most). */
export const MAX_ENCRYPTED_DATA_KEYS = 10;
/** The largest frame (or unframed body) read: a frame is held in memory until its tag is checked. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** The suites that sign a message; their KMS context holds `aws-crypto-public-key`. */
const SIGNING_SUITES = new Set([0x0214, 0x0346, 0x0378, 0x0578]);

/**
 * What the first bytes of a ciphertext say it is: an Encryption SDK message (version 2, or 1 with
 * type 0x80), signed or not, or else a KMS ciphertext blob, as the API tells them apart.
 */
export function messageKind(head: Uint8Array): 'kms' | 'esdk' | 'esdk-signed' {
  let suite: number | undefined;
  if (head[0] === 0x02 && head.length >= 3) suite = (head[1] ?? 0) * 256 + (head[2] ?? 0);
  else if (head[0] === 0x01 && head[1] === 0x80 && head.length >= 4)
    suite = (head[2] ?? 0) * 256 + (head[3] ?? 0);
  if (suite === undefined) return head[0] === 0x02 || (head[0] === 0x01 && head[1] === 0x80) ? 'esdk' : 'kms';
  return SIGNING_SUITES.has(suite) ? 'esdk-signed' : 'esdk';
}

type Modules = {
  keyring: typeof import('@aws-crypto/kms-keyring');
  material: typeof import('@aws-crypto/material-management-node');
  encrypt: typeof import('@aws-crypto/encrypt-node');
  decrypt: typeof import('@aws-crypto/decrypt-node');
};
let modules: Promise<{ m: Modules; Keyring: new (input: KeyringInput) => KeyringNode }> | undefined;

interface KeyringInput {
  clientProvider: () => unknown;
  generatorKeyId?: string;
  discovery?: boolean;
}

function load() {
  modules ??= (async () => {
    const [keyring, material, encrypt, decrypt] = await Promise.all([
      import('@aws-crypto/kms-keyring'),
      import('@aws-crypto/material-management-node'),
      import('@aws-crypto/encrypt-node'),
      import('@aws-crypto/decrypt-node'),
    ]);
    // The KMS keyring for Node, composed as @aws-crypto/kms-keyring-node composes its KmsKeyringNode,
    // without that module's default client provider (the whole AWS KMS client).
    const Keyring = class ApiKeyring extends keyring.KmsKeyringClass(
      material.KeyringNode as unknown as new () => KeyringNode,
    ) {};
    material.immutableClass(Keyring);
    return {
      m: { keyring, material, encrypt, decrypt },
      Keyring: Keyring as unknown as new (input: KeyringInput) => KeyringNode,
    };
  })();
  return modules;
}

export interface ApiKeyringOptions extends ApiKmsClientOptions {
  /** The key that makes the data key (encrypting); without it the keyring only decrypts (discovery). */
  generatorKeyId?: string;
}

/**
 * An Encryption SDK keyring (a KMS keyring) whose KMS is the eaas API: usable with any
 * @aws-crypto encrypt or decrypt function of the same major version.
 */
export async function apiKeyring(
  requester: Requester,
  options: ApiKeyringOptions = {},
): Promise<KeyringNode> {
  const { Keyring } = await load();
  const client = apiKmsClient(requester, options);
  return options.generatorKeyId
    ? new Keyring({ generatorKeyId: options.generatorKeyId, clientProvider: () => client })
    : new Keyring({ discovery: true, clientProvider: () => client });
}

/**
 * A stream that turns plaintext into an Encryption SDK message (committing suite, no signature,
 * 64 KiB frames) under `keyId`, with a data key from the API.
 */
export async function encryptStream(
  requester: Requester,
  input: { keyId: string; encryptionContext?: Record<string, string> } & Omit<
    ApiKmsClientOptions,
    'keyId' | 'context'
  >,
): Promise<Duplex> {
  const { m } = await load();
  const { keyId, encryptionContext, ...options } = input;
  const keyring = await apiKeyring(requester, { ...options, generatorKeyId: keyId });
  const { encryptStream: encrypt } = m.encrypt.buildEncrypt({
    commitmentPolicy: m.material.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
    maxEncryptedDataKeys: MAX_ENCRYPTED_DATA_KEYS,
  });
  return encrypt(keyring, {
    suiteId: ESDK_SUITE,
    encryptionContext: { ...encryptionContext },
    frameLength: ESDK_FRAME_LENGTH,
  });
}

/**
 * A stream that turns an unsigned Encryption SDK message into its plaintext, frame by frame as each
 * frame is authenticated. `context`, when given, must be the message's (its pairs exactly, the
 * SDK's own aside): checked before the data key is asked for. `keyId` restricts it to that key.
 * Signed messages are refused (their KMS context holds a pair the API keeps reserved): send those
 * to POST /v1/decrypt whole.
 */
export async function decryptStream(requester: Requester, input: ApiKmsClientOptions = {}): Promise<Duplex> {
  const { m } = await load();
  const keyring = await apiKeyring(requester, input);
  const { decryptUnsignedMessageStream } = m.decrypt.buildDecrypt({
    commitmentPolicy: m.material.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
    maxEncryptedDataKeys: MAX_ENCRYPTED_DATA_KEYS,
  });
  return decryptUnsignedMessageStream(keyring, { maxBodySize: MAX_FRAME_BYTES });
}
