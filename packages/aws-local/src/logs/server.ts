import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { identityVerdict, parseJsonStrict } from '@eaas/aws-rules';
import { acceptBody, BodyBudget, type BodyRefusal, ClientGoneError, closeIfUnread } from '../http-server.js';
import type { LocalIdentities } from '../identity.js';
import { authenticateJsonRequest } from '../json-auth.js';
import { checkSigV4Payload, SIGV4_ERROR_TYPES } from '../sigv4.js';
import { LogsError } from './errors.js';
import { OPERATIONS, PUT_LIMITS } from './operations.js';
import type { LogStore } from './store.js';

/**
 * The JSON 1.1 front of the local CloudWatch Logs: authenticate (SigV4, service `logs`), route by
 * `X-Amz-Target: Logs_20140328.<Operation>`, authorize by the caller's IAM policies, run.
 */

const TARGET_PREFIX = 'Logs_20140328.';
/** A full PutLogEvents batch (1 MiB of messages) JSON-escaped, with room to spare. */
export const MAX_BODY_BYTES = 4 * PUT_LIMITS.maxBatchBytes;
const BODY_TIMEOUT_MS = 10_000;

export interface LogsRequestEvent {
  operation: string;
  principal?: string;
  status: number;
  error?: string;
}

export interface LogsServerOptions {
  store: LogStore;
  identities: LocalIdentities;
  region: string;
  maxSkewSeconds: number;
  now: () => Date;
  /** Called once per answered request; never with a body. */
  onRequest?: (event: LogsRequestEvent) => void;
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  requestId: string,
  errorType?: string,
): void {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.1',
    'Content-Length': payload.length,
    'x-amzn-RequestId': requestId,
    ...(errorType ? { 'x-amzn-ErrorType': errorType } : {}),
  });
  res.end(payload);
}

function bodyRefused(refusal: BodyRefusal): Error {
  switch (refusal) {
    case 'too-large':
      return new LogsError(
        'RequestEntityTooLargeException',
        `Request body is larger than ${MAX_BODY_BYTES} bytes.`,
      );
    case 'no-room':
      return new LogsError('ThrottlingException', 'Rate exceeded');
    case 'timeout':
      return new LogsError('RequestTimeoutException', 'The request body did not arrive in time.');
    case 'client-gone':
      return new ClientGoneError();
  }
}

export function createLogsServer(options: LogsServerOptions): Server {
  const { store, identities } = options;
  const budget = new BodyBudget(16 * MAX_BODY_BYTES);

  async function handle(
    req: IncomingMessage,
    who: { arn?: string },
  ): Promise<{ operation: string; result: unknown }> {
    const arrived = Date.now();
    const { signed, verify, checked, principal } = authenticateJsonRequest(req, {
      service: 'logs',
      region: options.region,
      now: options.now(),
      maxSkewSeconds: options.maxSkewSeconds,
      identities,
      fail: (type, message) => new LogsError(type, message),
    });
    who.arn = principal.arn;
    const accepted = await acceptBody(req, {
      limit: MAX_BODY_BYTES,
      budget,
      shares: [{ key: checked.accessKeyId, limit: 4 * MAX_BODY_BYTES }],
      deadline: () => arrived + BODY_TIMEOUT_MS,
    });
    if (!accepted.ok) throw bodyRefused(accepted.refusal);
    accepted.reservation.release();
    const { body } = accepted;
    const auth = checkSigV4Payload(
      { ...signed, bodySha256: createHash('sha256').update(body).digest('hex') },
      checked,
      verify,
    );
    if (!auth.ok) throw new LogsError(SIGV4_ERROR_TYPES[auth.failure], auth.message);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    const run = Object.hasOwn(OPERATIONS, operation) ? OPERATIONS[operation] : undefined;
    if (req.method !== 'POST' || !run)
      throw new LogsError('UnknownOperationException', `Unknown operation ${target || '(no X-Amz-Target)'}.`);
    let input: unknown = {};
    if (body.length > 0) {
      try {
        input = parseJsonStrict(body.toString('utf8'));
      } catch {
        throw new LogsError('SerializationException', 'The request body is not valid JSON.');
      }
    }
    if (input === null || typeof input !== 'object' || Array.isArray(input))
      throw new LogsError('SerializationException', 'The request body must be a JSON object.');
    let decided = false;
    const result = run(input as Record<string, unknown>, {
      store,
      now: options.now().getTime(),
      require(action, resource) {
        decided = true;
        const req = {
          principal: principal.arn,
          action,
          keyArn: resource,
          keyAccountId: identities.accountId,
        };
        if (identityVerdict(principal.policies, req) !== 'allow')
          throw new LogsError(
            'AccessDeniedException',
            `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`,
          );
      },
    });
    // Postcondition: every operation decided the caller's rights before it acted.
    if (!decided) throw new Error(`operation ${operation} answered without an authorization decision`);
    return { operation, result };
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const who: { arn?: string } = {};
    const target = String(req.headers['x-amz-target'] ?? '').replace(TARGET_PREFIX, '');
    try {
      const { operation, result } = await handle(req, who);
      send(res, 200, result, requestId);
      options.onRequest?.({ operation, ...(who.arn ? { principal: who.arn } : {}), status: 200 });
    } catch (error) {
      if (error instanceof ClientGoneError) {
        res.destroy();
        return;
      }
      const logsError =
        error instanceof LogsError
          ? error
          : new LogsError('ServiceUnavailableException', 'The service cannot complete the request.');
      if (!(error instanceof LogsError))
        console.error(`local CloudWatch Logs: internal error in ${target}: ${(error as Error)?.message}`);
      closeIfUnread(req, res);
      send(res, logsError.status, logsError.toJSON(), requestId, logsError.type);
      options.onRequest?.({
        operation: target,
        ...(who.arn ? { principal: who.arn } : {}),
        status: logsError.status,
        error: logsError.type,
      });
    }
  }

  return createServer((req, res) => {
    serve(req, res).catch(() => res.destroy());
  });
}
