import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Helpers the local servers (KMS, gateway) share. Both read whole request bodies into memory, so
 * both check what can be checked from the headers first (route, signature header, declared
 * length), answer a refusal without reading the body, and hold the bodies they do read to a
 * per-request limit and to a budget shared by all requests in flight: acceptBody does the last
 * part for both.
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
  /** Bytes held now. */
  readonly bytes: number;
  /** Holds `more` bytes more, or answers false (and counts a refusal) when the budget or a share has no room. */
  grow(more: number): boolean;
  release(): void;
}

/** A share of a BodyBudget: the requests of one group (a caller, a class of requests) hold at most `limit` together. */
export interface BodyShare {
  readonly key: string;
  readonly limit: number;
}

/**
 * A bound on the request body bytes a server holds at once, across all requests in flight: a
 * request reserves its declared length (or, when its length is unknown, its bytes as they
 * arrive) before they are read, and releases them once answered. A reservation may also count
 * against shares, so that one group of requests cannot take the whole budget. Counters are
 * exposed for tests.
 */
export class BodyBudget {
  private reservedBytes = 0;
  private peakBytes = 0;
  private readBytes = 0;
  private refusals = 0;
  private readonly shareBytes = new Map<string, number>();

  constructor(readonly limit: number) {}

  /** Bytes the requests of a share hold now. */
  heldBy(key: string): number {
    return this.shareBytes.get(key) ?? 0;
  }

  private fits(bytes: number, shares: readonly BodyShare[]): boolean {
    if (bytes <= 0) return true;
    if (this.reservedBytes + bytes > this.limit) return false;
    return shares.every((s) => this.heldBy(s.key) + bytes <= s.limit);
  }

  private take(bytes: number, shares: readonly BodyShare[]): void {
    this.reservedBytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.reservedBytes);
    for (const s of shares) {
      const held = this.heldBy(s.key) + bytes;
      if (held === 0) this.shareBytes.delete(s.key);
      else this.shareBytes.set(s.key, held);
    }
  }

  /**
   * Reserves `bytes` in the budget and in each share, or answers undefined (and counts a
   * refusal) when one has no room. Zero bytes (a request without a body) always fit.
   */
  tryReserve(bytes: number, shares: readonly BodyShare[] = []): BodyReservation | undefined {
    if (!this.fits(bytes, shares)) {
      this.refusals += 1;
      return undefined;
    }
    this.take(bytes, shares);
    let held = bytes;
    let released = false;
    return {
      get bytes() {
        return held;
      },
      grow: (more: number) => {
        if (released) return false;
        if (!this.fits(more, shares)) {
          this.refusals += 1;
          return false;
        }
        this.take(more, shares);
        held += more;
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.take(-held, shares);
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

/** A body whose length was unknown outgrew the room its reservation could get. */
export class BodyNoRoomError extends Error {
  constructor() {
    super('no room for the rest of the request body');
    this.name = 'BodyNoRoomError';
  }
}

/** A body did not arrive in the time allowed. */
export class BodyTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`request body not complete within ${timeoutMs} ms`);
    this.name = 'BodyTimeoutError';
  }
}

export interface ReadBodyOptions {
  /** Grown by each chunk before it is kept (a body of unknown length); no room fails the read with BodyNoRoomError. */
  growing?: BodyReservation;
  /** The body must be complete within this many milliseconds, or the read fails with BodyTimeoutError. */
  timeoutMs?: number;
}

/**
 * Reads a request body into memory. One larger than `limit` bytes is refused as soon as it is
 * (the rest is not read: answer with closeIfUnread); a client that goes away fails it with
 * ClientGoneError; see ReadBodyOptions for the room and time it may take. Bytes read are counted
 * in `budget` when given.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  budget?: BodyBudget,
  options: ReadBodyOptions = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    const fail = (error: Error) => {
      done();
      req.pause();
      chunks.length = 0;
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      budget?.counted(chunk.length);
      if (size > limit) return fail(new BodyTooLargeError(limit));
      if (options.growing && !options.growing.grow(chunk.length)) return fail(new BodyNoRoomError());
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
    if (options.timeoutMs !== undefined) {
      const ms = options.timeoutMs;
      timer = setTimeout(() => fail(new BodyTimeoutError(ms)), Math.max(0, ms));
    }
  });
}

/** Why a body was not taken in: over the size limit, no room in the budget or a share, too slow, or its sender gone. */
export type BodyRefusal = 'too-large' | 'no-room' | 'timeout' | 'client-gone';

export interface AcceptBodyOptions {
  /** Largest body taken in, declared or as it arrives. */
  limit: number;
  budget: BodyBudget;
  /** Shares of the budget the body counts against besides the whole. */
  shares?: readonly BodyShare[];
  /** When the body must be complete (a `Date.now()` time), given its declared length (undefined: chunked). */
  deadline: (declaredLength: number | undefined) => number;
  /** Called once the body has room, just before it is read (the gateway answers `100 Continue` here). */
  beforeRead?: () => void;
}

/** A body taken in, with the room it holds in the budget: release it once done with the body. */
export type AcceptedBody =
  | { ok: true; body: Buffer; reservation: BodyReservation }
  | { ok: false; refusal: BodyRefusal };

/**
 * Takes in a request body as both servers do, once its headers have passed every check they
 * allow: a declared length over `limit` is refused before anything is read; the body then reserves
 * room in the budget and its shares (its declared length up front, or when chunked its bytes as
 * they arrive), or is refused for want of it; and it is read, within `limit` and by its deadline.
 * On a refusal the room is released and the rest of the body is not read (answer with
 * closeIfUnread; `client-gone` has no one to answer).
 */
export async function acceptBody(req: IncomingMessage, options: AcceptBodyOptions): Promise<AcceptedBody> {
  const declared = declaredBodyLength(req);
  if (declared !== undefined && declared > options.limit) return { ok: false, refusal: 'too-large' };
  const reservation = options.budget.tryReserve(declared ?? 0, options.shares);
  if (!reservation) return { ok: false, refusal: 'no-room' };
  options.beforeRead?.();
  try {
    const body = await readBody(req, options.limit, options.budget, {
      ...(declared === undefined ? { growing: reservation } : {}),
      timeoutMs: options.deadline(declared) - Date.now(),
    });
    return { ok: true, body, reservation };
  } catch (error) {
    reservation.release();
    if (error instanceof BodyTooLargeError) return { ok: false, refusal: 'too-large' };
    if (error instanceof BodyNoRoomError) return { ok: false, refusal: 'no-room' };
    if (error instanceof BodyTimeoutError) return { ok: false, refusal: 'timeout' };
    if (error instanceof ClientGoneError) return { ok: false, refusal: 'client-gone' };
    throw error;
  }
}

/**
 * Delays each request the server takes by `ms` before it is handled, as the network time of a
 * call to AWS would (benchmarks of the local stack); nothing when `ms` is 0. Call before listen.
 */
export function withLatency(server: Server, ms: number): void {
  if (!(ms > 0)) return;
  const listeners = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    setTimeout(() => {
      for (const listener of listeners) listener.call(server, req, res);
    }, ms);
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
