import type { Readable } from 'node:stream';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** The shapes the API's client speaks, shared by the client and the transfers. */

export type Context = Record<string, string>;
export type Format = 'kms' | 'aws-encryption-sdk';
/** SYMMETRIC_DEFAULT for symmetric keys; RSAES-OAEP (SHA-256 or SHA-1) for RSA keys for ENCRYPT_DECRYPT. */
export type EncryptionAlgorithm = 'SYMMETRIC_DEFAULT' | 'RSAES_OAEP_SHA_256' | 'RSAES_OAEP_SHA_1';
/** DIGEST: the message given is (or was signed as) the digest of the algorithm's hash. */
export type MessageType = 'RAW' | 'DIGEST';

/** A key as the key routes describe it. */
export interface KeyView {
  keyId: string;
  arn: string;
  description?: string;
  state: string;
  createdAt: string;
  keySpec: string;
  keyUsage: string;
  origin: 'AWS_KMS' | 'EXTERNAL';
  encryptionAlgorithms?: string[];
  signingAlgorithms?: string[];
  macAlgorithms?: string[];
  expirationModel?: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';
  validTo?: string;
}

export interface ClientOptions {
  /** Base URL of the API, e.g. `http://127.0.0.1:3000` or the API Gateway stage URL. */
  endpoint: string;
  region?: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Per-request time limit in milliseconds (default 30 s). */
  timeoutMs?: number;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

export interface BytesResponse extends RawResponse {
  /** The answer's bytes as sent (a document for GET /v1/objects/{key}). */
  bytes: Uint8Array;
}

/** An answer whose body is read as it arrives: a 2xx's body as a stream, any other's parsed. */
export interface StreamResponse extends RawResponse {
  /** The body of a 2xx answer, as it arrives; undefined for any other (its `body` is parsed). */
  stream: Readable | undefined;
}

/** Sends a signed request whose answer is streamed (GET /v1/streams/{key}). */
export interface StreamRequester {
  rawStream(method: string, path: string, query?: Record<string, string>): Promise<StreamResponse>;
}

export type ItemResult<T> = T | { error: string; message: string; index: number };

/**
 * A re-encryption job as GET /v1/jobs/{id} answers it: no object name and no count of objects at
 * all (see the README, Re-encryption jobs). Operators read the counts in the job record and the
 * log line `re-encryption job page`.
 */
export interface JobView {
  id: string;
  /**
   * `completed-with-failures` when objects under the job's keys failed, else `succeeded` once
   * finished; a job run by S3 Batch Operations may also end `failed` or `cancelled`.
   */
  state: 'pending' | 'running' | 'succeeded' | 'completed-with-failures' | 'failed' | 'cancelled';
  /** The same as `state`: which pass a running job is in is not shown. */
  phase: 'pending' | 'running' | 'succeeded' | 'completed-with-failures' | 'failed' | 'cancelled';
  mode: 'source-key' | 'older-than-rotation';
  sourceKeyId: string;
  destinationKeyId: string;
  prefix: string;
  dryRun: boolean;
  concurrency: number;
  /** The engine the starter asked for (`auto` stays `auto`). */
  engine?: 'scheduled' | 'batch' | 'auto';
  rotatedAt?: string;
  createdBy: string;
  createdAt: string;
  /** Once finished: a fixed sentence per outcome, with no number and no name. */
  report?: { summary: string };
}

/** What the route groups' APIs need of the client: signed requests, typed or raw. */
export interface Requester {
  request<T>(method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<T>;
  raw(method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<RawResponse>;
  rawBytes(
    method: string,
    path: string,
    body?: Uint8Array,
    query?: Record<string, string>,
    contentType?: string,
  ): Promise<BytesResponse>;
}
