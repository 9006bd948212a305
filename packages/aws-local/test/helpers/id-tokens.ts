import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/**
 * A fake user pool for the identity pool's tests: an RS256 key pair, its JWKS, and ID (or access)
 * tokens signed with it (or with another key), with the claims Cognito puts in them.
 */
export interface FakeUserPool {
  providerName: string;
  issuer: string;
  clientId: string;
  jwks(): { keys: JWK[] };
  /** A token for `sub`; `claims` replace or add claims, `key: 'other'` signs with a key not in the JWKS. */
  token(
    sub: string,
    now: Date,
    options?: { claims?: Record<string, unknown>; key?: 'own' | 'other'; seconds?: number },
  ): Promise<string>;
}

export async function fakeUserPool(region = 'us-east-1'): Promise<FakeUserPool> {
  const poolId = `${region}_Fake12345`;
  const own = await generateKeyPair('RS256', { extractable: true });
  const other = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const publicJwk = { ...(await exportJWK(own.publicKey)), kid, alg: 'RS256', use: 'sig' };
  const issuer = `http://127.0.0.1:9/${poolId}`;
  const clientId = 'fakeclientid0123456789abcd';
  return {
    providerName: `cognito-idp.${region}.amazonaws.com/${poolId}`,
    issuer,
    clientId,
    jwks: () => ({ keys: [publicJwk] }),
    async token(sub, now, options = {}) {
      const iat = Math.floor(now.getTime() / 1000);
      const claims: Record<string, unknown> = {
        sub,
        aud: clientId,
        iss: issuer,
        token_use: 'id',
        auth_time: iat,
        iat,
        exp: iat + (options.seconds ?? 3600),
        'cognito:username': sub.slice(0, 8),
        email: `${sub.slice(0, 8)}@example.com`,
        ...options.claims,
      };
      for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid })
        .sign(options.key === 'other' ? other.privateKey : own.privateKey);
    },
  };
}
