/**
 * Errors of the local user pool, in the two shapes Cognito answers with:
 * - the `cognito-idp` JSON 1.1 API: `{"__type": name, "message": text}` with the status each
 *   operation's Errors section gives (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/CommonErrors.html);
 * - the OAuth 2.0 endpoints: `{"error": code}` (https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html).
 */
import { JsonProtocolError } from '../json-error.js';

const STATUS = {
  AccessDeniedException: 400,
  /** Temporary credentials past their expiration (json-auth.ts). */
  ExpiredTokenException: 403,
  IncompleteSignatureException: 400,
  InternalErrorException: 500,
  InvalidParameterException: 400,
  InvalidPasswordException: 400,
  InvalidSignatureException: 400,
  MissingAuthenticationTokenException: 403,
  NotAuthorizedException: 400,
  RequestEntityTooLargeException: 413,
  RequestTimeoutException: 408,
  ResourceNotFoundException: 400,
  SerializationException: 400,
  TooManyRequestsException: 400,
  UnknownOperationException: 400,
  UnrecognizedClientException: 400,
  UnsupportedUserStateException: 400,
  UserNotFoundException: 400,
  UsernameExistsException: 400,
} as const satisfies Record<string, number>;

export type CognitoErrorType = keyof typeof STATUS;

export class CognitoError extends JsonProtocolError<CognitoErrorType> {
  constructor(type: CognitoErrorType, message: string) {
    super(type, message, STATUS[type]);
  }
}

/** The OAuth 2.0 error codes the token, revoke and userInfo endpoints answer with (RFC 6749 5.2, RFC 7009 2.2.1, RFC 6750 3.1). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_token_type'
  | 'invalid_token';

export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    readonly status = code === 'invalid_token' ? 401 : 400,
    readonly description?: string,
  ) {
    super(description ?? code);
    this.name = 'OAuthError';
  }

  toJSON(): { error: string; error_description?: string } {
    return { error: this.code, ...(this.description ? { error_description: this.description } : {}) };
  }
}
