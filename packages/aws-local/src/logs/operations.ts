import { LogsError } from './errors.js';
import type { LogEvent, LogStore } from './store.js';

/**
 * The CloudWatch Logs operations the local stack needs, with the bounds and answers the API
 * reference gives (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/):
 * log groups and streams, PutLogEvents, and reading back with GetLogEvents and FilterLogEvents.
 */

/** What an operation needs to decide and act: the caller's rights and the clock. */
export interface LogsContext {
  store: LogStore;
  now: number;
  /** Precondition of every operation: the caller's IAM policies allow `action` on `resource`. */
  require(action: string, resource: string): void;
}

type Input = Record<string, unknown>;

/** A Member of a request, with the protocol's ValidationException otherwise. */
function text(input: Input, name: string, required: true, pattern?: RegExp): string;
function text(input: Input, name: string, required: false, pattern?: RegExp): string | undefined;
function text(input: Input, name: string, required: boolean, pattern?: RegExp): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) {
    if (required)
      throw new LogsError(
        'ValidationException',
        `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`,
      );
    return undefined;
  }
  if (typeof v !== 'string' || v.length < 1 || v.length > 512 || (pattern && !pattern.test(v)))
    throw new LogsError('InvalidParameterException', `${name} is not valid.`);
  return v;
}

function integer(input: Input, name: string, min: number, max: number): number | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new LogsError('InvalidParameterException', `${name} must be an integer from ${min} to ${max}.`);
  return v;
}

/** Log group names: 1-512 of `[.-_/#A-Za-z0-9]` (API_CreateLogGroup.html). */
const GROUP_NAME = /^[.\-_/#A-Za-z0-9]+$/;
/** Log stream names: no `:` and no `*` (API_CreateLogStream.html). */
const STREAM_NAME = /^[^:*]+$/;

/** PutLogEvents' bounds (API_PutLogEvents.html). */
export const PUT_LIMITS = {
  maxEvents: 10_000,
  maxBatchBytes: 1_048_576,
  perEventOverhead: 26,
  maxSpanMs: 24 * 3600 * 1000,
  maxFutureMs: 2 * 3600 * 1000,
  maxAgeMs: 14 * 24 * 3600 * 1000,
} as const;

const groupOf = (input: Input) => text(input, 'logGroupName', true, GROUP_NAME);

function putLogEvents(input: Input, ctx: LogsContext) {
  const group = groupOf(input);
  const stream = text(input, 'logStreamName', true, STREAM_NAME);
  ctx.require('logs:PutLogEvents', ctx.store.streamArn(group, stream));
  const raw = input.logEvents;
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > PUT_LIMITS.maxEvents)
    throw new LogsError(
      'InvalidParameterException',
      `logEvents must hold 1 to ${PUT_LIMITS.maxEvents} events.`,
    );
  let bytes = 0;
  const events = raw.map((e: unknown) => {
    const event = (e ?? {}) as Input;
    if (
      typeof event.timestamp !== 'number' ||
      !Number.isInteger(event.timestamp) ||
      typeof event.message !== 'string' ||
      event.message === ''
    )
      throw new LogsError(
        'InvalidParameterException',
        'Each log event needs an integer timestamp and a non-empty message.',
      );
    bytes += Buffer.byteLength(event.message, 'utf8') + PUT_LIMITS.perEventOverhead;
    return { timestamp: event.timestamp, message: event.message };
  });
  if (bytes > PUT_LIMITS.maxBatchBytes)
    throw new LogsError(
      'InvalidParameterException',
      `Upload too large: ${bytes} bytes exceeds limit of ${PUT_LIMITS.maxBatchBytes}`,
    );
  for (let i = 1; i < events.length; i++)
    if ((events[i]?.timestamp ?? 0) < (events[i - 1]?.timestamp ?? 0))
      throw new LogsError(
        'InvalidParameterException',
        'Log events in a single PutLogEvents request must be in chronological order.',
      );
  const first = events[0]?.timestamp ?? 0;
  const last = events[events.length - 1]?.timestamp ?? 0;
  if (last - first > PUT_LIMITS.maxSpanMs)
    throw new LogsError(
      'InvalidParameterException',
      'The batch of log events in a single PutLogEvents request cannot span more than 24 hours.',
    );
  ctx.store.stream(group, stream);
  // Events too old or too new are rejected one by one, the rest are taken (rejectedLogEventsInfo).
  let tooOldEnd = -1;
  let tooNewStart = -1;
  const taken: LogEvent[] = [];
  events.forEach((e, i) => {
    if (e.timestamp < ctx.now - PUT_LIMITS.maxAgeMs) tooOldEnd = i;
    else if (e.timestamp > ctx.now + PUT_LIMITS.maxFutureMs) {
      if (tooNewStart < 0) tooNewStart = i;
    } else taken.push({ ...e, ingestionTime: ctx.now });
  });
  if (taken.length > 0) ctx.store.putEvents(group, stream, taken);
  const rejected = {
    ...(tooOldEnd >= 0 ? { tooOldLogEventEndIndex: tooOldEnd + 1 } : {}),
    ...(tooNewStart >= 0 ? { tooNewLogEventStartIndex: tooNewStart } : {}),
  };
  return Object.keys(rejected).length > 0 ? { rejectedLogEventsInfo: rejected } : {};
}

/** Page tokens: the index of the next event, opaque to callers. */
const token = (kind: 'f' | 'b', index: number) => `${kind}/${String(index).padStart(20, '0')}`;
function fromToken(value: unknown): { kind: string; index: number } | undefined {
  if (value === undefined) return undefined;
  const m = typeof value === 'string' ? /^([fb])\/(\d{20})$/.exec(value) : null;
  if (!m) throw new LogsError('InvalidParameterException', 'The specified nextToken is not valid.');
  return { kind: m[1] as string, index: Number(m[2]) };
}

function getLogEvents(input: Input, ctx: LogsContext) {
  const group = groupOf(input);
  const stream = text(input, 'logStreamName', true, STREAM_NAME);
  ctx.require('logs:GetLogEvents', ctx.store.groupArn(group));
  const limit = integer(input, 'limit', 1, 10_000) ?? 10_000;
  const startTime = integer(input, 'startTime', 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const endTime = integer(input, 'endTime', 0, Number.MAX_SAFE_INTEGER) ?? Number.MAX_SAFE_INTEGER;
  const all = ctx.store
    .stream(group, stream)
    .events.filter((e) => e.timestamp >= startTime && e.timestamp < endTime);
  const at = fromToken(input.nextToken);
  const forward = at ? at.kind === 'f' : input.startFromHead === true;
  const start = forward ? (at?.index ?? 0) : Math.max(0, (at?.index ?? all.length) - limit);
  const end = forward ? Math.min(all.length, start + limit) : (at?.index ?? all.length);
  return {
    events: all.slice(start, end),
    nextForwardToken: token('f', end),
    nextBackwardToken: token('b', start),
  };
}

/** A filter pattern of terms, each quoted or not: an event matches when it holds every term. */
function termsOf(pattern: string): string[] {
  return [...pattern.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '').filter((t) => t !== '');
}

function filterLogEvents(input: Input, ctx: LogsContext) {
  const group = groupOf(input);
  ctx.require('logs:FilterLogEvents', ctx.store.groupArn(group));
  const prefix = text(input, 'logStreamNamePrefix', false) ?? '';
  const pattern = input.filterPattern;
  if (
    pattern !== undefined &&
    (typeof pattern !== 'string' || pattern.length > 1024 || /[{}[\]]/.test(pattern))
  )
    throw new LogsError(
      'InvalidParameterException',
      'The local CloudWatch Logs understands filter patterns of terms only.',
    );
  const terms = termsOf(pattern ?? '');
  const limit = integer(input, 'limit', 1, 10_000) ?? 10_000;
  const startTime = integer(input, 'startTime', 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const endTime = integer(input, 'endTime', 0, Number.MAX_SAFE_INTEGER) ?? Number.MAX_SAFE_INTEGER;
  const found = [...ctx.store.group(group).streams.entries()]
    .filter(([name]) => name.startsWith(prefix))
    .flatMap(([name, s]) => s.events.map((e, i) => ({ logStreamName: name, eventId: `${name}/${i}`, ...e })))
    .filter(
      (e) => e.timestamp >= startTime && e.timestamp <= endTime && terms.every((t) => e.message.includes(t)),
    )
    .sort((a, b) => a.timestamp - b.timestamp);
  const at = fromToken(input.nextToken)?.index ?? 0;
  const page = found.slice(at, at + limit);
  return { events: page, ...(at + limit < found.length ? { nextToken: token('f', at + limit) } : {}) };
}

export const OPERATIONS: Record<string, (input: Input, ctx: LogsContext) => unknown> = {
  CreateLogGroup(input, ctx) {
    const name = groupOf(input);
    ctx.require('logs:CreateLogGroup', ctx.store.groupArn(name));
    const kmsKeyId = text(input, 'kmsKeyId', false);
    ctx.store.createGroup(name, ctx.now, kmsKeyId ? { kmsKeyId } : {});
    return {};
  },
  DescribeLogGroups(input, ctx) {
    const prefix = text(input, 'logGroupNamePrefix', false, GROUP_NAME) ?? '';
    ctx.require('logs:DescribeLogGroups', ctx.store.groupArn('*'));
    const limit = integer(input, 'limit', 1, 50) ?? 50;
    const names = ctx.store.groupNames().filter((n) => n.startsWith(prefix));
    const at = fromToken(input.nextToken)?.index ?? 0;
    return {
      logGroups: names.slice(at, at + limit).map((name) => {
        const g = ctx.store.group(name);
        return {
          logGroupName: name,
          arn: `${ctx.store.groupArn(name)}:*`,
          logGroupArn: ctx.store.groupArn(name),
          creationTime: g.createdAt,
          ...(g.retentionInDays ? { retentionInDays: g.retentionInDays } : {}),
          ...(g.kmsKeyId ? { kmsKeyId: g.kmsKeyId } : {}),
          storedBytes: 0,
        };
      }),
      ...(at + limit < names.length ? { nextToken: token('f', at + limit) } : {}),
    };
  },
  CreateLogStream(input, ctx) {
    const group = groupOf(input);
    const stream = text(input, 'logStreamName', true, STREAM_NAME);
    // The stream's ARN, as a policy on `log-group:NAME:*` (the framework's, and AWS's managed
    // AWSLambdaBasicExecutionRole's) lets a function create its streams.
    ctx.require('logs:CreateLogStream', ctx.store.streamArn(group, stream));
    ctx.store.createStream(group, stream, ctx.now);
    return {};
  },
  DescribeLogStreams(input, ctx) {
    const group = groupOf(input);
    ctx.require('logs:DescribeLogStreams', ctx.store.groupArn(group));
    const prefix = text(input, 'logStreamNamePrefix', false) ?? '';
    const limit = integer(input, 'limit', 1, 50) ?? 50;
    const names = [...ctx.store.group(group).streams.keys()].filter((n) => n.startsWith(prefix)).sort();
    const at = fromToken(input.nextToken)?.index ?? 0;
    return {
      logStreams: names.slice(at, at + limit).map((name) => {
        const s = ctx.store.stream(group, name);
        return {
          logStreamName: name,
          arn: ctx.store.streamArn(group, name),
          creationTime: s.createdAt,
          ...(s.events.length > 0
            ? {
                firstEventTimestamp: s.events[0]?.timestamp,
                lastEventTimestamp: s.events[s.events.length - 1]?.timestamp,
                lastIngestionTime: s.events[s.events.length - 1]?.ingestionTime,
              }
            : {}),
        };
      }),
      ...(at + limit < names.length ? { nextToken: token('f', at + limit) } : {}),
    };
  },
  PutLogEvents: putLogEvents,
  GetLogEvents: getLogEvents,
  FilterLogEvents: filterLogEvents,
};
