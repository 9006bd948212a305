import { type JsonWebKey, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { writeFileAtomic } from '../atomic-file.js';

/**
 * The signing key of the local user pool and the tokens it signs: RS256 JWTs with the claims
 * Cognito puts in its ID and access tokens
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html,
 * https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html).
 * The RSA-2048 key is made on first start and kept in `<dataDir>/cognito-idp/signing-key.json` (0600).
 */

type Key = Awaited<ReturnType<typeof importJWK>>;

export class TokenSigner {
  private constructor(
    readonly kid: string,
    private readonly privateKey: Key,
    private readonly publicKey: Key,
    readonly publicJwk: JsonWebKey,
  ) {}

  static async open(dataDir: string): Promise<TokenSigner> {
    const file = join(dataDir, 'cognito-idp', 'signing-key.json');
    let jwk: JWK;
    if (existsSync(file)) {
      jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    } else {
      const pair = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
      jwk = await exportJWK(pair.privateKey);
      jwk.kid = await calculateJwkThumbprint(jwk);
      jwk.alg = 'RS256';
      writeFileAtomic(file, `${JSON.stringify(jwk)}\n`);
    }
    const kid = jwk.kid ?? (await calculateJwkThumbprint(jwk));
    const publicJwk = { kty: 'RSA', n: jwk.n, e: jwk.e, kid, alg: 'RS256', use: 'sig' } as JsonWebKey & {
      kid: string;
    };
    const privateKey = await importJWK(jwk, 'RS256');
    const publicKey = await importJWK(publicJwk as JWK, 'RS256');
    return new TokenSigner(kid, privateKey, publicKey, publicJwk);
  }

  sign(claims: JWTPayload, iat: number, lifetime: number): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: this.kid })
      .setIssuedAt(iat)
      .setExpirationTime(iat + lifetime)
      .setJti(randomUUID())
      .sign(this.privateKey);
  }

  /** Verifies a token this pool signed (signature, issuer, expiry at `now`); throws otherwise. */
  async verify(token: string, issuer: string, now: Date): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, this.publicKey, {
      issuer,
      algorithms: ['RS256'],
      currentDate: now,
    });
    return payload;
  }
}

/** What a sign-in established, carried from the code (or refresh token) into the tokens. */
export interface Grant {
  sub: string;
  username: string;
  email?: string | undefined;
  emailVerified: boolean;
  clientId: string;
  scope: string;
  authTime: number;
  originJti: string;
  nonce?: string | undefined;
}

/**
 * Whether tokens of these scopes show the email attributes: with `email`, or with `openid` alone,
 * which shows every attribute the client may read; `openid profile` alone does not
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/userinfo-endpoint.html).
 */
export function showsEmail(scopes: readonly string[]): boolean {
  return scopes.includes('email') || (scopes.length === 1 && scopes[0] === 'openid');
}

export interface TokenLifetimes {
  id: number;
  access: number;
  refresh: number;
}

export async function mintTokens(
  signer: TokenSigner,
  issuer: string,
  grant: Grant,
  now: number,
  lifetimes: TokenLifetimes,
): Promise<{ id_token?: string; access_token: string; expires_in: number; token_type: 'Bearer' }> {
  const iat = Math.floor(now / 1000);
  const eventId = randomUUID();
  const common = {
    sub: grant.sub,
    iss: issuer,
    origin_jti: grant.originJti,
    event_id: eventId,
    auth_time: grant.authTime,
  };
  const access = await signer.sign(
    {
      ...common,
      client_id: grant.clientId,
      token_use: 'access',
      scope: grant.scope,
      username: grant.username,
      version: 2,
    },
    iat,
    lifetimes.access,
  );
  const scopes = grant.scope.split(' ');
  // An ID token only for the openid scope.
  const id = scopes.includes('openid')
    ? await signer.sign(
        {
          ...common,
          aud: grant.clientId,
          ...(showsEmail(scopes) && grant.email !== undefined
            ? { email: grant.email, email_verified: grant.emailVerified }
            : {}),
          'cognito:username': grant.username,
          token_use: 'id',
          ...(grant.nonce !== undefined ? { nonce: grant.nonce } : {}),
        },
        iat,
        lifetimes.id,
      )
    : undefined;
  return {
    ...(id ? { id_token: id } : {}),
    access_token: access,
    expires_in: lifetimes.access,
    token_type: 'Bearer',
  };
}
