import type { JobCounts, JobPhase } from './rewrap-job.js';
import { bump, UNKNOWN_KEY_FAILURE } from './rewrap-job.js';

/**
 * The batch engine's pure rules: the S3 Batch Operations event and answer of the per-object
 * function (invocation schema 2.0), what each object's outcome answers, S3's job status as a job
 * phase, and the completion report read back into failure reasons. No I/O.
 *
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html
 */

/** The user argument that carries the eaas job id (LambdaInvoke UserArguments). */
export const JOB_ARGUMENT = 'eaasJobId';

/**
 * The event of invocation schema 2.0. `@types/aws-lambda`'s `S3BatchEvent` is schema 1.0 (tasks
 * name the bucket by ARN, no user arguments); 2.0 names the bucket and carries the job's
 * UserArguments.
 */
export interface S3BatchEventV2 {
  invocationSchemaVersion: '2.0';
  invocationId: string;
  job: { id: string; userArguments?: Record<string, string> | undefined };
  tasks: { taskId: string; s3Bucket: string; s3Key: string; s3VersionId?: string | null | undefined }[];
}

/**
 * An object key as S3 Batch Operations writes it into a task's `s3Key` and a completion report's
 * Key column, decoded; undefined when it is not URL-encoded. AWS documents these keys as
 * URL-encoded (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html) without
 * naming the variant; S3's key encoding in events is the form style, a space as `+` ("red
 * flower.jpg" becomes "red+flower.jpg": https://docs.aws.amazon.com/lambda/latest/dg/with-s3.html),
 * and Powertools for AWS Lambda decodes Batch Operations' `s3Key` with `unquote_plus` after
 * testing it against S3 (aws-powertools/powertools-lambda-python#3572). So `+` is a space, and a
 * `+` of the key arrives as `%2B`; a key encoded with `%20` decodes the same. Decoding `+` as
 * itself would turn "a b" into "a+b": the task would find no object, answer `skipped: deleted`,
 * and the document would stay under the source key.
 */
export function decodeTaskKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}

/** A key encoded as S3 Batch Operations encodes it (`decodeTaskKey`'s inverse): for the fakes. */
export const encodeTaskKey = (key: string) => encodeURIComponent(key).replace(/%20/g, '+');

export type BatchResultCode = 'Succeeded' | 'TemporaryFailure' | 'PermanentFailure';

export interface BatchTaskResult {
  taskId: string;
  resultCode: BatchResultCode;
  /** Kept in the completion report: a reason, never a secret (no key material, no context value). */
  resultString: string;
}

export interface S3BatchResultV2 {
  invocationSchemaVersion: '2.0';
  treatMissingKeysAs: BatchResultCode;
  invocationId: string;
  results: BatchTaskResult[];
}

/** The answer for a key that is no document of this service (outside the object prefix, a record). */
export const NOT_A_DOCUMENT = 'not a document of this service';

/** The result string of a job the function refuses to act for (unknown, not a batch job, cancelled). */
export const JOB_REFUSED = 'job refused:';

/**
 * The result strings of a task that succeeded, one per outcome of `rewrap-object.ts`: the
 * completion report keeps them, and `countTask` reads the job's counts back from them.
 */
export const RESULT = {
  rewrapped: 'rewrapped',
  wouldRewrap: 'would re-wrap',
  alreadyCurrent: 'already re-wrapped',
  skipped: 'skipped: ',
} as const;

/**
 * Skip reasons of tasks that are no object of the job: instruction files and the service's
 * records (the manifest generator lists them beside the documents), keys outside the prefix.
 * The scheduled engine never counts them (it lists documents under the prefix only), so neither
 * does `countTask`.
 */
export const NOT_AN_OBJECT_OF_THE_JOB: ReadonlySet<string> = new Set(['not-a-document', 'outside-prefix']);

/** One object's outcome (`rewrap-object.ts`) as S3 Batch Operations' result code and string. */
export function taskResult(
  outcome:
    | { kind: 'rewrapped' | 'alreadyCurrent' | 'deferred' }
    | { kind: 'skipped' | 'failed'; reason: string },
  dryRun: boolean,
): { resultCode: BatchResultCode; resultString: string } {
  switch (outcome.kind) {
    case 'rewrapped':
      return { resultCode: 'Succeeded', resultString: dryRun ? RESULT.wouldRewrap : RESULT.rewrapped };
    case 'alreadyCurrent':
      return { resultCode: 'Succeeded', resultString: RESULT.alreadyCurrent };
    case 'skipped':
      return { resultCode: 'Succeeded', resultString: `${RESULT.skipped}${outcome.reason}` };
    // Lost every race with a writer on this pass: S3 invokes the task again later.
    case 'deferred':
      return { resultCode: 'TemporaryFailure', resultString: 'retry: conflict' };
    case 'failed':
      return TRANSIENT.has(bare(outcome.reason))
        ? { resultCode: 'TemporaryFailure', resultString: `retry: ${outcome.reason}` }
        : { resultCode: 'PermanentFailure', resultString: `failed: ${outcome.reason}` };
  }
}

/** Reasons S3 should try again: throttling and 5xx (after the function's own retries). */
const TRANSIENT = new Set(['Throttled', 'DependencyFailure']);
const bare = (reason: string) =>
  reason.startsWith(UNKNOWN_KEY_FAILURE) ? reason.slice(UNKNOWN_KEY_FAILURE.length) : reason;

/**
 * S3's job status as the job's phase: not started yet (New, Preparing, Suspended, Ready) is
 * `pending`; under way (Active, Pausing, Paused, Completing, Cancelling, Failing) `scanning`
 * (shown as `running`); `Complete` is `succeeded`, the report deciding whether with failures;
 * `Failed` and `Cancelled` as they are.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-job-status.html
 */
export function phaseOfStatus(status: string): JobPhase {
  switch (status) {
    case 'New':
    case 'Preparing':
    case 'Suspended':
    case 'Ready':
      return 'pending';
    case 'Complete':
      return 'succeeded';
    case 'Failed':
      return 'failed';
    case 'Cancelled':
      return 'cancelled';
    default:
      return 'scanning';
  }
}

/**
 * The failure reason of one failed task of the completion report, from its ResultMessage (the
 * function's result string): `failed: r` and `retry: r` (retries exhausted) are `r`; a key that
 * is no document, or a refused job, is hidden as not known to be under the job's keys; anything
 * else (a function error or timeout S3 reports itself) is `function-error`.
 */
export function failureReason(resultMessage: string): string {
  const m = /^(?:failed|retry): (.+)$/.exec(resultMessage);
  if (m?.[1]) return m[1];
  if (resultMessage === NOT_A_DOCUMENT) return `${UNKNOWN_KEY_FAILURE}not-a-document`;
  if (resultMessage.startsWith(JOB_REFUSED)) return `${UNKNOWN_KEY_FAILURE}job-refused`;
  return 'function-error';
}

/**
 * Counts one task of the completion report into a job's counts, with the scheduled engine's
 * meaning (`JobCounts`), so that a finished job's record counts the same whichever engine ran it:
 * `rewrapped` (a dry run's `would re-wrap` too), `alreadyCurrent`, `skipped` by reason and
 * `failed` by reason (`failureReason`), each one object `scanned`. Tasks that are no object of
 * the job (instruction files, records, keys outside the prefix) are not counted at all. A task
 * is counted by its final answer: an object re-wrapped by an attempt whose answer was lost (a
 * crash after the copy) and found done by S3's redrive counts `alreadyCurrent`, as it would on a
 * resumed scheduled run. A succeeded task with a string this function never answers (another
 * version's) counts only as scanned.
 */
export function countTask(counts: JobCounts, row: Pick<ReportRow, 'taskStatus' | 'resultMessage'>): void {
  const message = row.resultMessage;
  if (row.taskStatus !== 'succeeded') {
    counts.scanned += 1;
    bump(counts.failed, failureReason(message));
    return;
  }
  if (message.startsWith(RESULT.skipped)) {
    const reason = message.slice(RESULT.skipped.length);
    if (NOT_AN_OBJECT_OF_THE_JOB.has(reason)) return;
    counts.scanned += 1;
    bump(counts.skipped, reason);
    return;
  }
  counts.scanned += 1;
  if (message === RESULT.rewrapped || message === RESULT.wouldRewrap) counts.rewrapped += 1;
  else if (message === RESULT.alreadyCurrent) counts.alreadyCurrent += 1;
}

/** The completion report's top-level manifest.json: where each results file is. */
export interface ReportManifest {
  Results?: { TaskExecutionStatus?: string; Bucket?: string; Key?: string }[];
}

/** The columns of a results file (ReportSchema): Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage. */
export interface ReportRow {
  key: string;
  taskStatus: string;
  resultMessage: string;
}

/** Parses a results CSV (RFC 4180: quoted fields, doubled quotes, CRLF or LF rows). */
export function parseReportCsv(text: string): ReportRow[] {
  const rows: ReportRow[] = [];
  for (const fields of csvRows(text)) {
    if (fields.length < 4) continue;
    rows.push({
      key: fields[1] ?? '',
      taskStatus: fields[3] ?? '',
      resultMessage: fields.slice(6).join(','),
    });
  }
  return rows;
}

function* csvRows(text: string): Generator<string[]> {
  let field = '';
  let row: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.some((f) => f !== '')) yield row;
      row = [];
    } else field += c;
  }
  row.push(field);
  if (row.some((f) => f !== '')) yield row;
}

/** The longest row of a results file kept to be parsed (a key is at most 1,024 bytes, URL-encoded 3 times that). */
export const MAX_REPORT_ROW_BYTES = 64 * 1024;

/**
 * One line of a results file read streamed: its rows (one, or none for a blank line; undefined
 * for a line longer than MAX_REPORT_ROW_BYTES, dropped unparsed), and the byte just after it,
 * where a count resumes.
 */
export interface StreamedRows {
  rows: ReportRow[] | undefined;
  end: number;
}

const LF = 0x0a;
const QUOTE = 0x22;

/**
 * The rows of a results CSV streamed from byte `start` (a row boundary), never holding more than
 * one row: a row ends at a line feed outside quotes (an even count of `"` so far in it, since RFC
 * 4180 doubles a quote inside a quoted field), so a quoted field may hold line breaks. A last
 * row without its line feed ends with the stream.
 */
export async function* streamReportRows(
  body: AsyncIterable<Uint8Array>,
  start: number,
): AsyncGenerator<StreamedRows> {
  const decoder = new TextDecoder();
  let pieces: Uint8Array[] = [];
  let held = 0;
  let oversize = false;
  let quoted = false;
  let position = start;
  const keep = (piece: Uint8Array) => {
    if (oversize || piece.length === 0) return;
    if (held + piece.length > MAX_REPORT_ROW_BYTES) {
      oversize = true;
      pieces = [];
      held = 0;
      return;
    }
    pieces.push(piece);
    held += piece.length;
  };
  const line = (end: number): StreamedRows => {
    const rows = oversize ? undefined : parseReportCsv(decoder.decode(concat(pieces, held)));
    pieces = [];
    held = 0;
    oversize = false;
    quoted = false;
    return { rows, end };
  };
  for await (const chunk of body) {
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === QUOTE) quoted = !quoted;
      else if (byte === LF && !quoted) {
        keep(chunk.subarray(from, i + 1));
        from = i + 1;
        yield line(position + i + 1);
      }
    }
    // A copy: the rest of this chunk waits for the next one, whose buffer the stream may reuse.
    keep(chunk.slice(from));
    position += chunk.length;
  }
  if (held > 0 || oversize) yield line(position);
}

function concat(pieces: Uint8Array[], length: number): Uint8Array {
  if (pieces.length === 1) return pieces[0] as Uint8Array;
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}
