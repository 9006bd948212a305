/**
 * CloudWatch Logs errors as its JSON 1.1 protocol carries them: `{"__type": name, "message": text}`,
 * with HTTP 400 for every client error and 500 for the service's own
 * (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/CommonErrors.html and each
 * operation's Errors section).
 */
import { JsonProtocolError } from '../json-error.js';

const STATUS = {
  AccessDeniedException: 400,
  /** Temporary credentials past their expiration (CommonErrors.html). */
  ExpiredTokenException: 403,
  IncompleteSignatureException: 400,
  InvalidParameterException: 400,
  InvalidSignatureException: 400,
  MissingAuthenticationTokenException: 403,
  RequestEntityTooLargeException: 413,
  RequestTimeoutException: 408,
  ResourceAlreadyExistsException: 400,
  ResourceNotFoundException: 400,
  SerializationException: 400,
  ServiceUnavailableException: 500,
  ThrottlingException: 400,
  UnknownOperationException: 400,
  UnrecognizedClientException: 400,
  ValidationException: 400,
} as const satisfies Record<string, number>;

export type LogsErrorType = keyof typeof STATUS;

export class LogsError extends JsonProtocolError<LogsErrorType> {
  constructor(type: LogsErrorType, message: string) {
    super(type, message, STATUS[type]);
  }
}
