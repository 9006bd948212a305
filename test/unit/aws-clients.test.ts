import { createServer, type Server, type Socket } from 'node:net';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kmsClientFor, logsClientFor, s3ClientFor, timeouts } from '../../src/compose/aws-clients.js';
import { loadConfig } from '../../src/config.js';

/**
 * The service's SDK clients give up on a dependency that stops answering (docs/deploying.md,
 * "Failure handling") instead of holding a request until Lambda's timeout.
 */

const handlerConfig = async (client: { config: { requestHandler: unknown } }) =>
  (await (client.config.requestHandler as { configProvider: Promise<Record<string, unknown>> })
    .configProvider) ?? {};

describe('timeouts of the AWS clients', () => {
  const config = loadConfig({ EAAS_REGION: 'us-east-1' });

  it('KMS and CloudWatch Logs: 3 s to connect, 10 s to an answer or of silence, as errors', async () => {
    for (const client of [kmsClientFor(config), logsClientFor(config)])
      expect(await handlerConfig(client)).toMatchObject({
        connectionTimeout: 3000,
        requestTimeout: 10_000,
        throwOnRequestTimeout: true,
        socketTimeout: 10_000,
      });
  });

  it('S3: 3 s to connect and 30 s of silence, never a cap on a body of any size', async () => {
    const s3 = await handlerConfig(s3ClientFor(config));
    expect(s3).toMatchObject({ connectionTimeout: 3000, socketTimeout: 30_000 });
    expect(s3.requestTimeout).toBeUndefined();
  });
});

describe('a KMS that accepts the connection and never answers', () => {
  let server: Server;
  const sockets: Socket[] = [];
  let port = 0;
  beforeAll(async () => {
    // Holds every connection open, silent.
    server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('fails the call with TimeoutError after the timeout (the same options, shorter), rather than hanging', async () => {
    const kms = new KMSClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
      ...timeouts(300, true),
    });
    const started = Date.now();
    await expect(kms.send(new DescribeKeyCommand({ KeyId: 'alias/x' }))).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(Date.now() - started).toBeLessThan(3000);
    kms.destroy();
  });
});
