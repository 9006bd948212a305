import { Readable } from 'node:stream';
import { Logger } from '@aws-lambda-powertools/logger';
import { DescribeKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { HttpResponse } from '@smithy/protocol-http';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LoggerAuditSink } from '../../src/audit.js';
import { loadConfig } from '../../src/config.js';
import { DomainError } from '../../src/core/errors.js';
import { makeHandler as cryptoHandler } from '../../src/handlers/crypto.js';
import { makeHandler as sealHandler } from '../../src/handlers/seal.js';
import { observedEntry } from '../../src/observability/entry.js';
import { countKmsCalls } from '../../src/observability/kms-calls.js';
import { statusClassOf } from '../../src/observability/meter.js';
import { functionMetrics, PowertoolsMeter } from '../../src/observability/metrics.js';
import { loadTracing } from '../../src/observability/tracing.js';
import type { CryptoService } from '../../src/services/crypto.js';
import type { SigningService } from '../../src/services/signing.js';
import { sampleEvent } from '../helpers/events.js';
import { ALICE, callerOf, KEY_A, uploadWorld } from '../helpers/upload-world.js';

/** What the function wrote to stdout (Powertools' Logger and Metrics), one JSON object a line. */
function captureStdout() {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  });
  return {
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    restore: () => spy.mockRestore(),
  };
}
let capture: ReturnType<typeof captureStdout> | undefined;
afterEach(() => capture?.restore());

interface Emf {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}
const emfLines = (lines: Record<string, unknown>[]) => lines.filter((l) => '_aws' in l) as Emf[];
const withMetric = (lines: Emf[], name: string) =>
  lines.filter((l) => l._aws.CloudWatchMetrics[0]?.Metrics.some((m) => m.Name === name));

const context = (requestId: string) =>
  ({
    functionName: 'eaas-dev-crypto',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:eaas-dev-crypto',
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    getRemainingTimeInMillis: () => 29_000,
  }) as unknown as Context;

function observed(fn: string) {
  const logger = new Logger({ serviceName: 'eaas' });
  const metrics = functionMetrics(fn);
  const meter = new PowertoolsMeter(metrics);
  return { logger, metrics, meter };
}

/** The crypto function's handler over a fake crypto service, with the Lambda entry's observability. */
function cryptoFunction() {
  const obs = observed('crypto');
  const crypto = {
    encrypt: async () => ({ ciphertext: Buffer.from('sealed'), keyArn: KEY_A, format: 'kms' }),
    decrypt: async () => {
      throw new DomainError('InvalidCiphertext', 'The ciphertext is not valid.');
    },
  } as unknown as CryptoService;
  const handler = cryptoHandler({
    logger: obs.logger,
    audit: new LoggerAuditSink(obs.logger),
    meter: obs.meter,
    crypto,
    signing: {} as SigningService,
    access: null,
  });
  return { obs, entry: observedEntry(handler, obs) };
}

describe('metrics of an API request', () => {
  it('counts the request by its route template and status class, with its latency, and nothing sensitive', async () => {
    const { entry } = cryptoFunction();
    const event = sampleEvent('encrypt');
    capture = captureStdout();
    const res = (await entry(event, context('req-1'))) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(200);
    const [line, ...others] = withMetric(emfLines(capture.lines()), 'Requests');
    expect(others).toHaveLength(0);
    expect(line?._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'eaas',
      Dimensions: [['service', 'function', 'route', 'statusClass']],
    });
    expect(line?._aws.CloudWatchMetrics[0]?.Metrics.map((m) => `${m.Name}/${m.Unit}`).sort()).toEqual([
      'Errors/Count',
      'Latency/Milliseconds',
      'Requests/Count',
    ]);
    expect(line).toMatchObject({
      service: 'eaas',
      function: 'crypto',
      route: 'POST /v1/encrypt',
      statusClass: '2xx',
      Requests: 1,
      Errors: 0,
    });
    expect(line?.Latency).toEqual(expect.any(Number));
    // No body member, encryption context value or caller in any metric line.
    const raw = event.body ?? '{}';
    const body = JSON.parse(event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw) as {
      plaintext: string;
      context: Record<string, string>;
    };
    const emfText = JSON.stringify(emfLines(capture.lines()));
    expect(emfText).not.toContain(body.plaintext);
    for (const value of Object.values(body.context)) expect(emfText).not.toContain(`"${value}"`);
    expect(emfText).not.toContain('arn:aws:iam');
  });

  it('counts a refused request as an error of its status class', async () => {
    const { entry } = cryptoFunction();
    capture = captureStdout();
    const res = (await entry(sampleEvent('decrypt'), context('req-2'))) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(400);
    const [line] = withMetric(emfLines(capture.lines()), 'Requests');
    expect(line).toMatchObject({ route: 'POST /v1/decrypt', statusClass: '4xx', Requests: 1, Errors: 1 });
  });

  it('names a request no route of the function matches "unmatched", never by its path', async () => {
    const { entry } = cryptoFunction();
    const event = {
      ...sampleEvent('encrypt'),
      resource: '/v1/objects/{key}',
      path: '/v1/objects/secret-name',
    };
    capture = captureStdout();
    await entry(event, context('req-3'));
    const [line] = withMetric(emfLines(capture.lines()), 'Requests');
    expect(line).toMatchObject({ route: 'unmatched', statusClass: '4xx' });
    expect(capture.text()).not.toContain('secret-name');
  });

  it('status classes are bounded', () => {
    expect([200, 204, 403, 429, 502, 99, 700].map(statusClassOf)).toEqual([
      '2xx',
      '2xx',
      '4xx',
      '4xx',
      '5xx',
      '1xx',
      '5xx',
    ]);
  });
});

describe('the Logger of a function', () => {
  it('carries the Lambda context on every line', async () => {
    const obs = observed('whoami');
    const entry = observedEntry(async () => {
      obs.logger.info('inside the handler');
      return 'done';
    }, obs);
    capture = captureStdout();
    expect(await entry({}, context('req-ctx'))).toBe('done');
    const line = capture.lines().find((l) => l.message === 'inside the handler');
    expect(line).toMatchObject({
      function_name: 'eaas-dev-crypto',
      function_request_id: 'req-ctx',
      function_arn: 'arn:aws:lambda:us-east-1:111122223333:function:eaas-dev-crypto',
      cold_start: expect.any(Boolean),
    });
  });
});

/** A KMS client whose HTTP handler answers every call with `body`, without a network. */
function offlineKms(body: Record<string, unknown>): KMSClient {
  return new KMSClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    requestHandler: {
      handle: async () => ({
        response: new HttpResponse({
          statusCode: 200,
          headers: { 'content-type': 'application/x-amz-json-1.1' },
          body: Readable.from([Buffer.from(JSON.stringify(body))]),
        }),
      }),
    },
  });
}

describe('KMS calls', () => {
  it('are counted per operation, and written once per invocation with the operation as dimension', async () => {
    const obs = observed('crypto');
    const kms = countKmsCalls(offlineKms({ KeyId: KEY_A, KeyMetadata: { KeyId: 'k' } }), obs.meter);
    const entry = observedEntry(async () => {
      await kms.send(new EncryptCommand({ KeyId: KEY_A, Plaintext: Buffer.from('secret-bytes') }));
      await kms.send(new EncryptCommand({ KeyId: KEY_A, Plaintext: Buffer.from('secret-bytes') }));
      await kms.send(new DescribeKeyCommand({ KeyId: KEY_A }));
      return 'ok';
    }, obs);
    capture = captureStdout();
    await entry({}, context('req-kms'));
    const lines = withMetric(emfLines(capture.lines()), 'KmsCalls');
    expect(lines.map((l) => [l.operation, l.KmsCalls]).sort()).toEqual([
      ['DescribeKey', 1],
      ['Encrypt', 2],
    ]);
    expect(lines[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service', 'function', 'operation']]);
    expect(capture.text()).not.toContain(Buffer.from('secret-bytes').toString('base64'));
    // The next invocation starts from zero.
    capture.restore();
    capture = captureStdout();
    await observedEntry(async () => kms.send(new DescribeKeyCommand({ KeyId: KEY_A })), obs)(
      {},
      context('r2'),
    );
    expect(withMetric(emfLines(capture.lines()), 'KmsCalls').map((l) => [l.operation, l.KmsCalls])).toEqual([
      ['DescribeKey', 1],
    ]);
  });
});

describe('the seal', () => {
  it('reports the bytes it sealed, and the sweep the age of the oldest unsealed upload', async () => {
    const obs = observed('seal');
    // The staging fake stamps objects with the real time: the service's clock follows it.
    let later = 0;
    const world = uploadWorld({
      now: () => new Date(Date.now() + later),
      onSealed: (bytes) => obs.meter.bytesSealed(bytes),
    });
    const body = 'seven b';
    const alice = callerOf(ALICE, [KEY_A]);
    const { id } = await world.uploads.create(alice, {
      key: 'private-name',
      keyId: KEY_A,
      size: body.length,
    });
    world.staging.set(`incoming/${id}`, body);
    const log = { info: () => undefined, error: () => undefined };
    const entry = observedEntry(
      sealHandler({ uploads: world.uploads, stagingBucket: 'staging', logger: log, meter: obs.meter }),
      obs,
    );
    capture = captureStdout();
    await entry(
      {
        Records: [{ s3: { bucket: { name: 'staging' }, object: { key: `incoming/${id}` } } }],
      } as never,
      context('req-seal'),
    );
    const [sealed] = withMetric(emfLines(capture.lines()), 'BytesSealed');
    expect(sealed).toMatchObject({ function: 'seal', BytesSealed: body.length });
    expect(capture.text()).not.toContain('private-name');

    // A second upload staged, whose seal fails (KMS does not answer) when the sweep runs ten
    // minutes after it began: the sweep reports its age.
    const second = await world.uploads.create(alice, { key: 'other', keyId: KEY_A, size: 3 });
    world.staging.set(`incoming/${second.id}`, 'abc');
    world.keys.fail(new DomainError('DependencyFailure', 'KMS did not answer.'));
    later = 600_000;
    capture.restore();
    capture = captureStdout();
    await entry({ source: 'aws.events' } as never, context('req-sweep'));
    const [age] = withMetric(emfLines(capture.lines()), 'OldestPendingUploadAge');
    expect(age).toMatchObject({ function: 'seal', OldestPendingUploadAge: 600 });
    expect(age?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([
      { Name: 'OldestPendingUploadAge', Unit: 'Seconds' },
    ]);
  });
});

describe('the Tracer', () => {
  it('is loaded only on Lambda with POWERTOOLS_TRACE_ENABLED=true', async () => {
    const secret = Buffer.alloc(48, 7).toString('base64');
    const onLambda = {
      AWS_LAMBDA_FUNCTION_NAME: 'f',
      EAAS_PAGE_TOKEN_SECRET: secret,
      EAAS_AUDIT_LOG_GROUP: '/eaas/dev/audit',
      EAAS_SERVICE_ROLE_ARNS: 'arn:aws:iam::111122223333:role/eaas-dev-crypto',
      EAAS_ADMIN_ROLE_ARNS: 'arn:aws:iam::111122223333:role/eaas-dev-keys',
    };
    expect(loadConfig({}).tracing).toBe(false);
    expect(loadConfig({ POWERTOOLS_TRACE_ENABLED: 'true' }).tracing).toBe(false);
    expect(loadConfig({ ...onLambda, POWERTOOLS_TRACE_ENABLED: 'false' }).tracing).toBe(false);
    expect(loadConfig({ ...onLambda, POWERTOOLS_TRACE_ENABLED: 'true' }).tracing).toBe(true);
    expect(await loadTracing(false)).toBeUndefined();
    const on = await loadTracing(true);
    expect(typeof on?.tracer.captureAWSv3Client).toBe('function');
    expect(typeof on?.captureLambdaHandler).toBe('function');
  });

  it('the metrics namespace is a setting, checked as CloudWatch does', () => {
    expect(loadConfig({}).metricsNamespace).toBe('eaas');
    expect(loadConfig({ POWERTOOLS_METRICS_NAMESPACE: 'eaas-prod' }).metricsNamespace).toBe('eaas-prod');
    expect(() => loadConfig({ POWERTOOLS_METRICS_NAMESPACE: 'AWS/Lambda' })).toThrow(
      /POWERTOOLS_METRICS_NAMESPACE/,
    );
  });
});

describe('the re-encryption worker', () => {
  it('reports the documents a tick re-wrapped as one sum, 0 included', async () => {
    const obs = observed('reencrypt');
    const meter = new PowertoolsMeter(obs.metrics, { rewrapper: true });
    let perTick = [3, 0];
    const entry = observedEntry(
      async () => {
        for (let i = 0; i < (perTick[0] ?? 0); i++) meter.objectsRewrapped(1);
        perTick = perTick.slice(1);
        return 'ticked';
      },
      { ...obs, meter },
    );
    capture = captureStdout();
    await entry({}, context('tick-1'));
    await entry({}, context('tick-2'));
    const lines = withMetric(emfLines(capture.lines()), 'ObjectsRewrapped');
    expect(lines.map((l) => l.ObjectsRewrapped)).toEqual([3, 0]);
    expect(lines[0]).toMatchObject({ function: 'reencrypt' });
  });
});
