import type { Config as ServiceConfig } from '../../config.js';
import { rolesKeyPolicy, upgradedRolesPolicy } from '../../core/key-policy.js';
import { parseJsonStrict } from '../../core/safe-json.js';
import { BodyBudget, listen } from '../http-server.js';
import { KEY_MANAGER, KEY_USER, LocalIdentities, SERVICE } from '../identity.js';
import { KeyStore, type KmsLimits } from './key-store.js';
import { createKmsServer, type KmsServerOptions, MAX_BODY_BYTES_IN_FLIGHT } from './server.js';

export const DEFAULT_KEY_ALIAS = 'alias/eaas-default';

export interface LocalKms {
  /** `http://host:port` to give `@aws-sdk/client-kms` or `aws --endpoint-url`. */
  readonly endpoint: string;
  readonly store: KeyStore;
  readonly identities: LocalIdentities;
  /**
   * Test hook: from now on, answer `ThrottlingException` to this fraction (0-1) of the requests for
   * `operations` (all when omitted), drawn from `random`; 0 turns it off (the default).
   */
  throttle(fraction: number, options?: { operations?: readonly string[]; random?: () => number }): void;
  /** The body budget's counters, for tests: bytes reserved now, at most, read in all, refusals. */
  bodyStats(): ReturnType<BodyBudget['stats']>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Overrides the configured port (0 picks a free one, as tests do). */
  port?: number;
  now?: () => Date;
  onRequest?: KmsServerOptions['onRequest'];
  /** Test hook: quotas lower than AWS KMS's (keys, aliases per key, grants per key). */
  limits?: Partial<KmsLimits>;
  /** Test hook: how long a request body may take to arrive (server.ts DEFAULT_BODY_TIMEOUT_MS). */
  bodyTimeoutMs?: number;
}

/**
 * Creates the seed's default key on first start: `alias/eaas-default`, administered by
 * myKeyManager and used by myKeyUser and the service. A seed key made by an earlier version,
 * whose policy let its administrators grant themselves its use, gets the current policy.
 */
function ensureDefaultKey(store: KeyStore, identities: LocalIdentities): void {
  const alias = store.findAlias(DEFAULT_KEY_ALIAS);
  const existing = alias ? store.findKey(alias.targetKeyId) : undefined;
  if (existing) {
    let doc: unknown;
    try {
      doc = parseJsonStrict(existing.policy);
    } catch {
      return;
    }
    const upgraded = upgradedRolesPolicy(doc, identities.accountId);
    if (upgraded)
      store.updateKey(existing, (key) => {
        key.policy = JSON.stringify(upgraded, null, 2);
      });
    return;
  }
  if (alias) return;
  const policy = rolesKeyPolicy({
    accountId: identities.accountId,
    administrators: [identities.byName(KEY_MANAGER).arn],
    users: [identities.byName(KEY_USER).arn, identities.byName(SERVICE).arn],
  });
  const key = store.createKey({
    description: 'Default key of the local encryption service',
    policy: JSON.stringify(policy, null, 2),
    tags: [{ TagKey: 'eaas:purpose', TagValue: 'default' }],
  });
  store.putAlias(DEFAULT_KEY_ALIAS, key.keyId);
}

/** What the local KMS reads of the local stack's settings (local/config.ts). */
type Config = Pick<ServiceConfig, 'accountId' | 'region'> & {
  readonly dataDir: string;
  readonly host: string;
  readonly kmsPort: number;
  readonly rootKey: Buffer | undefined;
  readonly sigv4MaxSkewSeconds: number;
};

/** Starts the local KMS on the configured loopback address. */
export async function startLocalKms(config: Config, options: StartOptions = {}): Promise<LocalKms> {
  const identities = LocalIdentities.open(config.dataDir, config.accountId, config.region);
  const store = new KeyStore({
    dataDir: config.dataDir,
    accountId: config.accountId,
    region: config.region,
    rootKey: config.rootKey,
    ...(options.now ? { now: options.now } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  ensureDefaultKey(store, identities);
  let shouldThrottle: ((operation: string) => boolean) | undefined;
  const bodyBudget = new BodyBudget(MAX_BODY_BYTES_IN_FLIGHT);
  const server = createKmsServer({
    bodyBudget,
    throttle: (operation) => shouldThrottle?.(operation) ?? false,
    store,
    identities,
    region: config.region,
    maxSkewSeconds: config.sigv4MaxSkewSeconds,
    ...(options.onRequest ? { onRequest: options.onRequest } : {}),
    ...(options.bodyTimeoutMs !== undefined ? { bodyTimeoutMs: options.bodyTimeoutMs } : {}),
  });
  server.keepAliveTimeout = 5000;
  const listening = await listen(server, config.host, options.port ?? config.kmsPort);
  return {
    endpoint: listening.endpoint,
    store,
    identities,
    throttle(fraction, throttleOptions = {}) {
      const random = throttleOptions.random ?? Math.random;
      const only = throttleOptions.operations ? new Set(throttleOptions.operations) : undefined;
      shouldThrottle =
        fraction > 0 ? (operation) => (!only || only.has(operation)) && random() < fraction : undefined;
    },
    bodyStats: () => bodyBudget.stats(),
    close: listening.close,
  };
}
