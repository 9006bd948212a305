import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { PowertoolsMeter } from './metrics.js';
import type { loadTracing } from './tracing.js';

export interface Observability {
  logger: Logger;
  metrics: Metrics;
  meter: PowertoolsMeter;
  tracing?: Awaited<ReturnType<typeof loadTracing>>;
}

/**
 * A Lambda entry with its observability: the Logger gets the Lambda context (request id,
 * function name, cold start) on every line, the invocation's metrics and KMS call counts are
 * flushed when it ends (answered or thrown), and with tracing on the invocation is a segment
 * whose response and errors are not recorded (they may hold plaintext or data keys).
 */
export function observedEntry<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
  obs: Observability,
): middy.MiddyfiedHandler<E, R> {
  const flushKms: middy.MiddlewareObj<E, R> = {
    after: () => obs.meter.flush(),
    onError: () => obs.meter.flush(),
  };
  const entry = middy<E, R>();
  if (obs.tracing)
    entry.use(
      obs.tracing.captureLambdaHandler(obs.tracing.tracer, { captureResponse: false }) as middy.MiddlewareObj<
        E,
        R
      >,
    );
  // `after` runs in reverse order of `use`: flushKms adds its totals before logMetrics publishes.
  return entry
    .use(injectLambdaContext(obs.logger) as middy.MiddlewareObj<E, R>)
    .use(logMetrics(obs.metrics, { captureColdStartMetric: true }) as middy.MiddlewareObj<E, R>)
    .use(flushKms)
    .handler(handler);
}
