import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LocalPrincipal } from '../../src/identity.js';

/**
 * HTTP/1.1 over a bare socket, for tests of what a server does before it has read a body: the
 * request's headers go out with only the first bytes of its body, and the answer is awaited
 * before any more is sent.
 */

export interface EarlyAnswer {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
  /** Whether `100 Continue` came before the answer. */
  continued: boolean;
  /** Body bytes the client had sent when the answer came. */
  sentBeforeAnswer: number;
}

export interface RawRequest {
  endpoint: string;
  method: string;
  path: string;
  /** Sent as given (add `content-length` or `transfer-encoding` yourself); `host` is added. */
  headers: Record<string, string>;
  /** Body bytes sent right after the headers (default 1,024); the rest waits for the answer. */
  firstBytes?: number;
  /** How long to wait for the answer before failing (default 3 s). */
  timeoutMs?: number;
  /** Frame the body bytes as HTTP/1.1 chunks (send `transfer-encoding: chunked` yourself). */
  chunked?: boolean;
}

/** What the server did with the connection after its answer, when the client went on sending. */
export interface AfterAnswer {
  /** Body bytes the client managed to send in all. */
  sent: number;
  /** The server closed the connection before the client had sent `total` bytes. */
  closedEarly: boolean;
}

export interface RawExchange {
  socket: Socket;
  answer: Promise<EarlyAnswer>;
  /** Settles when `100 Continue` arrives. */
  continued: Promise<void>;
  /** Goes on sending body bytes (64 KiB at a time) up to `total`, until the server closes. */
  sendRest(total: number): Promise<AfterAnswer>;
  /** Sends one body byte every `intervalMs` until the server closes or the returned stop is called. */
  trickle(intervalMs: number): () => void;
  /** Whether the server has closed the connection. */
  readonly closed: boolean;
}

function parseAnswer(data: Buffer): { answer: Omit<EarlyAnswer, 'sentBeforeAnswer'> } | undefined {
  let rest = data;
  let continued = false;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const lines = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(lines[0]?.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    if (status === 100) {
      continued = true;
      rest = rest.subarray(end + 4);
      continue;
    }
    const length = Number(headers['content-length'] ?? 0);
    const body = rest.subarray(end + 4);
    if (body.length < length) return undefined;
    return { answer: { status, headers, body: body.subarray(0, length).toString('utf8'), continued } };
  }
}

/** Opens a connection, sends the request's headers and its first body bytes, and awaits the answer. */
export function rawExchange(req: RawRequest): RawExchange {
  const url = new URL(req.endpoint);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined);
  let sent = 0;
  let closed = false;
  socket.on('close', () => {
    closed = true;
  });
  const head = [
    `${req.method} ${req.path} HTTP/1.1`,
    `host: ${url.host}`,
    ...Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ].join('\r\n');
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  /** Body bytes as they go on the wire: as they are, or as one HTTP/1.1 chunk. */
  const framed = (bytes: Buffer) =>
    req.chunked
      ? Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')])
      : bytes;
  let onContinue: () => void = () => undefined;
  const continued = new Promise<void>((resolve) => {
    onContinue = resolve;
  });
  const answer = new Promise<EarlyAnswer>((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timer = setTimeout(
      () => reject(new Error(`no answer within ${req.timeoutMs ?? 3000} ms`)),
      req.timeoutMs ?? 3000,
    );
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      if (received.toString('latin1').startsWith('HTTP/1.1 100')) onContinue();
      const parsed = parseAnswer(received);
      if (parsed && parsed.answer.status !== 100) {
        clearTimeout(timer);
        resolve({ ...parsed.answer, sentBeforeAnswer: sent });
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error('closed without an answer'));
    });
  });
  answer.catch(() => undefined);
  socket.once('connect', () => {
    socket.write(head);
    const first = req.firstBytes ?? 1024;
    if (first > 0) {
      socket.write(framed(chunk.subarray(0, first)));
      sent += first;
    }
  });
  return {
    socket,
    answer,
    continued,
    get closed() {
      return closed;
    },
    trickle(intervalMs: number) {
      const timer = setInterval(() => {
        if (closed || !socket.writable) {
          clearInterval(timer);
          return;
        }
        socket.write(framed(chunk.subarray(0, 1)));
        sent += 1;
      }, intervalMs);
      return () => clearInterval(timer);
    },
    async sendRest(total: number): Promise<AfterAnswer> {
      while (sent < total && !closed && socket.writable) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
        const ok = await new Promise<boolean>((resolve) =>
          socket.write(framed(piece), (error) => resolve(!error)),
        );
        if (!ok) break;
        sent += piece.length;
        // Let the server's close arrive between writes, as a real sender would notice it.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return { sent, closedEarly: sent < total };
    },
  };
}

/** SigV4 headers for a request with this body, as an SDK would send them (without `host`). */
export async function signedHeaders(
  endpoint: string,
  principal: LocalPrincipal,
  service: 'execute-api' | 'kms',
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer | string,
  signingDate?: Date,
): Promise<Record<string, string>> {
  const url = new URL(endpoint);
  const [pathname = '/', search = ''] = path.split('?');
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(search)) query[k] = v;
  const signer = new SignatureV4({
    service,
    region: 'us-east-1',
    credentials: {
      accessKeyId: principal.accessKeyId,
      secretAccessKey: principal.secretAccessKey,
      ...(principal.sessionToken ? { sessionToken: principal.sessionToken } : {}),
    },
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign(
    new HttpRequest({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: pathname,
      query,
      headers: { host: url.host, ...headers },
      body,
    }),
    signingDate ? { signingDate } : {},
  );
  const { host: _host, ...rest } = signed.headers;
  return rest;
}

/** The hex SHA-256 of a body. */
export const sha256Hex = (body: Buffer | string) => createHash('sha256').update(body).digest('hex');

/**
 * Waits until `count` of the exchanges are answered (the others may stay pending, as senders a
 * server holds), then a moment more, and returns every answer given by then.
 */
export async function firstAnswers(
  exchanges: readonly RawExchange[],
  count: number,
  timeoutMs = 15_000,
): Promise<EarlyAnswer[]> {
  const got: EarlyAnswer[] = [];
  for (const e of exchanges)
    e.answer.then(
      (a) => got.push(a),
      () => undefined,
    );
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const deadline = Date.now() + timeoutMs;
  while (got.length < count) {
    if (Date.now() > deadline) throw new Error(`${got.length} answers of the ${count} expected`);
    await sleep(20);
  }
  await sleep(250);
  return [...got];
}
