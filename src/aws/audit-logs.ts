import { randomUUID } from 'node:crypto';
import {
  type CloudWatchLogsClient,
  CreateLogStreamCommand,
  type InputLogEvent,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import type { AuditRecord, AuditSink } from '../ports.js';

/**
 * Audit records to the audit log group (CloudWatch Logs), which the stack keeps for its own
 * retention and encrypts under its own key, apart from the functions' operational logs and their
 * log level. Each execution environment writes its own stream, `<function>/<yyyy>/<mm>/<dd>/<uuid>`:
 * a function's role may put events only into streams under its own name, so one function cannot
 * write records in another's name. Records are delivered before the invocation answers.
 */

/** PutLogEvents' bounds: 10,000 events and 1,048,576 bytes, each event counting 26 bytes more (API_PutLogEvents.html). */
const MAX_EVENTS = 10_000;
const MAX_BATCH_BYTES = 1_048_576;
const EVENT_OVERHEAD = 26;

/** Where a record that could not be delivered goes instead (the function's own log), with why. */
export type AuditFallback = (record: AuditRecord, error: Error) => void;

export function auditStreamName(functionName: string, at: Date, id: string = randomUUID()): string {
  const day = at.toISOString().slice(0, 10).replaceAll('-', '/');
  return `${functionName}/${day}/${id}`;
}

export class CloudWatchAuditSink implements AuditSink {
  private pending: { event: InputLogEvent; record: AuditRecord }[] = [];
  private streamMade = false;

  constructor(
    private readonly client: CloudWatchLogsClient,
    private readonly logGroupName: string,
    private readonly logStreamName: string,
    private readonly fallback: AuditFallback,
    private readonly now: () => number = Date.now,
  ) {}

  record(record: AuditRecord): void {
    const timestamp = this.now();
    const message = JSON.stringify({ time: new Date(timestamp).toISOString(), ...record });
    this.pending.push({ event: { timestamp, message }, record });
  }

  async flush(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    for (const batch of batches(pending)) {
      try {
        const rejected = await this.put(batch.map((p) => p.event));
        for (const i of rejected) {
          const p = batch[i];
          if (p) this.fallback(p.record, REJECTED);
        }
      } catch (error) {
        for (const p of batch) this.fallback(p.record, error as Error);
      }
    }
  }

  /** Puts one batch; answers the indexes of the events CloudWatch Logs rejected (too old, too new). */
  private async put(logEvents: InputLogEvent[]): Promise<number[]> {
    const target = { logGroupName: this.logGroupName, logStreamName: this.logStreamName };
    if (!this.streamMade) {
      try {
        await this.client.send(new CreateLogStreamCommand(target));
      } catch (error) {
        if ((error as Error).name !== 'ResourceAlreadyExistsException') throw error;
      }
      this.streamMade = true;
    }
    const out = await this.client.send(new PutLogEventsCommand({ ...target, logEvents }));
    const info = out.rejectedLogEventsInfo;
    if (!info) return [];
    const oldEnd = Math.max(info.tooOldLogEventEndIndex ?? 0, info.expiredLogEventEndIndex ?? 0);
    const newStart = info.tooNewLogEventStartIndex ?? logEvents.length;
    return logEvents.map((_, i) => i).filter((i) => i < oldEnd || i >= newStart);
  }
}

const REJECTED = Object.assign(new Error('CloudWatch Logs rejected the event as too old or too new'), {
  name: 'AuditEventRejected',
});

/** Splits records into PutLogEvents batches within its bounds, in order. */
function batches<T extends { event: InputLogEvent }>(items: T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item.event.message ?? '', 'utf8') + EVENT_OVERHEAD;
    if (current.length > 0 && (current.length === MAX_EVENTS || bytes + size > MAX_BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
