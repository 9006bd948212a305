import { xmlDocument } from '../s3/xml.js';

/**
 * S3 Control errors as its REST-XML protocol carries them:
 * `<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>`.
 * The codes and statuses are those the Batch Operations API pages list
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html,
 * API_control_DescribeJob.html, API_control_UpdateJobStatus.html), and the `NoSuchJob` and
 * `InvalidRequest` codes S3 Control answers for an unknown job and a request it refuses
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshooting-batch-operations.html,
 * "NoSuchJobException": "The specified job does not exist"). The service model gives
 * JobStatusException and IdempotencyException no status of their own, so they are client errors,
 * 400. The SDK reads the code, so it must be the service's own.
 */
const STATUS = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  BadRequestException: 400,
  ExpiredToken: 400,
  IdempotencyException: 400,
  InternalServiceException: 500,
  InvalidAccessKeyId: 403,
  InvalidRequest: 400,
  InvalidToken: 400,
  JobStatusException: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  NoSuchJob: 404,
  NotImplemented: 501,
  RequestTimeout: 400,
  RequestTimeTooSkewed: 403,
  SignatureDoesNotMatch: 403,
  TooManyRequestsException: 400,
} as const satisfies Record<string, number>;

export type ControlErrorCode = keyof typeof STATUS;

export class ControlError extends Error {
  readonly status: number;

  constructor(
    readonly code: ControlErrorCode,
    message: string,
  ) {
    super(message);
    this.name = code;
    this.status = STATUS[code];
  }

  toXml(requestId: string): string {
    return xmlDocument(
      'ErrorResponse',
      { Error: { Code: this.code, Message: this.message }, RequestId: requestId, HostId: requestId },
      false,
    );
  }
}

export const invalidRequest = (message: string) => new ControlError('InvalidRequest', message);

export const noSuchJob = () => new ControlError('NoSuchJob', 'The specified job does not exist');
