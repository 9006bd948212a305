import type { Context } from './types.js';

/** The shapes of the document routes' answers (`/v1/objects`, `/v1/downloads`, `/v1/uploads`). */

export type ObjectFormat = 's3ec-v2' | 's3ec-v3';

/** A stored document as the API describes it (never a secret). */
export interface ObjectView {
  key: string;
  format: ObjectFormat;
  keyId?: string;
  /** Plaintext bytes. */
  size: number;
  /** Bytes stored: the ciphertext and its 16-byte tag. */
  storedSize: number;
  context: Context;
  owner?: string;
  contentType?: string;
  createdAt?: string;
  lastModified: string;
  etag: string;
  instructionFile?: boolean;
}

export interface PutObjectResult {
  key: string;
  keyId: string;
  format: ObjectFormat;
  size: number;
  etag: string;
}

export interface ObjectPage {
  objects: ObjectView[];
  nextToken?: string;
}

/** A presigned GET of a document's ciphertext and its content key (decrypt it with AES-256-GCM). */
export interface DownloadTicket extends ObjectView {
  url: string;
  expiresAt: string;
  cipher: { algorithm: 'AES-256-GCM'; key: string; iv: string; aad: string; tagLength: number };
}

export interface UploadStatus {
  id: string;
  key: string;
  keyId: string;
  state: 'pending' | 'sealed' | 'failed';
  size: number;
  createdAt: string;
  expiresAt: string;
  sealedAt?: string;
  object?: { etag: string; format: ObjectFormat };
  error?: { code: string; message: string };
}

export interface PartUrl {
  partNumber: number;
  url: string;
  size: number;
}

/** The AES-256-GCM parameters of one object's content, base64 (a download's, or a client-sealed upload's). */
export interface ContentCipher {
  algorithm: 'AES-256-GCM';
  key: string;
  iv: string;
  aad: string;
  tagLength: number;
}

export interface CreatedUpload extends UploadStatus {
  method: 'PUT' | 'multipart';
  /** `client`: encrypt with `cipher` and PUT the ciphertext and tag into `parts`. */
  sealedBy?: 'client';
  /** A verified upload: after its completion, poll it until sealed or failed. */
  verify?: true;
  cipher?: ContentCipher;
  url?: string;
  headers?: Record<string, string>;
  partSize?: number;
  parts?: PartUrl[];
}

/** A pending multipart upload signed again: URLs of the parts asked for, and the parts S3 holds. */
export interface ResumedUpload extends UploadStatus {
  partSize: number;
  parts: PartUrl[];
  uploaded: { partNumber: number; etag: string; size: number }[];
}

export interface CreateUploadInput {
  key: string;
  keyId: string;
  size: number;
  context?: Context;
  contentType?: string;
  overwrite?: boolean;
  /** `client`: the answer holds the content key; the caller encrypts and sends ciphertext to the vault. */
  sealedBy?: 'client' | 'service';
  /**
   * With `sealedBy: 'client'` only: the service authenticates the stored object (reading it, never
   * releasing plaintext) before it is listed; the completion answers pending, then poll it.
   */
  verify?: boolean;
}
