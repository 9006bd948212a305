import type { Context, EaasApi, UploadStatus, UploadTicket } from './api.js';
import { plainWords } from './messages.js';
import { ApiError } from './signed-api.js';
import { putWithProgress, retryable } from './transfer.js';

export type Phase = 'waiting' | 'uploading' | 'sealing' | 'sealed' | 'failed' | 'cancelled';

export interface UploadSettings {
  keyId: string;
  context: Context;
  overwrite: boolean;
  /** Parts in flight at once for a multipart upload. */
  concurrency?: number;
  /** Tries of each part before the upload fails. */
  attempts?: number;
}

/** How long the page follows an upload's sealing before it leaves it to the documents list. */
const SEAL_WAIT_MS = 10 * 60_000;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * One file's way into the vault: ask the API for presigned URL(s), PUT the bytes straight to the
 * staging bucket (in parallel parts for a large file, each part retried on a transient failure),
 * complete a multipart upload, then follow the upload until the service has sealed it.
 * The page never sees a content key on the way in; S3 receives the bytes over the presigned URL.
 */
export class FileUpload {
  phase: Phase = 'waiting';
  sent = 0;
  retries = 0;
  id: string | undefined;
  /** The failure, kept as the error so the view can put it in plain words. */
  error: unknown;
  status: UploadStatus | undefined;
  private readonly controller = new AbortController();
  private cancelled = false;
  /** Whether cancel() has already asked the service to drop the upload. */
  private told = false;
  private partSent: number[] = [];

  constructor(
    private readonly api: EaasApi,
    readonly file: File,
    private readonly settings: UploadSettings,
    private readonly changed: (upload: FileUpload) => void,
  ) {}

  get total(): number {
    return this.file.size;
  }

  /** Runs the upload to its end; never rejects (the outcome is in `phase` and `error`). */
  async run(): Promise<void> {
    if (this.cancelled) return;
    try {
      this.set('uploading');
      const ticket = await this.api.createUpload({
        key: this.file.name,
        keyId: this.settings.keyId,
        size: this.file.size,
        contentType: this.file.type || 'application/octet-stream',
        overwrite: this.settings.overwrite,
        ...(Object.keys(this.settings.context).length > 0 ? { context: this.settings.context } : {}),
      });
      this.id = ticket.id;
      // Cancelled while the upload was being created: cancel() had no id to tell the service.
      if (this.cancelled) throw new ApiError('Cancelled', 'Cancelled.', 0);
      if (ticket.method === 'PUT') await this.single(ticket);
      else await this.multipart(ticket);
      this.set('sealing');
      await this.followSeal();
    } catch (error) {
      if (this.cancelled) {
        if (this.id && !this.told) await this.api.cancelUpload(this.id).catch(() => undefined);
        return;
      }
      // Once every byte is in staging the upload is the service's: a failure to follow it (the
      // network, a 5xx) must not cancel it, or a document on its way into the vault is dropped.
      const delivered = this.phase === 'sealing';
      this.error = error;
      this.set('failed');
      if (this.id && !delivered) await this.api.cancelUpload(this.id).catch(() => undefined);
    }
  }

  /** Stops the transfer and tells the service to drop what arrived. */
  async cancel(): Promise<void> {
    if (this.phase === 'sealed' || this.phase === 'failed' || this.phase === 'cancelled') return;
    this.error = new ApiError('Cancelled', 'Cancelled.', 0);
    this.set('cancelled');
    this.cancelled = true;
    this.controller.abort();
    if (this.id) {
      this.told = true;
      await this.api.cancelUpload(this.id).catch(() => undefined);
    }
  }

  private set(phase: Phase): void {
    // A cancelled upload stays cancelled, whatever a request still in flight answers.
    if (this.cancelled) return;
    this.phase = phase;
    this.changed(this);
  }

  private progress(index: number, sent: number): void {
    this.partSent[index] = sent;
    this.sent = this.partSent.reduce((a, b) => a + b, 0);
    this.changed(this);
  }

  private async single(ticket: Extract<UploadTicket, { method: 'PUT' }>): Promise<void> {
    this.partSent = [0];
    await putWithProgress(
      ticket.url,
      this.file,
      ticket.headers ?? {},
      (n) => this.progress(0, n),
      this.controller.signal,
    );
  }

  private async multipart(ticket: Extract<UploadTicket, { method: 'multipart' }>): Promise<void> {
    const parts = [...ticket.parts].sort((a, b) => a.partNumber - b.partNumber);
    this.partSent = parts.map(() => 0);
    const etags: { partNumber: number; etag: string }[] = [];
    let next = 0;
    let offset = 0;
    const ranges = parts.map((part) => {
      const range = { part, start: offset, end: offset + part.size };
      offset += part.size;
      return range;
    });
    /* Precondition: the parts cover the file exactly, or S3 would seal something else than the file. */
    if (offset !== this.file.size) {
      throw new ApiError('SizeMismatch', 'The upload parts do not cover the file.', 0);
    }
    const worker = async () => {
      while (next < ranges.length) {
        const index = next++;
        const range = ranges[index];
        if (!range) return;
        const etag = await this.partWithRetry(index, range.part.url, this.file.slice(range.start, range.end));
        etags.push({ partNumber: range.part.partNumber, etag });
      }
    };
    const workers = Array.from({ length: Math.min(this.settings.concurrency ?? 4, ranges.length) }, worker);
    try {
      await Promise.all(workers);
    } catch (error) {
      // One part failed for good: stop the others rather than send bytes that will be dropped.
      this.controller.abort();
      throw error;
    }
    etags.sort((a, b) => a.partNumber - b.partNumber);
    if (!this.id) throw new ApiError('Internal', 'The upload has no id.', 0);
    await this.api.completeUpload(this.id, etags);
  }

  private async partWithRetry(index: number, url: string, body: Blob): Promise<string> {
    const attempts = this.settings.attempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        const { etag } = await putWithProgress(
          url,
          body,
          {},
          (n) => this.progress(index, n),
          this.controller.signal,
        );
        /* Postcondition: S3 always answers a part's ETag; none readable means the bucket's CORS hides it. */
        if (etag === '') {
          throw new ApiError(
            'NoETag',
            'Storage accepted a part but the page cannot read its ETag: the staging bucket’s CORS rule must expose the ETag header.',
            200,
          );
        }
        return etag;
      } catch (error) {
        if (attempt >= attempts || !retryable(error) || this.controller.signal.aborted) throw error;
        this.retries++;
        this.progress(index, 0);
        await sleep(250 * 2 ** attempt, this.controller.signal);
      }
    }
  }

  /**
   * Follows `GET /v1/uploads/{id}` until the upload is sealed or failed, polling less often as time
   * goes on; after `SEAL_WAIT_MS` the page stops watching (the document still appears in the list
   * once the service has sealed it).
   */
  private async followSeal(): Promise<void> {
    if (!this.id) return;
    let wait = 250;
    const until = Date.now() + SEAL_WAIT_MS;
    while (Date.now() < until) {
      let status: UploadStatus;
      try {
        status = await this.api.uploadStatus(this.id);
      } catch (error) {
        // A lost answer or a busy service says nothing about the upload: ask again, later.
        if (this.controller.signal.aborted) throw error;
        if (!retryable(error)) {
          throw new ApiError(
            'StillSealing',
            `The file arrived, but the page could not follow its encryption: ${plainWords(error, 'upload')} It appears in your documents once it is done.`,
            0,
          );
        }
        await sleep(wait, this.controller.signal);
        wait = Math.min(wait * 2, 2000);
        continue;
      }
      this.status = status;
      if (status.state === 'sealed') {
        this.set('sealed');
        return;
      }
      if (status.state === 'failed') {
        const code = status.error?.code ?? 'SealFailed';
        throw new ApiError(code, status.error?.message ?? 'The upload failed.', 0);
      }
      await sleep(wait, this.controller.signal);
      if (this.controller.signal.aborted) throw new ApiError('Cancelled', 'Cancelled.', 0);
      wait = Math.min(wait * 2, 2000);
    }
    throw new ApiError(
      'StillSealing',
      'The file arrived but is still being encrypted. It appears in your documents once it is done.',
      0,
    );
  }
}
