import { ApiError } from './signed-api.js';

/** Headers a page may not set; the browser sets them itself (Content-Length from the body). */
const FORBIDDEN = new Set(['host', 'content-length', 'connection', 'expect', 'origin', 'referer']);

export interface PutResult {
  /** The ETag S3 answered, quotes included (multipart completion needs it per part). */
  etag: string;
}

/** The `<Code>` and `<Message>` of an S3 XML error body, in plain words where they matter to a person. */
export function s3ErrorOf(status: number, body: string): ApiError {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? `Http${status}`;
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? `Storage answered ${status}.`;
  if (code === 'AccessDenied' && /expired/i.test(message))
    return new ApiError('ExpiredLink', message, status);
  return new ApiError(code, message, status);
}

/**
 * PUTs a body to a presigned URL with XMLHttpRequest, since fetch reports no upload progress.
 * `onProgress` receives the bytes sent so far; aborting the signal aborts the request.
 */
export function putWithProgress(
  url: string,
  body: Blob,
  headers: Record<string, string>,
  onProgress: (sent: number) => void,
  signal: AbortSignal,
): Promise<PutResult> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new ApiError('Cancelled', 'Cancelled.', 0));
      return;
    }
    const xhr = new XMLHttpRequest();
    const onAbort = () => xhr.abort();
    xhr.open('PUT', url);
    for (const [name, value] of Object.entries(headers)) {
      if (!FORBIDDEN.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener('progress', (event) => onProgress(event.loaded));
    xhr.addEventListener('load', () => {
      signal.removeEventListener('abort', onAbort);
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(body.size);
        resolve({ etag: xhr.getResponseHeader('ETag') ?? '' });
      } else {
        reject(s3ErrorOf(xhr.status, xhr.responseText));
      }
    });
    xhr.addEventListener('error', () => {
      signal.removeEventListener('abort', onAbort);
      reject(new ApiError('Network', 'The upload connection failed.', 0));
    });
    xhr.addEventListener('abort', () => {
      signal.removeEventListener('abort', onAbort);
      reject(new ApiError('Cancelled', 'Cancelled.', 0));
    });
    signal.addEventListener('abort', onAbort);
    xhr.send(body);
  });
}

/** Whether a failed part is worth sending again: no answer, S3 busy or failing; never a refusal. */
export function retryable(error: unknown): boolean {
  if (!(error instanceof ApiError) || error.code === 'Cancelled') return false;
  return error.status === 0 || error.status === 408 || error.status === 429 || error.status >= 500;
}
