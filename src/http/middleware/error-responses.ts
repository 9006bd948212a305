import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { DomainError } from '../../core/errors.js';
import { statusOf } from '../error-status.js';
import { jsonResponse } from '../respond.js';

export interface ErrorLogger {
  error(message: string, extra: Record<string, unknown>): void;
}

/**
 * Turns any error into the JSON error answer. A DomainError keeps its code, status and message;
 * anything else is a 500 with no internals, logged by name and message only.
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
      request.response = jsonResponse(statusOf(error.code), { ...error.toJSON(), requestId });
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
