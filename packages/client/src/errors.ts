import type { RawResponse } from './types.js';

/** An error answer of the API: its stable code, HTTP status and request id. */
export class EaasError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly requestId: string | undefined,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'EaasError';
  }
}

/**
 * A request the client refuses to send (a path that would leave the API's origin or be normalised
 * into another route, a body it cannot encode): nothing was sent.
 */
export class InvalidRequestError extends TypeError {
  override readonly name = 'InvalidRequestError';
}

/**
 * The error an answer of 400 or more stands for (its code, message, request id and details). A
 * refusal of API Gateway itself (a bad signature, expired credentials) has no `error` in its body:
 * its code is the `x-amzn-ErrorType` header's, e.g. `InvalidSignatureException`.
 */
export function errorOf(res: RawResponse): EaasError {
  const e = (
    res.body !== null && typeof res.body === 'object' ? res.body : { message: res.body || undefined }
  ) as { error?: string; message?: string; Message?: string; requestId?: string; details?: unknown };
  const gatewayType = res.headers?.get?.('x-amzn-errortype')?.split(':')[0];
  return new EaasError(
    e.error ?? (gatewayType || `Http${res.status}`),
    e.message ?? e.Message ?? `HTTP ${res.status}`,
    res.status,
    e.requestId ?? res.headers?.get?.('x-amzn-requestid') ?? undefined,
    e.details,
  );
}

/** The body of a successful answer; an error answer is thrown as EaasError. */
export function ok<T>(res: RawResponse): T {
  if (res.status >= 400) throw errorOf(res);
  return res.body as T;
}
