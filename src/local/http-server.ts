import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Helpers the local servers (KMS, gateway) share. Both read whole request bodies into memory, so
 * both check what can be checked from the headers first (route, signature header, declared
 * length), answer a refusal without reading the body, and hold the bodies they do read to a
 * per-request limit and to a budget shared by all requests in flight.
 */

/** Bodies this small are drained after an early answer, to keep the connection; larger ones close it. */
export const DRAIN_LIMIT = 64 * 1024;

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** The client went away before its body was complete. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection before the body was complete');
    this.name = 'ClientGoneError';
  }
}

/**
 * The body length a request declares: its Content-Length, 0 when it has neither that nor
 * Transfer-Encoding (no body), undefined when chunked (unknown until read). Node's parser has
 * already refused a malformed or conflicting Content-Length.
 */
export function declaredBodyLength(req: IncomingMessage): number | undefined {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length);
  return req.headers['transfer-encoding'] === undefined ? 0 : undefined;
}

/**
 * Before an answer to a request whose body was not read: a small body is drained (the connection
 * stays usable), a larger or unknown one is not read at all and the connection is closed once the
 * answer is sent. Call before `writeHead`.
 */
export function closeIfUnread(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete || res.headersSent) return;
  const length = declaredBodyLength(req);
  if (length === 0) return;
  if (length !== undefined && length <= DRAIN_LIMIT && req.headers.expect === undefined) return;
  res.setHeader('Connection', 'close');
}

/** A reservation of body bytes in a BodyBudget; release it once the request is done with its body. */
export interface BodyReservation {
  readonly bytes: number;
  release(): void;
}

/**
 * A bound on the request body bytes a server holds at once, across all requests in flight: a
 * request reserves its declared length (or the per-request limit when chunked) before its body
 * is read, and releases it once answered. Counters are exposed for tests.
 */
export class BodyBudget {
  private reservedBytes = 0;
  private peakBytes = 0;
  private readBytes = 0;
  private refusals = 0;

  constructor(readonly limit: number) {}

  /** Reserves `bytes`, or answers undefined (and counts a refusal) when the budget has no room. */
  tryReserve(bytes: number): BodyReservation | undefined {
    if (bytes > 0 && this.reservedBytes + bytes > this.limit) {
      this.refusals += 1;
      return undefined;
    }
    this.reservedBytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.reservedBytes);
    let released = false;
    return {
      bytes,
      release: () => {
        if (released) return;
        released = true;
        this.reservedBytes -= bytes;
      },
    };
  }

  /** Counts body bytes actually read into memory. */
  counted(bytes: number): void {
    this.readBytes += bytes;
  }

  /** Bytes reserved now, the most ever reserved at once, bytes read since start, refusals for want of room. */
  stats(): { reserved: number; peak: number; read: number; refused: number } {
    return {
      reserved: this.reservedBytes,
      peak: this.peakBytes,
      read: this.readBytes,
      refused: this.refusals,
    };
  }
}

/**
 * Reads a request body into memory. One larger than `limit` bytes is refused as soon as it is
 * (the rest is not read: answer with closeIfUnread); a client that goes away fails it with
 * ClientGoneError. Bytes read are counted in `budget` when given.
 */
export function readBody(req: IncomingMessage, limit: number, budget?: BodyBudget): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      budget?.counted(chunk.length);
      if (size > limit) {
        done();
        req.pause();
        chunks.length = 0;
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks));
    };
    // An error on the request stream (`aborted`, a reset) or its close before the end: the client went away.
    const onGone = () => {
      done();
      reject(new ClientGoneError());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}

export interface Listening {
  endpoint: string;
  close(): Promise<void>;
}

/** Starts a server on host:port (0 for a free port) and returns its endpoint and a close that ends open connections. */
export async function listen(server: Server, host: string, port: number): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    endpoint: `http://${shown}:${actual}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
