/**
 * Where the page finds the API and, when people sign in with an account, the user pool and the
 * identity pool: `config.json` beside `index.html`. The local stack serves it from its own
 * settings; a deployment writes it next to the static files.
 */
export interface PageConfig {
  /** Base URL of the API (an API Gateway stage URL); the page's own origin when absent. */
  apiEndpoint: string;
  /** Region of the API, for the SigV4 scope. */
  region: string;
  /** Sign-in with an account (Cognito user pool + identity pool); absent: access keys only. */
  signIn?: SignInConfig | undefined;
  /** The key people who sign in with an account encrypt with (they do not pick one). */
  pageKey?: string | undefined;
}

export interface SignInConfig {
  /** The user pool's issuer, where the OpenID Connect discovery document is. */
  authority: string;
  /** The page's app client (public: no secret). */
  clientId: string;
  /** Base URL of the managed login (`/oauth2/authorize`, `/oauth2/token`, `/oauth2/revoke`, `/logout`). */
  domain: string;
  identityPoolId: string;
  /** The identity pool's endpoint, when not AWS's (the local stack). */
  identityEndpoint?: string | undefined;
  /** The identity pool's `Logins` key: `cognito-idp.<region>.amazonaws.com/<userPoolId>`. */
  providerName: string;
  /** Where the managed login sends people back with a code: the page. */
  redirectUri: string;
  /** Where the managed login's `/logout` sends people back. */
  logoutUri: string;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** An https URL (or a loopback one, for the local stack); `exact` keeps it as written (a trailing slash too). */
function url(value: unknown, name: string, exact = false): string {
  if (typeof value !== 'string') throw new Error(`config.json: signIn.${name} is missing`);
  const parsed = new URL(value);
  if (parsed.protocol !== 'https:' && parsed.hostname !== '127.0.0.1' && parsed.hostname !== 'localhost') {
    throw new Error(`config.json: signIn.${name} must be https`);
  }
  return exact ? value : value.replace(/\/$/, '');
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(`config.json: signIn.${name} is missing`);
  return value;
}

/** Reads `signIn` from config.json; refuses a partial one rather than fail half-way through sign-in. */
export function parseSignIn(raw: unknown): SignInConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object') throw new Error('config.json: signIn must be an object');
  const s = raw as Record<string, unknown>;
  return {
    authority: url(s.authority, 'authority'),
    clientId: text(s.clientId, 'clientId'),
    domain: url(s.domain, 'domain'),
    identityPoolId: text(s.identityPoolId, 'identityPoolId'),
    identityEndpoint:
      s.identityEndpoint === undefined ? undefined : url(s.identityEndpoint, 'identityEndpoint'),
    providerName: text(s.providerName, 'providerName'),
    // The redirect URIs are compared as registered with the app client: kept exactly as written.
    redirectUri: url(s.redirectUri, 'redirectUri', true),
    logoutUri: url(s.logoutUri, 'logoutUri', true),
  };
}

export async function loadPageConfig(): Promise<PageConfig> {
  const res = await fetch('config.json', { cache: 'no-store', credentials: 'omit' });
  if (!res.ok) throw new Error(`config.json answered ${res.status}`);
  const raw = (await res.json()) as Partial<PageConfig> & { signIn?: unknown };
  if (typeof raw.region !== 'string' || !REGION.test(raw.region)) {
    throw new Error('config.json has no valid region');
  }
  const apiEndpoint =
    typeof raw.apiEndpoint === 'string' && raw.apiEndpoint ? raw.apiEndpoint : location.origin;
  const signIn = parseSignIn(raw.signIn);
  const pageKey = typeof raw.pageKey === 'string' && raw.pageKey ? raw.pageKey : undefined;
  if (signIn && !pageKey) throw new Error('config.json: signIn needs the pageKey people encrypt with');
  return { apiEndpoint, region: raw.region, signIn, pageKey };
}
