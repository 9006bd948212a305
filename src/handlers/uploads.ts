import type { EncryptionContext } from '@eaas/aws-rules';
import { type ApiHandler, type HttpDeps, makeApiHandler, type RouteInput } from '../http/api.js';
import { documentCallerOf } from '../http/caller.js';
import { VALIDATORS } from '../http/validators/uploads.js';
import type { AccessControl } from '../services/access.js';
import type { DocumentCaller } from '../services/documents.js';
import type { UploadService } from '../services/uploads.js';

export interface UploadsDeps extends HttpDeps {
  uploads: UploadService;
  access: AccessControl;
}

/** POST /v1/uploads, GET and DELETE /v1/uploads/{id}, POST /v1/uploads/{id}/complete and /parts. */
export function makeHandler(deps: UploadsDeps): ApiHandler {
  const { uploads, access } = deps;
  const callerOf = ({ state }: RouteInput): DocumentCaller => documentCallerOf(access, state);
  const idOf = (input: RouteInput) => input.pathParameters.id ?? '';
  return makeApiHandler(
    'uploads',
    {
      async createUpload(input) {
        const body = input.body as {
          key: string;
          keyId: string;
          size: number;
          context?: EncryptionContext;
          contentType?: string;
          overwrite?: boolean;
          sealedBy?: 'client' | 'service';
          verify?: boolean;
        };
        const out = await uploads.create(callerOf(input), body);
        input.state.audit.keyArn = out.keyId;
        // Recorded as such: the uploader now holds the content key of the object it will write
        // (never the key itself in the record).
        if (body.sealedBy === 'client') input.state.audit.reason = 'content key issued';
        return out;
      },
      async getUpload(input) {
        return { ...(await uploads.status(callerOf(input), idOf(input))) };
      },
      async completeUpload(input) {
        const { parts } = input.body as { parts: { partNumber: number; etag: string }[] };
        return { ...(await uploads.complete(callerOf(input), idOf(input), parts)) };
      },
      async resumeUpload(input) {
        const { partNumbers } = (input.body ?? {}) as { partNumbers?: number[] };
        return { ...(await uploads.resume(callerOf(input), idOf(input), partNumbers)) };
      },
      async cancelUpload(input) {
        return { ...(await uploads.cancel(callerOf(input), idOf(input))) };
      },
    },
    deps,
    VALIDATORS,
  );
}
