import { Logger } from '@aws-lambda-powertools/logger';
import { LoggerAuditSink } from '../audit.js';
import { type Config, loadConfig } from '../config.js';
import type { HttpDeps } from '../http/api.js';

/**
 * What a Lambda function starts from: the configuration, Powertools' JSON logger, and the audit
 * records written through it to CloudWatch. Its clients come from `aws-clients.ts`.
 */
export function lambdaBase(): { config: Config; logger: Logger; http: HttpDeps } {
  const config = loadConfig();
  const logger = new Logger({ serviceName: 'eaas' });
  return { config, logger, http: { logger, audit: new LoggerAuditSink(logger) } };
}
