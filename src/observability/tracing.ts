import type { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * Whether this process traces: on Lambda (AWS_LAMBDA_FUNCTION_NAME) with
 * POWERTOOLS_TRACE_ENABLED=true (serverless.yml sets it beside `provider.tracing.lambda`). The
 * Tracer pulls in aws-xray-sdk-core, so it is loaded (a dynamic import, evaluated on the first
 * invocation) only then: locally, in tests and with tracing off it costs no load time.
 */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.POWERTOOLS_TRACE_ENABLED === 'true' && Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
}

/** The Tracer and its middy middleware when tracing is on; nothing otherwise. */
export async function loadTracing(env: NodeJS.ProcessEnv = process.env): Promise<
  | {
      tracer: Tracer;
      captureLambdaHandler: typeof import('@aws-lambda-powertools/tracer/middleware').captureLambdaHandler;
    }
  | undefined
> {
  if (!tracingEnabled(env)) return undefined;
  const [{ Tracer }, { captureLambdaHandler }] = await Promise.all([
    import('@aws-lambda-powertools/tracer'),
    import('@aws-lambda-powertools/tracer/middleware'),
  ]);
  // Responses are not captured as segment metadata: they hold plaintext and data keys.
  return { tracer: new Tracer({ captureHTTPsRequests: true }), captureLambdaHandler };
}
