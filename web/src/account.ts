import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers';
import { InMemoryWebStorage, type User, UserManager, WebStorageStateStore } from 'oidc-client-ts';
import type { SignInConfig } from './config.js';
import { RefreshingCredentials, renewLead, type TemporaryCredentials } from './credentials.js';

/**
 * Signing in with an account: the authorization code flow with PKCE against the user pool's managed
 * login (oidc-client-ts), then the ID token exchanged for temporary AWS credentials through the
 * identity pool's enhanced flow (`GetId`, `GetCredentialsForIdentity`, by the AWS SDK's
 * `fromCognitoIdentityPool`), renewed before they expire.
 * https://docs.aws.amazon.com/cognito/latest/developerguide/authorization-endpoint.html
 * https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flow.html (enhanced flow)
 *
 * Where each secret lives:
 * - the ID, access and refresh tokens: in oidc-client-ts's `InMemoryWebStorage` (this tab's memory);
 * - the PKCE verifier and state: in sessionStorage under `eaas.oidc.`, only between the redirect to
 *   the managed login and the callback (a memory-only record would not survive the navigation);
 *   oidc-client-ts removes it when it reads the callback, and `forgetStoredState` makes sure;
 * - the AWS credentials: in `RefreshingCredentials` (memory); the identity id in the SDK
 *   provider's memory only (no `userIdentifier`, so it caches nothing in IndexedDB or localStorage).
 */

/** The prefix of the records oidc-client-ts keeps in sessionStorage between authorize and callback. */
export const STATE_PREFIX = 'eaas.oidc.';

/** Whether this URL is the managed login sending the person back (with a code, or an error). */
export function isCallback(href: string): boolean {
  const params = new URL(href).searchParams;
  return params.has('state') && (params.has('code') || params.has('error'));
}

/** Removes every record oidc-client-ts may have left in web storage (ours, and its default prefix). */
export function forgetStoredState(stores: Storage[] = [sessionStorage, localStorage]): void {
  for (const store of stores) {
    const keys: string[] = [];
    for (let i = 0; i < store.length; i++) {
      const key = store.key(i);
      if (key?.startsWith(STATE_PREFIX) || key?.startsWith('oidc.')) keys.push(key);
    }
    for (const key of keys) store.removeItem(key);
  }
}

/** Seconds since the epoch in a JWT's claims, as milliseconds. */
const ms = (seconds: unknown): number | undefined =>
  typeof seconds === 'number' && Number.isFinite(seconds) ? seconds * 1000 : undefined;

export class AccountSession {
  readonly manager: UserManager;
  readonly credentials: RefreshingCredentials;
  private renewingTokens: Promise<User> | undefined;
  private identityProvider: (() => Promise<TemporaryCredentials>) | undefined;
  /** Set first thing at sign-out: from then on nothing asks for tokens or credentials again. */
  private closed = false;

  constructor(
    private readonly config: SignInConfig,
    region: string,
    onRenewalError: (error: unknown) => void = () => undefined,
  ) {
    this.manager = new UserManager({
      authority: config.authority,
      client_id: config.clientId,
      redirect_uri: config.redirectUri,
      post_logout_redirect_uri: config.logoutUri,
      response_type: 'code',
      scope: 'openid email profile',
      // The tokens stay in this tab's memory; only the PKCE verifier and state cross the redirect.
      userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
      stateStore: new WebStorageStateStore({ prefix: STATE_PREFIX, store: sessionStorage }),
      // The page renews the tokens itself, with the refresh token, when it needs a fresh ID token.
      automaticSilentRenew: false,
      loadUserInfo: false,
      revokeTokenTypes: ['refresh_token'],
      // Cognito's discovery document names no revocation endpoint; the managed login has one.
      // https://docs.aws.amazon.com/cognito/latest/developerguide/revocation-endpoint.html
      metadataSeed: { revocation_endpoint: `${config.domain}/oauth2/revoke` },
    });
    this.credentials = new RefreshingCredentials(() => this.fetchCredentials(region), onRenewalError);
  }

  /** Sends the person to the managed login (this page unloads). */
  async start(): Promise<void> {
    forgetStoredState([localStorage]);
    await this.manager.signinRedirect();
  }

  /**
   * Reads the managed login's answer in the URL: checks the state, exchanges the code with the PKCE
   * verifier, checks the ID token; then takes `code` and `state` out of the address bar and history,
   * gets the first AWS credentials, and returns the person's name.
   */
  async complete(href: string = location.href): Promise<string> {
    try {
      const error = new URL(href).searchParams.get('error');
      if (error) throw new Error(`The sign-in was not completed (${error}).`);
      await this.manager.signinRedirectCallback(href);
    } finally {
      const url = new URL(href);
      for (const name of ['code', 'state', 'error', 'error_description', 'session_state', 'iss']) {
        url.searchParams.delete(name);
      }
      history.replaceState(null, '', `${url.pathname}${url.search}${url.hash}`);
      forgetStoredState([sessionStorage]);
    }
    await this.credentials.renew();
    return this.name();
  }

  /** The signed-in person as they know themselves: their email, else their user name. */
  async name(): Promise<string> {
    const profile = (await this.manager.getUser())?.profile;
    const name = profile?.email ?? profile?.['cognito:username'] ?? profile?.sub;
    return typeof name === 'string' ? name : 'you';
  }

  /**
   * Signs out completely: revokes the refresh token (and with it the tokens it issued), forgets
   * the tokens and the credentials, removes whatever oidc-client-ts left in web storage, and sends
   * the browser to the managed login's `/logout`, which ends its session cookie and sends it back.
   * https://docs.aws.amazon.com/cognito/latest/developerguide/logout-endpoint.html
   */
  async signOut(navigate: (url: string) => void = (url) => location.assign(url)): Promise<void> {
    // A request still in flight during the revocation must not fetch a new set of credentials.
    this.closed = true;
    this.credentials.clear();
    this.identityProvider = undefined;
    let revoked = true;
    try {
      await this.manager.revokeTokens(['refresh_token']);
    } catch {
      revoked = false;
    }
    await this.manager.removeUser();
    this.manager.stopSilentRenew();
    this.credentials.clear();
    forgetStoredState();
    const logout = new URL(`${this.config.domain}/logout`);
    logout.searchParams.set('client_id', this.config.clientId);
    logout.searchParams.set('logout_uri', this.config.logoutUri);
    navigate(logout.toString());
    if (!revoked) throw new Error('The sign-in could not be revoked; it ends when it expires.');
  }

  /** An ID token valid for a while yet, renewed with the refresh token when it is close to its end. */
  private async idToken(): Promise<string> {
    if (this.closed) throw new Error('Signed out.');
    let user = await this.manager.getUser();
    if (!user) throw new Error('Not signed in.');
    const exp = ms(user.profile.exp);
    const iat = ms(user.profile.iat) ?? Date.now();
    if (exp === undefined || Date.now() >= exp - renewLead(exp - iat)) {
      this.renewingTokens ??= this.manager.signinSilent().then((renewed) => {
        if (!renewed) throw new Error('The sign-in could not be renewed.');
        return renewed;
      });
      try {
        user = await this.renewingTokens;
      } finally {
        this.renewingTokens = undefined;
      }
    }
    if (!user.id_token) throw new Error('The user pool gave no ID token.');
    return user.id_token;
  }

  private fetchCredentials(region: string): Promise<TemporaryCredentials> {
    if (this.closed) return Promise.reject(new Error('Signed out.'));
    // No userIdentifier: the SDK then has no cache key and never touches its identity-id cache
    // (IndexedDB or localStorage); the identity id it got from GetId stays in this provider's
    // memory, and each renewal asks GetCredentialsForIdentity.
    this.identityProvider ??= fromCognitoIdentityPool({
      identityPoolId: this.config.identityPoolId,
      logins: { [this.config.providerName]: () => this.idToken() },
      clientConfig: {
        region,
        ...(this.config.identityEndpoint ? { endpoint: this.config.identityEndpoint } : {}),
      },
    });
    return this.identityProvider();
  }
}
