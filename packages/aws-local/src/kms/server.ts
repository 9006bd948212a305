import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseJsonStrict, ReservedMemberError } from '@eaas/aws-rules';
import { acceptBody, BodyBudget, type BodyRefusal, ClientGoneError, closeIfUnread } from '../http-server.js';
import type { LocalIdentities } from '../identity.js';
import { authenticateJsonRequest } from '../json-auth.js';
import { checkSigV4Payload, SIGV4_ERROR_TYPES } from '../sigv4.js';
import { describeOutcome, LocalAccess } from './access.js';
import { KmsError } from './errors.js';
import type { KeyStore } from './key-store.js';
import { NOT_IMPLEMENTED, OPERATIONS } from './operations.js';
import { parseInput } from './shapes.js';

/**
 * Largest request body the local KMS reads. KMS bounds members, not requests: 4,096 bytes of
 * plaintext, a 6,144-byte ciphertext blob, a 32 KiB key policy
 * (https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html, API_PutKeyPolicy.html);
 * the largest request (a policy with tags, JSON-escaped) stays well under this.
 */
export const MAX_BODY_BYTES = 256 * 1024;
/** Bound on request body bytes the local KMS holds at once, across requests (64 of the largest). */
export const MAX_BODY_BYTES_IN_FLIGHT = 64 * MAX_BODY_BYTES;
/**
 * Bound on the body bytes of one access key id at once (four of the largest): a KMS body is signed
 * over its hash, so its signature is checked only once it has arrived, and a sender who knows a
 * key id but not its secret must not be able to hold the whole budget, nor more than this of it.
 */
export const MAX_BODY_BYTES_PER_KEY = 4 * MAX_BODY_BYTES;
/** A body must arrive within this many milliseconds of its headers (KMS bodies are small). */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;
const TARGET_PREFIX = 'TrentService.';
const JSON_CONTENT_TYPES = new Set(['application/x-amz-json-1.1', 'application/x-amz-json-1.0']);

export interface KmsRequestEvent {
  operation: string;
  principal?: string;
  status: number;
  error?: string;
  /** What authorized or refused the request: `kms:Encrypt on arn:... allowed by key policy statement ...`. */
  decisions?: string[];
}

export interface KmsServerOptions {
  store: KeyStore;
  identities: LocalIdentities;
  region: string;
  maxSkewSeconds: number;
  /** Called once per request with what happened, including each authorization decision; never with bodies. */
  onRequest?: (event: KmsRequestEvent) => void;
  /**
   * Test hook, off by default: answers `ThrottlingException` instead of running the operation when
   * it returns true (after authentication, before the operation changes anything).
   */
  throttle?: ((operation: string) => boolean) | undefined;
  /** The budget of body bytes in flight (one of MAX_BODY_BYTES_IN_FLIGHT when absent); given by tests to read its counters. */
  bodyBudget?: BodyBudget | undefined;
  /** How long a body may take to arrive after its headers (DEFAULT_BODY_TIMEOUT_MS when absent); tests shorten it. */
  bodyTimeoutMs?: number | undefined;
}

function send(
  res: ServerResponse,
  now: Date,
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
    // The server's own clock: the SDK corrects its clock skew from this header.
    Date: now.toUTCString(),
    ...(errorType ? { 'x-amzn-ErrorType': errorType } : {}),
  });
  res.end(payload);
}

/** KMS's answer to a body not taken in. */
function bodyRefused(refusal: BodyRefusal): Error {
  switch (refusal) {
    case 'too-large':
      return new KmsError(
        'RequestEntityTooLargeException',
        `Request body is larger than ${MAX_BODY_BYTES} bytes.`,
      );
    case 'no-room':
      return new KmsError('ThrottlingException', 'Rate exceeded');
    case 'timeout':
      return new KmsError('RequestTimeoutException', 'The request body did not arrive in time.');
    case 'client-gone':
      return new ClientGoneError();
  }
}

/** The JSON 1.1 front of the local KMS: authenticate, route by X-Amz-Target, validate, run. */
export function createKmsServer(options: KmsServerOptions): Server {
  const { store, identities } = options;
  const budget = options.bodyBudget ?? new BodyBudget(MAX_BODY_BYTES_IN_FLIGHT);

  async function handle(
    req: IncomingMessage,
    access: { current?: LocalAccess },
  ): Promise<{ operation: string; principal?: string; result: unknown }> {
    const arrived = Date.now();
    // What the headers allow is checked before the body is read; a refused body is not read.
    const { signed, verify, checked, principal } = authenticateJsonRequest(req, {
      service: 'kms',
      region: options.region,
      now: store.now(),
      maxSkewSeconds: options.maxSkewSeconds,
      identities,
      fail: (type, message) => new KmsError(type, message),
    });
    // Every body counts against its key id's share, so that one id (or one who knows only the
    // id) cannot take the whole budget.
    const accepted = await acceptBody(req, {
      limit: MAX_BODY_BYTES,
      budget,
      shares: [{ key: checked.accessKeyId, limit: MAX_BODY_BYTES_PER_KEY }],
      deadline: () => arrived + (options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS),
    });
    if (!accepted.ok) throw bodyRefused(accepted.refusal);
    // Held no longer than this: the body is zeroed once parsed, before the operation runs (which
    // may await: GetParametersForImport waits for a wrapping key pair, see ops-import.ts).
    accepted.reservation.release();
    const { body } = accepted;
    const auth = checkSigV4Payload(
      { ...signed, bodySha256: createHash('sha256').update(body).digest('hex') },
      checked,
      verify,
    );
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target;
    if (!auth.ok) throw new KmsError(SIGV4_ERROR_TYPES[auth.failure], auth.message);

    if (req.method !== 'POST')
      throw new KmsError('UnknownOperationException', `KMS accepts POST requests, not ${req.method}.`);
    if (!target.startsWith(TARGET_PREFIX)) {
      throw new KmsError(
        'UnknownOperationException',
        'Missing or malformed X-Amz-Target header; expected TrentService.<Operation>.',
      );
    }
    const op = Object.hasOwn(OPERATIONS, operation) ? OPERATIONS[operation] : undefined;
    if (!op) {
      if (NOT_IMPLEMENTED.has(operation)) {
        throw new KmsError(
          'UnsupportedOperationException',
          `${operation} is a KMS operation the local KMS does not implement.`,
        );
      }
      throw new KmsError('UnknownOperationException', `Unknown operation ${operation}.`);
    }
    const contentType =
      String(req.headers['content-type'] ?? '')
        .split(';')[0]
        ?.trim() ?? '';
    if (!JSON_CONTENT_TYPES.has(contentType)) {
      throw new KmsError('SerializationException', 'Content-Type must be application/x-amz-json-1.1.');
    }
    let json: unknown = {};
    if (body.length > 0) {
      try {
        json = parseJsonStrict(body.toString('utf8'));
      } catch (error) {
        if (error instanceof ReservedMemberError) throw new KmsError('ValidationException', error.message);
        throw new KmsError('SerializationException', 'The request body is not valid JSON.');
      } finally {
        // The body may hold plaintext or keys (base64); it is not needed once parsed.
        body.fill(0);
      }
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new KmsError('SerializationException', 'The request body must be a JSON object.');
    }
    if (options.throttle?.(operation)) throw new KmsError('ThrottlingException', 'Rate exceeded');
    const input = parseInput(op.input, json);
    const rights = new LocalAccess(store, principal);
    access.current = rights;
    // Awaited: an operation may answer later (GetParametersForImport makes an RSA key pair).
    const result = await op.run(input as never, {
      store,
      caller: { arn: principal.arn, accountId: identities.accountId },
      access: rights,
    });
    // Postcondition: every operation decided the caller's rights before it acted.
    if (!rights.decided) throw new Error(`operation ${operation} answered without an authorization decision`);
    return { operation, principal: principal.arn, result };
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const target = String(req.headers['x-amz-target'] ?? '').replace(TARGET_PREFIX, '');
    const access: { current?: LocalAccess } = {};
    const decisions = () =>
      access.current ? { decisions: access.current.outcomes.map(describeOutcome) } : {};
    try {
      const { operation, principal, result } = await handle(req, access);
      send(res, store.now(), 200, result, requestId);
      options.onRequest?.({ operation, ...(principal ? { principal } : {}), status: 200, ...decisions() });
    } catch (error) {
      if (error instanceof ClientGoneError) {
        res.destroy();
        return;
      }
      const kmsError =
        error instanceof KmsError
          ? error
          : new KmsError('KMSInternalException', 'The request failed because of an internal error.');
      if (!(error instanceof KmsError)) {
        // Name and message only: an operation's input (plaintext, keys) never reaches a log.
        console.error(
          `local KMS: internal error in ${target}: ${(error as Error)?.name}: ${(error as Error)?.message}`,
        );
      }
      closeIfUnread(req, res);
      send(res, store.now(), kmsError.status, kmsError.toJSON(), requestId, kmsError.type);
      options.onRequest?.({
        operation: target,
        ...(access.current ? { principal: access.current.principal.arn } : {}),
        status: kmsError.status,
        error: kmsError.type,
        ...decisions(),
      });
    }
  }

  return createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      console.error(`local KMS: could not answer a request: ${(error as Error)?.message}`);
      res.destroy();
    });
  });
}
