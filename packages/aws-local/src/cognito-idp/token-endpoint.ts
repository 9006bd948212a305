import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Answer, PoolContext } from './context.js';
import { OAuthError } from './errors.js';
import { newSecret } from './state.js';
import { mintTokens, showsEmail } from './tokens.js';

/**
 * /oauth2/token, /oauth2/revoke and /oauth2/userInfo
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html,
 * https://docs.aws.amazon.com/cognito/latest/developerguide/revocation-endpoint.html,
 * https://docs.aws.amazon.com/cognito/latest/developerguide/userinfo-endpoint.html).
 * Refresh tokens are opaque random strings kept as SHA-256 hashes; revoking one revokes the
 * access tokens minted from it (their `origin_jti`), as with EnableTokenRevocation.
 */

const json = (body: unknown, status = 200): Answer => ({
  status,
  json: body,
  headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
});

function client(form: URLSearchParams, ctx: PoolContext): string {
  const id = form.get('client_id');
  if (id === null || id === '') throw new OAuthError('invalid_request');
  if (id !== ctx.store.clientId) throw new OAuthError('invalid_client');
  return id;
}

/** RFC 7636 4.6: BASE64URL(SHA256(verifier)) equals the challenge; a verifier is 43-128 unreserved characters. */
function verifierMatches(verifier: string | null, challenge: string): boolean {
  if (verifier === null || !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return false;
  const computed = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

export async function token(form: URLSearchParams, ctx: PoolContext): Promise<Answer> {
  const grantType = form.get('grant_type');
  const clientId = client(form, ctx);
  const now = ctx.now().getTime();
  if (grantType === 'authorization_code') {
    const code = form.get('code');
    if (!code) throw new OAuthError('invalid_request');
    // Taken out at once: a code is redeemed once, whether this exchange succeeds or not.
    const record = ctx.state.takeCode(code);
    if (
      !record ||
      record.expires <= now ||
      record.request.clientId !== clientId ||
      record.request.redirectUri !== form.get('redirect_uri') ||
      !verifierMatches(form.get('code_verifier'), record.request.codeChallenge)
    )
      throw new OAuthError('invalid_grant');
    const user = ctx.store.userBySub(record.sub);
    if (!user?.enabled) throw new OAuthError('invalid_grant');
    const originJti = randomUUID();
    const refresh = newSecret();
    ctx.store.addRefreshToken(
      refresh,
      {
        sub: user.sub,
        clientId,
        originJti,
        authTime: record.authTime,
        scope: record.request.scope,
        expires: now + ctx.lifetimes.refresh * 1000,
      },
      now,
      Math.max(ctx.lifetimes.id, ctx.lifetimes.access) * 1000,
    );
    const tokens = await mintTokens(
      ctx.signer,
      ctx.issuer,
      {
        sub: user.sub,
        username: user.username,
        email: user.email,
        emailVerified: user.emailVerified,
        clientId,
        scope: record.request.scope,
        authTime: record.authTime,
        originJti,
        nonce: record.request.nonce,
      },
      now,
      ctx.lifetimes,
    );
    return json({ ...tokens, refresh_token: refresh });
  }
  if (grantType === 'refresh_token') {
    const refresh = form.get('refresh_token');
    if (!refresh) throw new OAuthError('invalid_request');
    const record = ctx.store.refreshToken(refresh);
    if (!record || record.revoked || record.expires <= now || record.clientId !== clientId)
      throw new OAuthError('invalid_grant');
    const user = ctx.store.userBySub(record.sub);
    if (!user?.enabled) throw new OAuthError('invalid_grant');
    // Without refresh token rotation (Cognito's default), the answer has no new refresh token.
    const tokens = await mintTokens(
      ctx.signer,
      ctx.issuer,
      {
        sub: user.sub,
        username: user.username,
        email: user.email,
        emailVerified: user.emailVerified,
        clientId,
        scope: record.scope,
        authTime: record.authTime,
        originJti: record.originJti,
      },
      now,
      ctx.lifetimes,
    );
    return json(tokens);
  }
  if (grantType === null) throw new OAuthError('invalid_request');
  throw new OAuthError('unsupported_grant_type');
}

export function revoke(form: URLSearchParams, ctx: PoolContext): Answer {
  const clientId = client(form, ctx);
  const value = form.get('token');
  if (!value) throw new OAuthError('invalid_request');
  // Only refresh tokens can be revoked here; a JWT (an access or ID token) is not one.
  if (value.split('.').length === 3) throw new OAuthError('unsupported_token_type');
  const record = ctx.store.refreshToken(value);
  if (record && record.clientId !== clientId) throw new OAuthError('invalid_request');
  // An unknown token answers 200 too (RFC 7009 2.2).
  if (record && !record.revoked) ctx.store.revoke(record);
  return { status: 200, headers: { 'Cache-Control': 'no-store' } };
}

const invalidToken = (description: string) => new OAuthError('invalid_token', 401, description);

export async function userInfo(authorization: string | undefined, ctx: PoolContext): Promise<Answer> {
  const m = /^Bearer ([A-Za-z0-9_.-]{1,8192})$/.exec(authorization ?? '');
  if (!m?.[1]) throw invalidToken('Access token is missing or malformed');
  let claims: Record<string, unknown>;
  try {
    claims = await ctx.signer.verify(m[1], ctx.issuer, ctx.now());
  } catch {
    throw invalidToken('Access token is expired, disabled, or deleted, or the user has globally signed out.');
  }
  if (claims.token_use !== 'access' || claims.client_id !== ctx.store.clientId)
    throw invalidToken('Access token is not valid for this endpoint');
  const user = typeof claims.sub === 'string' ? ctx.store.userBySub(claims.sub) : undefined;
  if (!user?.enabled || typeof claims.origin_jti !== 'string' || ctx.store.originRevoked(claims.origin_jti))
    throw invalidToken('Access token has been revoked');
  // userInfo answers only access tokens with the openid scope, with the attributes their scopes show.
  const scopes = String(claims.scope ?? '').split(' ');
  if (!scopes.includes('openid')) throw invalidToken('Access token does not have the openid scope');
  return json({
    sub: user.sub,
    ...(showsEmail(scopes) && user.email !== undefined
      ? { email: user.email, email_verified: String(user.emailVerified) }
      : {}),
    username: user.username,
  });
}
