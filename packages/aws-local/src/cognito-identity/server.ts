import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { acceptBody, BodyBudget, ClientGoneError, closeIfUnread } from '../http-server.js';
import { IdentityPoolError } from './errors.js';
import { getCredentialsForIdentity, getId, type PoolContext, shown } from './operations.js';

/**
 * The JSON 1.1 front of the local identity pool: `POST /` with `X-Amz-Target:
 * AWSCognitoIdentityService.<Operation>`. GetId and GetCredentialsForIdentity are public APIs,
 * called unsigned as on AWS ("You do not need any credentials to call this API",
 * API_GetCredentialsForIdentity.html); a signature, if any, is ignored. Browsers call them
 * cross-origin, so the server answers CORS preflights and marks its answers for the allowed
 * origins (every origin, `*`, unless given a list; no credentials either way). Request bodies and
 * answers are never logged: they carry tokens and credentials.
 */

const TARGET_PREFIX = 'AWSCognitoIdentityService.';
const MAX_BODY_BYTES = 64 * 1024;
const BODY_TIMEOUT_MS = 10_000;
const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** Body bytes all requests may hold at once (as the other servers bound theirs): 64 full bodies. */
export const MAX_BODY_BYTES_IN_FLIGHT = 64 * MAX_BODY_BYTES;

const OPERATIONS: Readonly<
  Record<string, (ctx: PoolContext, input: Record<string, unknown>) => Promise<unknown>>
> = {
  GetId: getId,
  GetCredentialsForIdentity: getCredentialsForIdentity,
};

/** Headers the SDKs send from a browser (the JS SDK v3's and the v2 SDK's). */
const ALLOWED_HEADERS = [
  'content-type',
  'x-amz-target',
  'x-amz-user-agent',
  'x-amz-date',
  'x-amz-content-sha256',
  'x-amz-security-token',
  'authorization',
  'amz-sdk-invocation-id',
  'amz-sdk-request',
  'cache-control',
];

export interface IdentityPoolServerOptions {
  context: PoolContext;
  /** Origins allowed cross-origin calls; every origin (`*`) when undefined. */
  allowedOrigins?: readonly string[] | undefined;
  /** The budget of body bytes in flight (one of MAX_BODY_BYTES_IN_FLIGHT when absent); tests read its counters. */
  bodyBudget?: BodyBudget | undefined;
}

export function createIdentityPoolServer(options: IdentityPoolServerOptions): Server {
  const { context } = options;
  const budget = options.bodyBudget ?? new BodyBudget(MAX_BODY_BYTES_IN_FLIGHT);

  function corsHeaders(req: IncomingMessage): Record<string, string> {
    const origin = req.headers.origin;
    if (origin === undefined) return {};
    const allowed = options.allowedOrigins;
    if (allowed !== undefined && !allowed.includes(origin)) return {};
    return {
      'Access-Control-Allow-Origin': allowed === undefined ? '*' : origin,
      'Access-Control-Expose-Headers': 'x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date',
      ...(allowed === undefined ? {} : { Vary: 'Origin' }),
    };
  }

  function send(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: unknown,
    requestId: string,
    error?: IdentityPoolError,
  ): void {
    const payload = Buffer.from(JSON.stringify(body));
    res.writeHead(status, {
      'Content-Type': CONTENT_TYPE,
      'Content-Length': payload.length,
      'x-amzn-RequestId': requestId,
      // Header values are printable ASCII whatever a message holds (Node throws on others).
      ...(error
        ? {
            'x-amzn-ErrorType': `${error.type}:`,
            'x-amzn-ErrorMessage': error.message.replace(/[^\x20-\x7e]/g, '?'),
          }
        : {}),
      ...corsHeaders(req),
    });
    res.end(payload);
  }

  async function handle(req: IncomingMessage): Promise<unknown> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    const run = Object.hasOwn(OPERATIONS, operation) ? OPERATIONS[operation] : undefined;
    if (req.method !== 'POST' || !run)
      throw new IdentityPoolError(
        'UnknownOperationException',
        `Unknown operation ${target ? shown(target) : '(no X-Amz-Target)'}.`,
      );
    const arrived = Date.now();
    const accepted = await acceptBody(req, {
      limit: MAX_BODY_BYTES,
      budget,
      deadline: () => arrived + BODY_TIMEOUT_MS,
    });
    if (!accepted.ok) {
      if (accepted.refusal === 'client-gone') throw new ClientGoneError();
      if (accepted.refusal === 'no-room')
        throw new IdentityPoolError('TooManyRequestsException', 'Too many requests. Try again later.');
      throw new IdentityPoolError('InvalidParameterException', 'The request body is too large or too slow.');
    }
    const body = accepted.body;
    accepted.reservation.release();
    let input: unknown;
    try {
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw new IdentityPoolError('SerializationException', 'The request body is not valid JSON.');
    } finally {
      body.fill(0);
    }
    if (input === null || typeof input !== 'object' || Array.isArray(input))
      throw new IdentityPoolError('SerializationException', 'The request body must be a JSON object.');
    return run(context, input as Record<string, unknown>);
  }

  function answer(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    return handle(req).then(
      (result) => send(req, res, 200, result, requestId),
      (error: unknown) => {
        if (error instanceof ClientGoneError) return void res.destroy();
        if (error instanceof IdentityPoolError) {
          closeIfUnread(req, res);
          return send(req, res, error.status, error.toJSON(), requestId, error);
        }
        console.error(`local identity pool: ${(error as Error)?.name}: ${(error as Error)?.message}`);
        const internal = new IdentityPoolError('InternalErrorException', 'An internal error occurred.');
        closeIfUnread(req, res);
        send(req, res, internal.status, internal.toJSON(), requestId, internal);
      },
    );
  }

  return createServer((req, res) => {
    const requestId = randomUUID();
    if (req.method === 'OPTIONS') {
      closeIfUnread(req, res);
      const cors = corsHeaders(req);
      res.writeHead(cors['Access-Control-Allow-Origin'] ? 200 : 403, {
        ...cors,
        'Access-Control-Allow-Methods': 'POST,OPTIONS',
        'Access-Control-Allow-Headers': ALLOWED_HEADERS.join(','),
        'Access-Control-Max-Age': '600',
        'Content-Length': 0,
        'x-amzn-RequestId': requestId,
      });
      res.end();
      return;
    }
    // Whatever fails in answering (a header Node refuses, a closed socket) ends this connection only.
    answer(req, res, requestId).catch(() => res.destroy());
  });
}
