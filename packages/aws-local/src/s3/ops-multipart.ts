import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { uriEscape } from '../sigv4.js';
import { isChecksumAlgorithm } from './checksums.js';
import { writeGuard } from './conditions.js';
import { quoted, type Reply, type S3Deps, type S3Request, xmlReply } from './context.js';
import { requestedSse, requireDecrypt, sseForWrite, sseHeaders } from './encryption.js';
import { invalidArgument, malformedXml, S3Error } from './errors.js';
import { unlinkQuietly } from './files.js';
import { receiveBody } from './intake.js';
import { checkKey } from './keys.js';
import { effectiveHeaders, storedHeadersOf } from './object-headers.js';
import { header, planPayload } from './payload.js';
import type { PartRecord, Upload } from './uploads.js';
import { childrenNamed, childText, XmlSyntaxError, xmlDocument } from './xml.js';
import { readXmlRequest } from './xml-request.js';

/**
 * Multipart uploads: create, upload part, complete, abort, list parts. Parts are received like
 * any body (streamed, verified, committed); completion checks the part list as S3 does (order,
 * ETags, 5 MiB minimum for all but the last part), streams the parts into one body, and commits
 * it as the object, whose ETag is the MD5 of the parts' binary MD5s followed by `-<count>`.
 */

export const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;

function uploadOf(deps: S3Deps, r: S3Request): Upload {
  checkKey(r.key);
  deps.storage.bucket(r.bucket);
  return deps.storage.uploads.open(r.query.get('uploadId') ?? '', r.bucket, r.key);
}

export async function createMultipartUpload(deps: S3Deps, r: S3Request): Promise<Reply> {
  checkKey(r.key);
  const bucket = deps.storage.bucket(r.bucket);
  const algorithm = header(r.req.headers, 'x-amz-checksum-algorithm')?.toLowerCase();
  if (algorithm !== undefined && !isChecksumAlgorithm(algorithm))
    throw invalidArgument(
      'Checksum algorithm provided is unsupported.',
      'x-amz-checksum-algorithm',
      algorithm,
    );
  const headers = effectiveHeaders(r);
  const stored = storedHeadersOf(headers);
  // SSE-KMS: the data key is made now (kms:GenerateDataKey); each part needs kms:Decrypt
  // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html, "Permissions").
  const sse = await sseForWrite(
    deps,
    r.caller.principal,
    requestedSse(headers),
    bucket.encryption,
    bucket.name,
    r.key,
  );
  const record = deps.storage.uploads.create({
    bucket: bucket.name,
    key: r.key,
    initiated: deps.now().toISOString(),
    initiator: r.caller.principal.arn,
    ...stored,
    ...(algorithm ? { checksumAlgorithm: algorithm } : {}),
    sse,
  });
  const reply = xmlReply(
    xmlDocument('InitiateMultipartUploadResult', {
      Bucket: bucket.name,
      Key: r.key,
      UploadId: record.uploadId,
    }),
  );
  return { ...reply, headers: { ...reply.headers, ...sseHeaders(record.sse) } };
}

export async function uploadPart(deps: S3Deps, r: S3Request): Promise<Reply> {
  const raw = r.query.get('partNumber') ?? '';
  const partNumber = Number(raw);
  if (!/^\d{1,5}$/.test(raw) || partNumber < 1 || partNumber > MAX_PARTS)
    throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', raw);
  const upload = uploadOf(deps, r);
  const plan = planPayload(r.req.headers, r.caller.contentSha256, r.caller.chunkSigning);
  await requireDecrypt(deps, r.caller.principal, upload.record.sse, r.bucket, r.key);
  r.acceptBody();
  const body = await receiveBody(r.req, plan, deps.storage.scratchFile());
  let part: PartRecord;
  try {
    part = deps.storage.uploads.commitPart(upload.record.uploadId, r.bucket, r.key, body.path, {
      partNumber,
      etag: body.md5.toString('hex'),
      size: body.size,
      lastModified: deps.now().toISOString(),
      ...(body.checksum ? { checksum: body.checksum } : {}),
    });
  } catch (error) {
    unlinkQuietly(body.path);
    throw error;
  }
  return {
    status: 200,
    headers: {
      ETag: quoted(part.etag),
      ...sseHeaders(upload.record.sse),
      ...(part.checksum ? { [`x-amz-checksum-${part.checksum.algorithm}`]: part.checksum.value } : {}),
    },
  };
}

/** The parts a CompleteMultipartUpload names, checked against the uploaded ones. */
function chosenParts(upload: Upload, requested: ReturnType<typeof childrenNamed>): PartRecord[] {
  if (requested.length === 0 || requested.length > MAX_PARTS) throw malformedXml();
  const chosen: PartRecord[] = [];
  for (const element of requested) {
    let numberText: string | undefined;
    let etagText: string | undefined;
    try {
      numberText = childText(element, 'PartNumber')?.trim();
      etagText = childText(element, 'ETag')?.trim();
    } catch (error) {
      if (error instanceof XmlSyntaxError) throw malformedXml();
      throw error;
    }
    if (!numberText || !/^\d{1,5}$/.test(numberText) || etagText === undefined) throw malformedXml();
    const partNumber = Number(numberText);
    const etag = etagText.replace(/^"(.*)"$/, '$1');
    const previous = chosen[chosen.length - 1];
    if (previous && partNumber <= previous.partNumber) {
      throw new S3Error(
        'InvalidPartOrder',
        'The list of parts was not in ascending order. Parts must be ordered by part number.',
        { UploadId: upload.record.uploadId },
      );
    }
    const part = upload.parts.get(partNumber);
    const givenChecksum = part?.checksum
      ? childText(element, `Checksum${part.checksum.algorithm.toUpperCase()}`)?.trim()
      : undefined;
    if (
      !part ||
      part.etag !== etag ||
      (givenChecksum !== undefined && givenChecksum !== part.checksum?.value)
    ) {
      throw new S3Error(
        'InvalidPart',
        "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.",
        { UploadId: upload.record.uploadId, PartNumber: String(partNumber), ETag: etagText },
      );
    }
    chosen.push(part);
  }
  chosen.forEach((part, i) => {
    if (i < chosen.length - 1 && part.size < MIN_PART_BYTES) {
      throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', {
        ProposedSize: String(part.size),
        MinSizeAllowed: String(MIN_PART_BYTES),
        PartNumber: String(part.partNumber),
        ETag: quoted(part.etag),
      });
    }
  });
  return chosen;
}

/**
 * Reads and writes of the assembly in 1 MiB chunks, not the streams' 64 KiB: 16 times fewer
 * system calls. A small gain beside the copy itself (1 GiB read, written and fsynced): 1 GiB in
 * 128 parts of 8 MiB took 4.6 s against 2.9 s in a bare copy, 4.4-7.3 s against 4.0-4.5 s through
 * CompleteMultipartUpload, on a shared, loaded machine.
 */
const ASSEMBLY_CHUNK = 1024 * 1024;

/** Streams the parts, in order, into one scratch file, fsynced. */
async function assemble(deps: S3Deps, upload: Upload, parts: readonly PartRecord[]): Promise<string> {
  const path = deps.storage.scratchFile();
  try {
    const out = createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: ASSEMBLY_CHUNK });
    await pipeline(async function* concatenated() {
      for (const part of parts)
        yield* createReadStream(deps.storage.uploads.partPath(upload, part), {
          highWaterMark: ASSEMBLY_CHUNK,
        });
    }, out);
    const handle = await open(path, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    return path;
  } catch (error) {
    unlinkQuietly(path);
    throw error;
  }
}

export async function completeMultipartUpload(deps: S3Deps, r: S3Request): Promise<Reply> {
  uploadOf(deps, r);
  const bucket = deps.storage.bucket(r.bucket);
  const guard = writeGuard(r.req.headers, r.key);
  const document = await readXmlRequest(deps, r, 'CompleteMultipartUpload');
  // Precondition: the upload is still there after the body arrived, and not already being
  // completed; from here on, its parts cannot change or go while they are assembled.
  const upload = uploadOf(deps, r);
  const parts = chosenParts(upload, childrenNamed(document, 'Part'));
  guard(bucket.get(r.key));
  upload.completing = true;
  let record: ReturnType<typeof bucket.commit>;
  try {
    const path = await assemble(deps, upload, parts);
    const etag = `${createHash('md5')
      .update(Buffer.concat(parts.map((p) => Buffer.from(p.etag, 'hex'))))
      .digest('hex')}-${parts.length}`;
    const { contentType, headers, metadata, sse } = upload.record;
    try {
      record = bucket.commit(
        r.key,
        { kind: 'file', path },
        {
          size: parts.reduce((n, p) => n + p.size, 0),
          etag,
          lastModified: deps.now().toISOString(),
          contentType,
          headers,
          metadata,
          ...(sse ? { sse } : {}),
        },
        guard,
      );
    } catch (error) {
      unlinkQuietly(path);
      throw error;
    }
  } catch (error) {
    upload.completing = false;
    throw error;
  }
  deps.storage.uploads.remove(upload);
  deps.notifier.objectCreated({
    event: 'ObjectCreated:CompleteMultipartUpload',
    bucket: bucket.name,
    key: record.key,
    size: record.size,
    etag: record.etag,
    principalId: `AWS:${r.caller.principal.name}`,
    sourceIp: r.req.socket.remoteAddress ?? '127.0.0.1',
    requestId: r.requestId,
    time: new Date(record.lastModified),
  });
  const host = header(r.req.headers, 'host') ?? '127.0.0.1';
  const reply = xmlReply(
    xmlDocument('CompleteMultipartUploadResult', {
      Location: `http://${host}/${bucket.name}/${r.key.split('/').map(uriEscape).join('/')}`,
      Bucket: bucket.name,
      Key: r.key,
      ETag: quoted(record.etag),
    }),
  );
  return { ...reply, headers: { ...reply.headers, ...sseHeaders(record.sse) } };
}

export function abortMultipartUpload(deps: S3Deps, r: S3Request): Reply {
  deps.storage.uploads.remove(uploadOf(deps, r));
  return { status: 204 };
}

export function listParts(deps: S3Deps, r: S3Request): Reply {
  const upload = uploadOf(deps, r);
  const maxRaw = r.query.get('max-parts') ?? '1000';
  const markerRaw = r.query.get('part-number-marker') ?? '0';
  if (!/^\d{1,9}$/.test(maxRaw))
    throw invalidArgument('max-parts must be a whole number', 'max-parts', maxRaw);
  if (!/^\d{1,9}$/.test(markerRaw))
    throw invalidArgument('part-number-marker must be a whole number', 'part-number-marker', markerRaw);
  const maxParts = Math.min(Number(maxRaw), 1000);
  const marker = Number(markerRaw);
  const after = [...upload.parts.values()]
    .filter((p) => p.partNumber > marker)
    .sort((a, b) => a.partNumber - b.partNumber);
  const page = after.slice(0, maxParts);
  const truncated = after.length > page.length;
  return xmlReply(
    xmlDocument('ListPartsResult', {
      Bucket: upload.record.bucket,
      Key: upload.record.key,
      UploadId: upload.record.uploadId,
      Initiator: { ID: upload.record.initiator, DisplayName: upload.record.initiator.split('/').pop() ?? '' },
      Owner: deps.owner,
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: page[page.length - 1]?.partNumber ?? marker,
      MaxParts: maxParts,
      IsTruncated: truncated,
      ...(upload.record.checksumAlgorithm
        ? { ChecksumAlgorithm: upload.record.checksumAlgorithm.toUpperCase() }
        : {}),
      Part: page.map((p) => ({
        PartNumber: p.partNumber,
        LastModified: p.lastModified,
        ETag: quoted(p.etag),
        Size: p.size,
        ...(p.checksum ? { [`Checksum${p.checksum.algorithm.toUpperCase()}`]: p.checksum.value } : {}),
      })),
    }),
  );
}
