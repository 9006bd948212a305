import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ControlClient } from '@aws-sdk/client-s3-control';
import type { AwsCredentialIdentity } from '@smithy/types';
import { expectBucketOwner } from '../aws/s3-owner.js';
import type { Config } from '../config.js';

/**
 * The service's AWS clients. In Lambda: the regional endpoints and the function role's
 * credentials. The local stack gives its emulators' endpoints (in the configuration) and the
 * `eaas-service` principal's keys. Each is built only by the functions that use its service, so a
 * bundle holds only its SDK clients.
 */

/**
 * Timeouts of every client (docs/deploying.md, "Failure handling"): a connection not made within
 * 3 s, an answer not begun, or a socket silent (an idle timeout, so a long S3 stream that keeps
 * moving is not cut), within the client's timeout fails the attempt, which the SDK retries and the service then answers as
 * 502 DependencyFailure rather than hanging until Lambda's own timeout.
 */
const CONNECTION_TIMEOUT_MS = 3_000;
const KMS_REQUEST_TIMEOUT_MS = 10_000;
/** The seal's and the worker's streams wait on the other side's pace (a part upload). */
const S3_REQUEST_TIMEOUT_MS = 30_000;
const LOGS_REQUEST_TIMEOUT_MS = 10_000;

/** The request handler's options for `timeout` ms (exported for its test). */
export const timeouts = (timeout: number, whole: boolean) => ({
  requestHandler: {
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    // The whole exchange until the answer's headers (the request's body included), as an error:
    // only for the small JSON calls, never for S3's bodies of any size.
    ...(whole ? { requestTimeout: timeout, throwOnRequestTimeout: true } : {}),
    // A socket silent this long, a streamed body's included.
    socketTimeout: timeout,
  },
});

/** The service's KMS client: the regional endpoint, or `kmsEndpoint` when set. */
export function kmsClientFor(config: Config, credentials?: AwsCredentialIdentity): KMSClient {
  return new KMSClient({
    region: config.region,
    ...timeouts(KMS_REQUEST_TIMEOUT_MS, true),
    ...(config.kmsEndpoint ? { endpoint: config.kmsEndpoint } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

/**
 * The service's S3 client: the regional endpoint, or `s3Endpoint` path-style when set. Checksums
 * only where S3 requires them: presigned URLs must not demand a checksum the browser cannot
 * compute in advance. Every call that names a bucket expects the configured account
 * (`EAAS_ACCOUNT_ID`) to own it, presigned URLs excepted (src/aws/s3-owner.ts).
 */
export function s3ClientFor(config: Config, credentials?: AwsCredentialIdentity): S3Client {
  const client = new S3Client({
    region: config.region,
    ...timeouts(S3_REQUEST_TIMEOUT_MS, false),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint, forcePathStyle: true } : {}),
    ...(credentials ? { credentials } : {}),
  });
  return expectBucketOwner(client, config.accountId);
}

/** The service's CloudWatch Logs client (the audit log group): the regional endpoint, or `logsEndpoint` when set. */
export function logsClientFor(config: Config, credentials?: AwsCredentialIdentity): CloudWatchLogsClient {
  return new CloudWatchLogsClient({
    region: config.region,
    ...timeouts(LOGS_REQUEST_TIMEOUT_MS, true),
    ...(config.logsEndpoint ? { endpoint: config.logsEndpoint } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

/**
 * The service's S3 Control client (S3 Batch Operations, the batch engine of re-encryption jobs):
 * the regional endpoint, or `s3ControlEndpoint` when set (the local stack's emulator). Only the
 * functions that create, describe or cancel batch jobs build it. S3 Control's endpoint rules put
 * the account in the host (`<account-id>.s3-control.<region>.amazonaws.com`,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html, "Request Syntax"),
 * a custom endpoint included, which does not resolve on 127.0.0.1: with `s3ControlEndpoint`, an
 * endpoint provider that answers the endpoint as given (docs/local-stack.md).
 */
export function s3ControlClientFor(config: Config, credentials?: AwsCredentialIdentity): S3ControlClient {
  const endpoint = config.s3ControlEndpoint;
  return new S3ControlClient({
    region: config.region,
    ...timeouts(S3_REQUEST_TIMEOUT_MS, true),
    ...(endpoint ? { endpoint, endpointProvider: () => ({ url: new URL(endpoint) }) } : {}),
    ...(credentials ? { credentials } : {}),
  });
}
