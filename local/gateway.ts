import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PassThrough, pipeline, type Writable } from 'node:stream';
import {
  acceptBody,
  BodyBudget,
  type BodyShare,
  checkSigV4Headers,
  checkSigV4Payload,
  closeIfUnread,
  decideInvoke,
  declaredBodyLength,
  type LocalIdentities,
  listen,
  SIGV4_ERROR_TYPES,
  sessionExpired,
  type VerifyOptions,
} from '@eaas/aws-local';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { type FunctionName, matchRoute, ROUTES } from '../src/http/routes.js';
import { type ApiSettings, matchesBinaryMediaType } from './api-settings.js';
import { LOCAL_API_ID, LOCAL_STAGE, lambdaContext, proxyEvent } from './proxy-event.js';
import { readPrelude } from './response-stream.js';
import type { StaticSite } from './static-site.js';
import { MethodThrottles } from './throttle.js';

/**
 * The local API Gateway: an HTTP server on loopback that does what API Gateway does in front of
 * the Lambda functions with AWS_IAM authorization. It verifies SigV4 (service `execute-api`),
 * answers unknown routes and bad signatures exactly as API Gateway does, turns each request into
 * a REST API proxy event (payload v1) carrying the caller's identity, calls the function in-process
 * and writes its result back.
 *
 * A body is read only once the request has passed every check its headers allow: the route, the
 * declared length, the signature's header (present, well-formed, scoped here, dated within the
 * skew, a known access key and a valid session token) and, when the request declares its payload
 * hash in `x-amz-content-sha256`, the signature itself. A refusal is answered at once, and a
 * connection whose body was not read is closed rather than drained. The bodies read are bounded
 * per request (the Lambda payload limit) and together (a budget of body bytes in flight; past it,
 * 429 as API Gateway throttles); the signature over the body is checked once it has arrived.
 *
 * No caller, and no sender that knows only an access key id, can take the whole budget: the
 * bodies of one access key id hold at most a share of it (two payloads), those whose signature
 * could not be checked before the body hold at most half of it together (and their share is
 * apart from the key's signature-checked one, so a sender with a key id and no secret cannot use
 * up that key's room), a body of unknown length (chunked) holds its bytes as they arrive rather
 * than a payload up front, and a body must arrive within a deadline (10 s plus 1 s per MiB by
 * default), or the request is answered 408 and its connection closed.
 */

export type LambdaHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
/** A response-streaming function (`awslambda.streamifyResponse`), for the routes with `stream`. */
export type StreamingLambdaHandler = (
  event: APIGatewayProxyEvent,
  responseStream: Writable,
  context: Context,
) => Promise<void>;

/**
 * Lambda's synchronous invocation payload limit (6 MB), the binding one here: API Gateway's own
 * REST API payload quota is 10 MB (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
 */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;
/** Default bound on request body bytes held at once across all requests in flight. */
export const DEFAULT_MAX_BODY_BYTES_IN_FLIGHT = 64 * 1024 * 1024;
/** Request body bytes one access key id may hold at once, across its requests in flight. */
export const BODY_BYTES_PER_KEY = 2 * MAX_REQUEST_BYTES;
/** How long a body may take to arrive after its request's headers: a base, plus so much per MiB declared. */
export const DEFAULT_BODY_TIMEOUT = { baseMs: 10_000, msPerMiB: 1_000 } as const;
/** API Gateway's integration timeout. */
export const INTEGRATION_TIMEOUT_MS = 29_000;
/**
 * How long a streamed answer may last: 15 minutes
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html).
 */
export const STREAM_TIMEOUT_MS = 15 * 60_000;

export interface GatewayOptions {
  host: string;
  port: number;
  region: string;
  accountId: string;
  identities: LocalIdentities;
  /** Each function; a streaming one (`StreamingLambdaHandler`) for the functions of `stream` routes. */
  functions: Readonly<Record<FunctionName, LambdaHandler | StreamingLambdaHandler>>;
  maxSkewSeconds: number;
  now?: () => Date;
  /** Sees each proxy event before its function does (tests check what API Gateway tells the function). */
  onEvent?: (event: APIGatewayProxyEvent) => void;
  timeoutMs?: number;
  /** The bound on a streamed answer, STREAM_TIMEOUT_MS unless given (tests shorten it). */
  streamTimeoutMs?: number;
  /** The upload page's static files at `/`; without it every path is the API's. */
  site?: StaticSite;
  /** Bound on request body bytes held at once across requests (at least MAX_REQUEST_BYTES). */
  maxBodyBytesInFlight?: number;
  /**
   * The time a body may take after its request's headers: `baseMs` plus `msPerMiB` for each MiB
   * declared (the payload limit when chunked); DEFAULT_BODY_TIMEOUT unless given (tests shorten it).
   */
  bodyTimeout?: { baseMs: number; msPerMiB: number };
  /**
   * The deployed API's settings (local/api-settings.ts reads them from serverless.yml): binary
   * media types, throttling, CORS. Without them: no binary type, no throttling, no CORS.
   */
  api?: Pick<ApiSettings, 'binaryMediaTypes' | 'throttle' | 'methodThrottles'> & {
    /** The origin allowed cross-origin requests; none when undefined. */
    corsOrigin?: string | undefined;
    corsHeaders?: readonly string[];
  };
}

export interface LocalGateway {
  readonly endpoint: string;
  readonly server: Server;
  /** The body budget's counters, for tests: bytes reserved now, at most, read in all, refusals. */
  bodyStats(): ReturnType<BodyBudget['stats']>;
  close(): Promise<void>;
}

export interface GatewayServer {
  server: Server;
  budget: BodyBudget;
}

function answer(
  res: ServerResponse,
  status: number,
  body: unknown,
  requestId: string,
  errorType?: string,
): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': payload.length,
    'x-amzn-RequestId': requestId,
    ...(errorType ? { 'x-amzn-ErrorType': errorType } : {}),
  });
  res.end(payload);
}

export function createGateway(options: GatewayOptions): GatewayServer {
  const now = options.now ?? (() => new Date());
  const timeoutMs = options.timeoutMs ?? INTEGRATION_TIMEOUT_MS;
  const budget = new BodyBudget(
    Math.max(options.maxBodyBytesInFlight ?? DEFAULT_MAX_BODY_BYTES_IN_FLIGHT, MAX_REQUEST_BYTES),
  );
  const bodyTimeout = options.bodyTimeout ?? DEFAULT_BODY_TIMEOUT;
  const api = options.api;
  const binaryMediaTypes = api?.binaryMediaTypes ?? [];
  const throttles = api ? new MethodThrottles(api.throttle, api.methodThrottles) : undefined;
  /** Room for the bodies whose signature is still unchecked, all keys together: half the budget (at least one payload). */
  const uncheckedShare: BodyShare = {
    key: 'unchecked',
    limit: Math.max(Math.floor(budget.limit / 2), MAX_REQUEST_BYTES),
  };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = Date.now();
    const requestId = randomUUID();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const method = req.method ?? 'GET';
    // The page's files never read a body: one sent with them is not read either.
    closeIfUnread(req, res);
    if (options.site?.handle(req, res, method, rawPath)) return;
    res.removeHeader('Connection');
    /** An answer given before the body was read: the body is not read, and a large one closes the connection. */
    const refuse = (status: number, body: unknown, errorType?: string) => {
      closeIfUnread(req, res);
      answer(res, status, body, requestId, errorType);
    };
    const tooLarge = () =>
      refuse(413, {
        error: 'PayloadTooLarge',
        message: `The request is larger than ${MAX_REQUEST_BYTES} bytes, the Lambda payload limit. Upload large data with POST /v1/uploads.`,
        requestId,
      });
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      refuse(400, { message: 'Invalid path encoding' });
      return;
    }
    // The gateway's own answers carry the page's origin, as the template's GatewayResponses do.
    if (api?.corsOrigin) res.setHeader('Access-Control-Allow-Origin', api.corsOrigin);
    // A CORS preflight, answered by the OPTIONS method's mock integration that `cors:` adds to each
    // path, without authorization (https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-cors.html).
    if (method === 'OPTIONS' && api?.corsOrigin) {
      const allowed = ROUTES.filter((r) => matchRoute(r.method, rawPath)?.route.path === r.path).map(
        (r) => r.method,
      );
      if (allowed.length > 0) {
        closeIfUnread(req, res);
        res.writeHead(200, {
          'Access-Control-Allow-Origin': api.corsOrigin,
          'Access-Control-Allow-Headers': (api.corsHeaders ?? []).join(','),
          'Access-Control-Allow-Methods': [...new Set(allowed), 'OPTIONS'].join(','),
          'Content-Length': 0,
          'x-amzn-RequestId': requestId,
        });
        res.end();
        return;
      }
    }
    const matched = matchRoute(method, rawPath) ?? matchRoute(method, path);
    // API Gateway answers a route it does not have exactly as it answers an unsigned request.
    if (!matched) {
      refuse(403, { message: 'Missing Authentication Token' }, 'MissingAuthenticationTokenException');
      return;
    }
    const declaredLength = declaredBodyLength(req);
    if (declaredLength !== undefined && declaredLength > MAX_REQUEST_BYTES) {
      tooLarge();
      return;
    }
    // The signature is checked as of the request's arrival, however long its body takes.
    const verify: VerifyOptions = {
      service: 'execute-api',
      region: options.region,
      now: now(),
      maxSkewSeconds: options.maxSkewSeconds,
      doubleEncodePath: true,
      secretFor: (id) => options.identities.byAccessKeyId(id)?.secretAccessKey,
      sessionTokenValid: (id, token) => options.identities.sessionTokenValid(id, token),
    };
    const signed = { method, rawPath, rawQuery, headers: req.headers };
    const headersChecked = checkSigV4Headers(signed, verify);
    if (!headersChecked.ok) {
      refuse(403, { message: headersChecked.message }, SIGV4_ERROR_TYPES[headersChecked.failure]);
      return;
    }
    const principal = options.identities.authenticated(
      headersChecked.accessKeyId,
      headersChecked.sessionToken,
    );
    if (!principal) {
      refuse(
        403,
        { message: 'The security token included in the request is invalid.' },
        'UnrecognizedClientException',
      );
      return;
    }
    // Temporary credentials past their expiration: API Gateway's EXPIRED_TOKEN gateway response,
    // 403 by default (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html),
    // with the message and error type of the common ExpiredTokenException.
    if (sessionExpired(principal, verify.now)) {
      refuse(
        403,
        { message: 'The security token included in the request is expired' },
        'ExpiredTokenException',
      );
      return;
    }
    // A declared payload hash lets the whole signature be checked before the body (which must then match it).
    const declaredHash = String(req.headers['x-amz-content-sha256'] ?? '').toLowerCase();
    const signatureChecked = /^[0-9a-f]{64}$/.test(declaredHash);
    if (signatureChecked) {
      const early = checkSigV4Payload({ ...signed, bodySha256: declaredHash }, headersChecked, verify);
      if (!early.ok) {
        refuse(403, { message: early.message }, SIGV4_ERROR_TYPES[early.failure]);
        return;
      }
    }
    // API Gateway's THROTTLED gateway response (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
    const throttled = () => refuse(429, { message: 'Too Many Requests' }, 'TooManyRequestsException');
    // The stage's and methods' throttling, after authentication as in API Gateway.
    if (throttles && !throttles.take(`${matched.route.method} ${matched.route.path}`)) {
      throttled();
      return;
    }
    // A key's signature-checked bodies and the bodies sent under its id but not yet checked have
    // separate shares: a sender who knows the id, not the secret, cannot use up the key's room.
    const shares: BodyShare[] = signatureChecked
      ? [{ key: `checked:${headersChecked.accessKeyId}`, limit: BODY_BYTES_PER_KEY }]
      : [{ key: `unchecked:${headersChecked.accessKeyId}`, limit: BODY_BYTES_PER_KEY }, uncheckedShare];
    const accepted = await acceptBody(req, {
      limit: MAX_REQUEST_BYTES,
      budget,
      shares,
      // The body's deadline runs from the headers' arrival, however long the checks or `100 Continue` took.
      deadline: (declared) =>
        arrived + bodyTimeout.baseMs + (bodyTimeout.msPerMiB * (declared ?? MAX_REQUEST_BYTES)) / 1024 ** 2,
      beforeRead: () => {
        if (/100-continue/i.test(String(req.headers.expect ?? ''))) res.writeContinue();
      },
    });
    if (!accepted.ok) {
      if (accepted.refusal === 'client-gone') res.destroy();
      else if (accepted.refusal === 'too-large') tooLarge();
      else if (accepted.refusal === 'no-room') throttled();
      else {
        // API Gateway documents no gateway response for a client too slow to send its request
        // (supported-gateway-response-types.html above): this is HTTP's own 408 Request Timeout
        // (RFC 9110 section 15.5.9; https://developer.mozilla.org/docs/Web/HTTP/Status/408), with
        // `Connection: close`, as Node's own requestTimeout answers.
        res.setHeader('Connection', 'close');
        answer(res, 408, { message: 'Request Timeout' }, requestId);
      }
      return;
    }
    const { body, reservation } = accepted;
    // Held until the answer is sent: the function holds the body (and its copy in the event) until then.
    res.once('close', () => reservation.release());
    const auth = checkSigV4Payload(
      { ...signed, bodySha256: createHash('sha256').update(body).digest('hex') },
      headersChecked,
      verify,
    );
    if (!auth.ok) {
      answer(res, 403, { message: auth.message }, requestId, SIGV4_ERROR_TYPES[auth.failure]);
      return;
    }
    // IAM authorization of the method, for temporary sessions (an identity pool's people): what
    // their role's policies in serverless.yml grant (PeopleRole: execute-api:Invoke on the page's
    // routes) is what is enforced here, as API Gateway enforces it. The long-lived local principals
    // (the seed's users and the functions' roles, whose policies speak of KMS, S3 and Logs only)
    // keep the local stack's behaviour: any signed caller reaches the function, whose own checks
    // and the key policies decide (docs/local-stack.md).
    if (principal.expiresAt !== undefined) {
      const invoke = decideInvoke(principal, {
        region: options.region,
        accountId: options.accountId,
        apiId: LOCAL_API_ID,
        stage: LOCAL_STAGE,
        method,
        path,
      });
      if (!invoke.allowed) {
        answer(res, 403, { Message: invoke.message }, requestId, 'AccessDeniedException');
        return;
      }
    }

    const { route, pathParameters } = matched;
    const event = proxyEvent({
      req,
      method,
      path,
      rawQuery,
      route,
      pathParameters,
      body,
      requestId,
      accountId: options.accountId,
      accessKeyId: auth.accessKeyId,
      principal,
      requestTimeEpoch: now().getTime(),
      binaryMediaTypes,
    });
    // Browsers send a host's cookies to every port of it, so the local user pool's session cookie
    // (and any other 127.0.0.1 site's) would reach the functions here. They never read cookies (the
    // API is SigV4-signed), so none is handed to them.
    delete event.headers.cookie;
    if (event.multiValueHeaders) delete event.multiValueHeaders.cookie;
    options.onEvent?.(event);
    if (route.stream) {
      await serveStreamed(res, options.functions[route.function] as StreamingLambdaHandler, event, {
        name: route.function,
        requestId,
        timeoutMs: options.streamTimeoutMs ?? STREAM_TIMEOUT_MS,
      });
      return;
    }
    const fn = options.functions[route.function] as LambdaHandler;
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    let result: APIGatewayProxyResult | 'timeout';
    try {
      result = await Promise.race([fn(event, lambdaContext(route.function, requestId, deadline)), timedOut]);
    } catch (error) {
      console.error(
        `local gateway: function ${route.function} failed: ${(error as Error)?.name}: ${(error as Error)?.message}`,
      );
      answer(res, 502, { message: 'Internal server error' }, requestId);
      return;
    } finally {
      clearTimeout(timer);
    }
    if (result === 'timeout') {
      answer(res, 504, { message: 'Endpoint request timed out' }, requestId);
      return;
    }
    const outHeaders: Record<string, string | string[]> = { ...(result.headers as Record<string, string>) };
    for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) outHeaders[k] = v.map(String);
    // A base64 body becomes bytes only when the request's first Accept type is a binary media type;
    // otherwise the client gets the base64 text (api-gateway-payload-encodings.html).
    const decode =
      result.isBase64Encoded === true && matchesBinaryMediaType(binaryMediaTypes, req.headers.accept);
    const payload =
      result.body === undefined ? Buffer.alloc(0) : Buffer.from(result.body, decode ? 'base64' : 'utf8');
    res.writeHead(result.statusCode, {
      ...outHeaders,
      'Content-Length': payload.length,
      'x-amzn-RequestId': requestId,
    });
    res.end(method === 'HEAD' ? undefined : payload);
  }

  const server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      console.error(`local gateway: could not answer: ${(error as Error)?.message}`);
      // A function's header Node refuses lands here too; the 500 has fixed headers, and if even
      // that fails, only this connection ends.
      try {
        if (res.headersSent) throw new Error('headers already sent');
        closeIfUnread(req, res);
        answer(res, 500, { message: 'Internal server error' }, 'unknown');
      } catch {
        res.destroy();
      }
    });
  });
  // `Expect: 100-continue` is answered only once the request passed the checks before its body.
  server.on('checkContinue', (req, res) => server.emit('request', req, res));
  return { server, budget };
}

/**
 * A route whose integration streams (`ResponseTransferMode: STREAM`): the function is invoked
 * with a response stream, as API Gateway invokes it with InvokeWithResponseStream; its prelude's
 * status and headers are answered once the prelude and its delimiter have arrived, then the body
 * is passed on as it comes, with chunked transfer
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode-lambda.html).
 * A function that fails before its prelude is a 502, one that outlasts the stream's bound (15
 * minutes) a 504 before the prelude; after it, either ends the connection without the last chunk,
 * so that the client sees a truncated transfer (curl: "transfer closed with outstanding read data
 * remaining", https://docs.aws.amazon.com/apigateway/latest/developerguide/response-streaming-troubleshoot.html).
 *
 * Not modelled: the bandwidth bound past the first 10 MB of a streamed answer (2 MB/s on AWS), the
 * idle timeout (5 minutes for Regional endpoints), and Lambda's own 200 MB bound on a streamed
 * response (the streams function refuses larger documents before streaming: MAX_STREAMED_BYTES).
 */
async function serveStreamed(
  res: ServerResponse,
  fn: StreamingLambdaHandler,
  event: APIGatewayProxyEvent,
  at: { name: string; requestId: string; timeoutMs: number },
): Promise<void> {
  const responseStream = new PassThrough();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    responseStream.destroy(new Error('the streamed answer outlasted its bound'));
    if (res.headersSent) res.destroy();
  }, at.timeoutMs);
  res.once('close', () => {
    clearTimeout(timer);
    // A client gone: the function's stream fails, and the function stops reading.
    if (!responseStream.writableFinished) responseStream.destroy();
  });
  const context = lambdaContext(at.name, at.requestId, Date.now() + at.timeoutMs);
  fn(event, responseStream, context).then(
    // The invocation is over: whatever the function did not end ends here.
    () => {
      if (!responseStream.writableEnded) responseStream.end();
    },
    (error: unknown) => {
      if (!res.headersSent)
        console.error(
          `local gateway: function ${at.name} failed: ${(error as Error)?.name}: ${(error as Error)?.message}`,
        );
      responseStream.destroy(error instanceof Error ? error : new Error('the function failed'));
    },
  );
  let read: Awaited<ReturnType<typeof readPrelude>>;
  try {
    read = await readPrelude(responseStream);
  } catch {
    clearTimeout(timer);
    responseStream.destroy();
    if (timedOut) answer(res, 504, { message: 'Endpoint request timed out' }, at.requestId);
    else answer(res, 502, { message: 'Internal server error' }, at.requestId);
    return;
  }
  const { prelude, body } = read;
  const headers: Record<string, string | string[]> = { ...prelude.headers };
  for (const [k, v] of Object.entries(prelude.multiValueHeaders ?? {})) headers[k] = v.map(String);
  if (prelude.cookies?.length) headers['Set-Cookie'] = prelude.cookies;
  // No Content-Length: the body's length is not known before its end (chunked transfer).
  delete headers['Content-Length'];
  delete headers['content-length'];
  res.writeHead(prelude.statusCode, { ...headers, 'x-amzn-RequestId': at.requestId });
  // A body that fails destroys the response: the connection ends without the last chunk.
  pipeline(body, res, (error) => {
    clearTimeout(timer);
    if (error) res.destroy();
  });
}

export async function startGateway(options: GatewayOptions): Promise<LocalGateway> {
  const { server, budget } = createGateway(options);
  server.requestTimeout = 60_000;
  const listening = await listen(server, options.host, options.port);
  return { endpoint: listening.endpoint, server, bodyStats: () => budget.stats(), close: listening.close };
}
