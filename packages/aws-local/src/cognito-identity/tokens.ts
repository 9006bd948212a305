import { createLocalJWKSet, decodeProtectedHeader, errors, type JWK, jwtVerify } from 'jose';
import { LOGIN_REFUSALS, notAuthorized } from './errors.js';

/**
 * The check an identity pool makes of a user pool's ID token in `Logins` (enhanced flow): the
 * token is signed (RS256) by one of the provider's keys, its issuer is the provider's, its audience
 * one of the app clients the pool lists, it is an ID token (`token_use` = id), and it has not
 * expired by the pool's clock
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html).
 * Refusals are NotAuthorizedException, worded as Cognito words them (errors.ts).
 */

export interface LoginProvider {
  /** The `Logins` key: `cognito-idp.<region>.amazonaws.com/<userPoolId>`. */
  readonly providerName: string;
  /** The `iss` its ID tokens carry. */
  readonly issuer: string;
  /** The app clients the identity pool accepts tokens of (their `aud`). */
  readonly clientIds: readonly string[];
  /** The provider's public keys (its `jwks.json`). */
  readonly jwks: () => { keys: JWK[] };
  /**
   * The pool's ServerSideTokenCheck: asks the user pool whether the token's person may still use
   * it (user enabled, token not revoked). Without it, a valid, unexpired token is enough.
   */
  readonly isActive?: ((claims: Readonly<Record<string, unknown>>) => boolean) | undefined;
}

export interface VerifiedLogin {
  readonly providerName: string;
  /** The person's `sub` in the user pool. */
  readonly sub: string;
}

export async function verifyLogin(provider: LoginProvider, token: string, now: Date): Promise<VerifiedLogin> {
  try {
    if (decodeProtectedHeader(token).alg !== 'RS256') throw notAuthorized(LOGIN_REFUSALS.signature);
  } catch (error) {
    if (error instanceof Error && error.name === 'NotAuthorizedException') throw error;
    throw notAuthorized(LOGIN_REFUSALS.signature);
  }
  const keys = createLocalJWKSet(provider.jwks());
  let payload: Record<string, unknown>;
  try {
    // The claims are checked below, in Cognito's order and words; jose checks the signature only.
    ({ payload } = await jwtVerify(token, keys, {
      algorithms: ['RS256'],
      currentDate: now,
      // Expiry is checked below with the pool's clock and Cognito's message.
      clockTolerance: Number.MAX_SAFE_INTEGER,
    }));
  } catch (error) {
    if (error instanceof errors.JOSEError) throw notAuthorized(LOGIN_REFUSALS.signature);
    throw error;
  }
  if (payload.iss !== provider.issuer) throw notAuthorized(LOGIN_REFUSALS.issuer);
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (typeof payload.exp !== 'number') throw notAuthorized(LOGIN_REFUSALS.signature);
  if (nowSeconds >= payload.exp) throw notAuthorized(LOGIN_REFUSALS.expired(nowSeconds, payload.exp));
  if (payload.aud === undefined) throw notAuthorized(LOGIN_REFUSALS.missingAudience);
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!audiences.some((a) => typeof a === 'string' && provider.clientIds.includes(a)))
    throw notAuthorized(LOGIN_REFUSALS.audience);
  if (payload.token_use !== 'id') throw notAuthorized(LOGIN_REFUSALS.notIdToken);
  if (typeof payload.sub !== 'string' || payload.sub === '') throw notAuthorized(LOGIN_REFUSALS.signature);
  if (provider.isActive && !provider.isActive(payload)) throw notAuthorized(LOGIN_REFUSALS.inactive);
  return { providerName: provider.providerName, sub: payload.sub };
}
