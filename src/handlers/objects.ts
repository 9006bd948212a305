import { ValidationError } from '../core/errors.js';
import { attachmentOf, servedMediaType } from '../core/media-type.js';
import type { PageTokens } from '../core/page-token.js';
import { type ApiHandler, type HttpDeps, makeApiHandler, type RouteInput } from '../http/api.js';
import { documentCallerOf } from '../http/caller.js';
import { pagerFor } from '../http/paging.js';
import { contextFromQuery, limitFromQuery } from '../http/query.js';
import { RawAnswer } from '../http/respond.js';
import { VALIDATORS } from '../http/validators/objects.js';
import type { AccessControl } from '../services/access.js';
import {
  type DocumentCaller,
  type DocumentService,
  isDocumentCursor,
  type ObjectView,
} from '../services/documents.js';

export interface ObjectsDeps extends HttpDeps {
  documents: DocumentService;
  access: AccessControl;
  /** Seals and opens the listing's page tokens. */
  pageTokens: PageTokens;
}

/** The metadata view as response headers (GET and HEAD, and the streamed GET): never a secret. */
export function viewHeaders(view: ObjectView): Record<string, string> {
  return {
    'Content-Type': servedMediaType(view.contentType),
    'Content-Disposition': attachmentOf(view.key),
    'x-eaas-format': view.format,
    'x-eaas-size': String(view.size),
    'x-eaas-stored-size': String(view.storedSize),
    'x-eaas-context': JSON.stringify(view.context),
    ETag: view.etag,
    'Last-Modified': new Date(view.lastModified).toUTCString(),
    ...(view.keyId ? { 'x-eaas-key-id': view.keyId } : {}),
    ...(view.owner ? { 'x-eaas-owner': view.owner } : {}),
  };
}

/** PUT/GET/HEAD/DELETE /v1/objects/{key+} and GET /v1/objects. */
export function makeHandler(deps: ObjectsDeps): ApiHandler {
  const { documents, access, pageTokens } = deps;
  const callerOf = ({ state }: RouteInput): DocumentCaller => documentCallerOf(access, state);
  const keyOf = (input: RouteInput) => input.pathParameters.key ?? '';
  return makeApiHandler(
    'objects',
    {
      async putObject(input) {
        const keyId = input.query.keyId;
        if (!keyId) throw new ValidationError('keyId is required: the key to encrypt the document under.');
        const out = await documents.put(callerOf(input), keyOf(input), input.raw, {
          keyId,
          context: contextFromQuery(input.query.context),
          contentType: input.headers['content-type'],
          overwrite: input.query.overwrite !== 'false',
        });
        input.raw.fill(0);
        input.state.audit.keyArn = out.keyId;
        return out;
      },

      async getObject(input) {
        const caller = callerOf(input);
        if (input.query.metadata !== undefined) {
          const view = await documents.head(caller, keyOf(input));
          if (view.keyId) input.state.audit.keyArn = view.keyId;
          return { ...view };
        }
        const { view, plaintext } = await documents.get(caller, keyOf(input));
        if (view.keyId) input.state.audit.keyArn = view.keyId;
        return new RawAnswer(200, viewHeaders(view), plaintext);
      },

      async headObject(input) {
        const view = await documents.head(callerOf(input), keyOf(input));
        if (view.keyId) input.state.audit.keyArn = view.keyId;
        return new RawAnswer(200, viewHeaders(view));
      },

      async deleteObject(input) {
        return documents.delete(callerOf(input), keyOf(input));
      },

      async createDownload(input) {
        const { key } = input.body as { key: string };
        const ticket = await documents.downloadTicket(callerOf(input), key);
        if (ticket.keyId) input.state.audit.keyArn = ticket.keyId;
        // Recorded as such: the caller now holds what opens this object (never the key itself).
        input.state.audit.reason = 'content key disclosed';
        return ticket;
      },

      async listObjects(input) {
        const prefix = input.query.prefix ?? '';
        // A person's tokens are its own (every person shares one role).
        const space = input.state.person?.identityId;
        const page = pagerFor(
          pageTokens,
          input,
          'listObjects',
          { prefix, ...(space ? { space } : {}) },
          isDocumentCursor,
        );
        return page.answer(
          await documents.list(callerOf(input), prefix, limitFromQuery(input.query), page.cursor),
        );
      },
    },
    deps,
    VALIDATORS,
  );
}
