import { kmsClientFor, s3ClientFor } from '../compose/aws-clients.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { pageTokensFor } from '../compose/page-tokens.js';
import { batchJobsFor, rewrapService } from '../compose/rewrap.js';
import { makeHandler } from '../handlers/jobs.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the jobs function: POST /v1/jobs/re-encrypt, GET /v1/jobs, GET /v1/jobs/{id}, POST /v1/jobs/{id}/cancel; the schedule runs them. */
export const handler = builtOnFirstCall(async () => {
  const base = await lambdaBase('jobs');
  const { config } = base;
  const rewrap = rewrapService(
    config,
    keyAccess(config, base.kms(kmsClientFor(config))),
    base.traced(s3ClientFor(config)),
    undefined,
    undefined,
    // The batch engine, where deployed: S3 Batch Operations creates, describes and cancels its jobs.
    batchJobsFor(config, base.traced),
  );
  return base.entry(makeHandler({ ...base.http, rewrap, pageTokens: pageTokensFor(config) }));
});
