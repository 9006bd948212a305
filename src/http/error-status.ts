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
  /** A key's spec, usage, origin or rotation asked for that do not go together. */
  InvalidKeyConfiguration: 400,
  /** An operation the key's kind does not take (importing into a key KMS made, rotating an asymmetric key...). */
  UnsupportedOperation: 400,
  /** An import token that is not one of this key's, or not for this wrapped material. */
  InvalidImportToken: 400,
  /** Wrapped key material that does not unwrap with the token's wrapping key, or is not material of the key's spec. */
  InvalidKeyMaterial: 400,
  /** Material other than the key's own (a key takes only the material first imported into it). */
  IncorrectKeyMaterial: 400,
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
  /** A key whose owner has not imported its material yet, or deleted it, or whose material expired. */
  KeyPendingImport: 409,
  InvalidState: 409,
  /**
   * The resource changed under the request each time it was tried (a job record written by its
   * worker while being cancelled): unlike InvalidState, retrying may succeed. AWS answers such a
   * race 409 too, e.g. Lambda's `ResourceConflictException`, "another operation is in progress"
   * (https://docs.aws.amazon.com/botocore/latest/reference/services/lambda/client/exceptions/ResourceConflictException.html).
   */
  ConcurrentModification: 409,
  AlreadyExists: 409,
  UploadExpired: 410,
  /** Import parameters are valid 24 hours: get new ones (GET .../import-parameters). */
  ImportTokenExpired: 410,
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
