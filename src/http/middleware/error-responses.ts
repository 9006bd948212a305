import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { DomainError } from '../../core/errors.js';
import { statusOf } from '../error-status.js';
import { jsonResponse } from '../respond.js';

export interface ErrorLogger {
  error(message: string, extra: Record<string, unknown>): void;
}

/**
 * What the logs keep of a DomainError answered with a 5xx: its code and the chain of its causes,
 * never a stack. A cause's message is kept only where it is known to hold no data: an S3 refusal
 * (S3's error name and the object key) or an AWS service exception (`$fault`). Any other cause is
 * logged by name and HTTP status only: a parse error of a mangled KMS answer, say, quotes part of
 * the body it read, which may be a data key.
 */
export function serverErrorDetails(error: DomainError): Record<string, unknown> {
  const causes: Record<string, unknown>[] = [];
  let cause: unknown = error.cause;
  while (cause instanceof Error && causes.length < 5) {
    const meta = (cause as { $metadata?: { httpStatusCode?: number; requestId?: string } }).$metadata;
    causes.push({
      name: cause.name,
      ...(messageIsSafe(cause) ? { message: cause.message } : {}),
      ...(meta?.httpStatusCode !== undefined ? { httpStatusCode: meta.httpStatusCode } : {}),
      ...(meta?.requestId !== undefined ? { awsRequestId: meta.requestId } : {}),
    });
    cause = cause.cause;
  }
  return { errorCode: error.code, errorMessage: error.message, ...(causes.length > 0 ? { causes } : {}) };
}

/** Causes whose messages the service or AWS wrote from names and codes, not from data read. */
function messageIsSafe(cause: Error): boolean {
  return cause.name === 'S3RefusalError' || '$fault' in cause;
}

/**
 * Turns any error into the JSON error answer. A DomainError keeps its code, status and message
 * (those answered with a 5xx are logged with their causes: `serverErrorDetails`); anything else is
 * a 500 with no internals, logged by name and message only.
 */
export function errorResponses(
  logger: ErrorLogger,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const errorResponsesOnError = (
    request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>,
  ): void => {
    if (request.response?.statusCode) return;
    const requestId = request.event.requestContext?.requestId ?? 'unknown';
    const error = request.error;
    if (error instanceof DomainError) {
      const status = statusOf(error.code);
      if (status >= 500) logger.error('server error', { requestId, ...serverErrorDetails(error) });
      request.response = jsonResponse(status, { ...error.toJSON(), requestId });
      return;
    }
    logger.error('unhandled error', { requestId, errorName: error?.name, errorMessage: error?.message });
    request.response = jsonResponse(500, {
      error: 'InternalError',
      message: 'The request failed because of an internal error.',
      requestId,
    });
  };
  return { onError: errorResponsesOnError };
}
