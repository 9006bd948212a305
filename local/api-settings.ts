import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ROUTES } from '../src/http/routes.js';

/**
 * What the deployed REST API is configured to do in front of the functions, read from
 * serverless.yml, the one source the template is generated from: its binary media types, its
 * stage and method throttling, its CORS origin. The local gateway applies these very values, so a
 * wrong setting fails locally as it would in AWS.
 */

export interface Throttle {
  /** Steady requests per second (API Gateway's rateLimit). */
  readonly rate: number;
  /** Bucket size: requests that may arrive at once (burstLimit). */
  readonly burst: number;
}

export interface ApiSettings {
  readonly binaryMediaTypes: readonly string[];
  /** The stage's default throttle, applied to each method without its own. */
  readonly throttle: Throttle;
  /** Method throttles, by `METHOD /path` of the route table. */
  readonly methodThrottles: Readonly<Record<string, Throttle>>;
  /** The page's origin the API allows cross-origin requests from. */
  readonly corsOrigin: string;
  /** Request headers a cross-origin request may send: SigV4's and the API's own. */
  readonly corsHeaders: readonly string[];
}

export const SERVERLESS_YML = fileURLToPath(new URL('../serverless.yml', import.meta.url));

/** `${param:name, 'default'}` and `${self:custom.x}` as osls resolves them with no --param given. */
function resolve(value: unknown, root: Record<string, unknown>): unknown {
  if (typeof value !== 'string') return value;
  return value.replace(/\$\{([^}]+)\}/g, (whole, expr: string) => {
    const fallback = /^(?:param|opt):[\w-]+,\s*'([^']*)'$/.exec(expr);
    if (fallback) return fallback[1] ?? '';
    if (expr.startsWith('self:')) {
      const found = expr
        .slice(5)
        .split('.')
        .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], root);
      return String(resolve(found, root));
    }
    return whole;
  });
}

function positive(value: unknown, what: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`serverless.yml: ${what} must be a positive number, not ${String(value)}`);
  return n;
}

function throttleOf(raw: unknown, root: Record<string, unknown>, what: string): Throttle {
  const t = (raw ?? {}) as Record<string, unknown>;
  return {
    rate: positive(resolve(t.rate, root), `${what}.rate`),
    burst: positive(resolve(t.burst, root), `${what}.burst`),
  };
}

/** The API settings of a serverless.yml (the repository's by default). */
export function readApiSettings(file: string = SERVERLESS_YML): ApiSettings {
  const root = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const provider = (root.provider ?? {}) as { apiGateway?: { binaryMediaTypes?: string[] } };
  const custom = (root.custom ?? {}) as Record<string, unknown>;
  const api = (custom.api ?? {}) as {
    throttle?: unknown;
    methodThrottles?: Record<string, unknown>;
    corsHeaders?: string[];
  };
  const methodThrottles: Record<string, Throttle> = {};
  for (const [route, raw] of Object.entries(api.methodThrottles ?? {})) {
    const [method, path] = route.split(' ');
    if (!ROUTES.some((r) => r.method === method && r.path === path))
      throw new Error(`serverless.yml: custom.api.methodThrottles names no route of the table: ${route}`);
    methodThrottles[route] = throttleOf(raw, root, `custom.api.methodThrottles["${route}"]`);
  }
  return {
    binaryMediaTypes: (provider.apiGateway?.binaryMediaTypes ?? []).map((t) =>
      String(resolve(t, root)).toLowerCase(),
    ),
    throttle: throttleOf(api.throttle, root, 'custom.api.throttle'),
    methodThrottles,
    corsOrigin: String(resolve(custom.webOrigin, root)),
    corsHeaders: (api.corsHeaders ?? []).map((h) => String(h)),
  };
}

/**
 * Whether a media type (a Content-Type, or the first type of an Accept) is in a binaryMediaTypes
 * list, whose entries may use `*` for a whole type or subtype (`*\/*`, `image/*`), as API Gateway
 * matches them (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html).
 * A request without the header matches only `*\/*`.
 */
export function matchesBinaryMediaType(list: readonly string[], header: string | undefined): boolean {
  const type = (header ?? '').split(',')[0]?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === '') return list.includes('*/*');
  const [main, sub] = type.split('/');
  return list.some((entry) => {
    const [m, s] = entry.split('/');
    return (m === '*' || m === main) && (s === '*' || s === sub);
  });
}
