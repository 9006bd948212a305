import type { S3EventRecord } from 'aws-lambda';
import { formEncode } from './keys.js';

/**
 * Object-created notifications, delivered in-process as S3 would deliver them to a Lambda
 * function: one S3 event record per committed object, shaped like AWS's (event version 2.1,
 * the key form-encoded, the ETag unquoted, a sequencer that grows). Delivery happens after the
 * write is committed and answered; a listener that throws or rejects is logged (name and message
 * only) and never undoes the write or reaches the client.
 */

export type ObjectCreatedEvent =
  | 'ObjectCreated:Put'
  | 'ObjectCreated:Copy'
  | 'ObjectCreated:CompleteMultipartUpload';

export type ObjectCreatedListener = (record: S3EventRecord) => void | Promise<void>;

export interface CreatedObject {
  event: ObjectCreatedEvent;
  bucket: string;
  key: string;
  size: number;
  etag: string;
  /** Who wrote it: `AWS:<principal name>` (local principals have no unique ids). */
  principalId: string;
  sourceIp: string;
  requestId: string;
  time: Date;
}

export class Notifier {
  private sequence = 0;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly region: string,
    private readonly listener: ObjectCreatedListener | undefined,
  ) {}

  /** A sequencer as S3 writes them (hex), larger for every later event. */
  private nextSequencer(time: Date): string {
    this.sequence = (this.sequence + 1) % 0x1000000;
    return `${time.getTime().toString(16).toUpperCase().padStart(12, '0')}${this.sequence.toString(16).toUpperCase().padStart(6, '0')}`;
  }

  record(created: CreatedObject): S3EventRecord {
    return {
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: this.region,
      eventTime: created.time.toISOString(),
      eventName: created.event,
      userIdentity: { principalId: created.principalId },
      requestParameters: { sourceIPAddress: created.sourceIp },
      responseElements: { 'x-amz-request-id': created.requestId, 'x-amz-id-2': created.requestId },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'eaas-local-object-created',
        bucket: {
          name: created.bucket,
          ownerIdentity: { principalId: created.principalId },
          arn: `arn:aws:s3:::${created.bucket}`,
        },
        object: {
          key: formEncode(created.key),
          size: created.size,
          eTag: created.etag,
          sequencer: this.nextSequencer(created.time),
        },
      },
    };
  }

  /** Queues delivery of one created object; returns at once. */
  objectCreated(created: CreatedObject): void {
    const listener = this.listener;
    if (!listener) return;
    const record = this.record(created);
    const delivery = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => listener(record))
      .catch((error: unknown) => {
        const e = error as Error | undefined;
        console.error(
          `local S3: the object-created listener failed for ${created.bucket}/${record.s3.object.key}: ${e?.name}: ${e?.message}`,
        );
      })
      .finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  /** Waits for the deliveries under way (on close, and in tests). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
