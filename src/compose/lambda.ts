import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { LoggerAuditSink } from '../audit.js';
import { auditStreamName, CloudWatchAuditSink } from '../aws/audit-logs.js';
import { type Config, loadConfig } from '../config.js';
import type { HttpDeps } from '../http/api.js';
import type { AuditSink } from '../ports.js';
import { logsClientFor } from './aws-clients.js';

/**
 * What a Lambda function starts from: the configuration, Powertools' JSON logger, and the audit
 * sink. Its other clients come from `aws-clients.ts`.
 */
export function lambdaBase(functionName: string): { config: Config; logger: Logger; http: HttpDeps } {
  const config = loadConfig();
  const logger = new Logger({ serviceName: 'eaas' });
  return {
    config,
    logger,
    http: { logger, audit: auditSink(config, functionName, logger), corsOrigin: config.corsOrigin },
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
