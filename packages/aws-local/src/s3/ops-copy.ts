import { createHash } from 'node:crypto';
import { BodyGoneError } from './bucket.js';
import { checkCopySourceConditions, writeGuard } from './conditions.js';
import { quoted, type Reply, type S3Deps, type S3Request, xmlReply } from './context.js';
import { requestedSse, requireDecrypt, sseForWrite, sseHeaders } from './encryption.js';
import { invalidArgument, noSuchKey, S3Error } from './errors.js';
import { checkKey, decodePathPart } from './keys.js';
import { effectiveHeaders, storedHeadersOf } from './object-headers.js';
import type { ObjectFields } from './object-record.js';
import { header, MAX_PUT_BYTES } from './payload.js';
import { xmlDocument } from './xml.js';

/**
 * CopyObject: a server-side copy, in place or from another key. The body is never rewritten:
 * bodies are immutable files, so the copy hard-links the source's (or, in place, keeps it).
 * `x-amz-copy-source-if-*` conditions hold against the version being copied, and the
 * destination's own `If-Match` / `If-None-Match` at commit, so a re-wrap conditioned on an ETag
 * cannot overwrite a newer version.
 */

const ATTEMPTS = 3;

/** `x-amz-copy-source`: `[/]bucket/key[?versionId=null]`, URL-encoded. */
export function copySourceOf(r: Pick<S3Request, 'req'>): { bucket: string; key: string } {
  const raw = header(r.req.headers, 'x-amz-copy-source') ?? '';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const versionId = params.get('versionId');
  if (versionId !== null && versionId !== 'null')
    throw invalidArgument('Invalid version id specified', 'x-amz-copy-source', raw);
  const decoded = decodePathPart(path.startsWith('/') ? path.slice(1) : path);
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1)
    throw invalidArgument(
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      'x-amz-copy-source',
      raw,
    );
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

function directiveOf(r: S3Request): 'COPY' | 'REPLACE' {
  const directive = header(r.req.headers, 'x-amz-metadata-directive') ?? 'COPY';
  if (directive !== 'COPY' && directive !== 'REPLACE')
    throw invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
  return directive;
}

export async function copyObject(deps: S3Deps, r: S3Request): Promise<Reply> {
  checkKey(r.key);
  const target = deps.storage.bucket(r.bucket);
  const source = copySourceOf(r);
  checkKey(source.key);
  const from = deps.storage.bucket(source.bucket);
  const directive = directiveOf(r);
  const headers = effectiveHeaders(r);
  const requested = requestedSse(headers);
  const inPlace = from === target && source.key === r.key;
  // Precondition: copying an object onto itself must change something (its metadata or encryption).
  if (inPlace && directive === 'COPY' && requested === undefined) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const replaced = directive === 'REPLACE' ? storedHeadersOf(headers) : undefined;
  const guard = writeGuard(r.req.headers, r.key);
  // The copy is encrypted as the request says, else as the target bucket's default, never as
  // its source (https://docs.aws.amazon.com/AmazonS3/latest/userguide/specifying-kms-encryption.html).
  const sse = await sseForWrite(deps, r.caller.principal, requested, target.encryption, target.name, r.key);
  for (let attempt = 1; ; attempt++) {
    const opened = await from.openBody(source.key);
    if (!opened) throw noSuchKey(source.key);
    const { record: src, handle } = opened;
    let fields: ObjectFields;
    try {
      checkCopySourceConditions(r.req.headers, src);
      await requireDecrypt(deps, r.caller.principal, src.sse, from.name, src.key);
      if (src.size > MAX_PUT_BYTES) {
        throw new S3Error(
          'InvalidRequest',
          `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_PUT_BYTES}`,
        );
      }
      // A copy is one PUT: a multipart source's copy gets the plain MD5 of its bytes as ETag.
      let etag = src.etag;
      if (etag.includes('-')) {
        const md5 = createHash('md5');
        for await (const chunk of handle.createReadStream({ autoClose: false })) md5.update(chunk as Buffer);
        etag = md5.digest('hex');
      }
      fields = {
        size: src.size,
        etag,
        lastModified: deps.now().toISOString(),
        ...(replaced ?? { contentType: src.contentType, headers: src.headers, metadata: src.metadata }),
        ...(src.checksum ? { checksum: src.checksum } : {}),
        sse,
      };
    } finally {
      await handle.close();
    }
    try {
      const record = target.commit(r.key, { kind: 'object', bucket: from, record: src }, fields, guard);
      deps.notifier.objectCreated({
        event: 'ObjectCreated:Copy',
        bucket: target.name,
        key: record.key,
        size: record.size,
        etag: record.etag,
        principalId: `AWS:${r.caller.principal.name}`,
        sourceIp: r.req.socket.remoteAddress ?? '127.0.0.1',
        requestId: r.requestId,
        time: new Date(record.lastModified),
      });
      const checksum = record.checksum
        ? { [`Checksum${record.checksum.algorithm.toUpperCase()}`]: record.checksum.value }
        : {};
      const reply = xmlReply(
        xmlDocument('CopyObjectResult', {
          LastModified: record.lastModified,
          ETag: quoted(record.etag),
          ...checksum,
        }),
      );
      return { ...reply, headers: { ...reply.headers, ...sseHeaders(record.sse) } };
    } catch (error) {
      // The source changed between the read and the commit: copy the newer version instead.
      if (!(error instanceof BodyGoneError) || attempt >= ATTEMPTS) throw error;
    }
  }
}
