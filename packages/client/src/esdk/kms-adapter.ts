import type { Requester } from '../types.js';

/**
 * The three KMS calls an Encryption SDK KMS keyring makes, answered by the eaas API: a data key
 * from POST /v1/data-keys (the KMS ciphertext blob and the key's ARN), another wrapping from
 * POST /v1/encrypt, and an unwrapping from POST /v1/decrypt. The encrypted data keys are standard
 * `aws-kms` ones (provider info: the key ARN), so any Encryption SDK with KMS access reads them.
 */

type Context = Record<string, string> | undefined;

export interface KmsLikeClient {
  generateDataKey(input: {
    KeyId?: string;
    NumberOfBytes?: number;
    EncryptionContext?: Context;
    GrantTokens?: string[];
  }): Promise<{ KeyId: string; Plaintext: Uint8Array; CiphertextBlob: Uint8Array }>;
  encrypt(input: {
    KeyId?: string;
    Plaintext?: Uint8Array;
    EncryptionContext?: Context;
    GrantTokens?: string[];
  }): Promise<{ KeyId: string; CiphertextBlob: Uint8Array }>;
  decrypt(input: {
    KeyId?: string;
    CiphertextBlob?: Uint8Array;
    EncryptionContext?: Context;
    GrantTokens?: string[];
  }): Promise<{ KeyId: string; Plaintext: Uint8Array }>;
}

export interface ApiKmsClientOptions {
  /** Decrypt only under this key (id, ARN or alias): the API refuses a data key under any other. */
  keyId?: string;
  /** Grant tokens sent with every call. */
  grantTokens?: string[];
  /**
   * Unwrap only a data key bound to exactly this encryption context (the SDK's own `aws-crypto-*`
   * pairs aside): a message made under another context is refused before the API is asked.
   */
  context?: Record<string, string>;
  /** Called with each error before the keyring swallows it (to tell an outage from a bad message). */
  onError?: (error: unknown) => void;
  /** Called with the ARN of the key that made or unwrapped the data key. */
  onKey?: (keyArn: string) => void;
}

/** A context without the pairs the Encryption SDK adds itself (`aws-crypto-*`). */
export function callerContext(context: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(context).filter(([k]) => !k.startsWith('aws-crypto-')));
}

function sameContext(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

const b64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** Base64 decoded into memory of its own (not Node's shared pool), since it holds a secret the SDK zeroes. */
function secret(text: string): Uint8Array {
  const out = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'base64'));
  const n = out.write(text, 'base64');
  return out.subarray(0, n);
}

const withContext = (context: Context) =>
  context && Object.keys(context).length > 0 ? { context: { ...context } } : {};

/** A KMS-like client over the API, for `clientProvider` of an Encryption SDK KMS keyring. */
export function apiKmsClient(requester: Requester, options: ApiKmsClientOptions = {}): KmsLikeClient {
  const tokens = options.grantTokens?.length ? { grantTokens: options.grantTokens } : {};
  const call = async <T>(path: string, body: Record<string, unknown>): Promise<T> => {
    try {
      return await requester.request<T>('POST', path, { ...body, ...tokens });
    } catch (error) {
      options.onError?.(error);
      throw error;
    }
  };
  return {
    async generateDataKey(input) {
      const out = await call<{ ciphertext: string; plaintext?: string; keyId: string }>('/v1/data-keys', {
        keyId: input.KeyId,
        ...(input.NumberOfBytes !== undefined ? { numberOfBytes: input.NumberOfBytes } : {}),
        ...withContext(input.EncryptionContext),
      });
      if (out.plaintext === undefined) throw new Error('The API answered a data key without its plaintext.');
      options.onKey?.(out.keyId);
      return {
        KeyId: out.keyId,
        Plaintext: secret(out.plaintext),
        CiphertextBlob: Buffer.from(out.ciphertext, 'base64'),
      };
    },
    async encrypt(input) {
      const out = await call<{ ciphertext: string; keyId: string; format: string }>('/v1/encrypt', {
        keyId: input.KeyId,
        plaintext: b64(input.Plaintext ?? new Uint8Array()),
        ...withContext(input.EncryptionContext),
      });
      if (out.format !== 'kms') throw new Error('The API answered no KMS ciphertext for a data key.');
      return { KeyId: out.keyId, CiphertextBlob: Buffer.from(out.ciphertext, 'base64') };
    },
    async decrypt(input) {
      if (options.context && !sameContext(callerContext(input.EncryptionContext ?? {}), options.context)) {
        const error = new Error('The encryption context given is not the one the data key is bound to.');
        options.onError?.(error);
        throw error;
      }
      const keyId = options.keyId ?? input.KeyId;
      const out = await call<{ plaintext: string; keyId: string; format: string }>('/v1/decrypt', {
        ciphertext: b64(input.CiphertextBlob ?? new Uint8Array()),
        ...withContext(input.EncryptionContext),
        ...(keyId ? { keyId } : {}),
      });
      // Only a KMS ciphertext blob is a data key: anything else the API opened is not one.
      if (out.format !== 'kms') throw new Error('The encrypted data key is not a KMS ciphertext.');
      options.onKey?.(out.keyId);
      return { KeyId: out.keyId, Plaintext: secret(out.plaintext) };
    },
  };
}
