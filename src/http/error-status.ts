import type { ErrorCode } from '../core/errors.js';

/**
 * The HTTP status of each error code the service answers. A code without a status (or a status
 * for no code) does not compile.
 */
export const ERROR_STATUS = {
  ValidationError: 400,
  MalformedJson: 400,
  InvalidCiphertext: 400,
  InvalidKeyUsage: 400,
  PolicyLockout: 400,
  SeparationOfDuties: 400,
  InvalidPageToken: 400,
  AccessDenied: 403,
  KeyNotFound: 404,
  RouteNotFound: 404,
  NotFound: 404,
  MethodNotAllowed: 405,
  KeyDisabled: 409,
  KeyPendingDeletion: 409,
  InvalidState: 409,
  AlreadyExists: 409,
  UploadExpired: 410,
  PreconditionFailed: 412,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  Throttled: 429,
  /**
   * A per-caller quota of the service (keys, aliases, unfinished jobs) is reached. KMS names its
   * own `LimitExceededException` ("a length constraint or quota was exceeded",
   * https://docs.aws.amazon.com/botocore/latest/reference/services/kms/client/exceptions/LimitExceededException.html);
   * KMS answers it with 400, this API with 429 so that clients back off as they do when throttled.
   */
  LimitExceeded: 429,
  InternalError: 500,
  DependencyFailure: 502,
} as const satisfies Record<ErrorCode, number>;

/** The HTTP status of an error code. */
export function statusOf(code: ErrorCode): number {
  return ERROR_STATUS[code];
}
