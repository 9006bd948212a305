import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC, type Meter, statusClassOf } from './meter.js';

/**
 * The function's Powertools Metrics: namespace from POWERTOOLS_METRICS_NAMESPACE (`eaas` when
 * unset), service from POWERTOOLS_SERVICE_NAME, and the function's name as a default dimension.
 * Written as embedded metric format to stdout (no API call); `logMetrics` flushes per invocation.
 */
export function functionMetrics(fn: string): Metrics {
  return new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || 'eaas',
    serviceName: process.env.POWERTOOLS_SERVICE_NAME || 'eaas',
    defaultDimensions: { function: fn },
  });
}

/**
 * The Meter over Powertools Metrics. A request's metrics go to the invocation's metric set (its
 * dimensions route and statusClass; one request per invocation); KMS calls are counted per
 * operation and written by `flush` as one line per operation (dimension `operation`), so a batch
 * of 100 calls is one line, not 100.
 */
export class PowertoolsMeter implements Meter {
  private readonly kms = new Map<string, number>();

  constructor(readonly metrics: Metrics) {}

  request(route: string, status: number, latencyMs: number): void {
    this.metrics.addDimensions({ route, statusClass: statusClassOf(status) });
    this.metrics.addMetric(METRIC.requests, MetricUnit.Count, 1);
    this.metrics.addMetric(METRIC.errors, MetricUnit.Count, status >= 400 ? 1 : 0);
    this.metrics.addMetric(METRIC.latency, MetricUnit.Milliseconds, latencyMs);
  }

  kmsCall(operation: string): void {
    this.kms.set(operation, (this.kms.get(operation) ?? 0) + 1);
  }

  bytesSealed(bytes: number): void {
    this.metrics.addMetric(METRIC.bytesSealed, MetricUnit.Bytes, bytes);
  }

  objectsRewrapped(count: number): void {
    this.metrics.addMetric(METRIC.objectsRewrapped, MetricUnit.Count, count);
  }

  oldestPendingUpload(ageSeconds: number): void {
    this.metrics.addMetric(METRIC.oldestPendingUploadAge, MetricUnit.Seconds, ageSeconds);
  }

  /** Writes the invocation's KMS call counts (called at the end of each invocation). */
  flush(): void {
    for (const [operation, count] of this.kms) {
      const single = this.metrics.singleMetric();
      single.addDimension('operation', operation);
      single.addMetric(METRIC.kmsCalls, MetricUnit.Count, count);
    }
    this.kms.clear();
  }
}
