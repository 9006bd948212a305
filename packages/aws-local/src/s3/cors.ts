import { z } from 'zod';
import { malformedXml, S3Error } from './errors.js';
import { childrenNamed, childText, type XmlElement, xmlDocument } from './xml.js';

/**
 * Bucket CORS as S3 implements it: a list of rules (PutBucketCors XML), matched in order against
 * a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`, answered without
 * authentication) or an actual request's `Origin`. The first rule whose origin, method and
 * requested headers all match answers; origins and headers may hold one `*` wildcard.
 */

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'] as const;
const MAX_RULES = 100;

export const corsRuleSchema = z.object({
  id: z.string().optional(),
  allowedOrigins: z.array(z.string()).min(1),
  allowedMethods: z.array(z.enum(METHODS)).min(1),
  allowedHeaders: z.array(z.string()),
  exposeHeaders: z.array(z.string()),
  maxAgeSeconds: z.number().int().min(0).optional(),
});
export type CorsRule = z.infer<typeof corsRuleSchema>;
export const corsRulesSchema = z.array(corsRuleSchema).min(1).max(MAX_RULES);

const invalid = (message: string) => new S3Error('InvalidRequest', message);

/** Validates a parsed CORSConfiguration document into rules. */
export function corsRulesFrom(root: XmlElement): CorsRule[] {
  const rules = childrenNamed(root, 'CORSRule');
  if (rules.length === 0 || rules.length > MAX_RULES) throw malformedXml();
  return rules.map((rule) => {
    const texts = (name: string) => childrenNamed(rule, name).map((e) => e.text.trim());
    let maxAge: string | undefined;
    let id: string | undefined;
    try {
      maxAge = childText(rule, 'MaxAgeSeconds')?.trim();
      id = childText(rule, 'ID')?.trim();
    } catch {
      throw malformedXml();
    }
    const origins = texts('AllowedOrigin');
    const methods = texts('AllowedMethod');
    const headers = texts('AllowedHeader');
    if (origins.length === 0 || methods.length === 0) throw malformedXml();
    for (const method of methods)
      if (!(METHODS as readonly string[]).includes(method))
        throw invalid(`Found unsupported HTTP method in CORS config. Unsupported method is ${method}`);
    for (const origin of origins)
      if (origin.split('*').length > 2)
        throw invalid(`AllowedOrigin "${origin}" can not have more than one wildcard.`);
    for (const header of headers)
      if (header.split('*').length > 2)
        throw invalid(`AllowedHeader "${header}" can not have more than one wildcard.`);
    if (maxAge !== undefined && !/^\d{1,9}$/.test(maxAge)) throw malformedXml();
    return {
      ...(id ? { id } : {}),
      allowedOrigins: origins,
      allowedMethods: methods as CorsRule['allowedMethods'],
      allowedHeaders: headers,
      exposeHeaders: texts('ExposeHeader'),
      ...(maxAge !== undefined ? { maxAgeSeconds: Number(maxAge) } : {}),
    };
  });
}

export function corsXml(rules: readonly CorsRule[]): string {
  return xmlDocument('CORSConfiguration', {
    CORSRule: rules.map((r) => ({
      ID: r.id,
      AllowedHeader: r.allowedHeaders,
      AllowedMethod: r.allowedMethods,
      AllowedOrigin: r.allowedOrigins,
      ExposeHeader: r.exposeHeaders,
      MaxAgeSeconds: r.maxAgeSeconds,
    })),
  });
}

function wildcard(pattern: string, value: string, caseless: boolean): boolean {
  const star = pattern.indexOf('*');
  const p = caseless ? pattern.toLowerCase() : pattern;
  const v = caseless ? value.toLowerCase() : value;
  if (star < 0) return p === v;
  const head = p.slice(0, star);
  const tail = p.slice(star + 1);
  return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail);
}

const VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

function answerHeaders(rule: CorsRule, origin: string): Record<string, string> {
  const any = rule.allowedOrigins.includes('*');
  return {
    'Access-Control-Allow-Origin': any ? '*' : origin,
    'Access-Control-Allow-Methods': rule.allowedMethods.join(', '),
    ...(any ? {} : { 'Access-Control-Allow-Credentials': 'true' }),
    ...(rule.exposeHeaders.length > 0
      ? { 'Access-Control-Expose-Headers': rule.exposeHeaders.join(', ') }
      : {}),
    ...(rule.maxAgeSeconds !== undefined ? { 'Access-Control-Max-Age': String(rule.maxAgeSeconds) } : {}),
    Vary: VARY,
  };
}

function matching(rules: readonly CorsRule[], origin: string, method: string, headers: readonly string[]) {
  return rules.find(
    (rule) =>
      rule.allowedOrigins.some((o) => wildcard(o, origin, false)) &&
      (rule.allowedMethods as readonly string[]).includes(method) &&
      headers.every((h) => rule.allowedHeaders.some((a) => wildcard(a, h, true))),
  );
}

/** The answer to a preflight, or the S3 error refusing it. */
export function preflight(
  rules: readonly CorsRule[] | undefined,
  origin: string | undefined,
  method: string | undefined,
  requestHeaders: string | undefined,
): Record<string, string> {
  if (!origin) throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  if (!method) throw new S3Error('BadRequest', 'Invalid Access-Control-Request-Method: null');
  if (!(METHODS as readonly string[]).includes(method))
    throw new S3Error('BadRequest', `Invalid Access-Control-Request-Method: ${method}`);
  if (!rules) throw new S3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.');
  const headers = (requestHeaders ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  const rule = matching(rules, origin, method, headers);
  if (!rule) {
    throw new S3Error(
      'AccessForbidden',
      "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
    );
  }
  return {
    ...answerHeaders(rule, origin),
    ...(headers.length > 0 ? { 'Access-Control-Allow-Headers': headers.join(', ') } : {}),
  };
}

/** The CORS headers of an actual (non-preflight) request, when a rule allows its origin and method. */
export function actualCorsHeaders(
  rules: readonly CorsRule[] | undefined,
  origin: string | undefined,
  method: string,
): Record<string, string> {
  if (!rules || !origin) return {};
  const rule = matching(rules, origin, method, []);
  return rule ? answerHeaders(rule, origin) : {};
}
