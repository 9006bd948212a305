import { parseJsonStrict } from '@eaas/aws-rules';
import { DEFAULT_ACCOUNT_ID, DEFAULT_HOST, DEFAULT_MAX_SKEW_SECONDS, DEFAULT_REGION } from '../defaults.js';
import { BodyBudget, listen, withLatency } from '../http-server.js';
import { LocalIdentities, type LocalRole } from '../identity.js';
import type { KmsUse, KmsUseAnswer } from '../kms-use.js';
import { LocalAccess } from './access.js';
import { KmsError } from './errors.js';
import { KeyStore, type KmsLimits } from './key-store.js';
import type { KeyRecord } from './records.js';
import { createKmsServer, type KmsServerOptions, MAX_BODY_BYTES_IN_FLIGHT } from './server.js';

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
  /**
   * What AWS KMS answers when a service uses a key for a caller (S3's SSE-KMS): the key resolved
   * (key id, key ARN, alias name or alias ARN) and the caller's right to the action on it, decided
   * as for the caller's own request, with the service's `kms:ViaService`
   * (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service);
   * then the key's state. A KmsAuthorizer for the local S3.
   */
  authorizeViaService(use: KmsUse): KmsUseAnswer;
  /** The body budget's counters, for tests: bytes reserved now, at most, read in all, refusals. */
  bodyStats(): ReturnType<BodyBudget['stats']>;
  close(): Promise<void>;
}

/** Where and how the local KMS runs; only `dataDir` is required. */
export interface LocalKmsOptions {
  /** Folder of the keys (`kms/`), the root key and the local identities; created when missing. */
  dataDir: string;
  /** The account the keys and principals belong to (default `111122223333`). */
  accountId?: string;
  /** The region in key ARNs and the one SigV4 signatures must name (default `us-east-1`). */
  region?: string;
  /** The 32-byte key wrapping the stored key material; by default one made and kept in `dataDir`. */
  rootKey?: Buffer | undefined;
  /** A loopback address (default `127.0.0.1`). */
  host?: string;
  /** The port (default 0: a free one, given back in `endpoint`). */
  port?: number;
  /** How far a signature's time may be from the server's, in seconds (default 300, as AWS). */
  maxSkewSeconds?: number;
  /** A key to create on first start under an alias, and the policy upgrade applied to it later. */
  seedKey?: SeedKey;
  /** More keys to seed the same way, each under its own alias (the application's other keys). */
  seedKeys?: readonly SeedKey[];
  /** Roles an application defines (e.g. its functions' roles), with their IAM policies: principals of the KMS and of whatever trusts its identities. */
  roles?: readonly LocalRole[];
  now?: () => Date;
  onRequest?: KmsServerOptions['onRequest'];
  /** Milliseconds each request waits before it is handled, like AWS's network time (default 0: none). */
  latencyMs?: number;
  /** Test hook: quotas lower than AWS KMS's (keys, aliases per key, grants per key). */
  limits?: Partial<KmsLimits>;
  /** Test hook: how long a request body may take to arrive (server.ts DEFAULT_BODY_TIMEOUT_MS). */
  bodyTimeoutMs?: number;
}

/**
 * A key the local KMS creates on its first start, so that a fresh data dir is usable at once.
 * The policy is the application's (the KMS knows no application's policies); `upgradePolicy`
 * lets the application replace, on each start, a policy an earlier version of it wrote.
 */
export interface SeedKey {
  alias: string;
  description: string;
  tags?: KeyRecord['tags'];
  /** The key policy document of the new key, given the local identities (their ARNs). */
  policy(identities: LocalIdentities): unknown;
  /** Called on each start with the seed key's stored policy: a document to store instead, or undefined. */
  upgradePolicy?(doc: unknown): unknown;
}

/** Creates the seed key on first start; on later starts, applies its policy upgrade, if any. */
function ensureSeedKey(store: KeyStore, identities: LocalIdentities, seed: SeedKey): void {
  const alias = store.findAlias(seed.alias);
  const existing = alias ? store.findKey(alias.targetKeyId) : undefined;
  if (existing) {
    if (!seed.upgradePolicy) return;
    let doc: unknown;
    try {
      doc = parseJsonStrict(existing.policy);
    } catch {
      return;
    }
    const upgraded = seed.upgradePolicy(doc);
    if (upgraded !== undefined)
      store.updateKey(existing, (key) => {
        key.policy = JSON.stringify(upgraded, null, 2);
      });
    return;
  }
  if (alias) return;
  const key = store.createKey({
    description: seed.description,
    policy: JSON.stringify(seed.policy(identities), null, 2),
    tags: seed.tags ?? [],
  });
  store.putAlias(seed.alias, key.keyId);
}

/** Starts the local KMS on a loopback address. */
export async function startLocalKms(options: LocalKmsOptions): Promise<LocalKms> {
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
  const region = options.region ?? DEFAULT_REGION;
  const identities = LocalIdentities.open(options.dataDir, accountId, region, options.roles);
  const store = new KeyStore({
    dataDir: options.dataDir,
    accountId,
    region,
    rootKey: options.rootKey,
    ...(options.now ? { now: options.now } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  for (const seed of [...(options.seedKey ? [options.seedKey] : []), ...(options.seedKeys ?? [])])
    ensureSeedKey(store, identities, seed);
  let shouldThrottle: ((operation: string) => boolean) | undefined;
  const bodyBudget = new BodyBudget(MAX_BODY_BYTES_IN_FLIGHT);
  const server = createKmsServer({
    bodyBudget,
    throttle: (operation) => shouldThrottle?.(operation) ?? false,
    store,
    identities,
    region,
    maxSkewSeconds: options.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS,
    ...(options.onRequest ? { onRequest: options.onRequest } : {}),
    ...(options.bodyTimeoutMs !== undefined ? { bodyTimeoutMs: options.bodyTimeoutMs } : {}),
  });
  server.keepAliveTimeout = 5000;
  withLatency(server, options.latencyMs ?? 0);
  const listening = await listen(server, options.host ?? DEFAULT_HOST, options.port ?? 0);
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
    authorizeViaService(use) {
      let key: KeyRecord;
      try {
        key = store.resolve(use.keyId, true);
      } catch (error) {
        if (error instanceof KmsError && error.type === 'NotFoundException')
          return { allowed: false, error: 'NotFound', message: error.message };
        throw error;
      }
      const keyArn = store.keyArn(key.keyId);
      const decision = new LocalAccess(store, use.principal).decide(key, use.action, use.encryptionContext, {
        'kms:ViaService': [use.viaService],
      });
      if (!decision.allowed) {
        const why =
          decision.reason === 'explicit-deny'
            ? 'an explicit deny in a policy applies'
            : 'no resource-based policy allows the action';
        return {
          allowed: false,
          error: 'AccessDenied',
          message: `User: ${use.principal.arn} is not authorized to perform: ${use.action} on resource: ${keyArn} because ${why}`,
        };
      }
      if (key.keyState === 'Disabled')
        return { allowed: false, error: 'Disabled', message: `${keyArn} is disabled.` };
      if (key.keyState === 'PendingDeletion')
        return { allowed: false, error: 'InvalidState', message: `${keyArn} is pending deletion.` };
      if (key.keyState === 'PendingImport')
        return { allowed: false, error: 'InvalidState', message: `${keyArn} is pending import.` };
      return { allowed: true, keyArn };
    },
    bodyStats: () => bodyBudget.stats(),
    close: listening.close,
  };
}
