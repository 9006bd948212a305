import {
  type LocalIdentities,
  type LocalRole,
  SessionLimitError,
  type SessionRequest,
  type TemporaryCredentials,
} from '../identity.js';
import { IdentityPoolError, LOGIN_REFUSALS, notAuthorized } from './errors.js';
import type { IdentityPoolStore } from './store.js';
import { type LoginProvider, type VerifiedLogin, verifyLogin } from './tokens.js';

/**
 * GetId and GetCredentialsForIdentity of the enhanced (basic-less) flow
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flow.html), for an
 * identity pool with authenticated identities only (no guest access, no basic flow, no role
 * mappings): every identity is a person signed in with one of the pool's providers.
 */

export interface PoolContext {
  readonly store: IdentityPoolStore;
  readonly identities: LocalIdentities;
  readonly providers: readonly LoginProvider[];
  readonly authenticatedRole: LocalRole;
  readonly credentialSeconds: number;
  readonly now: () => Date;
}

/** The API's constraints on the ids (API_GetId.html, API_GetCredentialsForIdentity.html: `[\w-]+:[0-9a-f-]+`, 1-55). */
const ID_PATTERN = /^[\w-]+:[0-9a-f-]+$/;

/**
 * A caller's value as an error message may show it: printable ASCII only, at most 60 characters.
 * The message goes into the `x-amzn-ErrorMessage` header too; raw input there is never sent.
 */
export function shown(value: unknown): string {
  const text = String(value).replace(/[^\x20-\x7e]/g, '?');
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

function validationError(field: string, value: unknown, constraint: string): IdentityPoolError {
  return new IdentityPoolError(
    'InvalidParameterException',
    `1 validation error detected: Value '${shown(value)}' at '${field}' failed to satisfy constraint: ${constraint}`,
  );
}

function requireId(input: Record<string, unknown>, member: string, field: string): string {
  const value = input[member];
  if (value === undefined || value === null) {
    throw validationError(field, null, 'Member must not be null');
  }
  if (typeof value !== 'string' || value.length < 1 || value.length > 55 || !ID_PATTERN.test(value)) {
    throw validationError(field, value, 'Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+');
  }
  return value;
}

function requirePool(ctx: PoolContext, id: string): void {
  if (id !== ctx.store.identityPoolId)
    throw new IdentityPoolError('ResourceNotFoundException', `IdentityPool '${shown(id)}' not found.`);
}

/** The logins of a request, each verified; at least one, else the pool (authenticated only) refuses. */
async function verifyLogins(ctx: PoolContext, input: Record<string, unknown>): Promise<VerifiedLogin[]> {
  const logins = input.Logins;
  if (
    logins === undefined ||
    logins === null ||
    (typeof logins === 'object' && Object.keys(logins).length === 0)
  )
    throw notAuthorized('Unauthenticated access is not supported for this identity pool.');
  if (typeof logins !== 'object' || Array.isArray(logins))
    throw new IdentityPoolError(
      'InvalidParameterException',
      'Logins must be a map of provider names to tokens.',
    );
  const verified: VerifiedLogin[] = [];
  for (const [name, token] of Object.entries(logins as Record<string, unknown>)) {
    const provider = ctx.providers.find((p) => p.providerName === name);
    if (!provider) throw notAuthorized(LOGIN_REFUSALS.audience);
    if (typeof token !== 'string' || token === '') throw notAuthorized(LOGIN_REFUSALS.signature);
    verified.push(await verifyLogin(provider, token, ctx.now()));
  }
  return verified;
}

export async function getId(ctx: PoolContext, input: Record<string, unknown>): Promise<unknown> {
  requirePool(ctx, requireId(input, 'IdentityPoolId', 'identityPoolId'));
  const [login] = await verifyLogins(ctx, input);
  if (!login) throw notAuthorized('Unauthenticated access is not supported for this identity pool.');
  return { IdentityId: ctx.store.identityOf(login.providerName, login.sub).identityId };
}

/** A session, or Cognito's throttling answer when the local table is full of others' live sessions. */
function issue(ctx: PoolContext, request: SessionRequest): TemporaryCredentials {
  try {
    return ctx.identities.issueSession(request);
  } catch (error) {
    if (error instanceof SessionLimitError)
      throw new IdentityPoolError('TooManyRequestsException', 'Too many requests. Try again later.');
    throw error;
  }
}

export async function getCredentialsForIdentity(
  ctx: PoolContext,
  input: Record<string, unknown>,
): Promise<unknown> {
  const identityId = requireId(input, 'IdentityId', 'identityId');
  const identity = ctx.store.byIdentityId(identityId);
  if (!identity)
    throw new IdentityPoolError('ResourceNotFoundException', `Identity '${shown(identityId)}' not found.`);
  if (input.CustomRoleArn !== undefined && input.CustomRoleArn !== ctx.authenticatedRole.arn)
    throw new IdentityPoolError(
      'InvalidParameterException',
      'CustomRoleArn: the local identity pool has no role rules; omit it or name the authenticated role.',
    );
  const logins = await verifyLogins(ctx, input);
  // The identity is the token's subject's, or the logins do not open it.
  if (!logins.some((l) => l.providerName === identity.providerName && l.sub === identity.sub))
    throw notAuthorized(LOGIN_REFUSALS.mismatch);
  const { providerName, sub } = identity;
  const signIn = `${providerName}:CognitoSignIn:${sub}`;
  const credentials = issue(ctx, {
    role: ctx.authenticatedRole,
    sessionName: 'CognitoIdentityCredentials',
    seconds: ctx.credentialSeconds,
    // The keys an identity pool's credentials carry into IAM (reference_policies_condition-keys.html,
    // "cognito-identity.amazonaws.com:aud / :amr / :sub").
    conditionKeys: {
      'cognito-identity.amazonaws.com:sub': [identityId],
      'cognito-identity.amazonaws.com:aud': [ctx.store.identityPoolId],
      'cognito-identity.amazonaws.com:amr': ['authenticated', providerName, signIn],
    },
    cognito: {
      identityId,
      identityPoolId: ctx.store.identityPoolId,
      authenticationProvider: `${providerName},${signIn}`,
    },
    now: ctx.now(),
  });
  return {
    IdentityId: identityId,
    Credentials: {
      AccessKeyId: credentials.accessKeyId,
      SecretKey: credentials.secretAccessKey,
      SessionToken: credentials.sessionToken,
      // A timestamp of the JSON protocol: epoch seconds.
      Expiration: Math.floor(credentials.expiration.getTime() / 1000),
    },
  };
}
