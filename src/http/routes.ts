import * as S from './schemas.js';

/**
 * The API's routes, in one place: the local gateway routes by this table, `openapi.yaml` is
 * generated from it, and a test checks that `serverless.yml` declares exactly these events.
 */
export type FunctionName = 'crypto' | 'whoami';

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  /** API Gateway resource path, with `{param}` segments. */
  path: string;
  function: FunctionName;
  operationId: string;
  summary: string;
  request?: object;
  response: object;
  /** Accepts `{ items: [...] }` of `request`, answered per item. */
  batch?: boolean;
  /** A valid request body, shown in the contract and sent by its test. */
  example?: Record<string, unknown>;
  query?: Record<string, { description: string; required?: boolean; schema: object }>;
}

export const FUNCTIONS: Readonly<Record<FunctionName, { description: string }>> = {
  crypto: { description: 'encrypt, decrypt, re-encrypt, data keys' },
  whoami: { description: 'who the caller is' },
};

export const ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: '/v1/encrypt',
    function: 'crypto',
    operationId: 'encrypt',
    summary: 'Encrypt a payload under a key (KMS for up to 4 KiB, an Encryption SDK message up to 4 MiB)',
    request: S.EncryptRequest,
    response: S.EncryptResponse,
    batch: true,
    example: { keyId: 'alias/eaas-default', plaintext: 'aGVsbG8sIHdvcmxk', context: { tenant: 'acme' } },
  },
  {
    method: 'POST',
    path: '/v1/decrypt',
    function: 'crypto',
    operationId: 'decrypt',
    summary: 'Decrypt a ciphertext of either format',
    request: S.DecryptRequest,
    response: S.DecryptResponse,
    batch: true,
    example: {
      ciphertext:
        'AUxmMWI5ZGE1Zi1mNjY4LTQ5NDUtOGFkZi1jNjdjY2EyYzI4ZGEAAAAAGHtuvst+oUxUP1fMi0US3VTTacz5rQC+7XnPohs1xSrL',
      context: { tenant: 'acme' },
    },
  },
  {
    method: 'POST',
    path: '/v1/re-encrypt',
    function: 'crypto',
    operationId: 'reEncrypt',
    summary: 'Move a ciphertext to another key or context; the plaintext never leaves the service',
    request: S.ReEncryptRequest,
    response: S.ReEncryptResponse,
    batch: true,
    example: {
      ciphertext:
        'AUxmMWI5ZGE1Zi1mNjY4LTQ5NDUtOGFkZi1jNjdjY2EyYzI4ZGEAAAAAGHtuvst+oUxUP1fMi0US3VTTacz5rQC+7XnPohs1xSrL',
      destinationKeyId: 'alias/eaas-default',
      context: { tenant: 'acme' },
    },
  },
  {
    method: 'POST',
    path: '/v1/data-keys',
    function: 'crypto',
    operationId: 'generateDataKey',
    summary: 'Generate a data key: the wrapped key, and the plaintext key unless includePlaintext is false',
    request: S.DataKeyRequest,
    response: S.DataKeyResponse,
    batch: true,
    example: { keyId: 'alias/eaas-default', keySpec: 'AES_256', context: { tenant: 'acme' } },
  },
  {
    method: 'GET',
    path: '/v1/whoami',
    function: 'whoami',
    operationId: 'whoAmI',
    summary: "The caller's principal and, with keyId, the key it names",
    response: S.WhoAmIResponse,
    query: { keyId: { description: 'A key to describe for the caller.', schema: S.KeyId } },
  },
];

/** Each route's path template as a regular expression and its parameter names, built once. */
const COMPILED = ROUTES.map((route) => {
  const names: string[] = [];
  const pattern = route.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    names.push(name.replace(/\+$/, ''));
    return name.endsWith('+') ? '(.+)' : '([^/]+)';
  });
  return { route, names, regex: new RegExp(`^${pattern}$`) };
});

/** Finds the route of a request; `path` is the concrete path, matched against `{param}` templates. */
export function matchRoute(
  method: string,
  path: string,
): { route: Route; pathParameters: Record<string, string> } | undefined {
  for (const { route, names, regex } of COMPILED) {
    if (route.method !== method) continue;
    const m = regex.exec(path);
    if (!m) continue;
    const pathParameters: Record<string, string> = Object.create(null);
    names.forEach((n, i) => {
      pathParameters[n] = decodeURIComponent(m[i + 1] ?? '');
    });
    return { route, pathParameters };
  }
  return undefined;
}
