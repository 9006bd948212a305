import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalIdentities, type LocalPrincipal, OUTSIDER, SERVICE } from '../../src/identity.js';
import { type LocalLogs, startLocalLogs } from '../../src/logs/index.js';
import { makeDataDir } from '../helpers/local-kms.js';

/**
 * The local CloudWatch Logs through the real SDK client: streams, PutLogEvents' bounds as
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
 * gives them, reading back, and IAM authorization down to the stream.
 */

const ACCOUNT = '111122223333';
const GROUP = '/eaas/test/audit';
let dataDir: string;
let logs: LocalLogs;
let identities: LocalIdentities;

function client(p: LocalPrincipal): CloudWatchLogsClient {
  return new CloudWatchLogsClient({
    endpoint: logs.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
    maxAttempts: 1,
  });
}

beforeAll(async () => {
  dataDir = makeDataDir();
  LocalIdentities.open(dataDir, ACCOUNT, 'us-east-1');
  // The outsider may write only the streams under crypto/ of the audit group, as a function role.
  const file = join(dataDir, 'principals.json');
  const doc = JSON.parse(readFileSync(file, 'utf8')) as {
    principals: { name: string; policies: unknown[] }[];
  };
  const outsider = doc.principals.find((p) => p.name === OUTSIDER);
  if (!outsider) throw new Error('no outsider');
  outsider.policies = [
    {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:${GROUP}:log-stream:crypto/*`,
        },
      ],
    },
  ];
  // The service principal stands for an operator here: it may do anything with logs.
  const service = doc.principals.find((p) => p.name === SERVICE);
  if (!service) throw new Error('no service');
  service.policies = [
    { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'logs:*', Resource: '*' }] },
  ];
  writeFileSync(file, JSON.stringify(doc));
  identities = LocalIdentities.open(dataDir, ACCOUNT, 'us-east-1');
  logs = await startLocalLogs({
    dataDir,
    identities,
    accountId: ACCOUNT,
    logGroups: [{ name: GROUP, retentionInDays: 400 }],
  });
});

afterAll(async () => {
  await logs.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the local CloudWatch Logs', () => {
  it('keeps events put into a stream, in order, and finds them again by term', async () => {
    const c = client(identities.byName(SERVICE));
    await c.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: 'keys/a' }));
    const now = Date.now();
    await c.send(
      new PutLogEventsCommand({
        logGroupName: GROUP,
        logStreamName: 'keys/a',
        logEvents: [
          { timestamp: now - 1, message: '{"action":"CreateKey"}' },
          { timestamp: now, message: '{"action":"EnableKey"}' },
        ],
      }),
    );
    const got = await c.send(
      new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: 'keys/a', startFromHead: true }),
    );
    expect(got.events?.map((e) => e.message)).toEqual(['{"action":"CreateKey"}', '{"action":"EnableKey"}']);
    const found = await c.send(
      new FilterLogEventsCommand({ logGroupName: GROUP, filterPattern: '"EnableKey"' }),
    );
    expect(found.events?.map((e) => e.logStreamName)).toEqual(['keys/a']);
    const streams = await c.send(new DescribeLogStreamsCommand({ logGroupName: GROUP }));
    expect(streams.logStreams?.map((s) => s.logStreamName)).toContain('keys/a');
  });

  it('answers the documented errors: an existing stream, a missing group or stream, unordered events', async () => {
    const c = client(identities.byName(SERVICE));
    await c.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: 'keys/b' }));
    await expect(
      c.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: 'keys/b' })),
    ).rejects.toMatchObject({
      name: 'ResourceAlreadyExistsException',
    });
    await expect(
      c.send(new CreateLogStreamCommand({ logGroupName: '/no/such/group', logStreamName: 'x' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(
      c.send(
        new PutLogEventsCommand({
          logGroupName: GROUP,
          logStreamName: 'nope',
          logEvents: [{ timestamp: Date.now(), message: 'x' }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const now = Date.now();
    await expect(
      c.send(
        new PutLogEventsCommand({
          logGroupName: GROUP,
          logStreamName: 'keys/b',
          logEvents: [
            { timestamp: now, message: 'later' },
            { timestamp: now - 1000, message: 'earlier' },
          ],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('takes a batch up to 1,048,576 bytes (messages plus 26 bytes an event) and refuses one byte more', async () => {
    const c = client(identities.byName(SERVICE));
    await c.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: 'keys/big' }));
    const size = 1_048_576 - 26;
    const put = (n: number) =>
      c.send(
        new PutLogEventsCommand({
          logGroupName: GROUP,
          logStreamName: 'keys/big',
          logEvents: [{ timestamp: Date.now(), message: 'a'.repeat(n) }],
        }),
      );
    await expect(put(size)).resolves.toBeDefined();
    await expect(put(size + 1)).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('rejects events more than 2 hours ahead one by one, and takes the rest', async () => {
    const c = client(identities.byName(SERVICE));
    await c.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: 'keys/old' }));
    const now = Date.now();
    const out = await c.send(
      new PutLogEventsCommand({
        logGroupName: GROUP,
        logStreamName: 'keys/old',
        logEvents: [
          { timestamp: now, message: 'fresh' },
          { timestamp: now + 3 * 3_600_000, message: 'too new' },
        ],
      }),
    );
    expect(out.rejectedLogEventsInfo?.tooNewLogEventStartIndex).toBe(1);
    const got = await c.send(
      new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: 'keys/old', startFromHead: true }),
    );
    expect(got.events?.map((e) => e.message)).toEqual(['fresh']);
  });

  it("lets a principal write only the streams its IAM policy names (a function's own)", async () => {
    const c = client(identities.byName(OUTSIDER));
    await c.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: 'crypto/1' }));
    await c.send(
      new PutLogEventsCommand({
        logGroupName: GROUP,
        logStreamName: 'crypto/1',
        logEvents: [{ timestamp: Date.now(), message: 'mine' }],
      }),
    );
    await expect(
      c.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: 'keys/1' })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(
      c.send(
        new PutLogEventsCommand({
          logGroupName: GROUP,
          logStreamName: 'keys/a',
          logEvents: [{ timestamp: Date.now(), message: 'forged' }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // Nor read the group back.
    await expect(c.send(new FilterLogEventsCommand({ logGroupName: GROUP }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('keeps what was written across a restart', async () => {
    await logs.close();
    logs = await startLocalLogs({ dataDir, identities, accountId: ACCOUNT, logGroups: [{ name: GROUP }] });
    const c = client(identities.byName(SERVICE));
    const got = await c.send(
      new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: 'keys/a', startFromHead: true }),
    );
    expect(got.events?.map((e) => e.message)).toEqual(['{"action":"CreateKey"}', '{"action":"EnableKey"}']);
  });
});
