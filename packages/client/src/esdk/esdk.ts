import * as streams from 'node:stream';
import { type Duplex, Transform, type TransformCallback } from 'node:stream';
import type { KeyringNode, NodeMaterialsManager } from '@aws-crypto/material-management-node';
import type { Requester } from '../types.js';
import { DataKeyCache } from './data-key-cache.js';
import { type ApiKmsClientOptions, apiKmsClient, callerContext } from './kms-adapter.js';

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

/** Data-key caching, off unless a cache made once (`new DataKeyCache(...)`) is passed. */
export interface CacheOption {
  /** A cache shared across calls: a data key reused across messages within its bounds. */
  cache?: DataKeyCache | undefined;
}

export interface ApiMaterialsManagerOptions extends ApiKeyringOptions, CacheOption {}

/**
 * An Encryption SDK materials manager over `apiKeyring`: with `cache`, the SDK's caching materials
 * manager over that cache; without, the SDK's default one (a data key from the API per message).
 * Usable with any @aws-crypto encrypt or decrypt function of the same major version.
 */
export async function apiMaterialsManager(
  requester: Requester,
  options: ApiMaterialsManagerOptions = {},
): Promise<NodeMaterialsManager> {
  const { m } = await load();
  const { cache, ...keyringOptions } = options;
  const keyring = await apiKeyring(requester, keyringOptions);
  if (cache === undefined) return new m.material.NodeDefaultCryptographicMaterialsManager(keyring);
  if (!(cache instanceof DataKeyCache))
    throw new TypeError('cache must be a DataKeyCache, made once and passed to every call that shares it.');
  // What an entry may serve: the key asked for and every restriction the keyring checks before
  // the API is asked, so a data key unwrapped under one restriction never serves another.
  const scope = {
    generatorKeyId: options.generatorKeyId ?? null,
    keyId: options.keyId ?? null,
    context: options.context ? Object.entries(options.context).sort(([a], [b]) => (a < b ? -1 : 1)) : null,
    grantTokens: options.grantTokens ?? null,
  };
  return cache.materialsManager(requester, scope, keyring);
}

type EncryptInput = { keyId: string; encryptionContext?: Record<string, string> } & Omit<
  ApiKmsClientOptions,
  'keyId' | 'context'
> &
  CacheOption;

function encryptor(m: Modules) {
  return m.encrypt.buildEncrypt({
    commitmentPolicy: m.material.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
    maxEncryptedDataKeys: MAX_ENCRYPTED_DATA_KEYS,
  });
}

function decryptor(m: Modules) {
  return m.decrypt.buildDecrypt({
    commitmentPolicy: m.material.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
    maxEncryptedDataKeys: MAX_ENCRYPTED_DATA_KEYS,
  });
}

/**
 * A stream that turns plaintext into an Encryption SDK message (committing suite, no signature,
 * 64 KiB frames) under `keyId`, with a data key from the API. With `cache`, `plaintextLength` is
 * required (the cache counts the bytes each data key encrypts; more bytes than it fail the stream).
 */
export async function encryptStream(
  requester: Requester,
  input: EncryptInput & { plaintextLength?: number },
): Promise<Duplex> {
  const { keyId, encryptionContext, cache, plaintextLength, ...options } = input;
  if (cache !== undefined && plaintextLength === undefined)
    throw new TypeError(
      'encryptStream with a cache needs plaintextLength: the cache counts the bytes each data key encrypts.',
    );
  if (plaintextLength !== undefined && !(Number.isSafeInteger(plaintextLength) && plaintextLength >= 0))
    throw new TypeError('plaintextLength is a whole number of bytes, 0 or more.');
  const { m } = await load();
  const manager = await apiMaterialsManager(requester, { ...options, generatorKeyId: keyId, cache });
  const encrypting = encryptor(m).encryptStream(manager, {
    suiteId: ESDK_SUITE,
    encryptionContext: { ...encryptionContext },
    frameLength: ESDK_FRAME_LENGTH,
    ...(plaintextLength !== undefined ? { plaintextLength } : {}),
  });
  // The SDK stops counting once the declared length is reached (or when it is 0), so more bytes
  // would pass uncounted by the cache's bounds: the length is held to here, exactly.
  const guarded = shielded(encrypting);
  return plaintextLength === undefined ? guarded : compose(new ExactLength(plaintextLength), guarded);
}

/** node:stream's compose (Node 16.9 and later; @types/node does not declare it yet): one Duplex of both. */
const compose = (streams as unknown as { compose: (...parts: Duplex[]) => Duplex }).compose;

/**
 * The SDK's encrypting stream, behind a stream of ours. Destroyed before it has finished (its
 * source failed, the reader went away), the SDK's stream throws an uncaught `Premature close`
 * from an inner stream nobody listens to, which would end the process. So it is never destroyed:
 * destroying ours ends the SDK's input and lets it finish into nothing (the data key is then
 * disposed of as on any finish), its late errors ignored.
 */
function shielded(inner: Duplex): Duplex {
  let finished = false;
  const outer = new streams.Duplex({
    write(chunk: Buffer, encoding, done) {
      if (inner.write(chunk, encoding)) done();
      else inner.once('drain', () => done());
    },
    final(done) {
      inner.end();
      done();
    },
    read() {
      inner.resume();
    },
    destroy(error, done) {
      if (!finished) {
        inner.removeAllListeners('data');
        inner.on('error', () => undefined);
        inner.on('data', () => undefined);
        inner.resume();
        if (!inner.writableEnded) inner.end();
      }
      done(error);
    },
  });
  inner.on('data', (chunk: Buffer) => {
    if (!outer.push(chunk)) inner.pause();
  });
  inner.on('end', () => {
    finished = true;
    outer.push(null);
  });
  inner.on('error', (error: Error) => {
    finished = true;
    outer.destroy(error);
  });
  return outer;
}

/** Passes exactly `length` bytes on; one more, or fewer by the end, fails the stream. */
class ExactLength extends Transform {
  private seen = 0;
  constructor(private readonly length: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.length)
      done(new RangeError(`The plaintext is longer than plaintextLength (${this.length} bytes).`));
    else done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    done(
      this.seen === this.length
        ? null
        : new RangeError(`The plaintext is ${this.seen} bytes, not plaintextLength (${this.length}).`),
    );
  }
}

/**
 * A stream that turns an unsigned Encryption SDK message into its plaintext, frame by frame as each
 * frame is authenticated. `context`, when given, must be the message's (its pairs exactly, the
 * SDK's own aside): checked before the data key is asked for. `keyId` restricts it to that key.
 * Signed messages are refused (their KMS context holds a pair the API keeps reserved): send those
 * to POST /v1/decrypt whole. With `cache`, a data key unwrapped once is reused for the same
 * encrypted data key and context until the cache's `maxAgeSeconds`.
 */
export async function decryptStream(
  requester: Requester,
  input: ApiKmsClientOptions & CacheOption = {},
): Promise<Duplex> {
  const { m } = await load();
  const manager = await apiMaterialsManager(requester, input);
  return decryptor(m).decryptUnsignedMessageStream(manager, { maxBodySize: MAX_FRAME_BYTES });
}

/**
 * A message made in memory, for many small plaintexts (where a cache saves the most): the same
 * message as `encryptStream`'s. Answers the ciphertext and the ARN of the key under which its data
 * key is.
 */
export async function encryptMessage(
  requester: Requester,
  input: EncryptInput & { plaintext: Uint8Array | string },
): Promise<{ ciphertext: Buffer; keyId: string }> {
  const { keyId, encryptionContext, cache, plaintext, ...options } = input;
  const { m } = await load();
  const manager = await apiMaterialsManager(requester, { ...options, generatorKeyId: keyId, cache });
  const { result, messageHeader } = await encryptor(m).encrypt(manager, plaintext, {
    suiteId: ESDK_SUITE,
    encryptionContext: { ...encryptionContext },
    frameLength: ESDK_FRAME_LENGTH,
  });
  return { ciphertext: result, keyId: messageHeader.encryptedDataKeys[0]?.providerInfo ?? '' };
}

/**
 * An unsigned message decrypted in memory (as `decryptStream`, with the same `context`, `keyId`
 * and `cache`): its plaintext and its encryption context (the SDK's own pairs aside).
 */
export async function decryptMessage(
  requester: Requester,
  input: ApiKmsClientOptions & CacheOption & { ciphertext: Uint8Array },
): Promise<{ plaintext: Buffer; encryptionContext: Record<string, string> }> {
  const { ciphertext, ...options } = input;
  if (messageKind(ciphertext.subarray(0, 4)) !== 'esdk')
    throw new TypeError(
      'decryptMessage reads unsigned Encryption SDK messages only: send signed messages and KMS ciphertexts to POST /v1/decrypt.',
    );
  const { m } = await load();
  const manager = await apiMaterialsManager(requester, options);
  const { plaintext, messageHeader } = await decryptor(m).decrypt(manager, ciphertext, {
    maxBodySize: MAX_FRAME_BYTES,
  });
  return { plaintext, encryptionContext: callerContext(messageHeader.encryptionContext) };
}
