'use strict';

/**
 * A Lambda Node.js runtime in miniature, for the tests of the packaged bundles: it loads the
 * function's handler as Lambda does (`_HANDLER`, `<file>.<export>`, required from the unzipped
 * bundle under `LAMBDA_TASK_ROOT`, once: the instance stays warm) and runs the invocations its
 * parent sends over IPC, one at a time, each with a Lambda context and its own X-Ray trace id.
 * Events and results cross as JSON, as they do through Lambda's API. Plain Node, no loader.
 */
const { join } = require('node:path');
const { PassThrough } = require('node:stream');

/**
 * The runtime's `awslambda` global for response-streaming functions
 * (https://docs.aws.amazon.com/lambda/latest/dg/config-rs-write-functions.html): a streamified
 * handler is marked as such; `HttpResponseStream.from` writes the JSON prelude and the eight null
 * bytes API Gateway reads before the body
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode-lambda.html).
 * A streamed invocation's output crosses to the parent whole, base64-encoded, as `streamed`.
 */
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
globalThis.awslambda = {
  streamifyResponse(fn) {
    fn[STREAMING] = 'response';
    return fn;
  },
  HttpResponseStream: {
    from(stream, prelude) {
      stream.write(Buffer.concat([Buffer.from(JSON.stringify(prelude)), Buffer.alloc(8)]));
      return stream;
    },
  },
};

const spec = process.env._HANDLER ?? '';
const dot = spec.lastIndexOf('.');
const handler = require(join(process.env.LAMBDA_TASK_ROOT ?? '', spec.slice(0, dot)))[spec.slice(dot + 1)];
if (typeof handler !== 'function') throw new Error(`${spec}: the bundle exports no handler function`);

/** The error document Lambda answers for a function that threw. */
const errorOf = (error) => ({
  errorType: error?.name ?? typeof error,
  errorMessage: error?.message ?? String(error),
  trace: String(error?.stack ?? '').split('\n'),
});

process.on('message', async ({ id, event, requestId, functionArn, deadline, traceId }) => {
  process.env._X_AMZN_TRACE_ID = traceId;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: functionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  try {
    if (handler[STREAMING] === 'response') {
      const stream = new PassThrough();
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      await handler(event, stream, context);
      process.send({ id, result: { streamed: Buffer.concat(chunks).toString('base64') } });
      return;
    }
    const result = await handler(event, context);
    process.send({ id, result: result === undefined ? null : result });
  } catch (error) {
    process.send({ id, error: errorOf(error) });
  }
});
process.send({ ready: true });
