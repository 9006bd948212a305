import {
  type LocalIdentities,
  type LocalIdentityPool,
  type LocalRole,
  type LocalUserPool,
  type LoginProvider,
  startLocalIdentityPool,
  startLocalUserPool,
} from '@eaas/aws-local';
import { PORT_SETTINGS, type StackConfig } from './config.js';
import { localValues } from './emulator-options.js';
import { portInUse } from './port-in-use.js';
import type { SiteSignIn } from './static-site.js';
import { readRole, roleNameOf } from './template-roles.js';

/**
 * Sign-in for the upload page, locally as deployed: the local Cognito user pool (managed login for
 * the page's app client, callback and sign-out URL the page's origin) and the local identity pool
 * that exchanges its ID tokens for temporary credentials of PeopleRole (serverless.yml). The first
 * start seeds one person, `alice`, whose one-time password `npm start` prints.
 */

/** The page's key, whose policy keeps each person to their own document space. */
export const PAGE_KEY_ALIAS = 'alias/eaas-page';
/** The person seeded on the first start. */
export const SEED_PERSON = { username: 'alice', email: 'alice@example.com' } as const;
/** The identity pool's authenticated role in serverless.yml. */
export const PEOPLE_ROLE_ID = 'PeopleRole';

export interface SignInOptions {
  identities: LocalIdentities;
  /** The page's origins (`http://127.0.0.1:<port>` and `http://localhost:<port>`); the first is the canonical one. */
  origins: readonly string[];
  userPoolPort?: number;
  identityPoolPort?: number;
  tokenSeconds?: { id?: number; access?: number; refresh?: number };
  credentialSeconds?: number;
  peopleRole?: LocalRole;
  now?: () => Date;
}

export interface SignInPools {
  userPool: LocalUserPool;
  identityPool: LocalIdentityPool;
  peopleRole: LocalRole;
  /** Whether PeopleRole came from serverless.yml (false: the template has none yet; it grants nothing). */
  peopleRoleFromTemplate: boolean;
  /** What the page's config.json and CSP say of sign-in. */
  site: SiteSignIn;
  close(): Promise<void>;
}

/** PeopleRole as serverless.yml declares it; a role with no policy when the template has none. */
function peopleRoleOf(config: StackConfig): { role: LocalRole; fromTemplate: boolean } {
  const values = localValues(config);
  try {
    return { role: readRole(values, PEOPLE_ROLE_ID), fromTemplate: true };
  } catch (error) {
    if (!(error instanceof Error) || !error.message.includes('is not a role of the template')) throw error;
    const name = roleNameOf(values.stage, 'people');
    return {
      role: { name, arn: `arn:aws:iam::${values.accountId}:role/${name}`, policies: [] },
      fromTemplate: false,
    };
  }
}

export async function startSignIn(config: StackConfig, o: SignInOptions): Promise<SignInPools> {
  const pageUrls = o.origins.map((origin) => `${origin}/`);
  const userPoolPort = o.userPoolPort ?? config.userPoolPort;
  const userPool = await portInUse(PORT_SETTINGS.userPoolPort, config.host, userPoolPort, () =>
    startLocalUserPool({
      dataDir: config.dataDir,
      accountId: config.accountId,
      region: config.region,
      host: config.host,
      port: userPoolPort,
      identities: o.identities,
      maxSkewSeconds: config.sigv4MaxSkewSeconds,
      callbackUrls: pageUrls,
      logoutUrls: pageUrls,
      seedUser: SEED_PERSON,
      ...(o.tokenSeconds ? { tokenSeconds: o.tokenSeconds } : {}),
      ...(o.now ? { now: o.now } : {}),
    }),
  );
  const { role: peopleRole, fromTemplate } = o.peopleRole
    ? { role: o.peopleRole, fromTemplate: true }
    : peopleRoleOf(config);
  let identityPool: LocalIdentityPool;
  try {
    const identityPoolPort = o.identityPoolPort ?? config.identityPoolPort;
    identityPool = await portInUse(PORT_SETTINGS.identityPoolPort, config.host, identityPoolPort, () =>
      startLocalIdentityPool({
        dataDir: config.dataDir,
        accountId: config.accountId,
        region: config.region,
        host: config.host,
        port: identityPoolPort,
        identities: o.identities,
        providers: [
          {
            providerName: userPool.providerName,
            issuer: userPool.issuer,
            clientIds: [userPool.clientId],
            jwks: () => userPool.jwks() as ReturnType<LoginProvider['jwks']>,
            // ServerSideTokenCheck: a disabled user or a revoked token gets no credentials.
            isActive: (claims) => userPool.tokenActive(claims),
          },
        ],
        authenticatedRole: peopleRole,
        allowedOrigins: o.origins,
        ...(o.credentialSeconds !== undefined ? { credentialSeconds: o.credentialSeconds } : {}),
        ...(o.now ? { now: o.now } : {}),
      }),
    );
  } catch (error) {
    await userPool.close();
    throw error;
  }
  const canonical = o.origins[0] ?? '';
  const site: SiteSignIn = {
    // The plan's config.json `signIn` block; a page from an origin the app client does not list
    // gets the canonical one's URIs (which the user pool accepts).
    config: (origin) => {
      const page = o.origins.includes(origin) ? origin : canonical;
      return {
        authority: userPool.issuer,
        clientId: userPool.clientId,
        domain: userPool.endpoint,
        identityPoolId: identityPool.identityPoolId,
        identityEndpoint: identityPool.endpoint,
        providerName: userPool.providerName,
        redirectUri: `${page}/`,
        logoutUri: `${page}/`,
      };
    },
    pageKey: PAGE_KEY_ALIAS,
    connectSources: [userPool.endpoint, identityPool.endpoint],
  };
  return {
    userPool,
    identityPool,
    peopleRole,
    peopleRoleFromTemplate: fromTemplate,
    site,
    async close() {
      await identityPool.close();
      await userPool.close();
    },
  };
}
