import { createHash, createHmac, type Hash, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from './errors.js';

/**
 * Decoder of `Content-Encoding: aws-chunked` bodies, as a stream: each chunk is
 * `<hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n`, a zero-size chunk ends the data, then come
 * optional trailer lines (`x-amz-checksum-crc32:<b64>`, and `x-amz-trailer-signature:<sig>` when
 * signed) and an empty line. With `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` every chunk's
 * signature chains from the request's seed signature and is verified as the chunk ends; nothing
 * is committed by the caller until the whole body has passed.
 */

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const MAX_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;

/** What chunk signatures chain from: the request's signing key, date, scope and signature. */
export interface ChunkSigning {
  key: Buffer;
  amzDate: string;
  scope: string;
  seedSignature: string;
}

export interface AwsChunkedOptions {
  /** Present for signed streaming: chunk (and trailer) signatures are required and verified. */
  signing?: ChunkSigning | undefined;
}

type State = 'size' | 'data' | 'crlf' | 'trailer' | 'done';

const incomplete = () => new S3Error('IncompleteBody', 'The request body terminated unexpectedly');
const malformed = (what: string) =>
  new S3Error('InvalidRequest', `The aws-chunked body is malformed: ${what}.`);

export class AwsChunkedDecoder extends Transform {
  /** Trailer headers (lower-case names), complete once the stream has ended. */
  readonly trailers = new Map<string, string>();
  private state: State = 'size';
  private line = Buffer.alloc(0);
  private remaining = 0;
  private trailerBytes = 0;
  private chunkHash: Hash | undefined;
  private chunkSignature = '';
  private previousSignature: string;

  constructor(private readonly options: AwsChunkedOptions = {}) {
    super();
    this.previousSignature = options.signing?.seedSignature ?? '';
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.consume(data);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    done(this.state === 'done' ? undefined : incomplete());
  }

  private consume(data: Buffer): void {
    let at = 0;
    while (at < data.length) {
      if (this.state === 'data') {
        const take = Math.min(this.remaining, data.length - at);
        const slice = data.subarray(at, at + take);
        this.chunkHash?.update(slice);
        this.push(slice);
        this.remaining -= take;
        at += take;
        if (this.remaining === 0) this.state = 'crlf';
        continue;
      }
      if (this.state === 'done') throw malformed('bytes after the final chunk');
      const newline = data.indexOf(0x0a, at);
      const end = newline < 0 ? data.length : newline + 1;
      this.line = Buffer.concat([this.line, data.subarray(at, end)]);
      at = end;
      if (this.line.length > MAX_LINE) throw malformed('a line is too long');
      if (newline < 0) continue;
      if (this.line.length < 2 || this.line[this.line.length - 2] !== 0x0d)
        throw malformed('a line without CRLF');
      const text = this.line.subarray(0, this.line.length - 2).toString('latin1');
      this.line = Buffer.alloc(0);
      this.onLine(text);
    }
  }

  private onLine(text: string): void {
    switch (this.state) {
      case 'crlf':
        if (text !== '') throw malformed('chunk data longer than its declared size');
        this.verifyChunk();
        this.state = 'size';
        return;
      case 'size':
        this.onSizeLine(text);
        return;
      case 'trailer':
        this.onTrailerLine(text);
        return;
      default:
        throw malformed('unexpected line');
    }
  }

  private onSizeLine(text: string): void {
    const match = /^([0-9a-fA-F]{1,15})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(text);
    if (!match?.[1]) throw malformed('a bad chunk header');
    const signature = match[2];
    // Precondition: signed streaming carries a signature on every chunk; unsigned streaming on none.
    if ((this.options.signing !== undefined) !== (signature !== undefined))
      throw malformed(this.options.signing ? 'a chunk without a signature' : 'an unexpected chunk signature');
    this.chunkSignature = signature ?? '';
    this.remaining = Number.parseInt(match[1], 16);
    this.chunkHash = this.options.signing ? createHash('sha256') : undefined;
    if (this.remaining > 0) {
      this.state = 'data';
      return;
    }
    this.verifyChunk();
    this.state = 'trailer';
  }

  private onTrailerLine(text: string): void {
    this.trailerBytes += text.length + 2;
    if (this.trailerBytes > MAX_TRAILER_BYTES)
      throw new S3Error('MalformedTrailerError', 'The request trailer is too large.');
    if (text === '') {
      this.verifyTrailer();
      this.state = 'done';
      return;
    }
    const colon = text.indexOf(':');
    if (colon <= 0) throw new S3Error('MalformedTrailerError', 'The request contained a malformed trailer.');
    const name = text.slice(0, colon).trim().toLowerCase();
    if (this.trailers.has(name))
      throw new S3Error('MalformedTrailerError', `The trailer ${name} appears more than once.`);
    this.trailers.set(name, text.slice(colon + 1).trim());
  }

  private sign(stringToSign: string): string {
    return createHmac('sha256', this.options.signing?.key ?? '')
      .update(stringToSign, 'utf8')
      .digest('hex');
  }

  private check(expected: string, given: string): void {
    const a = Buffer.from(expected);
    const b = Buffer.from(given);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      throw new S3Error(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      );
    }
    this.previousSignature = expected;
  }

  private verifyChunk(): void {
    const signing = this.options.signing;
    if (!signing) return;
    const stringToSign = [
      'AWS4-HMAC-SHA256-PAYLOAD',
      signing.amzDate,
      signing.scope,
      this.previousSignature,
      EMPTY_SHA256,
      (this.chunkHash ?? createHash('sha256')).digest('hex'),
    ].join('\n');
    this.check(this.sign(stringToSign), this.chunkSignature);
  }

  private verifyTrailer(): void {
    const signing = this.options.signing;
    const given = this.trailers.get('x-amz-trailer-signature');
    this.trailers.delete('x-amz-trailer-signature');
    if (!signing) {
      if (given !== undefined)
        throw new S3Error('MalformedTrailerError', 'Unexpected x-amz-trailer-signature.');
      return;
    }
    if (this.trailers.size === 0 && given === undefined) return;
    if (given === undefined)
      throw new S3Error('MalformedTrailerError', 'The signed trailer has no x-amz-trailer-signature.');
    const canonical = [...this.trailers].map(([name, value]) => `${name}:${value}\n`).join('');
    const stringToSign = [
      'AWS4-HMAC-SHA256-TRAILER',
      signing.amzDate,
      signing.scope,
      this.previousSignature,
      createHash('sha256').update(canonical, 'utf8').digest('hex'),
    ].join('\n');
    this.check(this.sign(stringToSign), given);
  }
}
