import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * AWS credentials as the page holds them: in memory only, for as long as the tab lives. People who
 * sign in with an account get temporary ones from a Cognito identity pool; an operator may paste
 * a profile's keys.
 */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
  readonly expiration?: Date | undefined;
}

/** Where the signer gets credentials for each request, so temporary ones can be renewed between requests. */
export type CredentialProvider = () => Promise<Credentials>;

/** A provider of fixed keys (an operator's, typed into the form). */
export const fixedCredentials = (credentials: Credentials): CredentialProvider => {
  const copy = { ...credentials };
  return () => Promise.resolve(copy);
};

/** An error answer of the API or of S3, with what the page needs to explain it in plain words. */
export class ApiError extends Error {
  constructor(
    /** The API's stable code (`AccessDenied`, ...), API Gateway's error type, S3's `<Code>`, or `Network`. */
    readonly code: string,
    message: string,
    /** HTTP status; 0 when the request never got an answer. */
    readonly status: number,
    readonly requestId?: string | undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The code and message of an error answer, whichever of the API's or API Gateway's shapes it has. */
export function errorOf(status: number, headers: Headers, body: unknown): ApiError {
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const code =
    (typeof record.error === 'string' && record.error) ||
    headers.get('x-amzn-errortype')?.split(':')[0] ||
    `Http${status}`;
  const message = typeof record.message === 'string' ? record.message : `The server answered ${status}.`;
  const requestId =
    (typeof record.requestId === 'string' && record.requestId) ||
    headers.get('x-amzn-requestid') ||
    undefined;
  return new ApiError(code, message, status, requestId);
}

/** Percent-encodes each segment of an object key, keeping its slashes as the API's `{key+}` path expects. */
export const keyPath = (key: string): string => key.split('/').map(encodeURIComponent).join('/');

/**
 * Sends JSON requests to the API signed with SigV4 for `execute-api`, as API Gateway's `AWS_IAM`
 * authorization requires. The signature covers the method, path, query, host, date and the body's
 * SHA-256, so a request cannot be replayed with another body.
 */
export class SignedApi {
  private readonly signer: SignatureV4;
  private readonly base: URL;

  constructor(
    endpoint: string,
    region: string,
    credentials: CredentialProvider,
    private readonly timeoutMs = 30_000,
  ) {
    this.base = new URL(endpoint);
    this.signer = new SignatureV4({
      service: 'execute-api',
      region,
      // Asked for every request it signs: each request goes with the current credentials.
      credentials,
      sha256: Sha256,
    });
  }

  /** Sends a signed request; resolves with the parsed JSON answer of a 2xx, rejects with an `ApiError`. */
  async call<T>(method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const basePath = this.base.pathname.replace(/\/$/, '');
    const request = new HttpRequest({
      method,
      protocol: this.base.protocol,
      hostname: this.base.hostname,
      ...(this.base.port ? { port: Number(this.base.port) } : {}),
      path: `${basePath}${path}`,
      ...(query ? { query } : {}),
      headers: {
        host: this.base.host,
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload !== undefined ? { body: payload } : {}),
    });
    const signed = await this.signer.sign(request);
    // The browser sends Host itself and refuses to let a page set it.
    const { host: _host, ...headers } = signed.headers;
    const search = query ? `?${new URLSearchParams(query).toString()}` : '';
    let res: Response;
    try {
      res = await fetch(`${this.base.origin}${basePath}${path}${search}`, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
        credentials: 'omit',
        cache: 'no-store',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new ApiError('Network', `The request did not get an answer: ${(error as Error).message}`, 0);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    if (!res.ok) throw errorOf(res.status, res.headers, parsed);
    return parsed as T;
  }
}
