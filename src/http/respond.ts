import type { APIGatewayProxyResult } from 'aws-lambda';

export function jsonResponse(statusCode: number, body: unknown): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  };
}

/** A route's answer that is not JSON: bytes (sent base64-encoded through API Gateway) and headers. */
export class RawAnswer {
  constructor(
    readonly statusCode: number,
    readonly headers: Record<string, string>,
    readonly body: Buffer = Buffer.alloc(0),
  ) {}

  toResult(requestId: string): APIGatewayProxyResult {
    return {
      statusCode: this.statusCode,
      headers: { ...this.headers, 'x-eaas-request-id': requestId },
      body: this.body.toString('base64'),
      isBase64Encoded: true,
    };
  }
}
