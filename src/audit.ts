import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AuditRecord, AuditSink } from './ports.js';

/** Audit records as structured JSON log lines (CloudWatch in production), via Powertools' logger. */
export class LoggerAuditSink implements AuditSink {
  constructor(private readonly logger: Logger) {}

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
  };
}
