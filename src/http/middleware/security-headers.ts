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

/** The answer headers a cross-origin page may read: the document's description, its ETag, the request id. */
export const CORS_EXPOSED_HEADERS =
  'ETag, Last-Modified, Content-Disposition, x-eaas-request-id, x-eaas-format, x-eaas-size, x-eaas-stored-size, x-eaas-context, x-eaas-key-id, x-eaas-owner, x-amzn-RequestId';

/**
 * The security headers, and with `corsOrigin` the CORS headers of a Lambda proxy answer: API
 * Gateway's `cors:` answers only the preflight, the function answers the request itself
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-cors.html).
 */
export function securityHeaders(
  corsOrigin?: string,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const cors: Record<string, string> = corsOrigin
    ? { 'Access-Control-Allow-Origin': corsOrigin, 'Access-Control-Expose-Headers': CORS_EXPOSED_HEADERS }
    : {};
  const securityHeadersAfter = (
    request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>,
  ): void => {
    if (!request.response) return;
    request.response.headers = { ...request.response.headers, ...SECURITY_HEADERS, ...cors };
  };
  return { after: securityHeadersAfter, onError: securityHeadersAfter };
}
