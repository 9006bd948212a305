import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC, type Meter, statusClassOf } from './meter.js';

/**
 * The function's Powertools Metrics: the namespace (`Config.metricsNamespace`), service `eaas`
 * and the function's name as default dimensions. Written as embedded metric format to stdout (no
 * API call); `logMetrics` flushes per invocation.
 */
export function functionMetrics(fn: string, namespace = 'eaas'): Metrics {
  return new Metrics({ namespace, serviceName: 'eaas', defaultDimensions: { function: fn } });
}

/**
 * The Meter over Powertools Metrics. A request's metrics go to the invocation's metric set (its
 * dimensions route and statusClass; one request per invocation); KMS calls are counted per
 * operation and written by `flush` as one line per operation (dimension `operation`), so a batch
 * of 100 calls is one line, not 100; re-wrapped documents are summed and written once too.
 */
export class PowertoolsMeter implements Meter {
  private readonly kms = new Map<string, number>();
  private rewrapped = 0;

  /**
   * `rewrapper`: the function re-wraps documents (reencrypt), so each invocation reports its
   * count, 0 included: a tick with nothing to do still writes a data point.
   */
  constructor(
    readonly metrics: Metrics,
    private readonly options: { rewrapper?: boolean } = {},
  ) {}

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
    this.rewrapped += count;
  }

  oldestPendingUpload(ageSeconds: number): void {
    this.metrics.addMetric(METRIC.oldestPendingUploadAge, MetricUnit.Seconds, ageSeconds);
  }

  /**
   * Writes the invocation's KMS call counts and adds its re-wrap count to its metric set (called
   * at the end of each invocation, before `logMetrics` publishes the set).
   */
  flush(): void {
    if (this.options.rewrapper || this.rewrapped > 0)
      this.metrics.addMetric(METRIC.objectsRewrapped, MetricUnit.Count, this.rewrapped);
    this.rewrapped = 0;
    for (const [operation, count] of this.kms) {
      const single = this.metrics.singleMetric();
      single.addDimension('operation', operation);
      single.addMetric(METRIC.kmsCalls, MetricUnit.Count, count);
    }
    this.kms.clear();
  }
}
