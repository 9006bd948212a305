import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { KEY_MANAGER, OUTSIDER } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The audit trail as the deployed stack keeps it: each function writes its records into its own
 * streams of the audit log group (the local CloudWatch Logs here, AuditLogGroup on AWS), whatever
 * the log level: a stack logging at WARN, which drops the service's INFO lines, keeps every record.
 */

let t: TestStack;
const stdout: string[] = [];

beforeAll(async () => {
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(Buffer.from(chunk).toString('utf8'));
    return true;
  });
  t = await startTestStack({ logger: new Logger({ serviceName: 'eaas', logLevel: 'WARN' }) });
});
afterAll(async () => {
  await t.stop();
  vi.restoreAllMocks();
});

/** The audit group read back as an operator would (`aws logs filter-log-events`). */
async function auditRecords(): Promise<{ stream: string; record: Record<string, unknown> }[]> {
  const p = t.principal(KEY_MANAGER);
  const logs = new CloudWatchLogsClient({
    endpoint: t.stack.logs.endpoint,
    region: t.config.region,
    credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
  });
  try {
    const out = await logs.send(new FilterLogEventsCommand({ logGroupName: t.stack.auditLogGroup }));
    return (out.events ?? []).map((e) => ({
      stream: e.logStreamName ?? '',
      record: JSON.parse(e.message ?? '{}') as Record<string, unknown>,
    }));
  } finally {
    logs.destroy();
  }
}

describe('the audit log group', () => {
  it('holds a record of every request, allowed or denied, at log level WARN, in the streams of the function that served it', async () => {
    await t.client().encrypt({ keyId: 'alias/eaas-default', plaintext: Buffer.from('hello') });
    await expect(
      t.client(OUTSIDER).encrypt({ keyId: 'alias/eaas-default', plaintext: Buffer.from('hello') }),
    ).rejects.toMatchObject({ status: 403 });
    await t.client().whoami();

    const records = await auditRecords();
    const encrypts = records.filter((r) => r.record.action === 'encrypt');
    expect(encrypts.map((r) => r.record.outcome).sort()).toEqual(['deny', 'success']);
    expect(encrypts.every((r) => r.stream.startsWith('crypto/'))).toBe(true);
    expect(records.find((r) => r.record.action === 'whoAmI')?.stream).toMatch(/^whoami\//);
    expect(encrypts.find((r) => r.record.outcome === 'deny')?.record.principal).toBe(
      t.principal(OUTSIDER).arn,
    );
    // And the logger at WARN still printed them: a level never drops an audit record.
    const printed = stdout
      .join('')
      .split('\n')
      .filter((l) => l.includes('"message":"audit"'));
    expect(printed.length).toBeGreaterThanOrEqual(3);
  });
});
