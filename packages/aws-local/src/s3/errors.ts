import { xmlDocument } from './xml.js';

/**
 * S3 errors as the REST-XML protocol carries them:
 * `<Error><Code>…</Code><Message>…</Message>…<RequestId>…</RequestId></Error>` with the HTTP
 * status S3 uses for that code. The SDK and the CLI read the code, so it must be S3's own.
 */
const STATUS = {
  AccessDenied: 403,
  AccessForbidden: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BadRequest: 400,
  BucketAlreadyOwnedByYou: 409,
  EntityTooLarge: 400,
  /** Temporary credentials past their expiration: "The provided token has expired." */
  ExpiredToken: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidToken: 400,
  InvalidURI: 400,
  KeyTooLongError: 400,
  /** S3 passes on what AWS KMS answered when it used a key for the caller (SSE-KMS). */
  'KMS.DisabledException': 400,
  'KMS.KMSInvalidStateException': 400,
  'KMS.NotFoundException': 400,
  MalformedPolicy: 400,
  MalformedTrailerError: 400,
  MalformedXML: 400,
  MaxMessageLengthExceeded: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchBucketPolicy: 404,
  NoSuchCORSConfiguration: 404,
  /** An inventory (analytics, metrics) configuration id the bucket does not have. */
  NoSuchConfiguration: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  NotModified: 304,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  SignatureDoesNotMatch: 403,
  /** More than 1,000 inventory configurations on a bucket (API_PutBucketInventoryConfiguration.html). */
  TooManyConfigurations: 400,
  XAmzContentSHA256Mismatch: 400,
} as const satisfies Record<string, number>;

export type S3ErrorCode = keyof typeof STATUS;

export class S3Error extends Error {
  readonly status: number;
  /** Headers the error answer carries besides the usual (ETag on a 304, Content-Range on a 416). */
  responseHeaders: Record<string, string> = {};

  /**
   * @param details further elements S3 puts beside the message (`Key`, `BucketName`, `UploadId`,
   *   `ActualObjectSize`, …), in order.
   */
  constructor(
    readonly code: S3ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, string>> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = code;
    this.status = STATUS[code];
  }

  /** The XML body; HEAD answers and 304 carry none. */
  toXml(requestId: string): string {
    return xmlDocument('Error', {
      Code: this.code,
      Message: this.message,
      ...this.details,
      RequestId: requestId,
      HostId: requestId,
    });
  }
}

export const noSuchKey = (key: string) =>
  new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });

export const noSuchBucket = (bucket: string) =>
  new S3Error('NoSuchBucket', 'The specified bucket does not exist.', { BucketName: bucket });

export const noSuchUpload = (uploadId: string) =>
  new S3Error(
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    { UploadId: uploadId },
  );

export const preconditionFailed = (condition: string) =>
  new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
    Condition: condition,
  });

export const invalidArgument = (message: string, name?: string, value?: string) =>
  new S3Error(
    'InvalidArgument',
    message,
    name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' },
  );

export const malformedXml = () =>
  new S3Error(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
  );
