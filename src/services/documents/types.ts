import type { EncryptionContext } from '@eaas/aws-rules';
import type { Person } from '../../core/person.js';
import type { KeyGuard } from '../crypto.js';

export interface DocumentCaller {
  /** The caller's ARN as authenticated. */
  arn: string;
  /** A person signed in through the identity pool: its documents are in its space (`core/spaces.ts`). */
  person?: Person | undefined;
  /** Decides the caller's right to an action on a key (throws AccessDenied); answers the key ARN. */
  guard: KeyGuard;
}

export interface ObjectView {
  key: string;
  format: 's3ec-v2' | 's3ec-v3';
  keyId?: string | undefined;
  size: number;
  storedSize: number;
  context: EncryptionContext;
  owner?: string | undefined;
  contentType?: string | undefined;
  createdAt?: string | undefined;
  lastModified: string;
  etag: string;
  instructionFile: boolean;
}

/** Where a document listing resumes: after this stored key (never shown to a caller as such). */
export interface DocumentCursor {
  after: string;
}

export function isDocumentCursor(value: unknown): value is DocumentCursor {
  const c = value as DocumentCursor | null;
  return typeof c === 'object' && c !== null && typeof c.after === 'string' && c.after.length > 0;
}

/** Stored objects one GET /v1/objects call examines at most, by default (one S3 listing page). */
export const DEFAULT_LIST_SCAN_OBJECTS = 1000;
