import { DEFAULT_HOST } from '../defaults.js';
import { listen } from '../http-server.js';
import type { LocalIdentities, LocalRole } from '../identity.js';
import { createIdentityPoolServer } from './server.js';
import { IdentityPoolStore } from './store.js';
import type { LoginProvider } from './tokens.js';

/**
 * A local Amazon Cognito identity pool (`cognito-identity`): it exchanges a user pool's ID token
 * for temporary AWS credentials of the pool's authenticated role (enhanced flow), which the local
 * KMS, S3, CloudWatch Logs and gateway accept until they expire. Its id and the identities it gave
 * are kept in `<dataDir>/cognito-identity/`; credentials only in memory.
 */

export interface LocalIdentityPoolOptions {
  dataDir: string;
  accountId: string;
  region: string;
  host?: string;
  port: number;
  identities: LocalIdentities;
  /** The user pools whose ID tokens the pool accepts (its "authentication providers"). */
  providers: readonly LoginProvider[];
  /** The role every signed-in person gets (PeopleRole of serverless.yml). */
  authenticatedRole: LocalRole;
  /** Lifetime of the credentials given (default 3600, Cognito's one hour). */
  credentialSeconds?: number;
  /** Origins allowed to call it from a browser; every origin when undefined, as Cognito. */
  allowedOrigins?: readonly string[];
  now?: () => Date;
}

export interface LocalIdentityPool {
  readonly endpoint: string;
  readonly identityPoolId: string;
  close(): Promise<void>;
}

export type { LoginProvider } from './tokens.js';

export async function startLocalIdentityPool(o: LocalIdentityPoolOptions): Promise<LocalIdentityPool> {
  const store = IdentityPoolStore.open(o.dataDir, o.region);
  const server = createIdentityPoolServer({
    context: {
      store,
      identities: o.identities,
      providers: o.providers,
      authenticatedRole: o.authenticatedRole,
      credentialSeconds: o.credentialSeconds ?? 3600,
      now: o.now ?? (() => new Date()),
    },
    allowedOrigins: o.allowedOrigins,
  });
  const listening = await listen(server, o.host ?? DEFAULT_HOST, o.port);
  return { endpoint: listening.endpoint, identityPoolId: store.identityPoolId, close: listening.close };
}
