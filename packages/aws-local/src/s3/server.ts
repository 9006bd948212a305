import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { LocalIdentities } from '../identity.js';
import { parseQuery } from '../sigv4.js';
import { S3Access } from './access.js';
import { authenticate } from './auth.js';
import type { Reply, S3Deps, S3Request } from './context.js';
import { actualCorsHeaders, preflight } from './cors.js';
import { noSuchBucket, S3Error } from './errors.js';
import { ClientGoneError } from './intake.js';
import { decodePathPart } from './keys.js';
import { effectiveHeaders } from './object-headers.js';
import { header } from './payload.js';
import { type Operation, route } from './routes.js';

/**
 * The HTTP front of the local S3: path-style addressing (`/bucket/key`), SigV4 on every request
 * but CORS preflights, S3 XML errors with S3's statuses, bodies streamed both ways. A client that
 * sends `Expect: 100-continue` is told to send its body only once the request has passed every
 * check that does not need it (signature, authorization, bucket, conditions, lengths).
 */

/** What one request did, for tests that count reads: never a body or a credential. */
export interface S3RequestEvent {
  method: string;
  bucket: string;
  key: string;
  /** The query parameter names (`uploadId`, `list-type`, ...). */
  query: string[];
  /** A CopyObject or UploadPartCopy (`x-amz-copy-source` present). */
  copy: boolean;
  status: number;
  /** Response body bytes sent (object bytes for a GET). */
  bytesOut: number;
  /**
   * The account the request expected to own its bucket (`x-amz-expected-bucket-owner`, as a
   * header or in a presigned URL's query string), and a copy's source bucket
   * (`x-amz-source-expected-bucket-owner`); undefined when the request did not say.
   */
  expectedBucketOwner: string | undefined;
  expectedSourceBucketOwner: string | undefined;
}

/** The bucket owners a request expects, from its (effective) headers. */
const expectedOwnersOf = (headers: IncomingMessage['headers']) => ({
  expectedBucketOwner: header(headers, 'x-amz-expected-bucket-owner'),
  expectedSourceBucketOwner: header(headers, 'x-amz-source-expected-bucket-owner'),
});

export interface S3ServerOptions extends S3Deps {
  identities: LocalIdentities;
  /** The principals (by name) whose IAM policies S3 applies; the others act as the account's root (access.ts). */
  restricted: ReadonlySet<string>;
  maxSkewSeconds: number;
  /** Called after each request has been answered. */
  onRequest?: ((event: S3RequestEvent) => void) | undefined;
}

/** Bodies this small are drained after an early refusal, to keep the connection; larger ones close it. */
const DRAIN_LIMIT = 64 * 1024;

function splitPath(rawPath: string): { bucket: string; key: string } {
  const rest = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  const slash = rest.indexOf('/');
  return {
    bucket: decodePathPart(slash < 0 ? rest : rest.slice(0, slash)),
    key: slash < 0 ? '' : decodePathPart(rest.slice(slash + 1)),
  };
}

function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  return (
    header(req.headers, 'transfer-encoding') !== undefined ||
    Number(header(req.headers, 'content-length') ?? 0) > 0
  );
}

/** When the request was signed (`X-Amz-Date`, header or query), in epoch milliseconds. */
function signedAt(req: IncomingMessage, query: Map<string, string>): number | undefined {
  const raw = header(req.headers, 'x-amz-date') ?? query.get('X-Amz-Date');
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(raw ?? '');
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m.map(Number) as number[];
  return Date.UTC(y as number, (mo as number) - 1, d, h, mi, se);
}

/**
 * Precondition (bucket owner condition): every bucket the request expects an owner of is owned by
 * that account; S3 answers a mismatch 403 AccessDenied
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html).
 */
function checkExpectedOwners(
  operation: Operation,
  headers: IncomingMessage['headers'],
  options: S3ServerOptions,
): void {
  for (const { header: name, bucket } of operation.owners) {
    const expected = header(headers, name);
    if (expected === undefined) continue;
    options.storage.bucket(bucket);
    if (expected !== options.accountId) throw new S3Error('AccessDenied', 'Access Denied');
  }
}

export function createS3Server(options: S3ServerOptions): Server {
  async function write(
    req: IncomingMessage,
    res: ServerResponse,
    reply: Reply,
    common: Record<string, string>,
  ): Promise<number> {
    const body = reply.body;
    const headers: Record<string, string | number> = { ...common, ...reply.headers };
    if (
      (typeof body === 'string' || Buffer.isBuffer(body)) &&
      !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')
    )
      headers['Content-Length'] = Buffer.byteLength(body);
    if (body === undefined && reply.status !== 204 && reply.status !== 304) headers['Content-Length'] = 0;
    // A body the operation did not read (refused early) is drained if small; otherwise the connection closes.
    if (hasUnreadBody(req)) {
      if (
        Number(header(req.headers, 'content-length') ?? Number.POSITIVE_INFINITY) <= DRAIN_LIMIT &&
        !req.headers.expect
      )
        req.resume();
      else headers.Connection = 'close';
    }
    res.writeHead(reply.status, headers);
    if (body instanceof Readable) {
      let sent = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          sent += chunk.length;
          done(null, chunk);
        },
      });
      await pipeline(body, counter, res).catch(() => res.destroy());
      return sent;
    }
    res.end(req.method === 'HEAD' ? undefined : body);
    return req.method === 'HEAD' || body === undefined ? 0 : Buffer.byteLength(body);
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const now = options.now();
    const common: Record<string, string> = {
      'x-amz-request-id': requestId,
      'x-amz-id-2': requestId,
      Date: now.toUTCString(),
      Server: 'eaas-local-s3',
    };
    let continued = false;
    // Refined below with what a presigned URL carries in its query string.
    let owners = expectedOwnersOf(req.headers);
    try {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const rawPath = q < 0 ? url : url.slice(0, q);
      const rawQuery = q < 0 ? '' : url.slice(q + 1);
      const { bucket, key } = splitPath(rawPath);
      const method = req.method ?? 'GET';
      const existing = bucket === '' ? undefined : options.storage.buckets.get(bucket);
      Object.assign(common, actualCorsHeaders(existing?.cors, header(req.headers, 'origin'), method));
      if (method === 'OPTIONS') {
        if (!existing) throw noSuchBucket(bucket);
        const answer = preflight(
          existing.cors,
          header(req.headers, 'origin'),
          header(req.headers, 'access-control-request-method'),
          header(req.headers, 'access-control-request-headers'),
        );
        await write(req, res, { status: 200, headers: answer }, common);
        return;
      }
      const caller = authenticate(req, rawPath, rawQuery, {
        identities: options.identities,
        region: options.region,
        now,
        maxSkewSeconds: options.maxSkewSeconds,
      });
      const query = new Map(parseQuery(rawQuery));
      const access = new S3Access(options.storage, options.accountId, options.region, {
        principal: caller.principal,
        // A temporary session (an identity pool's) is always decided by its role's IAM policies.
        restricted: options.restricted.has(caller.principal.name) || caller.principal.expiresAt !== undefined,
        presigned: caller.presigned,
        contentSha256: caller.contentSha256,
        signatureAgeMs: now.getTime() - (signedAt(req, query) ?? now.getTime()),
      });
      const request: S3Request = {
        req,
        requestId,
        query,
        bucket,
        key,
        caller,
        access,
        acceptBody() {
          if (continued) return;
          continued = true;
          if (/100-continue/i.test(header(req.headers, 'expect') ?? '')) res.writeContinue();
        },
      };
      const headers = effectiveHeaders(request);
      owners = expectedOwnersOf(headers);
      const operation = route(request, headers);
      // The bucket exists, is the expected account's, and the caller may act on it.
      for (const p of operation.permissions) if (p.bucket !== undefined) options.storage.bucket(p.bucket);
      checkExpectedOwners(operation, headers, options);
      for (const p of operation.permissions) access.require(p);
      const reply = await operation.run(options, request);
      const bytesOut = await write(req, res, reply, common);
      options.onRequest?.({
        method,
        bucket,
        key,
        query: [...request.query.keys()],
        copy: header(req.headers, 'x-amz-copy-source') !== undefined,
        status: reply.status,
        bytesOut,
        ...owners,
      });
    } catch (error) {
      if (error instanceof ClientGoneError) {
        res.destroy();
        return;
      }
      const s3Error =
        error instanceof S3Error
          ? error
          : new S3Error('InternalError', 'We encountered an internal error. Please try again.');
      if (!(error instanceof S3Error)) {
        // Name and message only: never a body, a key's content or a credential.
        console.error(
          `local S3: internal error in ${req.method} ${(req.url ?? '').split('?')[0]}: ${(error as Error)?.name}: ${(error as Error)?.message}`,
        );
      }
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const bodiless = req.method === 'HEAD' || s3Error.status === 304;
      await write(
        req,
        res,
        {
          status: s3Error.status,
          headers: bodiless
            ? s3Error.responseHeaders
            : { 'Content-Type': 'application/xml', ...s3Error.responseHeaders },
          ...(bodiless ? {} : { body: s3Error.toXml(requestId) }),
        },
        common,
      );
      let where = { bucket: '', key: '' };
      try {
        where = splitPath((req.url ?? '/').split('?')[0] ?? '/');
      } catch {
        // A path that does not decode is reported without its bucket and key.
      }
      const { bucket, key } = where;
      options.onRequest?.({
        method: req.method ?? 'GET',
        bucket,
        key,
        query: [],
        copy: header(req.headers, 'x-amz-copy-source') !== undefined,
        status: s3Error.status,
        bytesOut: 0,
        ...owners,
      });
    }
  }

  const server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      console.error(`local S3: could not answer a request: ${(error as Error)?.message}`);
      res.destroy();
    });
  });
  // The body is sent only once the request passed its checks (see acceptBody).
  server.on('checkContinue', (req, res) => server.emit('request', req, res));
  // Large uploads and downloads take as long as they take; an idle connection does not.
  server.requestTimeout = 0;
  server.setTimeout(120_000);
  server.keepAliveTimeout = 5000;
  return server;
}
