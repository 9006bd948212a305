import type { Readable } from 'node:stream';
import type { HttpResponseStreams, ResponsePrelude } from '../src/http/response-stream.js';

/**
 * The local side of Lambda response streaming through API Gateway, in process: what the Lambda
 * Node runtime's `awslambda.HttpResponseStream.from` writes, and what API Gateway reads of it. The
 * function's output is a JSON prelude (status, headers), a delimiter of eight null bytes, then the
 * body as it is written ("Lambda proxy integration format for response streaming",
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode-lambda.html).
 */

/** Between the prelude and the body. */
export const PRELUDE_DELIMITER = Buffer.alloc(8);
/** A prelude longer than this is refused (502) rather than held: the local gateway's own bound. */
export const MAX_PRELUDE_BYTES = 64 * 1024;

/** `awslambda.HttpResponseStream` for the functions the local gateway runs. */
export const LOCAL_RESPONSE_STREAMS: HttpResponseStreams = {
  from(responseStream, prelude) {
    responseStream.write(Buffer.concat([Buffer.from(JSON.stringify(prelude)), PRELUDE_DELIMITER]));
    return responseStream;
  },
};

/**
 * Reads the prelude off a function's response stream, as API Gateway does before it answers:
 * resolves with it and the stream, which then holds only the body. Rejects when the stream ends
 * or fails before a whole prelude, or the prelude is not a JSON object with a status.
 */
export function readPrelude(stream: Readable): Promise<{ prelude: ResponsePrelude; body: Readable }> {
  return new Promise((resolve, reject) => {
    let held = Buffer.alloc(0);
    const cleanup = () => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const fail = (error: Error) => {
      cleanup();
      reject(error);
    };
    function onReadable() {
      for (
        let chunk = stream.read() as Buffer | null;
        chunk !== null;
        chunk = stream.read() as Buffer | null
      ) {
        held = Buffer.concat([held, chunk]);
        const at = held.indexOf(PRELUDE_DELIMITER);
        if (at < 0) {
          if (held.length > MAX_PRELUDE_BYTES) fail(new Error('the response prelude is too large'));
          continue;
        }
        cleanup();
        const rest = held.subarray(at + PRELUDE_DELIMITER.length);
        if (rest.length > 0) stream.unshift(rest);
        let prelude: ResponsePrelude;
        try {
          prelude = JSON.parse(held.subarray(0, at).toString('utf8')) as ResponsePrelude;
        } catch {
          reject(new Error('the response prelude is not JSON'));
          return;
        }
        if (!Number.isInteger(prelude?.statusCode)) {
          reject(new Error('the response prelude has no statusCode'));
          return;
        }
        resolve({ prelude, body: stream });
        return;
      }
    }
    const onEnd = () => fail(new Error('the response stream ended before its prelude'));
    const onError = (error: Error) => fail(error);
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}
