import { randomBytes } from 'node:crypto';
import type { CryptographicMaterialsCache } from '@aws-crypto/cache-material';
import type {
  KeyringNode,
  NodeAlgorithmSuite,
  NodeMaterialsManager,
} from '@aws-crypto/material-management-node';

/**
 * Data-key caching for the Encryption SDK functions over the eaas API, OFF unless a cache is
 * passed: the SDK's own caching materials manager over its local LRU cache. Reusing a data key
 * across messages saves an API call per message, at a cost the bounds limit (docs/security.md):
 * https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/data-key-caching.html
 * https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/thresholds.html
 */

/** The longest `maxAgeSeconds` taken: a day (also keeps the cache's sweep timer in range). */
export const MAX_CACHE_AGE_SECONDS = 86_400;
/** The SDK's own ceiling on messages per cached data key (2^32). */
export const MAX_MESSAGES_PER_CACHED_KEY = 2 ** 32;
/** The SDK's own ceiling on bytes per cached data key (2^53 - 1 in JavaScript). */
export const MAX_BYTES_PER_CACHED_KEY = Number.MAX_SAFE_INTEGER;

/** The defaults of the optional bounds: small enough to limit what one data key protects. */
export const DATA_KEY_CACHE_DEFAULTS = {
  maxMessagesEncrypted: 1_000,
  maxBytesEncrypted: 1024 ** 3,
  capacity: 100,
} as const;

export interface DataKeyCacheOptions {
  /**
   * Required: how long, in seconds, a data key may be used from when the API made or unwrapped it
   * (above 0, at most 86,400). Use the shortest that still saves calls.
   */
  maxAgeSeconds: number;
  /** The most messages one data key encrypts (1 to 2^32; default 1,000). */
  maxMessagesEncrypted?: number;
  /** The most plaintext bytes one data key encrypts, across its messages (1 to 2^53 - 1; default 1 GiB). */
  maxBytesEncrypted?: number;
  /** The most entries held (data keys to encrypt with and to decrypt with), least recently used evicted first (default 100). */
  capacity?: number;
  /** A label keeping these entries apart from other users of the same cache object (default: none). */
  partition?: string;
}

type CachingModules = {
  manager: typeof import('@aws-crypto/caching-materials-manager-node');
  cache: typeof import('@aws-crypto/cache-material');
};
let caching: Promise<CachingModules> | undefined;

/** The caching modules load on the first use of a cache only, like the rest of the SDK. */
function loadCaching(): Promise<CachingModules> {
  caching ??= (async () => {
    const [manager, cache] = await Promise.all([
      import('@aws-crypto/caching-materials-manager-node'),
      import('@aws-crypto/cache-material'),
    ]);
    return { manager, cache };
  })();
  return caching;
}

function whole(name: string, value: unknown, min: number, max: number, unit = ''): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new RangeError(
      `DataKeyCache: ${name} must be a whole number from ${min} to ${max}${unit} (got ${String(value)}).`,
    );
  return value;
}

/**
 * A cache of data keys, created once per process (or per tenant) and passed to many
 * `encryptStream` / `decryptStream` / `encryptMessage` / `decryptMessage` calls: a cache helps only
 * when it outlives one message. Entries are kept apart per client object, per key asked for, and
 * per decrypt restriction (`keyId`, `context`, grant tokens), so one caller's data key never
 * serves another's call.
 */
export class DataKeyCache {
  readonly maxAgeSeconds: number;
  readonly maxMessagesEncrypted: number;
  readonly maxBytesEncrypted: number;
  readonly capacity: number;
  readonly partition: string;
  /** Random per cache object: the clients using it, told apart without holding them. */
  private readonly requesters = new WeakMap<object, string>();
  private store: CryptographicMaterialsCache<NodeAlgorithmSuite> | undefined;

  constructor(options: DataKeyCacheOptions) {
    const { maxAgeSeconds } = options ?? ({} as DataKeyCacheOptions);
    if (
      typeof maxAgeSeconds !== 'number' ||
      !Number.isFinite(maxAgeSeconds) ||
      maxAgeSeconds <= 0 ||
      maxAgeSeconds > MAX_CACHE_AGE_SECONDS
    )
      throw new RangeError(
        `DataKeyCache: maxAgeSeconds is required, a number of seconds above 0 and at most ${MAX_CACHE_AGE_SECONDS} (got ${String(maxAgeSeconds)}).`,
      );
    this.maxAgeSeconds = maxAgeSeconds;
    this.maxMessagesEncrypted = whole(
      'maxMessagesEncrypted',
      options.maxMessagesEncrypted ?? DATA_KEY_CACHE_DEFAULTS.maxMessagesEncrypted,
      1,
      MAX_MESSAGES_PER_CACHED_KEY,
    );
    this.maxBytesEncrypted = whole(
      'maxBytesEncrypted',
      options.maxBytesEncrypted ?? DATA_KEY_CACHE_DEFAULTS.maxBytesEncrypted,
      1,
      MAX_BYTES_PER_CACHED_KEY,
      ' bytes',
    );
    this.capacity = whole('capacity', options.capacity ?? DATA_KEY_CACHE_DEFAULTS.capacity, 1, 1_000_000);
    if (
      options.partition !== undefined &&
      (typeof options.partition !== 'string' || options.partition === '')
    )
      throw new RangeError('DataKeyCache: partition must be a non-empty string when given.');
    this.partition = options.partition ?? '';
  }

  /**
   * A caching materials manager over `keyring`, sharing this cache's entries with every other
   * manager made here for the same client and scope (the key asked for, the decrypt restrictions).
   */
  async materialsManager(
    requester: object,
    scope: unknown,
    keyring: KeyringNode,
  ): Promise<NodeMaterialsManager> {
    const { manager, cache } = await loadCaching();
    const maxAgeMs = Math.max(1, Math.round(this.maxAgeSeconds * 1000));
    // One LRU store per cache object, made on first use; it zeroes a data key when it evicts it,
    // and sweeps its stalest entry every maxAge (its timer does not keep the process alive).
    this.store ??= cache.getLocalCryptographicMaterialsCache<NodeAlgorithmSuite>(this.capacity, maxAgeMs);
    let id = this.requesters.get(requester);
    if (id === undefined) {
      id = randomBytes(16).toString('base64');
      this.requesters.set(requester, id);
    }
    return new manager.NodeCachingMaterialsManager({
      backingMaterials: keyring,
      cache: this.store,
      // The SDK hashes the partition into every entry's identifier.
      partition: JSON.stringify([this.partition, id, scope]),
      maxAge: maxAgeMs,
      maxMessagesEncrypted: this.maxMessagesEncrypted,
      maxBytesEncrypted: this.maxBytesEncrypted,
    }) as unknown as NodeMaterialsManager;
  }
}
