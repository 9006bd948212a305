import { ValidationError } from '../core/errors.js';
import type { PageTokens } from '../core/page-token.js';
import { type ApiHandler, type HttpDeps, makeApiHandler, type RouteInput } from '../http/api.js';
import { callerOf } from '../http/caller.js';
import { pagerFor } from '../http/paging.js';
import { limitFromQuery } from '../http/query.js';
import { ROUTES } from '../http/routes.js';
import { VALIDATORS } from '../http/validators/keys.js';
import { isAliasCursor, isKeyMarkerCursor, type KeyService, type Requester } from '../services/keys.js';
import { isScanCursor } from '../services/scan.js';

export interface KeysDeps extends HttpDeps {
  keys: KeyService;
  /** Seals and opens the listings' page tokens. */
  pageTokens: PageTokens;
}

function requester({ state }: RouteInput): Requester {
  return { caller: callerOf(state), record: (d) => state.audit.decisions.push(d) };
}

/** The key administration routes: /v1/keys..., /v1/aliases... */
/**
 * A query parameter the route's contract lists with an enum: absent, or one of its values; any
 * other value is 400 ValidationError naming them (before the service, and KMS, see it).
 */
function queryEnum<T extends string>(i: RouteInput, operationId: string, name: string): T | undefined {
  const value = i.query[name];
  if (value === undefined) return undefined;
  const schema = ROUTES.find((r) => r.operationId === operationId)?.query?.[name]?.schema as
    | { enum?: readonly string[] }
    | undefined;
  const allowed = schema?.enum ?? [];
  if (!allowed.includes(value))
    throw new ValidationError(`Invalid query: ${name} must be one of ${allowed.join(', ')}.`, [
      { path: `query.${name}`, message: `must be one of ${allowed.join(', ')}` },
    ]);
  return value as T;
}

export function makeHandler(deps: KeysDeps): ApiHandler {
  const { keys, pageTokens } = deps;
  const keyIdOf = (input: RouteInput) => {
    const keyId = input.pathParameters.keyId ?? '';
    if (keyId.length === 0 || keyId.length > 2048)
      throw new ValidationError('The key id in the path is not valid.');
    return keyId;
  };
  const audited = async <T extends Record<string, unknown>>(
    input: RouteInput,
    run: Promise<T>,
  ): Promise<T> => {
    const out = await run;
    const arn = (out.key as { arn?: string } | undefined)?.arn ?? (out.keyId as string | undefined);
    if (arn) input.state.audit.keyArn = arn;
    return out;
  };
  const r = requester;
  const b = (input: RouteInput) => input.body as never;
  /** The grants or rotations of the key in the path, one page. */
  const ofKey = (i: RouteInput, listing: string) =>
    pagerFor(pageTokens, i, listing, { keyId: keyIdOf(i) }, isKeyMarkerCursor);
  return makeApiHandler(
    'keys',
    {
      createKey: (i) => audited(i, keys.create(r(i), b(i))),
      listKeys: async (i) => {
        const page = pagerFor(pageTokens, i, 'listKeys', {}, isScanCursor);
        return page.answer(await keys.list(r(i), limitFromQuery(i.query), page.cursor));
      },
      describeKey: (i) => audited(i, keys.describe(r(i), keyIdOf(i))),
      enableKey: (i) => audited(i, keys.enable(r(i), keyIdOf(i))),
      disableKey: (i) => audited(i, keys.disable(r(i), keyIdOf(i))),
      scheduleKeyDeletion: (i) =>
        audited(
          i,
          keys.scheduleDeletion(
            r(i),
            keyIdOf(i),
            i.query.pendingWindowInDays === undefined ? undefined : Number(i.query.pendingWindowInDays),
          ),
        ),
      cancelKeyDeletion: (i) => audited(i, keys.cancelDeletion(r(i), keyIdOf(i))),
      getKeyRotation: (i) => audited(i, keys.rotation(r(i), keyIdOf(i))),
      putKeyRotation: (i) => audited(i, keys.putRotation(r(i), keyIdOf(i), b(i))),
      rotateKey: (i) => audited(i, keys.rotate(r(i), keyIdOf(i))),
      listKeyRotations: async (i) => {
        const page = ofKey(i, 'listKeyRotations');
        return page.answer(
          await audited(i, keys.rotations(r(i), keyIdOf(i), limitFromQuery(i.query), page.cursor)),
        );
      },
      getImportParameters: (i) =>
        audited(
          i,
          keys.importParameters(r(i), keyIdOf(i), {
            wrappingKeySpec: queryEnum(i, 'getImportParameters', 'wrappingKeySpec'),
            wrappingAlgorithm: queryEnum(i, 'getImportParameters', 'wrappingAlgorithm'),
          }),
        ),
      importKeyMaterial: (i) => audited(i, keys.importMaterial(r(i), keyIdOf(i), b(i))),
      deleteKeyMaterial: (i) => audited(i, keys.deleteMaterial(r(i), keyIdOf(i))),
      getKeyPolicy: (i) => audited(i, keys.policy(r(i), keyIdOf(i))),
      putKeyPolicy: (i) => audited(i, keys.putPolicy(r(i), keyIdOf(i), b(i))),
      createGrant: (i) => audited(i, keys.createGrant(r(i), keyIdOf(i), b(i))),
      listGrants: async (i) => {
        const page = ofKey(i, 'listGrants');
        return page.answer(
          await audited(i, keys.listGrants(r(i), keyIdOf(i), limitFromQuery(i.query), page.cursor)),
        );
      },
      revokeGrant: (i) => audited(i, keys.revokeGrant(r(i), keyIdOf(i), i.pathParameters.grantId ?? '')),
      listAliases: async (i) => {
        const page = pagerFor(pageTokens, i, 'listAliases', { keyId: i.query.keyId }, isAliasCursor);
        return page.answer(await keys.listAliases(r(i), i.query.keyId, limitFromQuery(i.query), page.cursor));
      },
      putAlias: (i) => audited(i, keys.putAlias(r(i), i.pathParameters.name ?? '', String(i.body.keyId))),
      deleteAlias: (i) => audited(i, keys.deleteAlias(r(i), i.pathParameters.name ?? '')),
    },
    deps,
    VALIDATORS,
  );
}
