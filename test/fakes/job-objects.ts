import { DomainError } from '../../src/core/errors.js';
import type { JobObjects, StoredObjectInfo } from '../../src/ports.js';

interface Stored {
  text: string;
  etag: string;
  contentType?: string | undefined;
  metadata: Record<string, string>;
}

/**
 * The vault as a re-encryption job sees it, in memory: ETags that change with every write, and
 * the conditions S3 checks (If-Match, If-None-Match: *) answered as the S3 adapter does
 * (PreconditionFailed).
 */
export class MemoryJobObjects implements JobObjects {
  readonly objects = new Map<string, Stored>();
  private n = 0;

  async listAfter(prefix: string, startAfter: string | undefined, limit: number) {
    const keys = [...this.objects.keys()]
      .filter((k) => k.startsWith(prefix) && (startAfter === undefined || k > startAfter))
      .sort();
    return { keys: keys.slice(0, limit), truncated: keys.length > limit };
  }

  async head(key: string): Promise<StoredObjectInfo | undefined> {
    const o = this.objects.get(key);
    return (
      o && {
        key,
        size: o.text.length,
        etag: o.etag,
        lastModified: new Date(0),
        contentType: o.contentType,
        metadata: { ...o.metadata },
      }
    );
  }

  async read(key: string) {
    const o = this.objects.get(key);
    return o && { text: o.text, etag: o.etag, metadata: { ...o.metadata } };
  }

  /** Streamed in chunks of `chunkBytes` (64 KiB, as a socket hands them), from byte `start`. */
  chunkBytes = 64 * 1024;
  /** Bytes handed out by `readFrom` in all: what a streamed reading fetched. */
  streamedBytes = 0;

  async readFrom(key: string, start: number) {
    const o = this.objects.get(key);
    if (!o) return undefined;
    const bytes = Buffer.from(o.text, 'utf8');
    const chunk = this.chunkBytes;
    const self = this;
    return (async function* () {
      for (let at = start; at < bytes.length; at += chunk) {
        const piece = bytes.subarray(at, Math.min(at + chunk, bytes.length));
        self.streamedBytes += piece.length;
        yield piece;
      }
    })();
  }

  async write(
    key: string,
    text: string,
    options: {
      metadata?: Record<string, string> | undefined;
      contentType: string;
      ifMatch?: string | undefined;
      ifNoneMatch?: '*' | undefined;
    },
  ) {
    const o = this.objects.get(key);
    if (options.ifNoneMatch === '*' && o) throw new DomainError('PreconditionFailed', `${key} exists.`);
    if (options.ifMatch !== undefined && o?.etag !== options.ifMatch)
      throw new DomainError('PreconditionFailed', `${key} changed.`);
    const etag = `"e${++this.n}"`;
    this.objects.set(key, {
      text,
      etag,
      contentType: options.contentType,
      metadata: { ...options.metadata },
    });
    return { etag };
  }

  async replaceMetadata(key: string, metadata: Record<string, string>, options: { ifMatch: string }) {
    const o = this.objects.get(key);
    if (o?.etag !== options.ifMatch) throw new DomainError('PreconditionFailed', `${key} changed.`);
    o.metadata = { ...metadata };
    return { etag: o.etag };
  }
}
