import type { ErrorCode } from '../core/errors.js';
import { ERROR_STATUS } from './error-status.js';
import { ROUTES, type Route } from './routes.js';
import { batchOf, batchResponseOf, ErrorResponse, MAX_BATCH_ITEMS } from './schemas.js';

/** Error codes each kind of route can answer, besides the gateway's own 403s. */
const COMMON_ERRORS: ErrorCode[] = ['AccessDenied', 'Throttled', 'InternalError', 'DependencyFailure'];
const BODY_ERRORS: ErrorCode[] = [
  'ValidationError',
  'MalformedJson',
  'UnsupportedMediaType',
  'PayloadTooLarge',
];
const ROUTE_ERRORS: Record<string, ErrorCode[]> = {
  encrypt: ['KeyNotFound', 'KeyDisabled', 'KeyPendingDeletion', 'InvalidKeyUsage'],
  decrypt: ['InvalidCiphertext'],
  reEncrypt: ['InvalidCiphertext', 'KeyNotFound', 'KeyDisabled', 'KeyPendingDeletion'],
  generateDataKey: ['KeyNotFound', 'KeyDisabled', 'KeyPendingDeletion'],
  whoAmI: ['ValidationError', 'KeyNotFound'],
  // Per-caller quotas (README, "Quotas and alias names").
  createKey: ['LimitExceeded'],
  putAlias: ['LimitExceeded'],
  cancelKeyDeletion: ['LimitExceeded'],
  startReEncryptJob: ['LimitExceeded'],
  cancelJob: ['NotFound', 'InvalidState', 'ConcurrentModification'],
  // Decided before the first byte leaves; after it, a failure ends the transfer short (no JSON).
  streamObject: ['NotFound', 'InvalidCiphertext', 'PreconditionFailed', 'PayloadTooLarge'],
};

function errorResponses(route: Route) {
  const codes = [
    ...new Set([
      ...(route.request ? BODY_ERRORS : []),
      ...(ROUTE_ERRORS[route.operationId] ?? []),
      ...(route.query?.nextToken ? (['ValidationError', 'InvalidPageToken'] as const) : []),
      ...COMMON_ERRORS,
    ]),
  ];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes)
    byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  const responses: Record<string, unknown> = {
    '403': {
      description:
        'AccessDenied, or API Gateway refusing the request before the service sees it: MissingAuthenticationTokenException (unsigned), InvalidSignatureException, UnrecognizedClientException (body {"message": ...}, code in x-amzn-ErrorType).',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
    },
  };
  for (const [status, list] of [...byStatus.entries()].sort(([a], [b]) => a - b)) {
    if (status === 403) continue;
    responses[String(status)] = {
      description: `Error codes: ${list.join(', ')}.`,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
    };
  }
  return responses;
}

function operation(route: Route) {
  const request = route.rawBody
    ? {
        required: true,
        description: 'The document, up to 4 MiB; its Content-Type is kept.',
        content: { '*/*': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
      }
    : route.request
      ? {
          required: true,
          content: {
            'application/json': {
              schema: route.batch
                ? { oneOf: [route.request, batchOf(route.request, route.batchItems)] }
                : route.request,
              ...(route.example
                ? {
                    examples: {
                      single: { value: route.example },
                      ...(route.batch ? { batch: { value: { items: [route.example] } } } : {}),
                    },
                  }
                : {}),
            },
          },
        }
      : undefined;
  const parameters = [
    ...[...route.path.matchAll(/\{(\w+)\+?\}/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      description: PATH_PARAMETERS[name as string] ?? name,
      schema: { type: 'string', minLength: 1, maxLength: 2048 },
    })),
    ...Object.entries(route.query ?? {}).map(([name, q]) => ({
      name,
      in: 'query',
      required: q.required ?? false,
      description: q.description,
      schema: q.schema,
    })),
  ];
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.batch
      ? {
          description: `Also takes \`{"items": [...]}\` of up to ${route.batchItems ?? MAX_BATCH_ITEMS} requests; each item is answered on its own, a failed item as {error, message, index}.`,
        }
      : {}),
    security: [{ sigv4: [] }],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.actions
      ? {
          'x-kms-actions': route.actions,
          description: `${route.batch ? `Also takes \`{"items": [...]}\` of up to ${route.batchItems ?? MAX_BATCH_ITEMS} requests; each item is answered on its own, a failed item as {error, message, index}. ` : ''}The caller needs ${route.actions.join(' or ')} on the key, from the key policy or a grant.`,
        }
      : {}),
    ...(request ? { requestBody: request } : {}),
    responses: {
      '200': {
        description: route.stream
          ? 'The decrypted document, streamed (chunked) only once the whole of it has been authenticated, with the metadata view in x-eaas-* headers. Should the stream still fail, the transfer ends without its last chunk: an incomplete body is never the document.'
          : route.rawResponse
            ? 'The decrypted document (GET), with the metadata view in x-eaas-* headers; with ?metadata, the view as JSON.'
            : 'Success.',
        content: {
          ...(route.rawResponse && route.method === 'GET'
            ? { '*/*': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } }
            : {}),
          'application/json': {
            schema: route.batch
              ? { oneOf: [route.response, batchResponseOf(route.response)] }
              : route.response,
          },
        },
      },
      ...errorResponses(route),
    },
  };
}

const PATH_PARAMETERS: Record<string, string> = {
  keyId: 'Key id, key ARN, alias name or alias ARN; URL-encode the slash of alias/x as %2F.',
  key: 'The object key; it may contain slashes, sent as they are (not %2F).',
  grantId: 'The grant id CreateGrant returned.',
  name: 'Alias name, with or without the alias/ prefix (URL-encode any slash).',
};

/**
 * A route's path as OpenAPI writes it: API Gateway's greedy `{key+}` is `{key}` there, as client
 * generators take a parameter's name for a variable's (the gateway still routes `a/b` to it).
 */
export function openApiPath(path: string): string {
  return path.replace(/\{(\w+)\+\}/g, '{$1}');
}

/** The OpenAPI 3.1 contract of the API, built from the route table and the request schemas. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const path = openApiPath(route.path);
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'eaas: encryption as a service',
      version: '1.0.0',
      description:
        'Encrypt, decrypt, re-encrypt and generate data keys under KMS keys, without holding keys. Every request is signed with AWS SigV4 (service execute-api); binary values are base64. Generated from src/http/routes.ts by `npm run openapi`; do not edit by hand.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [
      { url: 'http://127.0.0.1:3000', description: 'The local stack (npm start)' },
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com/{stage}',
        variables: {
          apiId: { default: 'abc123' },
          region: { default: 'us-east-1' },
          stage: { default: 'dev' },
        },
      },
    ],
    paths,
    components: {
      schemas: { ErrorResponse },
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          description:
            'AWS Signature Version 4 (service execute-api), as API Gateway AWS_IAM authorization requires.',
        },
      },
    },
  };
}
