import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LoggerAuditSink } from '../../src/audit.js';
import { auditStreamName, CloudWatchAuditSink } from '../../src/aws/audit-logs.js';
import type { AuditRecord } from '../../src/ports.js';

/** A CloudWatch Logs client that answers from a script: what it was sent, and what to answer. */
function fakeLogs(answer: (name: string, input: Record<string, unknown>) => unknown) {
  const sent: { name: string; input: Record<string, unknown> }[] = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name;
      sent.push({ name, input: command.input });
      const out = answer(name, command.input);
      if (out instanceof Error) throw out;
      return out ?? {};
    },
  } as unknown as CloudWatchLogsClient;
  return { client, sent };
}

const record = (action: string): AuditRecord => ({
  requestId: `r-${action}`,
  principal: 'arn:aws:iam::111122223333:user/alice',
  action,
  outcome: 'success',
  latencyMs: 1,
});

const named = (name: string) => Object.assign(new Error(name), { name });

describe('the audit sink to the audit log group', () => {
  it('makes its stream once, then puts what was recorded at each flush, in order', async () => {
    const logs = fakeLogs(() => ({}));
    const fallback = vi.fn();
    const sink = new CloudWatchAuditSink(
      logs.client,
      '/eaas/dev/audit',
      'crypto/2026/12/04/x',
      fallback,
      () => 1000,
    );
    sink.record(record('encrypt'));
    sink.record(record('decrypt'));
    await sink.flush();
    sink.record(record('reEncrypt'));
    await sink.flush();
    await sink.flush(); // nothing pending: nothing sent
    expect(logs.sent.map((s) => s.name)).toEqual([
      'CreateLogStreamCommand',
      'PutLogEventsCommand',
      'PutLogEventsCommand',
    ]);
    const first = logs.sent[1]?.input.logEvents as { message: string; timestamp: number }[];
    expect(first.map((e) => JSON.parse(e.message).action)).toEqual(['encrypt', 'decrypt']);
    expect(first[0]?.timestamp).toBe(1000);
    expect(fallback).not.toHaveBeenCalled();
  });

  it('writes into a stream another environment of the function already made', async () => {
    const logs = fakeLogs((name) =>
      name === 'CreateLogStreamCommand' ? named('ResourceAlreadyExistsException') : {},
    );
    const fallback = vi.fn();
    const sink = new CloudWatchAuditSink(logs.client, 'g', 's', fallback);
    sink.record(record('encrypt'));
    await sink.flush();
    expect(logs.sent.map((s) => s.name)).toEqual(['CreateLogStreamCommand', 'PutLogEventsCommand']);
    expect(fallback).not.toHaveBeenCalled();
  });

  it('hands every record it could not deliver to the fallback, with the cause, and does not throw', async () => {
    const logs = fakeLogs((name) =>
      name === 'PutLogEventsCommand' ? named('ServiceUnavailableException') : {},
    );
    const fallback = vi.fn();
    const sink = new CloudWatchAuditSink(logs.client, 'g', 's', fallback);
    sink.record(record('encrypt'));
    sink.record(record('decrypt'));
    await expect(sink.flush()).resolves.toBeUndefined();
    expect(fallback.mock.calls.map(([r, e]) => [r.action, e.name])).toEqual([
      ['encrypt', 'ServiceUnavailableException'],
      ['decrypt', 'ServiceUnavailableException'],
    ]);
  });

  it('hands the events CloudWatch Logs rejected (and only those) to the fallback', async () => {
    const logs = fakeLogs((name) =>
      name === 'PutLogEventsCommand' ? { rejectedLogEventsInfo: { tooNewLogEventStartIndex: 1 } } : {},
    );
    const fallback = vi.fn();
    const sink = new CloudWatchAuditSink(logs.client, 'g', 's', fallback);
    sink.record(record('encrypt'));
    sink.record(record('decrypt'));
    await sink.flush();
    expect(fallback.mock.calls.map(([r]) => r.action)).toEqual(['decrypt']);
  });

  it('splits what it holds into batches within PutLogEvents bounds (10,000 events, 1,048,576 bytes)', async () => {
    const logs = fakeLogs(() => ({}));
    const sink = new CloudWatchAuditSink(logs.client, 'g', 's', vi.fn());
    for (let i = 0; i < 20_001; i++) sink.record(record('e'));
    await sink.flush();
    const puts = logs.sent
      .filter((s) => s.name === 'PutLogEventsCommand')
      .map((p) => p.input.logEvents as { message: string }[]);
    expect(puts.length).toBeGreaterThan(2);
    expect(puts.reduce((n, b) => n + b.length, 0)).toBe(20_001);
    for (const batch of puts) {
      expect(batch.length).toBeLessThanOrEqual(10_000);
      expect(batch.reduce((n, e) => n + Buffer.byteLength(e.message) + 26, 0)).toBeLessThanOrEqual(1_048_576);
    }
  });

  it("names streams after the function, the day and the environment, so a role's policy can hold it to its own", () => {
    expect(auditStreamName('crypto', new Date('2026-12-04T10:00:00Z'), 'abc')).toBe('crypto/2026/12/04/abc');
  });
});

describe('audit records through the logger', () => {
  afterEach(() => vi.restoreAllMocks());

  it('are printed at any log level: a WARN logger drops INFO lines, never audit records', () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(Buffer.from(chunk).toString('utf8'));
      return true;
    });
    const logger = new Logger({ serviceName: 'eaas', logLevel: 'WARN' });
    logger.info('an ordinary line');
    new LoggerAuditSink(logger).record(record('encrypt'));
    const out = lines.join('');
    expect(out).not.toContain('an ordinary line');
    expect(out).toContain('"message":"audit"');
    expect(out).toContain('"action":"encrypt"');
  });
});
