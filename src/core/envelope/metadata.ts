import { COMMITMENT_BYTES, MESSAGE_ID_BYTES } from './kdf.js';

/**
 * The S3 Encryption Client's content metadata, V2 and V3, as the AWS Encryption SDK
 * specification defines it (`s3-encryption/data-format/content-metadata.md` and
 * `metadata-strategy.md`). Mapkeys are written without the `x-amz-meta-` prefix, which the S3
 * client adds. Only KMS wrapping with encryption context (`kms+context`, V3 code `12`) and the
 * GCM suites are read or written; legacy CBC and KMS-v1 wrapping are refused.
 */

export type EnvelopeVersion = 'v2' | 'v3';

export interface EnvelopeHeader {
  version: EnvelopeVersion;
  /** The KMS CiphertextBlob of the object's data key. */
  wrappedKey: Buffer;
  /** The whole KMS encryption context, the reserved `aws:x-amz-cek-alg` included. */
  kmsContext: Record<string, string>;
  /** V2: the 12-byte GCM IV. */
  iv?: Buffer | undefined;
  /** V3: the 28-byte message id (HKDF salt). */
  messageId?: Buffer | undefined;
  /** V3: the 28-byte key commitment. */
  commitment?: Buffer | undefined;
  /** V2: `x-amz-unencrypted-content-length`, when the writer gave it. */
  plaintextLength?: number | undefined;
}

/** A stored object whose content metadata is missing, malformed or of a kind not supported. */
export class EnvelopeFormatError extends Error {
  override readonly name = 'EnvelopeFormatError';
}

export const INSTRUCTION_SUFFIX = '.instruction';
export const CEK_CONTEXT_KEY = 'aws:x-amz-cek-alg';
/** The legacy KMS-v1 wrapping's context key. */
const KMS_CMK_ID = 'kms_cmk_id';
/**
 * The two context keys the S3 Encryption Client reserves (`s3-encryption/materials/s3-kms-keyring.md`,
 * Kms+Context: "the stored encryption context with the two reserved keys removed MUST match the
 * provided encryption context"): a caller may never give either, since an AWS client ignores them
 * when it compares contexts.
 */
export const S3EC_RESERVED_CONTEXT_KEYS: readonly string[] = [CEK_CONTEXT_KEY, KMS_CMK_ID];
export const CEK_ALG_V2 = 'AES/GCM/NoPadding';
export const CEK_ALG_V3 = '115';
const WRAP_V2 = 'kms+context';
const WRAP_V3 = '12';
export const V2_IV_BYTES = 12;

const V2_KEYS = ['x-amz-key-v2', 'x-amz-iv', 'x-amz-cek-alg', 'x-amz-wrap-alg', 'x-amz-matdesc'];
const V3_OBJECT_KEYS = ['x-amz-c', 'x-amz-d', 'x-amz-i'];
const V3_INSTRUCTION_KEYS = ['x-amz-3', 'x-amz-w', 'x-amz-t', 'x-amz-m'];
/** Keys that only one format version uses: two versions' keys on one object is tampering. */
const EXCLUSIVE: Record<string, EnvelopeVersion | 'v1'> = {
  'x-amz-key': 'v1',
  'x-amz-key-v2': 'v2',
  'x-amz-iv': 'v2',
  'x-amz-cek-alg': 'v2',
  'x-amz-wrap-alg': 'v2',
  'x-amz-matdesc': 'v2',
  'x-amz-c': 'v3',
  'x-amz-3': 'v3',
  'x-amz-d': 'v3',
  'x-amz-i': 'v3',
  'x-amz-w': 'v3',
  'x-amz-t': 'v3',
};

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function base64(name: string, value: string | undefined, length?: number): Buffer {
  if (value === undefined) throw new EnvelopeFormatError(`The content metadata has no ${name}.`);
  if (value.length === 0 || value.length > 16_384 || !BASE64.test(value))
    throw new EnvelopeFormatError(`${name} is not base64.`);
  const bytes = Buffer.from(value, 'base64');
  if (length !== undefined && bytes.length !== length)
    throw new EnvelopeFormatError(`${name} is ${bytes.length} bytes, not ${length}.`);
  return bytes;
}

function exactly(name: string, value: string | undefined, expected: string): void {
  if (value === undefined) throw new EnvelopeFormatError(`The content metadata has no ${name}.`);
  if (value !== expected)
    throw new EnvelopeFormatError(
      `${name} is ${JSON.stringify(value.slice(0, 64))}; only ${expected} is supported.`,
    );
}

function contextJson(name: string, value: string | undefined, cekAlg: string): Record<string, string> {
  if (value === undefined) throw new EnvelopeFormatError(`The content metadata has no ${name}.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new EnvelopeFormatError(`${name} is not valid JSON.`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new EnvelopeFormatError(`${name} is not a JSON object.`);
  const context: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') throw new EnvelopeFormatError(`${name} has a value that is not a string.`);
    context[k] = v;
  }
  // The content algorithm is bound into the KMS context: a mismatch means the metadata was altered.
  if (context[CEK_CONTEXT_KEY] !== cekAlg)
    throw new EnvelopeFormatError(`${name} does not bind the content algorithm ${cekAlg}.`);
  return context;
}

function lowerCased(map: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(map)) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

function versionsIn(map: Record<string, string>): Set<string> {
  return new Set(
    Object.keys(map).flatMap((k) => (Object.hasOwn(EXCLUSIVE, k) ? [EXCLUSIVE[k] as string] : [])),
  );
}

/**
 * Where the header is: `metadata` when the object metadata holds a whole V2 or V3 header,
 * `instruction` when it must be read with `<key>.instruction`, `none` when the object carries
 * no S3EC metadata at all.
 */
export function headerLocation(
  metadata: Readonly<Record<string, string | undefined>>,
): 'metadata' | 'instruction' | 'none' {
  const m = lowerCased(metadata);
  if ('x-amz-key-v2' in m || 'x-amz-3' in m) return 'metadata';
  if ('x-amz-c' in m || 'x-amz-d' in m || 'x-amz-i' in m) return 'instruction';
  if ('x-amz-key' in m) return 'metadata';
  return 'none';
}

/**
 * Reads the header of a stored object from its metadata and, when the metadata says so, from its
 * instruction file (its whole body, as text). Refuses anything not exactly as specified.
 */
export function decodeHeader(
  metadata: Readonly<Record<string, string | undefined>>,
  instructionFile?: string,
): EnvelopeHeader {
  const object = lowerCased(metadata);
  let fields = object;
  if (headerLocation(object) === 'instruction' || (headerLocation(object) === 'none' && instructionFile)) {
    if (instructionFile === undefined)
      throw new EnvelopeFormatError('The object needs its instruction file.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(instructionFile);
    } catch {
      throw new EnvelopeFormatError('The instruction file is not valid JSON.');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new EnvelopeFormatError('The instruction file is not a JSON object.');
    const instruction = lowerCased(
      Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, typeof v === 'string' ? v : String(v)])),
    );
    // V3 keeps x-amz-c, x-amz-d and x-amz-i in the object metadata only.
    if (V3_OBJECT_KEYS.some((k) => k in instruction))
      throw new EnvelopeFormatError('The instruction file holds keys that belong in the object metadata.');
    for (const k of Object.keys(instruction))
      if (k in object && Object.hasOwn(EXCLUSIVE, k))
        throw new EnvelopeFormatError(`${k} is both in the object metadata and in the instruction file.`);
    fields = { ...object, ...instruction };
  }
  const versions = versionsIn(fields);
  if (versions.has('v1')) throw new EnvelopeFormatError('S3 Encryption Client V1 objects are not supported.');
  if (versions.size !== 1)
    throw new EnvelopeFormatError(
      versions.size === 0
        ? 'The object is not encrypted by an S3 Encryption Client.'
        : 'The content metadata mixes format versions.',
    );
  if (versions.has('v2')) {
    for (const k of V2_KEYS)
      if (!(k in fields)) throw new EnvelopeFormatError(`The content metadata has no ${k}.`);
    exactly('x-amz-cek-alg', fields['x-amz-cek-alg'], CEK_ALG_V2);
    exactly('x-amz-wrap-alg', fields['x-amz-wrap-alg'], WRAP_V2);
    if (fields['x-amz-tag-len'] !== undefined) exactly('x-amz-tag-len', fields['x-amz-tag-len'], '128');
    const length = fields['x-amz-unencrypted-content-length'];
    if (length !== undefined && length !== '' && !/^\d{1,16}$/.test(length))
      throw new EnvelopeFormatError('x-amz-unencrypted-content-length is not a length.');
    return {
      version: 'v2',
      wrappedKey: base64('x-amz-key-v2', fields['x-amz-key-v2']),
      iv: base64('x-amz-iv', fields['x-amz-iv'], V2_IV_BYTES),
      kmsContext: contextJson('x-amz-matdesc', fields['x-amz-matdesc'], CEK_ALG_V2),
      ...(length ? { plaintextLength: Number(length) } : {}),
    };
  }
  exactly('x-amz-c', fields['x-amz-c'], CEK_ALG_V3);
  exactly('x-amz-w', fields['x-amz-w'], WRAP_V3);
  // A material description belongs to raw-key wrapping; with KMS it may only be empty.
  const m = fields['x-amz-m'];
  if (m !== undefined && m !== '' && m !== '{}')
    throw new EnvelopeFormatError('x-amz-m (a material description) is not used with KMS wrapping.');
  return {
    version: 'v3',
    wrappedKey: base64('x-amz-3', fields['x-amz-3']),
    kmsContext: contextJson('x-amz-t', fields['x-amz-t'], CEK_ALG_V3),
    messageId: base64('x-amz-i', fields['x-amz-i'], MESSAGE_ID_BYTES),
    commitment: base64('x-amz-d', fields['x-amz-d'], COMMITMENT_BYTES),
  };
}

/**
 * The metadata (and, with `instructionFile`, the instruction file's text) of a header. V3 with
 * an instruction file keeps `x-amz-c`, `x-amz-d` and `x-amz-i` in the metadata, as specified;
 * V2 puts all of its keys in the instruction file.
 */
export function encodeHeader(
  header: EnvelopeHeader,
  options: { instructionFile?: boolean } = {},
): { metadata: Record<string, string>; instruction?: string } {
  const context = JSON.stringify(header.kmsContext);
  let all: Record<string, string>;
  let objectOnly: string[];
  if (header.version === 'v2') {
    if (!header.iv) throw new TypeError('a V2 header has an IV');
    all = {
      'x-amz-key-v2': header.wrappedKey.toString('base64'),
      'x-amz-iv': header.iv.toString('base64'),
      'x-amz-matdesc': context,
      'x-amz-wrap-alg': WRAP_V2,
      'x-amz-cek-alg': CEK_ALG_V2,
      'x-amz-tag-len': '128',
      ...(header.plaintextLength !== undefined
        ? { 'x-amz-unencrypted-content-length': String(header.plaintextLength) }
        : {}),
    };
    objectOnly = [];
  } else {
    if (!header.messageId || !header.commitment)
      throw new TypeError('a V3 header has a message id and commitment');
    all = {
      'x-amz-c': CEK_ALG_V3,
      'x-amz-3': header.wrappedKey.toString('base64'),
      'x-amz-w': WRAP_V3,
      'x-amz-t': context,
      'x-amz-d': header.commitment.toString('base64'),
      'x-amz-i': header.messageId.toString('base64'),
    };
    objectOnly = V3_OBJECT_KEYS;
  }
  if (!options.instructionFile) return { metadata: all };
  const metadata = Object.fromEntries(Object.entries(all).filter(([k]) => objectOnly.includes(k)));
  const instruction = Object.fromEntries(
    Object.entries(all).filter(
      ([k]) => !objectOnly.includes(k) && (header.version === 'v2' || V3_INSTRUCTION_KEYS.includes(k)),
    ),
  );
  return { metadata, instruction: JSON.stringify(instruction) };
}

/** The KMS encryption context of a new object: the caller's, plus the content algorithm. */
export function kmsContextFor(version: EnvelopeVersion, userContext: Readonly<Record<string, string>> = {}) {
  for (const reserved of S3EC_RESERVED_CONTEXT_KEYS)
    if (Object.hasOwn(userContext, reserved))
      throw new EnvelopeFormatError(`${reserved} is reserved for the S3 Encryption Client.`);
  return { ...userContext, [CEK_CONTEXT_KEY]: version === 'v2' ? CEK_ALG_V2 : CEK_ALG_V3 };
}

/**
 * The context a stored object shows: its whole KMS encryption context but the content algorithm,
 * which `decodeHeader` has checked to be the one its format fixes. Nothing else is left out (a
 * `kms_cmk_id` another writer stored included), so that this context and the format say exactly
 * what KMS binds. Authorization uses `header.kmsContext` itself.
 */
export function userContextOf(header: EnvelopeHeader): Record<string, string> {
  return Object.fromEntries(Object.entries(header.kmsContext).filter(([k]) => k !== CEK_CONTEXT_KEY));
}

/** S3's size of user metadata: the UTF-8 bytes of every key (without the x-amz-meta- prefix) and value. */
export function metadataBytes(metadata: Readonly<Record<string, string>>): number {
  let n = 0;
  for (const [k, v] of Object.entries(metadata)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}
