import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { KMSClient } from '@aws-sdk/client-kms';
import { LoggerAuditSink } from '../audit.js';
import { auditStreamName, CloudWatchAuditSink } from '../aws/audit-logs.js';
import { type Config, loadConfig } from '../config.js';
import type { HttpDeps } from '../http/api.js';
import { observedEntry } from '../observability/entry.js';
import { countKmsCalls } from '../observability/kms-calls.js';
import { functionMetrics, PowertoolsMeter } from '../observability/metrics.js';
import { loadTracing } from '../observability/tracing.js';
import type { AuditSink } from '../ports.js';
import { logsClientFor } from './aws-clients.js';

export interface LambdaBase {
  config: Config;
  logger: Logger;
  meter: PowertoolsMeter;
  http: HttpDeps;
  /** The function's KMS client, its calls counted per operation (and traced when tracing is on). */
  kms(client: KMSClient): KMSClient;
  /** An AWS SDK client, traced when tracing is on. */
  traced<C>(client: C): C;
  /** The Lambda entry: Logger context, metrics flushed per invocation, the tracing segment. */
  entry<E, R>(handler: (event: E, context: never) => Promise<R>): (event: E, context: never) => Promise<R>;
}

/**
 * What a Lambda function starts from: the configuration, Powertools' JSON logger, metrics and
 * (when tracing is on, loaded only then) tracer, and the audit sink (the audit log group). Its clients come from `aws-clients.ts`, passed through `kms`/`traced`.
 */
export async function lambdaBase(fn: string): Promise<LambdaBase> {
  const config = loadConfig();
  const logger = new Logger({ serviceName: 'eaas' });
  const metrics = functionMetrics(fn, config.metricsNamespace);
  const meter = new PowertoolsMeter(metrics, { rewrapper: fn === 'reencrypt' || fn === 'rewrapbatch' });
  const tracing = await loadTracing(config.tracing);
  const traced = <C>(client: C): C =>
    tracing ? (tracing.tracer.captureAWSv3Client(client as never) as C) : client;
  return {
    config,
    logger,
    meter,
    http: {
      logger,
      audit: auditSink(config, fn, logger, config.auditLogGroup ? traced(logsClientFor(config)) : undefined),
      meter,
      corsOrigin: config.corsOrigin,
    },
    kms: (client) => traced(countKmsCalls(client, meter)),
    traced,
    entry: (handler) =>
      observedEntry(handler as never, { logger, metrics, meter, ...(tracing ? { tracing } : {}) }) as never,
  };
}

/**
 * The audit log group when configured (always on Lambda: the configuration requires it), written
 * in the function's own streams; a record that cannot be delivered goes to the function's own log
 * at ERROR level, so that no record is lost to an outage or to the log level.
 */
export function auditSink(
  config: Config,
  functionName: string,
  logger: Logger,
  client?: CloudWatchLogsClient,
): AuditSink {
  if (config.auditLogGroup === undefined) return new LoggerAuditSink(logger);
  return new CloudWatchAuditSink(
    client ?? logsClientFor(config),
    config.auditLogGroup,
    auditStreamName(functionName, new Date()),
    (record, error) =>
      logger.error('audit record not delivered to the audit log group', { audit: record, cause: error.name }),
  );
}
