import type { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * The Tracer and its middy middleware, when the function traces (`Config.tracing`: on Lambda with
 * POWERTOOLS_TRACE_ENABLED=true, which serverless.yml sets beside `provider.tracing.lambda`);
 * nothing otherwise. The Tracer pulls in aws-xray-sdk-core, so it is loaded by a dynamic import
 * on the first invocation and only then: locally, in tests and with tracing off it costs no load
 * time.
 */
export async function loadTracing(enabled: boolean): Promise<
  | {
      tracer: Tracer;
      captureLambdaHandler: typeof import('@aws-lambda-powertools/tracer/middleware').captureLambdaHandler;
    }
  | undefined
> {
  if (!enabled) return undefined;
  const [{ Tracer }, { captureLambdaHandler }] = await Promise.all([
    import('@aws-lambda-powertools/tracer'),
    import('@aws-lambda-powertools/tracer/middleware'),
  ]);
  // The segments hold no response or error message (POWERTOOLS_TRACER_CAPTURE_RESPONSE/ERROR
  // false in serverless.yml, captureResponse false on the handler): they may hold plaintext.
  return { tracer: new Tracer(), captureLambdaHandler };
}
