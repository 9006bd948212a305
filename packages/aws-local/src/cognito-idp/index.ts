import type { JsonWebKey } from 'node:crypto';
import { listen } from '../http-server.js';
import type { LocalIdentities } from '../identity.js';
import type { PoolContext } from './context.js';
import { DEFAULT_PASSWORD_POLICY, generatePassword, hashPassword, type PasswordPolicy } from './passwords.js';
import { createPoolServer } from './server.js';
import { LoginState } from './state.js';
import { PoolStore } from './store.js';
import { TokenSigner } from './tokens.js';

/**
 * A local Cognito user pool: managed login for one public app client (authorization code grant
 * with PKCE), its token, revocation and userInfo endpoints, its discovery document and keys, and
 * the `cognito-idp` admin API, on one loopback HTTP server. State in `<dataDir>/cognito-idp/`.
 */

export interface LocalUserPoolOptions {
  dataDir: string;
  accountId: string;
  region: string;
  host: string;
  port: number;
  /** SigV4 callers of the admin API. */
  identities: LocalIdentities;
  maxSkewSeconds: number;
  /** The app client's allowed redirect_uri values (exact match). */
  callbackUrls: readonly string[];
  /** Allowed logout_uri values. */
  logoutUrls: readonly string[];
  /** Defaults 3600, 3600, 30 days. */
  tokenSeconds?: { id?: number; access?: number; refresh?: number };
  /** Default: Cognito's default policy (8 characters, all classes). */
  passwordPolicy?: PasswordPolicy;
  /** Created on first start only, with a random temporary password. */
  seedUser?: { username: string; email: string };
  now?: () => Date;
}

export interface LocalUserPool {
  /** `http://host:port`. */
  readonly endpoint: string;
  readonly userPoolId: string;
  readonly clientId: string;
  /** `${endpoint}/${userPoolId}`. */
  readonly issuer: string;
  /** `cognito-idp.${region}.amazonaws.com/${userPoolId}`. */
  readonly providerName: string;
  /** Only on the start that created it (to print once). */
  readonly seeded?: { username: string; temporaryPassword: string };
  /** Public signing keys. */
  jwks(): { keys: JsonWebKey[] };
  /**
   * The in-process check an identity pool's server-side token check makes of a token's claims:
   * the user exists and is enabled, and the token's `origin_jti` is not revoked.
   */
  tokenActive(claims: Readonly<Record<string, unknown>>): boolean;
  close(): Promise<void>;
}

/** The app client's scopes (the plan: openid email profile). */
const SCOPES = ['openid', 'email', 'profile'] as const;

export async function startLocalUserPool(options: LocalUserPoolOptions): Promise<LocalUserPool> {
  const now = options.now ?? (() => new Date());
  const store = new PoolStore(options.dataDir, options.region, now().getTime());
  const signer = await TokenSigner.open(options.dataDir);
  const policy = options.passwordPolicy ?? DEFAULT_PASSWORD_POLICY;
  let seeded: { username: string; temporaryPassword: string } | undefined;
  // The seed person is made with the pool, on its first start only.
  if (options.seedUser && store.madeNow) {
    const temporaryPassword = generatePassword(policy);
    const at = now().getTime();
    store.addUser({
      username: options.seedUser.username,
      email: options.seedUser.email,
      emailVerified: true,
      status: 'FORCE_CHANGE_PASSWORD',
      enabled: true,
      passwordHash: await hashPassword(temporaryPassword),
      created: at,
      modified: at,
    });
    seeded = { username: options.seedUser.username, temporaryPassword };
  }
  const lifetimes = {
    id: options.tokenSeconds?.id ?? 3600,
    access: options.tokenSeconds?.access ?? 3600,
    refresh: options.tokenSeconds?.refresh ?? 30 * 24 * 3600,
  };
  const ctx: PoolContext = {
    store,
    state: new LoginState(),
    signer,
    issuer: '',
    callbackUrls: options.callbackUrls,
    logoutUrls: options.logoutUrls,
    scopes: SCOPES,
    lifetimes,
    policy,
    now,
  };
  const corsOrigins = [...new Set(options.callbackUrls.map((u) => new URL(u).origin))];
  const server = createPoolServer({
    ctx,
    corsOrigins,
    admin: {
      identities: options.identities,
      region: options.region,
      maxSkewSeconds: options.maxSkewSeconds,
      now,
      context: (require) => ({
        store,
        region: options.region,
        accountId: options.accountId,
        now: now().getTime(),
        policy,
        client: {
          callbackUrls: options.callbackUrls,
          logoutUrls: options.logoutUrls,
          scopes: SCOPES,
          tokenSeconds: lifetimes,
        },
        require,
      }),
    },
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const listening = await listen(server, options.host, options.port);
  ctx.issuer = `${listening.endpoint}/${store.userPoolId}`;
  return {
    endpoint: listening.endpoint,
    userPoolId: store.userPoolId,
    clientId: store.clientId,
    issuer: ctx.issuer,
    providerName: `cognito-idp.${options.region}.amazonaws.com/${store.userPoolId}`,
    ...(seeded ? { seeded } : {}),
    jwks: () => ({ keys: [signer.publicJwk] }),
    tokenActive: (claims) => store.tokenActive(claims),
    close: listening.close,
  };
}
