/**
 * Errors the service can answer, each with a stable code. The table below maps every code to
 * its HTTP status; a new code without a status does not compile.
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
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetail {
  path: string;
  message: string;
}

/** Base of every error the service answers with its own code; the message is safe to show callers. */
export class DomainError extends Error {
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: readonly ErrorDetail[],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = `${code}Error`;
    this.statusCode = ERROR_STATUS[code];
  }

  toJSON(): { error: ErrorCode; message: string; details?: readonly ErrorDetail[] } {
    return { error: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, details?: readonly ErrorDetail[]) {
    super('ValidationError', message, details);
  }
}

/**
 * The one answer for every decrypt failure: wrong key, wrong context, tampered or truncated data,
 * a key that cannot decrypt. The caller learns nothing about which.
 */
export class InvalidCiphertextError extends DomainError {
  static readonly MESSAGE =
    'The ciphertext could not be decrypted with the given key and encryption context.';

  constructor(options?: ErrorOptions) {
    super('InvalidCiphertext', InvalidCiphertextError.MESSAGE, undefined, options);
  }
}

export class KeyNotFoundError extends DomainError {
  constructor(keyId: string, options?: ErrorOptions) {
    super('KeyNotFound', `No key matches ${JSON.stringify(keyId)}.`, undefined, options);
  }
}

export class PayloadTooLargeError extends DomainError {
  constructor(message: string) {
    super('PayloadTooLarge', message);
  }
}
