import type { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { ErrorLogger } from './middleware/error-responses.js';

/**
 * Response streaming through API Gateway: the contract between a function and the integration
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode-lambda.html).
 * The function, wrapped in `awslambda.streamifyResponse`, writes a JSON prelude (status, headers)
 * and a delimiter, which `awslambda.HttpResponseStream.from` writes for it, then the body; API
 * Gateway answers the status and headers once it has the prelude and the delimiter, then passes the
 * body on as it comes (https://docs.aws.amazon.com/lambda/latest/dg/config-rs-write-functions.html).
 * The Lambda Node runtime provides `awslambda` as a global; the local gateway provides the same
 * contract in process (local/response-stream.ts), so the handler takes it as a dependency.
 */

/** The prelude of a streamed answer: what API Gateway answers before the body. */
export type ResponsePrelude = {
  statusCode: number;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  cookies?: string[];
};

/** `awslambda.HttpResponseStream` as a handler uses it: the response stream, its prelude written. */
export interface HttpResponseStreams {
  from(responseStream: Writable, prelude: ResponsePrelude): Writable;
}

/** A response-streaming handler: what `awslambda.streamifyResponse` takes. */
export type StreamingHandler = (
  event: APIGatewayProxyEvent,
  responseStream: Writable,
  context: Context,
) => Promise<void>;

/** The buffered part of a streamed answer: the API's middy stack, deciding the status and headers. */
export type DecidingHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>;

/** The bodies a route decided to stream, by request id, between the decision and the stream. */
export class PendingBodies {
  private readonly bodies = new Map<string, Readable>();

  hold(requestId: string, body: Readable): void {
    this.bodies.get(requestId)?.destroy();
    this.bodies.set(requestId, body);
  }

  take(requestId: string): Readable | undefined {
    const body = this.bodies.get(requestId);
    this.bodies.delete(requestId);
    return body;
  }
}

function stringHeaders(headers: APIGatewayProxyResult['headers']): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, String(v)]));
}

/**
 * What fails the invocation of a streamed answer: the cause's name only. Lambda's runtime logs an
 * invocation's error (message and stack) in the function's log group; an S3 or KMS error's message
 * may quote an object key or a request's values, and the rule is that logs carry no data.
 */
export class StreamedAnswerFailed extends Error {
  constructor(cause: unknown) {
    super(`The streamed answer failed (${(cause as Error)?.name ?? 'unknown'}).`);
    this.name = 'StreamedAnswerFailed';
  }
}

/**
 * A streaming function from a deciding one: the decision (authorization, audit, errors) is the
 * API's middy stack as for every route, answered as the prelude; an error is a JSON body, as in a
 * buffered answer. A 200 streams the body the route held. A body that fails mid-way (its tag at
 * the end, S3) destroys the response stream and fails the invocation: API Gateway ends the
 * transfer short, and the client never sees a clean end. A client that goes away releases the
 * body (pipeline destroys it) and ends the invocation quietly.
 */
export function streamedAnswers(
  decide: DecidingHandler,
  streams: HttpResponseStreams,
  pending: PendingBodies,
  logger: ErrorLogger,
): StreamingHandler {
  return async (event, responseStream, context) => {
    const requestId = event.requestContext?.requestId ?? 'unknown';
    let result: APIGatewayProxyResult;
    try {
      result = await decide(event, context);
    } catch (error) {
      pending.take(requestId)?.destroy();
      logger.error('streamed answer not decided', { requestId, errorName: (error as Error)?.name });
      throw new StreamedAnswerFailed(error);
    }
    const body = pending.take(requestId);
    const out = streams.from(responseStream, {
      statusCode: result.statusCode,
      headers: stringHeaders(result.headers),
    });
    if (result.statusCode !== 200 || body === undefined) {
      body?.destroy();
      out.end(Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8'));
      await finished(out);
      return;
    }
    // Whether the client went away: the response stream closed before the body ended. Told apart
    // from the body closing early (S3 cut the read), which is the function's failure.
    let bodyEnded = false;
    let clientGone = false;
    body.once('end', () => {
      bodyEnded = true;
    });
    out.once('close', () => {
      if (!bodyEnded && !out.writableFinished && !body.destroyed) clientGone = true;
    });
    try {
      await pipeline(body, out);
    } catch (error) {
      // The client went away: the body is released, and the invocation is no failure of the function's.
      if ((error as NodeJS.ErrnoException)?.code === 'ERR_STREAM_PREMATURE_CLOSE' && clientGone) return;
      // Names only: never a body, a key or a message that could quote data.
      logger.error('streamed answer aborted', { requestId, errorName: (error as Error)?.name });
      throw new StreamedAnswerFailed(error);
    }
  };
}
