import { aliasNameMeant } from './alias-names.js';

/**
 * The codes of the errors the service can answer, each stable on the wire. Their HTTP statuses
 * are the HTTP layer's (`http/error-status.ts`), whose table must name every code here.
 */
export const ERROR_CODES = [
  'ValidationError',
  'MalformedJson',
  'InvalidCiphertext',
  'InvalidKeyUsage',
  'InvalidKeyConfiguration',
  'UnsupportedOperation',
  'InvalidImportToken',
  'InvalidKeyMaterial',
  'IncorrectKeyMaterial',
  'PolicyLockout',
  'SeparationOfDuties',
  'InvalidPageToken',
  'AccessDenied',
  'KeyNotFound',
  'RouteNotFound',
  'NotFound',
  'MethodNotAllowed',
  'KeyDisabled',
  'KeyPendingDeletion',
  'KeyPendingImport',
  'InvalidState',
  'ConcurrentModification',
  'AlreadyExists',
  'UploadExpired',
  'ImportTokenExpired',
  'PreconditionFailed',
  'PayloadTooLarge',
  'UnsupportedMediaType',
  'Throttled',
  'LimitExceeded',
  'InternalError',
  'DependencyFailure',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetail {
  path: string;
  message: string;
}

/** Base of every error the service answers with its own code; the message is safe to show callers. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: readonly ErrorDetail[],
    options?: ErrorOptions,
  ) {
    super(message, options);
    // `ValidationError` stays itself, `AccessDenied` becomes `AccessDeniedError`.
    this.name = code.endsWith('Error') ? code : `${code}Error`;
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
    const meant = aliasNameMeant(keyId);
    const hint = meant ? ` An alias is named with its prefix: did you mean ${meant}?` : '';
    super('KeyNotFound', `No key matches ${JSON.stringify(keyId)}.${hint}`, undefined, options);
  }
}

export class PayloadTooLargeError extends DomainError {
  constructor(message: string) {
    super('PayloadTooLarge', message);
  }
}
