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

/** The error an answer of 400 or more stands for (its code, message, request id and details). */
export function errorOf(res: RawResponse): EaasError {
  const e = (res.body ?? {}) as { error?: string; message?: string; requestId?: string; details?: unknown };
  return new EaasError(
    e.error ?? `Http${res.status}`,
    e.message ?? `HTTP ${res.status}`,
    res.status,
    e.requestId,
    e.details,
  );
}

/** The body of a successful answer; an error answer is thrown as EaasError. */
export function ok<T>(res: RawResponse): T {
  if (res.status >= 400) throw errorOf(res);
  return res.body as T;
}
