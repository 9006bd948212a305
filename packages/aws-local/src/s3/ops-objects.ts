import { checkReadConditions, deleteGuard, parseRange, writeGuard } from './conditions.js';
import { quoted, type Reply, type S3Deps, type S3Request } from './context.js';
import { requestedSse, requireDecrypt, sseForWrite, sseHeaders } from './encryption.js';
import { noSuchKey, S3Error } from './errors.js';
import { unlinkQuietly } from './files.js';
import { receiveBody } from './intake.js';
import { checkKey } from './keys.js';
import { effectiveHeaders, objectHeaders, storedHeadersOf } from './object-headers.js';
import { header, planPayload } from './payload.js';

/** PutObject, GetObject, HeadObject and DeleteObject. (CopyObject is in ops-copy.ts.) */

function principalId(r: S3Request): string {
  return `AWS:${r.caller.principal.name}`;
}

export async function putObject(deps: S3Deps, r: S3Request): Promise<Reply> {
  checkKey(r.key);
  const bucket = deps.storage.bucket(r.bucket);
  const guard = writeGuard(r.req.headers, r.key);
  const headers = effectiveHeaders(r);
  const stored = storedHeadersOf(headers);
  const requested = requestedSse(headers);
  const plan = planPayload(r.req.headers, r.caller.contentSha256, r.caller.chunkSigning);
  // A write bound to fail its condition is refused before the client sends the body; the
  // condition is checked again at commit, where it counts.
  guard(bucket.get(r.key));
  const sse = await sseForWrite(deps, r.caller.principal, requested, bucket.encryption, bucket.name, r.key);
  r.acceptBody();
  const body = await receiveBody(r.req, plan, deps.storage.scratchFile());
  let record: ReturnType<typeof bucket.commit>;
  try {
    record = bucket.commit(
      r.key,
      { kind: 'file', path: body.path },
      {
        size: body.size,
        etag: body.md5.toString('hex'),
        lastModified: deps.now().toISOString(),
        ...stored,
        ...(body.checksum ? { checksum: body.checksum } : {}),
        sse,
      },
      guard,
    );
  } catch (error) {
    unlinkQuietly(body.path);
    throw error;
  }
  deps.notifier.objectCreated({
    event: 'ObjectCreated:Put',
    bucket: bucket.name,
    key: record.key,
    size: record.size,
    etag: record.etag,
    principalId: principalId(r),
    sourceIp: r.req.socket.remoteAddress ?? '127.0.0.1',
    requestId: r.requestId,
    time: new Date(record.lastModified),
  });
  return {
    status: 200,
    headers: {
      ETag: quoted(record.etag),
      ...sseHeaders(record.sse),
      ...(record.checksum ? { [`x-amz-checksum-${record.checksum.algorithm}`]: record.checksum.value } : {}),
    },
  };
}

/** GetObject, and HeadObject when `head`: the same headers and conditions, no body. */
export async function getObject(deps: S3Deps, r: S3Request, head: boolean): Promise<Reply> {
  checkKey(r.key);
  const bucket = deps.storage.bucket(r.bucket);
  if (r.query.has('partNumber'))
    throw new S3Error(
      'NotImplemented',
      'GetObject and HeadObject by partNumber are not implemented by the local S3.',
    );
  const opened = await bucket.openBody(r.key);
  if (!opened) throw noSuchKey(r.key);
  const { record, handle } = opened;
  try {
    const range = parseRange(header(r.req.headers, 'range'), record.size);
    const checksumMode = header(r.req.headers, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED';
    const headers: Record<string, string | number> = objectHeaders(record, r.query, checksumMode && !range);
    try {
      checkReadConditions(r.req.headers, record);
    } catch (error) {
      if (error instanceof S3Error && error.code === 'NotModified')
        error.responseHeaders = {
          ETag: quoted(record.etag),
          'Last-Modified': String(headers['last-modified']),
        };
      throw error;
    }
    // Reading the bytes of an SSE-KMS object is decrypting its data key, as the caller.
    if (!head) await requireDecrypt(deps, r.caller.principal, record.sse, bucket.name, record.key);
    const start = range?.start ?? 0;
    const end = range?.end ?? record.size - 1;
    headers['content-length'] = Math.max(0, end - start + 1);
    if (range) headers['content-range'] = `bytes ${start}-${end}/${record.size}`;
    const status = range ? 206 : 200;
    if (head || record.size === 0) {
      await handle.close();
      return { status, headers, body: '' };
    }
    return { status, headers, body: handle.createReadStream({ start, end }) };
  } catch (error) {
    await handle.close();
    if (error instanceof S3Error && error.code === 'InvalidRange')
      error.responseHeaders = { 'Content-Range': `bytes */${record.size}` };
    throw error;
  }
}

export function deleteObject(deps: S3Deps, r: S3Request): Reply {
  checkKey(r.key);
  deps.storage.bucket(r.bucket).delete(r.key, deleteGuard(r.req.headers, r.key));
  return { status: 204 };
}
