import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AuditRecord, AuditSink } from './ports.js';

/**
 * Audit records as structured JSON log lines through Powertools' logger, whatever the level the
 * logger was given: a WARN level (POWERTOOLS_LOG_LEVEL) drops the service's INFO lines, never its
 * audit records. On Lambda the records go to the audit log group instead (aws/audit-logs.ts); this
 * sink is the local stack's, and the fallback of a function configured without one.
 */
export class LoggerAuditSink implements AuditSink {
  private readonly logger: Logger;

  constructor(logger: Logger) {
    // A child logger at INFO: the constructor's level takes precedence over POWERTOOLS_LOG_LEVEL.
    this.logger = logger.createChild({ logLevel: 'INFO' });
  }

  record(record: AuditRecord): void {
    this.logger.info('audit', { audit: record });
  }
}

/** Audit records appended to a local file, one JSON object per line (`$EAAS_DATA_DIR/audit.log`). */
export class FileAuditSink implements AuditSink {
  constructor(private readonly path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  }

  record(record: AuditRecord): void {
    appendFileSync(this.path, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`, {
      mode: 0o600,
    });
  }
}

export function allSinks(...sinks: AuditSink[]): AuditSink {
  return {
    record(r) {
      for (const s of sinks) s.record(r);
    },
    async flush() {
      await Promise.all(sinks.map((s) => s.flush?.()));
    },
  };
}
