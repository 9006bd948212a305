import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { Meter } from '../../observability/meter.js';
import type { Route } from '../routes.js';
import type { HttpState } from '../state.js';

/** The route dimension of a request that matched none of the function's routes. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Records each request's metrics once its answer is known (answered or thrown): the route as its
 * template (`GET /v1/objects/{key}`, never the path, which names objects), the status and the
 * latency. A request no route of the function matches counts under `unmatched`, so the
 * dimension's values stay the route table's.
 */
export function requestMetrics(
  meter: Pick<Meter, 'request'> | undefined,
  routes: readonly Route[],
  stateOf: (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => HttpState | undefined,
  now: () => number,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const record = (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>): void => {
    if (!meter) return;
    const { httpMethod, resource } = request.event;
    const route = routes.find((r) => r.method === httpMethod && r.path === resource);
    const state = stateOf(request);
    meter.request(
      route ? `${route.method} ${route.path}` : UNMATCHED_ROUTE,
      request.response?.statusCode ?? 500,
      state ? Math.round((now() - state.startedAt) * 1000) / 1000 : 0,
    );
  };
  return { after: record, onError: record };
}
