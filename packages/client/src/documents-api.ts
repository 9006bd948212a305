import { pipeline, type Readable, Transform } from 'node:stream';
import type {
  CreatedUpload,
  CreateUploadInput,
  DownloadTicket,
  ObjectPage,
  ObjectView,
  PutObjectResult,
  ResumedUpload,
  UploadStatus,
} from './documents-types.js';
import { EaasError, errorOf } from './errors.js';
import type { Context, Requester, StreamRequester } from './types.js';

/** A document's name as a path: each segment percent-encoded, the slashes kept. */
const objectPath = (key: string) => `/v1/objects/${key.split('/').map(encodeURIComponent).join('/')}`;
const streamPath = (key: string) => `/v1/streams/${key.split('/').map(encodeURIComponent).join('/')}`;
const uploadPath = (id: string, rest = '') => `/v1/uploads/${encodeURIComponent(id)}${rest}`;

/** The metadata view from a GET's or HEAD's `x-eaas-*` headers. */
function viewOf(key: string, headers: Headers): ObjectView {
  const get = (name: string) => headers.get(name) ?? undefined;
  const keyId = get('x-eaas-key-id');
  const owner = get('x-eaas-owner');
  const contentType = get('content-type');
  return {
    key,
    format: (get('x-eaas-format') ?? 's3ec-v3') as ObjectView['format'],
    ...(keyId ? { keyId } : {}),
    size: Number(get('x-eaas-size') ?? 0),
    storedSize: Number(get('x-eaas-stored-size') ?? 0),
    context: JSON.parse(get('x-eaas-context') ?? '{}') as Context,
    ...(owner ? { owner } : {}),
    ...(contentType ? { contentType } : {}),
    lastModified: new Date(get('last-modified') ?? 0).toISOString(),
    etag: get('etag') ?? '',
  };
}

/** The document routes (`/v1/objects...`, `/v1/uploads...`, `/v1/downloads`): one typed method per route. */
export class DocumentsApi {
  constructor(private readonly client: Requester & StreamRequester) {}

  /** PUT /v1/objects/{key}: stores a document of up to 4 MiB (larger: `uploadDocument`). */
  put(
    key: string,
    body: Uint8Array,
    options: { keyId: string; context?: Context; contentType?: string; overwrite?: boolean },
  ): Promise<PutObjectResult> {
    const query: Record<string, string> = { keyId: options.keyId };
    if (options.context) query.context = JSON.stringify(options.context);
    if (options.overwrite !== undefined) query.overwrite = String(options.overwrite);
    return this.bytesCall<PutObjectResult>('PUT', objectPath(key), body, query, options.contentType);
  }

  /** GET /v1/objects/{key}: a document of up to 4 MiB, decrypted and authenticated by the service. */
  async get(key: string): Promise<{ bytes: Uint8Array; view: ObjectView }> {
    const res = await this.client.rawBytes('GET', objectPath(key));
    if (res.status >= 400) throw errorOf(res);
    return { bytes: res.bytes, view: viewOf(key, res.headers) };
  }

  /**
   * GET /v1/streams/{key}: a document of any size up to 200 MB, decrypted by the service and
   * streamed once the whole of it has been authenticated. Refusals throw EaasError before any
   * byte; should the service's last check fail mid-stream, the stream fails (its transfer ended
   * short), so a stream that ends cleanly is the document, `view.size` bytes.
   */
  async stream(key: string): Promise<{ view: ObjectView; body: Readable }> {
    const res = await this.client.rawStream('GET', streamPath(key));
    if (!res.stream) throw errorOf(res);
    const view = viewOf(key, res.headers);
    // A transfer ended short fails already; a body of another length than announced fails too.
    let seen = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        seen += chunk.length;
        done(seen > view.size ? lengthError(key, view.size) : null, chunk);
      },
      flush(done) {
        done(seen === view.size ? null : lengthError(key, view.size));
      },
    });
    return { view, body: pipeline(res.stream, counted, () => undefined) };
  }

  /** GET /v1/objects/{key}?metadata: a document's metadata view. */
  metadata(key: string): Promise<ObjectView> {
    return this.client.request<ObjectView>('GET', objectPath(key), undefined, { metadata: '' });
  }

  /** HEAD /v1/objects/{key}: the metadata view, read from the answer's `x-eaas-*` headers. */
  async head(key: string): Promise<ObjectView> {
    const res = await this.client.rawBytes('HEAD', objectPath(key));
    // A HEAD answer has no body: its error is told by the status alone.
    if (res.status === 404 && res.body === undefined)
      throw new EaasError(
        'NotFound',
        `No object ${JSON.stringify(key)}.`,
        404,
        res.headers.get('x-amzn-requestid') ?? undefined,
      );
    if (res.status >= 400) throw errorOf(res);
    return viewOf(key, res.headers);
  }

  /** DELETE /v1/objects/{key}: the document and its instruction file. */
  delete(key: string): Promise<{ key: string; deleted: boolean }> {
    return this.client.request('DELETE', objectPath(key));
  }

  /** GET /v1/objects: one page of the documents under `prefix` the caller may decrypt. */
  list(options: { prefix?: string; limit?: number; nextToken?: string } = {}): Promise<ObjectPage> {
    const query: Record<string, string> = {};
    if (options.prefix) query.prefix = options.prefix;
    if (options.limit !== undefined) query.limit = String(options.limit);
    if (options.nextToken) query.nextToken = options.nextToken;
    return this.client.request<ObjectPage>('GET', '/v1/objects', undefined, query);
  }

  /** Every document under `prefix`, page after page (following nextToken). */
  async *listAll(options: { prefix?: string; pageSize?: number } = {}): AsyncGenerator<ObjectView> {
    let nextToken: string | undefined;
    do {
      const page = await this.list({
        ...(options.prefix ? { prefix: options.prefix } : {}),
        ...(options.pageSize ? { limit: options.pageSize } : {}),
        ...(nextToken ? { nextToken } : {}),
      });
      yield* page.objects;
      nextToken = page.nextToken;
    } while (nextToken);
  }

  /** POST /v1/downloads: a presigned GET of the ciphertext and the object's content key. */
  createDownload(key: string): Promise<DownloadTicket> {
    return this.client.request<DownloadTicket>('POST', '/v1/downloads', { key });
  }

  /** POST /v1/uploads: starts an upload of any size; answers its presigned URL(s). */
  createUpload(input: CreateUploadInput): Promise<CreatedUpload> {
    return this.client.request<CreatedUpload>('POST', '/v1/uploads', input);
  }

  /** GET /v1/uploads/{id}: pending, sealed or failed (with its code). */
  getUpload(id: string): Promise<UploadStatus> {
    return this.client.request<UploadStatus>('GET', uploadPath(id));
  }

  /** DELETE /v1/uploads/{id}: cancels a pending upload. */
  cancelUpload(id: string): Promise<UploadStatus> {
    return this.client.request<UploadStatus>('DELETE', uploadPath(id));
  }

  /** POST /v1/uploads/{id}/complete: completes a multipart upload with every part's ETag. */
  completeUpload(id: string, parts: { partNumber: number; etag: string }[]): Promise<UploadStatus> {
    return this.client.request<UploadStatus>('POST', uploadPath(id, '/complete'), { parts });
  }

  /**
   * POST /v1/uploads/{id}/parts: fresh URLs for the parts of a pending multipart upload not yet
   * uploaded (or those named), and the parts S3 holds with their ETags: resumes an upload.
   */
  resumeUpload(id: string, partNumbers?: number[]): Promise<ResumedUpload> {
    return this.client.request<ResumedUpload>(
      'POST',
      uploadPath(id, '/parts'),
      partNumbers ? { partNumbers } : {},
    );
  }

  private async bytesCall<T>(
    method: string,
    path: string,
    body: Uint8Array,
    query: Record<string, string>,
    contentType?: string,
  ): Promise<T> {
    const res = await this.client.rawBytes(method, path, body, query, contentType);
    if (res.status >= 400) throw errorOf(res);
    return res.body as T;
  }
}

function lengthError(key: string, size: number): Error {
  return new Error(`The stream of ${JSON.stringify(key)} is not the ${size} bytes announced.`);
}
