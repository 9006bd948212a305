import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

/**
 * Headers on every answer, errors included: no caching of secrets, no sniffing, no framing, HTTPS only.
 * Written here rather than with @middy/http-security-headers, whose defaults target HTML pages.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
  'Strict-Transport-Security': 'max-age=63072000; includeSubDomains; preload',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
});

export function securityHeaders(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const securityHeadersAfter = (
    request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>,
  ): void => {
    if (!request.response) return;
    request.response.headers = { ...request.response.headers, ...SECURITY_HEADERS };
  };
  return { after: securityHeadersAfter, onError: securityHeadersAfter };
}
