import { keyPath, type SignedApi } from './signed-api.js';

/** The answers of the eaas API that the page reads (see `openapi.yaml` for the full contract). */

export type Context = Record<string, string>;

export interface KeySummary {
  keyId: string;
  arn: string;
  description?: string;
  state?: string;
  aliases?: string[];
  access?: { administer?: boolean; use?: boolean };
}

export interface WhoAmI {
  principal: string;
  callerArn: string;
  accountId: string;
}

interface UploadBase {
  id: string;
  key: string;
  keyId: string;
  state: 'pending' | 'sealed' | 'failed';
  size: number;
  createdAt: string;
  expiresAt: string;
}

/** A new upload: where to PUT the file, in one request or in parts. */
export type UploadTicket = UploadBase &
  (
    | { method: 'PUT'; url: string; headers?: Record<string, string> }
    | { method: 'multipart'; partSize: number; parts: { partNumber: number; url: string; size: number }[] }
  );

export interface UploadStatus extends UploadBase {
  sealedAt?: string;
  object?: { etag: string; format: string };
  error?: { code: string; message: string };
}

export interface DocumentView {
  key: string;
  format: string;
  keyId?: string;
  size: number;
  storedSize: number;
  context: Context;
  owner?: string;
  contentType?: string;
  createdAt?: string;
  lastModified: string;
  etag: string;
}

/** A presigned GET of a document's ciphertext with the content key to open it in the browser. */
export interface DownloadTicket {
  key: string;
  url: string;
  expiresAt: string;
  etag: string;
  size: number;
  storedSize: number;
  contentType?: string;
  cipher: { algorithm: 'AES-256-GCM'; key: string; iv: string; aad: string; tagLength: number };
}

/** Typed calls of the routes the page uses. */
export class EaasApi {
  constructor(private readonly api: SignedApi) {}

  whoami(): Promise<WhoAmI> {
    return this.api.call('GET', '/v1/whoami');
  }

  /** Every key the caller administers or uses, across pages, with its aliases. */
  async keys(): Promise<KeySummary[]> {
    const [keys, aliases] = await Promise.all([this.keyPages(), this.aliases()]);
    return keys.map((key) => ({
      ...key,
      aliases: aliases.filter((a) => a.keyId === key.arn || a.keyId === key.keyId).map((a) => a.name),
    }));
  }

  /** The aliases of the keys the caller may describe; `keyId` is the key's ARN. */
  async aliases(): Promise<{ name: string; keyId: string }[]> {
    const all: { name: string; keyId: string }[] = [];
    let nextToken: string | undefined;
    do {
      const page: { aliases: { name: string; keyId: string }[]; nextToken?: string } = await this.api.call(
        'GET',
        '/v1/aliases',
        undefined,
        nextToken ? { nextToken } : undefined,
      );
      all.push(...page.aliases);
      nextToken = page.nextToken;
    } while (nextToken);
    return all;
  }

  private async keyPages(): Promise<KeySummary[]> {
    const all: KeySummary[] = [];
    let nextToken: string | undefined;
    do {
      const page: { keys: KeySummary[]; nextToken?: string } = await this.api.call(
        'GET',
        '/v1/keys',
        undefined,
        { limit: '100', ...(nextToken ? { nextToken } : {}) },
      );
      all.push(...page.keys);
      nextToken = page.nextToken;
    } while (nextToken);
    return all;
  }

  createUpload(request: {
    key: string;
    keyId: string;
    size: number;
    context?: Context;
    contentType?: string;
    overwrite?: boolean;
  }): Promise<UploadTicket> {
    return this.api.call('POST', '/v1/uploads', request);
  }

  completeUpload(id: string, parts: { partNumber: number; etag: string }[]): Promise<UploadStatus> {
    return this.api.call('POST', `/v1/uploads/${encodeURIComponent(id)}/complete`, { parts });
  }

  uploadStatus(id: string): Promise<UploadStatus> {
    return this.api.call('GET', `/v1/uploads/${encodeURIComponent(id)}`);
  }

  cancelUpload(id: string): Promise<UploadStatus> {
    return this.api.call('DELETE', `/v1/uploads/${encodeURIComponent(id)}`);
  }

  /** The caller's documents, across pages. */
  async documents(): Promise<DocumentView[]> {
    const all: DocumentView[] = [];
    let nextToken: string | undefined;
    do {
      const page: { objects: DocumentView[]; nextToken?: string } = await this.api.call(
        'GET',
        '/v1/objects',
        undefined,
        { limit: '100', ...(nextToken ? { nextToken } : {}) },
      );
      all.push(...page.objects);
      nextToken = page.nextToken;
    } while (nextToken && all.length < 1000);
    return all;
  }

  deleteDocument(key: string): Promise<unknown> {
    return this.api.call('DELETE', `/v1/objects/${keyPath(key)}`);
  }

  download(key: string): Promise<DownloadTicket> {
    return this.api.call('POST', '/v1/downloads', { key });
  }
}
