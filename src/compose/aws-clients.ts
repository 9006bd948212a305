import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { Config } from '../config.js';

/**
 * The service's AWS clients. In Lambda: the regional endpoints and the function role's
 * credentials. The local stack gives its emulators' endpoints (in the configuration) and the
 * `eaas-service` principal's keys. Each is built only by the functions that use its service, so a
 * bundle holds only its SDK clients.
 */

/** The service's KMS client: the regional endpoint, or `kmsEndpoint` when set. */
export function kmsClientFor(config: Config, credentials?: AwsCredentialIdentity): KMSClient {
  return new KMSClient({
    region: config.region,
    ...(config.kmsEndpoint ? { endpoint: config.kmsEndpoint } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

/**
 * The service's S3 client: the regional endpoint, or `s3Endpoint` path-style when set. Checksums
 * only where S3 requires them: presigned URLs must not demand a checksum the browser cannot
 * compute in advance.
 */
export function s3ClientFor(config: Config, credentials?: AwsCredentialIdentity): S3Client {
  return new S3Client({
    region: config.region,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint, forcePathStyle: true } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

/** The service's CloudWatch Logs client (the audit log group): the regional endpoint, or `logsEndpoint` when set. */
export function logsClientFor(config: Config, credentials?: AwsCredentialIdentity): CloudWatchLogsClient {
  return new CloudWatchLogsClient({
    region: config.region,
    ...(config.logsEndpoint ? { endpoint: config.logsEndpoint } : {}),
    ...(credentials ? { credentials } : {}),
  });
}
