import type { PasswordPolicy } from './passwords.js';
import type { LoginState } from './state.js';
import type { PoolStore } from './store.js';
import type { TokenLifetimes, TokenSigner } from './tokens.js';

/** What every endpoint of the local user pool works with. */
export interface PoolContext {
  store: PoolStore;
  state: LoginState;
  signer: TokenSigner;
  issuer: string;
  callbackUrls: readonly string[];
  logoutUrls: readonly string[];
  /** The app client's allowed scopes. */
  scopes: readonly string[];
  lifetimes: TokenLifetimes;
  policy: PasswordPolicy;
  now: () => Date;
}

/** An HTTP answer, written by the server. */
export interface Answer {
  status: number;
  headers?: Record<string, string | string[]>;
  /** HTML, JSON (an object) or nothing. */
  html?: string;
  json?: unknown;
  /** A stylesheet. */
  css?: string;
}

export const redirect = (location: string, headers: Record<string, string | string[]> = {}): Answer => ({
  status: 302,
  headers: { Location: location, ...headers },
});

/** `uri` with query parameters added (undefined values left out). */
export function withQuery(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}
