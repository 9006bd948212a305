import { kmsClientFor, s3ClientFor } from '../compose/aws-clients.js';
import { streamsServices } from '../compose/documents.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { makeHandler } from '../handlers/streams.js';
import type { DecidingHandler } from '../http/response-stream.js';
import { builtOnFirstCall } from './built-once.js';

/**
 * Lambda entry of the streams function: GET /v1/streams/{key+}, a response-streaming function.
 * `awslambda` is the Lambda Node runtime's global (no import;
 * https://docs.aws.amazon.com/lambda/latest/dg/config-rs-write-functions.html), typed by
 * @types/aws-lambda.
 */
export const handler = awslambda.streamifyResponse(
  builtOnFirstCall(async () => {
    const base = await lambdaBase('streams');
    const { config } = base;
    const services = streamsServices(
      config,
      keyAccess(config, base.kms(kmsClientFor(config))),
      base.traced(s3ClientFor(config)),
    );
    return makeHandler(
      { ...base.http, ...services, responseStreams: awslambda.HttpResponseStream },
      (decide) => base.entry(decide) as DecidingHandler,
    );
  }),
);
