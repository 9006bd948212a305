/**
 * Cognito identity pool (`cognito-identity`) errors as its JSON 1.1 protocol carries them:
 * `{"__type": name, "message": text}`, HTTP 400 for the client's errors
 * (https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetId.html and
 * API_GetCredentialsForIdentity.html, "Errors"), with `x-amzn-ErrorType` and `x-amzn-ErrorMessage`
 * headers as the service sends them.
 */
import { JsonProtocolError } from '../json-error.js';

const STATUS = {
  InvalidParameterException: 400,
  NotAuthorizedException: 400,
  ResourceNotFoundException: 400,
  SerializationException: 400,
  UnknownOperationException: 400,
  TooManyRequestsException: 400,
  InternalErrorException: 500,
} as const satisfies Record<string, number>;

export type IdentityPoolErrorType = keyof typeof STATUS;

export class IdentityPoolError extends JsonProtocolError<IdentityPoolErrorType> {
  constructor(type: IdentityPoolErrorType, message: string) {
    super(type, message, STATUS[type]);
  }
}

/**
 * The refusals of a login token, worded as Cognito words them (as its answers show in the SDKs'
 * issue trackers; the API reference gives only the exception names):
 * "Invalid login token. Couldn't verify signed token.", "Invalid login token. Issuer doesn't match
 * providerName", "Invalid login token. Missing a required claim: aud" (an access token, which has
 * no `aud`), "Invalid login token. Token expired: <now> >= <exp>", and for a token of an app
 * client the pool does not list, "Token is not from a supported provider of this identity pool.".
 * Seen in https://github.com/amazon-archives/amazon-cognito-identity-js/issues/91 (signature),
 * /issues/40 (issuer), /issues/12 (access token), /issues/7 (another app client),
 * https://github.com/aws-amplify/aws-sdk-ios/issues/2570 (expired: the time now, then `exp`) and
 * /issues/68 of the first repository (another person's login: "Logins don't match...").
 * `token_use` other than `id` with an `aud` is refused with a message of this emulator's.
 */
export const LOGIN_REFUSALS = {
  signature: "Invalid login token. Couldn't verify signed token.",
  issuer: "Invalid login token. Issuer doesn't match providerName",
  missingAudience: 'Invalid login token. Missing a required claim: aud',
  notIdToken: 'Invalid login token. Not a Cognito ID token.',
  audience: 'Token is not from a supported provider of this identity pool.',
  expired: (now: number, exp: number) => `Invalid login token. Token expired: ${now} >= ${exp}`,
  provider: 'Invalid login token. Not a valid OpenId Connect identity token.',
  /** ServerSideTokenCheck's refusal (a disabled or deleted user, a revoked token); the emulator's wording. */
  inactive: 'Invalid login token. Token is revoked or its user is not active.',
  mismatch: "Logins don't match. Please include at least one valid login for this identity or identity pool.",
} as const;

export const notAuthorized = (message: string) => new IdentityPoolError('NotAuthorizedException', message);
