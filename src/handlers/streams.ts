import { type HttpDeps, makeApiHandler } from '../http/api.js';
import { documentCallerOf } from '../http/caller.js';
import { RawAnswer } from '../http/respond.js';
import {
  type DecidingHandler,
  type HttpResponseStreams,
  PendingBodies,
  type StreamingHandler,
  streamedAnswers,
} from '../http/response-stream.js';
import { VALIDATORS } from '../http/validators/streams.js';
import type { AccessControl } from '../services/access.js';
import type { DocumentService } from '../services/documents.js';
import { viewHeaders } from './objects.js';

/**
 * The most plaintext one streamed answer carries: a Lambda response stream holds up to 200 MB
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html), less
 * room for the prelude. Larger documents: the client-side download (POST /v1/downloads).
 */
export const MAX_STREAMED_BYTES = 200_000_000 - 64 * 1024;

export interface StreamsDeps extends HttpDeps {
  documents: DocumentService;
  access: AccessControl;
  /** `awslambda.HttpResponseStream` on Lambda; the local gateway's in process. */
  responseStreams: HttpResponseStreams;
  /** The most plaintext streamed (MAX_STREAMED_BYTES unless given). */
  maxBytes?: number;
}

/**
 * GET /v1/streams/{key+}: a document of any size, decrypted as it streams. The same service call
 * and rules as GET /v1/objects/{key+} (who may read it, NotFound for whoever may not, the audit
 * record), through `openAuthenticated`: the whole object is authenticated in a first pass before
 * the first byte leaves, and the same version (If-Match its ETag) is streamed in the second.
 * `observe` wraps the deciding part (the Lambda entry's logger context and metrics).
 */
export function makeHandler(
  deps: StreamsDeps,
  observe: (decide: DecidingHandler) => DecidingHandler = (decide) => decide,
): StreamingHandler {
  const { documents, access } = deps;
  const maxBytes = deps.maxBytes ?? MAX_STREAMED_BYTES;
  const pending = new PendingBodies();
  const decide = makeApiHandler(
    'streams',
    {
      async streamObject(input) {
        const caller = documentCallerOf(access, input.state);
        const { view, body } = await documents.openAuthenticated(caller, input.pathParameters.key ?? '', {
          maxBytes,
          hint: 'Download it with the client-side download (POST /v1/downloads).',
        });
        if (view.keyId) input.state.audit.keyArn = view.keyId;
        pending.hold(input.state.requestId, body);
        return new RawAnswer(200, viewHeaders(view));
      },
    },
    deps,
    VALIDATORS,
  );
  return streamedAnswers(observe(decide as DecidingHandler), deps.responseStreams, pending, deps.logger);
}
