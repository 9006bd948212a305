import {
  contextProblems,
  type EncryptionContext,
  parseJsonStrict,
  ReservedMemberError,
} from '@eaas/aws-rules';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

import { DomainError, ValidationError } from '../core/errors.js';
import { refuseSpacePair } from '../core/spaces.js';
import type { Meter } from '../observability/meter.js';
import type { AuditSink } from '../ports.js';
import { statusOf } from './error-status.js';
import { auditTrail } from './middleware/audit-trail.js';
import { type ErrorLogger, errorResponses, serverErrorDetails } from './middleware/error-responses.js';
import { requestMetrics } from './middleware/request-metrics.js';
import { securityHeaders } from './middleware/security-headers.js';
import { jsonResponse, RawAnswer } from './respond.js';
import { type FunctionName, ROUTES, type Route } from './routes.js';
import { type HttpState, stateFromEvent } from './state.js';
import { type Validator, validate } from './validate.js';

export interface HttpDeps {
  audit: AuditSink;
  logger: ErrorLogger;
  /** Per-route request metrics (count, errors, latency by status class); none when absent. */
  meter?: Pick<Meter, 'request'> | undefined;
  /** Milliseconds, for latency; performance.now by default. */
  now?: () => number;
  /** The page's origin allowed cross-origin calls (EAAS_CORS_ORIGIN); none when undefined. */
  corsOrigin?: string | undefined;
}

export interface RouteInput {
  body: Record<string, unknown>;
  /** The request body as bytes, for routes that take a raw body (`rawBody`). */
  raw: Buffer;
  /** Request headers, names lower-cased. */
  headers: Record<string, string>;
  query: Record<string, string>;
  pathParameters: Record<string, string>;
  state: HttpState;
}

/** One route's use case: takes the validated input, returns the JSON body of a 200 answer, or raw bytes. */
export type RouteImpl = (input: RouteInput) => Promise<Record<string, unknown> | RawAnswer>;

export type ApiHandler = middy.MiddyfiedHandler<APIGatewayProxyEvent, APIGatewayProxyResult>;

/**
 * A function's request validators (`src/http/validators/<function>.ts`): one per route with a
 * JSON body, by operation id, and `batch`, the shape of a batch before its items are validated.
 */
export type Validators = Readonly<Record<string, Validator>>;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {}))
    if (k.toLowerCase() === lower) return v ?? undefined;
  return undefined;
}

/** Parses the JSON body of a request that has one: media type, encoding and syntax. */
function parseJsonBody(event: APIGatewayProxyEvent): Record<string, unknown> {
  const type = header(event, 'content-type') ?? '';
  if (!JSON_TYPE.test(type)) {
    throw new DomainError('UnsupportedMediaType', 'Send the request body as application/json.');
  }
  const text = event.isBase64Encoded
    ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
    : (event.body ?? '');
  let parsed: unknown;
  try {
    parsed = parseJsonStrict(text);
  } catch (error) {
    if (error instanceof ReservedMemberError) throw new ValidationError(error.message);
    throw new DomainError('MalformedJson', 'The request body is not valid JSON.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ValidationError('The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

/** Checks the encryption-context rules JSON Schema cannot say (reserved prefixes, total size). */
function checkContexts(body: Record<string, unknown>): void {
  const problems = ['context', 'destinationContext'].flatMap((name) => {
    const value = body[name];
    return value && typeof value === 'object' ? contextProblems(value as Record<string, unknown>, name) : [];
  });
  if (problems.length > 0)
    throw new ValidationError(
      `Invalid encryption context: ${problems[0]?.path} ${problems[0]?.message}.`,
      problems,
    );
  // Only the service sets a person's space pair.
  for (const name of ['context', 'destinationContext'])
    refuseSpacePair(body[name] as EncryptionContext | undefined, name);
}

function contextKeysOf(body: Record<string, unknown>): string[] {
  const keys = new Set<string>();
  for (const name of ['context', 'destinationContext']) {
    const value = body[name];
    if (value && typeof value === 'object') for (const k of Object.keys(value)) keys.add(k);
  }
  return [...keys].sort();
}

async function runOne(
  route: Route,
  impl: RouteImpl,
  input: RouteInput,
  validators: Validators,
): Promise<Record<string, unknown> | RawAnswer> {
  const validator = validators[route.operationId];
  if (validator) validate(validator, input.body);
  checkContexts(input.body);
  return impl(input);
}

async function runBatch(
  route: Route,
  impl: RouteImpl,
  input: RouteInput,
  logger: ErrorLogger,
  validators: Validators,
) {
  validate(validators.batch as Validator, input.body);
  const items = input.body.items as Record<string, unknown>[];
  // A route with a smaller batch than the shared schema's (the signing routes: their KMS quota).
  if (route.batchItems !== undefined && items.length > route.batchItems)
    throw new ValidationError(
      `Invalid request body: /items must NOT have more than ${route.batchItems} items (a batch of ${route.path} takes at most ${route.batchItems}).`,
      [{ path: '/items', message: `must NOT have more than ${route.batchItems} items` }],
    );
  let failed = 0;
  const results = [];
  for (const [index, item] of items.entries()) {
    try {
      results.push(await runOne(route, impl, { ...input, body: item }, validators));
    } catch (error) {
      failed++;
      if (error instanceof DomainError) {
        if (statusOf(error.code) >= 500)
          logger.error('server error in batch item', {
            requestId: input.state.requestId,
            index,
            ...serverErrorDetails(error),
          });
        results.push({ ...error.toJSON(), index });
      } else {
        logger.error('unhandled error in batch item', {
          requestId: input.state.requestId,
          index,
          errorName: (error as Error)?.name,
        });
        results.push({
          error: 'InternalError',
          message: 'This item failed because of an internal error.',
          index,
        });
      }
    }
  }
  input.state.audit.items = { total: items.length, failed };
  return { items: results };
}

/**
 * The middy stack every Lambda function of the API shares: caller identity, JSON body, schema
 * validation, routing by the shared route table, per-item batches, error answers, security
 * headers, and one audit record per request.
 */
export function makeApiHandler(
  fn: FunctionName,
  impls: Record<string, RouteImpl>,
  deps: HttpDeps,
  validators: Validators,
): ApiHandler {
  const now = deps.now ?? (() => performance.now());
  const routes = ROUTES.filter((r) => r.function === fn);
  for (const r of routes) {
    if (!impls[r.operationId]) throw new Error(`function ${fn} has no implementation of ${r.operationId}`);
    // Precondition: every JSON body is validated; a route without its validator never starts.
    if (r.request && !r.rawBody && !validators[r.operationId])
      throw new Error(`function ${fn} has no validator of ${r.operationId} (npm run validators)`);
    if (r.batch && !validators.batch) throw new Error(`function ${fn} has no batch validator`);
  }
  const states = new WeakMap<object, HttpState>();

  const dispatch = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const state = stateFromEvent(event, now());
    states.set(event, state);
    const route = routes.find((r) => r.method === event.httpMethod && r.path === event.resource);
    if (!route)
      throw new DomainError(
        'RouteNotFound',
        `No route ${event.httpMethod} ${event.resource} in function ${fn}.`,
      );
    state.audit.action = route.operationId;
    const impl = impls[route.operationId] as RouteImpl;
    const body = route.request && !route.rawBody ? parseJsonBody(event) : {};
    const raw =
      route.rawBody && event.body
        ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8')
        : Buffer.alloc(0);
    const headers: Record<string, string> = Object.create(null);
    for (const [k, v] of Object.entries(event.headers ?? {}))
      if (v !== undefined) headers[k.toLowerCase()] = v;
    const query = Object.fromEntries(
      Object.entries(event.queryStringParameters ?? {}).filter(([, v]) => v !== undefined),
    ) as Record<string, string>;
    const input: RouteInput = {
      body,
      raw,
      headers,
      query,
      pathParameters: (event.pathParameters ?? {}) as Record<string, string>,
      state,
    };
    state.audit.contextKeys = route.batch && Array.isArray(body.items) ? undefined : contextKeysOf(body);
    const result =
      route.batch && 'items' in body
        ? await runBatch(route, impl, input, deps.logger, validators)
        : await runOne(route, impl, input, validators);
    if (result instanceof RawAnswer) return result.toResult(state.requestId);
    return jsonResponse(200, { ...result, requestId: state.requestId });
  };

  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(securityHeaders(deps.corsOrigin))
    .use(requestMetrics(deps.meter, routes, (request) => states.get(request.event), now))
    .use(auditTrail(deps.audit, (request) => states.get(request.event), now))
    .use(errorResponses(deps.logger))
    .handler(dispatch);
}
