import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { DocumentsApi } from './documents-api.js';
import { InvalidRequestError, ok } from './errors.js';
import { JobsApi } from './jobs-api.js';
import { checkImportParameters, type WrappingAlgorithm, wrapKeyMaterial } from './key-import.js';
import { KeysApi } from './keys-api.js';
import type {
  BytesResponse,
  ClientOptions,
  Context,
  EncryptionAlgorithm,
  Format,
  ItemResult,
  JobView,
  KeyView,
  MessageType,
  RawResponse,
  StreamResponse,
} from './types.js';

/**
 * A typed client of the eaas API for internal services: SigV4-signed (service `execute-api`) with
 * the standard AWS credential chain unless credentials are given.
 */

const b64 = (v: Uint8Array | string) => Buffer.from(v).toString('base64');
const bytes = (v: string) => Buffer.from(v, 'base64');
const keyPath = (keyId: string, rest = '') => `/v1/keys/${encodeURIComponent(keyId)}${rest}`;

export class EaasClient {
  private readonly signer: SignatureV4;
  private readonly url: URL;
  private readonly timeoutMs: number;
  /** Keys, their policies, rotation, grants, aliases and imported material. */
  readonly keys: KeysApi = new KeysApi(this);
  /** Documents: store, read, list, delete, and uploads of any size. */
  readonly documents: DocumentsApi = new DocumentsApi(this);
  /** Re-encryption jobs: start, list, read. */
  readonly jobs: JobsApi = new JobsApi(this);

  constructor(options: ClientOptions) {
    this.url = new URL(options.endpoint);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.signer = new SignatureV4({
      service: 'execute-api',
      region: options.region ?? 'us-east-1',
      credentials: options.credentials ?? fromNodeProviderChain(),
      sha256: Hash.bind(null, 'sha256'),
    });
  }

  /**
   * Sends a signed request and returns the status and parsed JSON body, whatever the status.
   * `body` is a value to encode as JSON; a string is refused (TypeError), since a JSON text passed
   * here would be encoded a second time: parse it first, or send bytes with `rawBytes`.
   */
  async raw(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string>,
  ): Promise<RawResponse> {
    if (typeof body === 'string')
      throw new InvalidRequestError(
        'raw() encodes body as JSON: pass an object, not a string (JSON.parse it, or send bytes with rawBytes()).',
      );
    if (ArrayBuffer.isView(body) || body instanceof ArrayBuffer)
      throw new InvalidRequestError('raw() encodes body as JSON: send bytes with rawBytes().');
    const { bytes: _bytes, ...rest } = await this.send(
      method,
      path,
      body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
      query,
      'application/json',
    );
    return rest;
  }

  /** Sends raw bytes (a document) and returns the answer's bytes, and its JSON when it is JSON. */
  rawBytes(
    method: string,
    path: string,
    body?: Uint8Array,
    query?: Record<string, string>,
    contentType = 'application/octet-stream',
  ): Promise<BytesResponse> {
    return this.send(method, path, body, query, contentType);
  }

  /**
   * Sends a signed request (no body) and streams the answer's body when it is a 2xx; any other
   * answer is read whole and parsed as `raw` does. The timeout bounds the wait for the answer's
   * headers only, since a streamed body may take minutes. A transfer the server ends short (a
   * streamed document whose last check failed) fails the stream.
   */
  async rawStream(method: string, path: string, query?: Record<string, string>): Promise<StreamResponse> {
    const { url, headers } = await this.signed(method, path, query, undefined, '');
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new Error('timed out waiting for the answer')),
      this.timeoutMs,
    );
    let res: Response;
    try {
      res = await fetch(url, { method, headers, signal: abort.signal });
    } finally {
      clearTimeout(timer);
    }
    if (res.status >= 200 && res.status < 300 && res.body)
      return {
        status: res.status,
        headers: res.headers,
        body: undefined,
        stream: Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      };
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, headers: res.headers, body: parsed, stream: undefined };
  }

  private async send(
    method: string,
    path: string,
    payload: Uint8Array | undefined,
    query: Record<string, string> | undefined,
    contentType: string,
  ): Promise<BytesResponse> {
    const { url, headers } = await this.signed(method, path, query, payload, contentType);
    const res = await fetch(url, {
      method,
      headers,
      ...(payload !== undefined ? { body: payload } : {}),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const text = Buffer.from(bytes).toString('utf8');
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, headers: res.headers, body: parsed, bytes };
  }

  /**
   * A request signed with SigV4 for the API: the URL it goes to (checked by `urlOf`) and the
   * headers to send, the host aside (fetch sets it from the URL).
   */
  private async signed(
    method: string,
    path: string,
    query: Record<string, string> | undefined,
    payload: Uint8Array | undefined,
    contentType: string,
  ): Promise<{ url: URL; headers: Record<string, string> }> {
    const basePath = this.url.pathname.replace(/\/$/, '');
    const url = this.urlOf(basePath, path, query);
    const request = new HttpRequest({
      method,
      protocol: this.url.protocol,
      hostname: this.url.hostname,
      ...(this.url.port ? { port: Number(this.url.port) } : {}),
      path: `${basePath}${path}`,
      ...(query ? { query } : {}),
      headers: {
        host: this.url.host,
        ...(payload !== undefined ? { 'content-type': contentType } : {}),
      },
      ...(payload !== undefined ? { body: payload } : {}),
    });
    const { host: _host, ...headers } = (await this.signer.sign(request)).headers;
    return { url, headers };
  }

  /**
   * The URL a request goes to: the endpoint's origin and base path, then `path`, which must be an
   * absolute path of the API (a leading `/`; no `?`, `#`, backslash, or `.`/`..` segment, written
   * plainly or percent-encoded, which URL parsing would remove, so that the path sent would not be
   * the path signed). Whatever the path, the request never leaves the endpoint's origin.
   */
  private urlOf(basePath: string, path: string, query: Record<string, string> | undefined): URL {
    const refuse = (why: string) => {
      throw new InvalidRequestError(`Not a path of the API (${why}): ${JSON.stringify(path)}.`);
    };
    if (!path.startsWith('/')) refuse('it must start with /');
    if (/[?#\\]/.test(path)) refuse('no ?, # or \\ in it; give the query separately');
    for (const segment of path.split('/').slice(1)) {
      let decoded = segment;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        refuse('a malformed percent-encoding');
      }
      if (decoded === '.' || decoded === '..') refuse('no . or .. segment');
    }
    const search = query ? `?${new URLSearchParams(query).toString()}` : '';
    const url = new URL(`${this.url.origin}${basePath}${path}${search}`);
    if (url.origin !== this.url.origin) refuse("it leaves the endpoint's origin");
    return url;
  }

  /** Sends a signed JSON request and returns the answer's body typed; an error answer is thrown as EaasError. */
  async request<T>(method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<T> {
    return ok<T>(await this.raw(method, path, body, query));
  }

  private call<T>(method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<T> {
    return this.request<T>(method, path, body, query);
  }

  /**
   * Encrypts under a key. An RSA key for ENCRYPT_DECRYPT needs `encryptionAlgorithm`
   * (RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1), no context, and a plaintext within the algorithm's
   * limit (190 bytes for RSA_2048 with SHA-256).
   */
  async encrypt(input: {
    keyId: string;
    plaintext: Uint8Array | string;
    context?: Context;
    encryptionAlgorithm?: EncryptionAlgorithm;
  }) {
    const out = await this.call<{
      ciphertext: string;
      keyId: string;
      format: Format;
      encryptionAlgorithm: EncryptionAlgorithm;
    }>('POST', '/v1/encrypt', {
      keyId: input.keyId,
      plaintext: b64(input.plaintext),
      ...(input.context ? { context: input.context } : {}),
      ...(input.encryptionAlgorithm ? { encryptionAlgorithm: input.encryptionAlgorithm } : {}),
    });
    return {
      ciphertext: Buffer.from(out.ciphertext, 'base64'),
      keyId: out.keyId,
      format: out.format,
      encryptionAlgorithm: out.encryptionAlgorithm,
    };
  }

  /** Decrypts; an RSA ciphertext (made here or with the public key anywhere) needs `keyId` and its `encryptionAlgorithm`. */
  async decrypt(input: {
    ciphertext: Uint8Array;
    context?: Context;
    keyId?: string;
    encryptionAlgorithm?: EncryptionAlgorithm;
  }) {
    const out = await this.call<{
      plaintext: string;
      keyId: string;
      format: Format;
      encryptionAlgorithm: EncryptionAlgorithm;
    }>('POST', '/v1/decrypt', {
      ciphertext: b64(input.ciphertext),
      ...(input.context ? { context: input.context } : {}),
      ...(input.keyId ? { keyId: input.keyId } : {}),
      ...(input.encryptionAlgorithm ? { encryptionAlgorithm: input.encryptionAlgorithm } : {}),
    });
    return {
      plaintext: Buffer.from(out.plaintext, 'base64'),
      keyId: out.keyId,
      format: out.format,
      encryptionAlgorithm: out.encryptionAlgorithm,
    };
  }

  async reEncrypt(input: {
    ciphertext: Uint8Array;
    destinationKeyId: string;
    context?: Context;
    destinationContext?: Context;
    sourceKeyId?: string;
    sourceEncryptionAlgorithm?: EncryptionAlgorithm;
    destinationEncryptionAlgorithm?: EncryptionAlgorithm;
  }) {
    const out = await this.call<{
      ciphertext: string;
      keyId: string;
      sourceKeyId: string;
      format: Format;
      sourceEncryptionAlgorithm: EncryptionAlgorithm;
      destinationEncryptionAlgorithm: EncryptionAlgorithm;
    }>('POST', '/v1/re-encrypt', {
      ...input,
      ciphertext: b64(input.ciphertext),
    });
    return { ...out, ciphertext: Buffer.from(out.ciphertext, 'base64') };
  }

  async generateDataKey(input: {
    keyId: string;
    keySpec?: 'AES_256' | 'AES_128';
    numberOfBytes?: number;
    context?: Context;
    includePlaintext?: boolean;
  }) {
    const out = await this.call<{ ciphertext: string; plaintext?: string; keyId: string }>(
      'POST',
      '/v1/data-keys',
      input,
    );
    return {
      ciphertext: Buffer.from(out.ciphertext, 'base64'),
      ...(out.plaintext !== undefined ? { plaintext: Buffer.from(out.plaintext, 'base64') } : {}),
      keyId: out.keyId,
    };
  }

  /** Encrypts many payloads in one request; each item succeeds or fails on its own. */
  async encryptBatch(
    items: {
      keyId: string;
      plaintext: Uint8Array | string;
      context?: Context;
      encryptionAlgorithm?: EncryptionAlgorithm;
    }[],
  ) {
    const out = await this.call<{
      items: ItemResult<{
        ciphertext: string;
        keyId: string;
        format: Format;
        encryptionAlgorithm: EncryptionAlgorithm;
      }>[];
    }>('POST', '/v1/encrypt', {
      items: items.map((i) => ({
        keyId: i.keyId,
        plaintext: b64(i.plaintext),
        ...(i.context ? { context: i.context } : {}),
        ...(i.encryptionAlgorithm ? { encryptionAlgorithm: i.encryptionAlgorithm } : {}),
      })),
    });
    return out.items;
  }

  /**
   * Creates a key; the caller administers it. `keySpec`, `keyUsage` and `origin` choose its kind:
   * origin EXTERNAL makes a key without material (PendingImport), to import with `importKey`.
   */
  createKey(input: {
    description?: string;
    administrators?: string[];
    users?: string[];
    tags?: Record<string, string>;
    alias?: string;
    rotation?: { enabled: boolean; periodInDays?: number };
    keySpec?: string;
    keyUsage?: 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY' | 'GENERATE_VERIFY_MAC';
    origin?: 'AWS_KMS' | 'EXTERNAL';
  }) {
    return this.call<{ key: KeyView; administrators: string[]; users: string[]; alias?: string }>(
      'POST',
      '/v1/keys',
      input,
    );
  }

  /** A wrapping public key (DER base64 and PEM) and import token for an EXTERNAL key, valid 24 hours. */
  importParameters(
    keyId: string,
    options: { wrappingKeySpec?: string; wrappingAlgorithm?: WrappingAlgorithm } = {},
  ) {
    return this.call<{
      keyId: string;
      wrappingKeySpec: string;
      wrappingAlgorithm: WrappingAlgorithm;
      publicKey: string;
      publicKeyPem: string;
      importToken: string;
      parametersValidTo?: string;
    }>(
      'GET',
      keyPath(keyId, '/import-parameters'),
      undefined,
      // Only the options given: an undefined one is left out, never sent as "undefined".
      Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Record<
        string,
        string
      >,
    );
  }

  /** Imports material already wrapped with `importParameters`' key and algorithm. */
  importKeyMaterial(
    keyId: string,
    input: {
      importToken: string;
      encryptedKeyMaterial: Uint8Array;
      expirationModel?: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';
      validTo?: Date;
    },
  ) {
    return this.call<{ key: KeyView }>('PUT', keyPath(keyId, '/material'), {
      importToken: input.importToken,
      encryptedKeyMaterial: b64(input.encryptedKeyMaterial),
      ...(input.expirationModel ? { expirationModel: input.expirationModel } : {}),
      ...(input.validTo ? { validTo: input.validTo.toISOString() } : {}),
    });
  }

  /**
   * Brings key material: gets import parameters, wraps `material` with them in this process
   * (`wrapKeyMaterial`), imports it. The material never leaves this process unwrapped.
   *
   * The server's answer is not trusted blindly: a wrapping algorithm other than the one asked for
   * (by default, any SHA-1 one: ask for it explicitly), a wrapping key spec other than the one
   * asked for, or a wrapping key that is not RSA of 2,048 bits or more is refused before the
   * material is wrapped. `material` stays the caller's: this call neither copies nor zeroes it;
   * zero it (`material.fill(0)`) once it is imported and kept wherever the caller keeps it.
   */
  async importKey(
    keyId: string,
    material: Uint8Array,
    options: { wrappingAlgorithm?: WrappingAlgorithm; wrappingKeySpec?: string; validTo?: Date } = {},
  ) {
    const params = await this.importParameters(keyId, {
      ...(options.wrappingKeySpec ? { wrappingKeySpec: options.wrappingKeySpec } : {}),
      ...(options.wrappingAlgorithm ? { wrappingAlgorithm: options.wrappingAlgorithm } : {}),
    });
    const offered = checkImportParameters(params, options);
    const encryptedKeyMaterial = wrapKeyMaterial(material, offered, params.wrappingAlgorithm);
    // The key the token was made for (its ARN), not the alias, which may point elsewhere by now.
    return this.importKeyMaterial(params.keyId, {
      importToken: params.importToken,
      encryptedKeyMaterial,
      ...(options.validTo ? { validTo: options.validTo } : {}),
    });
  }

  /** Deletes the imported material: the key is PendingImport until the same material is imported again. */
  deleteKeyMaterial(keyId: string) {
    return this.call<{ key: KeyView }>('DELETE', keyPath(keyId, '/material'));
  }

  /**
   * Signs a message (over 4 KiB: the service signs its digest, and says `messageType: 'DIGEST'`,
   * `digestedBy: 'service'`; a digest the caller sent is `digestedBy: 'caller'`).
   */
  async sign(input: {
    keyId: string;
    message: Uint8Array | string;
    messageType?: MessageType;
    algorithm?: string;
  }) {
    const out = await this.call<{
      signature: string;
      keyId: string;
      algorithm: string;
      messageType: MessageType;
      digestedBy?: 'service' | 'caller';
    }>('POST', '/v1/sign', { ...input, message: b64(input.message) });
    return { ...out, signature: bytes(out.signature) };
  }

  /** Whether `signature` is of the message under the key: `valid: false` is an answer, not an error. */
  verify(input: {
    keyId: string;
    message: Uint8Array | string;
    signature: Uint8Array;
    messageType?: MessageType;
    algorithm?: string;
  }) {
    return this.call<{
      valid: boolean;
      keyId: string;
      algorithm: string;
      messageType: MessageType;
      digestedBy?: 'service' | 'caller';
    }>('POST', '/v1/verify', { ...input, message: b64(input.message), signature: b64(input.signature) });
  }

  /** The public key of an asymmetric key: DER (bytes) and PEM, with its usage and algorithms. */
  async publicKey(keyId: string) {
    const out = await this.call<{
      keyId: string;
      publicKey: string;
      publicKeyPem: string;
      keySpec: string;
      keyUsage: string;
      signingAlgorithms?: string[];
      encryptionAlgorithms?: string[];
    }>('GET', keyPath(keyId, '/public-key'));
    return { ...out, publicKey: bytes(out.publicKey) };
  }

  /** The HMAC of a message of up to 4,096 bytes. */
  async generateMac(input: { keyId: string; message: Uint8Array | string; algorithm?: string }) {
    const out = await this.call<{ mac: string; keyId: string; algorithm: string }>('POST', '/v1/mac', {
      ...input,
      message: b64(input.message),
    });
    return { ...out, mac: bytes(out.mac) };
  }

  /** Whether `mac` is the message's HMAC under the key (compared by KMS): `valid: false` is an answer. */
  verifyMac(input: { keyId: string; message: Uint8Array | string; mac: Uint8Array; algorithm?: string }) {
    return this.call<{ valid: boolean; keyId: string; algorithm: string }>('POST', '/v1/verify-mac', {
      ...input,
      message: b64(input.message),
      mac: b64(input.mac),
    });
  }

  whoami(keyId?: string) {
    return this.call<{
      principal: string;
      callerArn: string;
      accountId: string;
      key?: { keyId: string; arn: string; state: string };
    }>('GET', '/v1/whoami', undefined, keyId ? { keyId } : undefined);
  }

  /** Starts (or dry-runs) a re-encryption job; the caller administers the destination key (and the source). */
  startReEncryptJob(input: {
    sourceKeyId?: string;
    olderThanRotation?: true;
    destinationKeyId: string;
    prefix?: string;
    dryRun?: boolean;
    concurrency?: number;
  }) {
    return this.call<JobView>('POST', '/v1/jobs/re-encrypt', input);
  }

  /** A re-encryption job's state, phase and times and, once finished, its report (no counts: see JobView). */
  getJob(id: string) {
    return this.call<JobView>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }
}
