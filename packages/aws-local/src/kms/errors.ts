/**
 * KMS errors as the JSON 1.1 protocol carries them: `{"__type": name, "message": text}`
 * with the HTTP status AWS KMS uses for that name.
 */
import { JsonProtocolError } from '../json-error.js';

const STATUS = {
  AccessDeniedException: 400,
  AlreadyExistsException: 400,
  DisabledException: 400,
  DryRunOperationException: 412,
  ExpiredImportTokenException: 400,
  /** Temporary credentials past their expiration (CommonErrors.html). */
  ExpiredTokenException: 403,
  IncompleteSignatureException: 400,
  IncorrectKeyException: 400,
  IncorrectKeyMaterialException: 400,
  InvalidAliasNameException: 400,
  InvalidArnException: 400,
  InvalidCiphertextException: 400,
  InvalidGrantIdException: 400,
  InvalidGrantTokenException: 400,
  InvalidImportTokenException: 400,
  InvalidKeyUsageException: 400,
  InvalidMarkerException: 400,
  InvalidSignatureException: 400,
  KMSInternalException: 500,
  KMSInvalidMacException: 400,
  KMSInvalidSignatureException: 400,
  KMSInvalidStateException: 400,
  LimitExceededException: 400,
  MalformedPolicyDocumentException: 400,
  MissingAuthenticationTokenException: 403,
  NotFoundException: 400,
  RequestEntityTooLargeException: 413,
  /** Not in the KMS API reference (it documents no answer to a client too slow to send): HTTP's 408, as the local gateway answers. */
  RequestTimeoutException: 408,
  SerializationException: 400,
  TagException: 400,
  ThrottlingException: 400,
  UnknownOperationException: 400,
  UnrecognizedClientException: 400,
  UnsupportedOperationException: 400,
  ValidationException: 400,
} as const satisfies Record<string, number>;

export type KmsErrorType = keyof typeof STATUS;

export class KmsError extends JsonProtocolError<KmsErrorType> {
  constructor(type: KmsErrorType, message: string) {
    super(type, message, STATUS[type]);
  }
}

export const notFound = (message: string) => new KmsError('NotFoundException', message);
export const validation = (message: string) => new KmsError('ValidationException', message);
