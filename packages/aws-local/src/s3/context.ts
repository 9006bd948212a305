import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { KmsAuthorizer } from '../kms-use.js';
import type { S3Access } from './access.js';
import type { S3Caller } from './auth.js';
import type { Notifier } from './notifications.js';
import type { S3Storage } from './storage.js';

/** What the operations of the local S3 share: the server's parts, and one request's facts. */

export interface S3Deps {
  storage: S3Storage;
  notifier: Notifier;
  region: string;
  /** The account that owns every bucket. */
  accountId: string;
  /** Asks KMS whether the caller may use an SSE-KMS key through S3; absent, every use is allowed. */
  kmsAuthorize?: KmsAuthorizer | undefined;
  /** The owner every bucket and object shows (the local account). */
  owner: { ID: string; DisplayName: string };
  now: () => Date;
}

export interface S3Request {
  req: IncomingMessage;
  requestId: string;
  /** Decoded query parameters. */
  query: Map<string, string>;
  /** Decoded bucket name and key from the path; empty when absent. */
  bucket: string;
  key: string;
  caller: S3Caller;
  /** The caller's rights: every operation is allowed by it before it runs (DeleteObjects per key). */
  access: S3Access;
  /** Lets a client that sent `Expect: 100-continue` send its body; call once all checks passed. */
  acceptBody(): void;
}

export interface Reply {
  status: number;
  headers?: Record<string, string | number>;
  body?: string | Buffer | Readable;
}

export const xmlReply = (body: string, status = 200): Reply => ({
  status,
  headers: { 'Content-Type': 'application/xml' },
  body,
});

/** An ETag as S3 answers it: quoted. */
export const quoted = (etag: string) => `"${etag}"`;
