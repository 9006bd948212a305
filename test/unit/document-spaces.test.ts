import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { pageKeyPolicy } from '../../src/core/page-key-policy.js';
import { PageTokens } from '../../src/core/page-token.js';
import { personConditions } from '../../src/core/person.js';
import { makeHandler as jobsHandler } from '../../src/handlers/jobs.js';
import { makeHandler as objectsHandler } from '../../src/handlers/objects.js';
import { makeHandler as uploadsHandler } from '../../src/handlers/uploads.js';
import { makeHandler as whoamiHandler } from '../../src/handlers/whoami.js';
import type { AuditRecord, Keys } from '../../src/ports.js';
import { AccessControl } from '../../src/services/access.js';
import { DocumentService } from '../../src/services/documents.js';
import { KeyService } from '../../src/services/keys.js';
import { RewrapService } from '../../src/services/rewrap.js';
import { UploadService } from '../../src/services/uploads.js';
import { MemoryDataKeys } from '../fakes/data-keys.js';
import { MemoryJobObjects } from '../fakes/job-objects.js';
import { MemoryKms } from '../fakes/kms.js';
import { MemoryBucket } from '../fakes/s3.js';
import { ACCOUNT, eventAs, PEOPLE_ROLE, type PersonId, personA, personB } from '../helpers/person-events.js';

/**
 * Each person's document space, through the routes (handlers driven with API Gateway events that
 * carry Cognito identities, over fakes of the ports). One rule decides: the page key's policy
 * statement (`pageKeyPolicy`, src/core/page-key-policy.ts), evaluated by the service's evaluator
 * with the caller's condition keys.
 */

const OPERATOR = `arn:aws:iam::${ACCOUNT}:user/myKeyUser`;
const pageKey = pageKeyPolicy({
  accountId: ACCOUNT,
  peopleRoleArn: PEOPLE_ROLE,
  serviceRoleArns: [`arn:aws:iam::${ACCOUNT}:role/eaas-local-objects`],
  adminRoleArns: [`arn:aws:iam::${ACCOUNT}:role/eaas-local-keys`],
});
const operatorKeyPolicy = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: OPERATOR },
      Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
      Resource: '*',
    },
  ],
};
const context = { awsRequestId: 'test', getRemainingTimeInMillis: () => 29_000 } as unknown as Context;

function world() {
  const kms = new MemoryKms();
  const pageKeyArn = kms.addKey(JSON.stringify(pageKey));
  const operatorKey = kms.addKey(JSON.stringify(operatorKeyPolicy));
  const access = new AccessControl(kms);
  const keys = new MemoryDataKeys();
  const vault = new MemoryBucket('docs/');
  const staging = new MemoryBucket();
  const documents = new DocumentService(keys.asKeys, vault, { version: 'v3' });
  const uploads = new UploadService(keys.asKeys, documents, staging, vault, {
    version: 'v3',
    urlSeconds: 900,
    maxUploadBytes: 1024 ** 3,
    leaseSeconds: 60,
    authorizeOwner: async (owner, keyArn, ctx, person) => {
      await access.guardFor({ arn: owner, conditions: personConditions(person) }, () => undefined)(
        keyArn,
        'kms:Encrypt',
        ctx,
      );
    },
  });
  const records = new MemoryJobObjects();
  const rewrap = new RewrapService({} as Keys, kms, access, new MemoryJobObjects(), records);
  const audit: AuditRecord[] = [];
  const deps = { audit: { record: (r: AuditRecord) => audit.push(r) }, logger: { error: () => undefined } };
  const pageTokens = new PageTokens(randomBytes(32));
  const handlers = {
    objects: objectsHandler({ ...deps, documents, access, pageTokens }),
    uploads: uploadsHandler({ ...deps, uploads, access }),
    jobs: jobsHandler({ ...deps, rewrap, pageTokens }),
    whoami: whoamiHandler({ ...deps, admin: kms, access, keys: new KeyService(kms, access, ACCOUNT) }),
  };
  return { kms, pageKey: pageKeyArn, operatorKey, vault, staging, uploads, rewrap, handlers, audit };
}

type World = ReturnType<typeof world>;
let w: World;
beforeEach(() => {
  w = world();
});

const json = (r: APIGatewayProxyResult) => JSON.parse(r.body) as Record<string, unknown>;
const call = (
  fn: keyof World['handlers'],
  name: string,
  who: PersonId | undefined,
  input: Parameters<typeof eventAs>[2] = {},
) => w.handlers[fn](eventAs(name, who, input), context);
const put = (
  who: PersonId | undefined,
  key: string,
  body: string,
  keyId = w.pageKey,
  ctx?: Record<string, string>,
) =>
  call('objects', 'put-object', who, {
    pathParameters: { key },
    query: { keyId, ...(ctx ? { context: JSON.stringify(ctx) } : {}) },
    body: Buffer.from(body),
  });
const get = (who: PersonId | undefined, key: string, query: Record<string, string> = {}) =>
  call('objects', 'get-object', who, { pathParameters: { key }, query });
const list = async (who: PersonId | undefined, prefix = '') =>
  (json(await call('objects', 'list-objects', who, { query: { prefix } })).objects as { key: string }[]).map(
    (o) => o.key,
  );

describe("a person's document space", () => {
  it('names are relative to the space; the vault keeps them under people/<identityId>/, bound to eaas:space', async () => {
    const res = await put(personA, 'notes/a.txt', 'from A', w.pageKey, { topic: 'x' });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toMatchObject({ key: 'notes/a.txt' });
    expect([...w.vault.objects.keys()]).toEqual([`people/${personA.identityId}/notes/a.txt`]);
    const view = json(await get(personA, 'notes/a.txt', { metadata: '' }));
    expect(view).toMatchObject({
      key: 'notes/a.txt',
      context: { topic: 'x', 'eaas:space': personA.identityId },
    });
    expect(await list(personA)).toEqual(['notes/a.txt']);
    expect(await list(personA, 'notes/')).toEqual(['notes/a.txt']);
    const body = await get(personA, 'notes/a.txt');
    expect(Buffer.from(body.body, body.isBase64Encoded ? 'base64' : 'utf8').toString()).toBe('from A');
  });

  it("B cannot list, read, download, delete or replace A's documents through any route", async () => {
    await put(personA, 'notes/a.txt', 'from A');
    expect(await list(personB)).toEqual([]);
    expect((await get(personB, 'notes/a.txt')).statusCode).toBe(404);
    expect((await get(personB, 'notes/a.txt', { metadata: '' })).statusCode).toBe(404);
    expect(
      (await call('objects', 'head-object', personB, { pathParameters: { key: 'notes/a.txt' } })).statusCode,
    ).toBe(404);
    expect(
      (await call('objects', 'create-download', personB, { body: { key: 'notes/a.txt' } })).statusCode,
    ).toBe(404);
    expect(
      (await call('objects', 'delete-object', personB, { pathParameters: { key: 'notes/a.txt' } }))
        .statusCode,
    ).toBe(404);
    // B's write of the same name is B's own document; A's is untouched.
    expect((await put(personB, 'notes/a.txt', 'from B')).statusCode).toBe(200);
    const upload = await call('uploads', 'create-upload', personB, {
      body: { key: 'notes/a.txt', keyId: w.pageKey, size: 3 },
    });
    expect(json(upload)).toMatchObject({ key: 'notes/a.txt' });
    const a = await get(personA, 'notes/a.txt');
    expect(Buffer.from(a.body, 'base64').toString()).toBe('from A');
    // Names that try to leave the space are refused as names.
    expect((await get(personB, `../${personA.identityId}/notes/a.txt`)).statusCode).toBe(400);
  });

  it("the key policy decides, not the names: A's document copied into B's space stays A's", async () => {
    await put(personA, 'a.txt', 'from A');
    const stored = w.vault.objects.get(`people/${personA.identityId}/a.txt`);
    if (!stored) throw new Error('not stored');
    w.vault.objects.set(`people/${personB.identityId}/copied.txt`, stored);
    expect((await get(personB, 'copied.txt')).statusCode).toBe(404);
    expect(await list(personB)).toEqual([]);
    expect(
      (await call('objects', 'delete-object', personB, { pathParameters: { key: 'copied.txt' } })).statusCode,
    ).toBe(404);
    // Nor does an operator without a Cognito identity read a person's document under the page key.
    expect(await list(undefined, 'people/')).toEqual([]);
    expect((await get(undefined, `people/${personA.identityId}/a.txt`)).statusCode).toBe(404);
  });

  it("uploads: the record is in the space, the seal binds eaas:space, another person's upload is NotFound", async () => {
    const created = json(
      await call('uploads', 'create-upload', personA, {
        body: { key: 'big.bin', keyId: w.pageKey, size: 5 },
      }),
    );
    expect(created).toMatchObject({ key: 'big.bin', state: 'pending' });
    const id = String(created.id);
    const record = JSON.parse(w.staging.objects.get(`records/${id}.json`)?.body.toString() ?? '{}');
    expect(record).toMatchObject({
      key: `people/${personA.identityId}/big.bin`,
      context: { 'eaas:space': personA.identityId },
    });
    for (const name of ['get-upload', 'cancel-upload'])
      expect((await call('uploads', name, personB, { pathParameters: { id } })).statusCode).toBe(404);
    w.staging.set(`incoming/${id}`, 'hello');
    expect(await w.uploads.seal(id)).toBe('sealed');
    expect(json(await call('uploads', 'get-upload', personA, { pathParameters: { id } }))).toMatchObject({
      key: 'big.bin',
      state: 'sealed',
    });
    expect(await list(personA)).toEqual(['big.bin']);
    expect(await list(personB)).toEqual([]);
  });

  it('jobs: a person administers no key, so starts and views none', async () => {
    const start = await call('jobs', 'start-re-encrypt-job', personB, {
      body: { olderThanRotation: true, destinationKeyId: w.pageKey },
    });
    expect(start.statusCode).toBe(403);
    const job = await w.rewrap.create(
      {
        mode: 'older-than-rotation',
        sourceKeyArn: w.pageKey,
        destinationKeyArn: w.pageKey,
        prefix: `people/${personA.identityId}/`,
        dryRun: true,
        concurrency: 1,
      },
      OPERATOR,
    );
    expect((await call('jobs', 'get-job', personB, { pathParameters: { id: job.id } })).statusCode).toBe(403);
  });

  it("eaas:space is the service's: any caller setting it (any case) is refused with 400 naming the pair", async () => {
    for (const who of [personA, undefined]) {
      const keyId = who ? w.pageKey : w.operatorKey;
      const res = await put(who, 'x.txt', 'x', keyId, { 'EAAS:Space': personB.identityId });
      expect(res.statusCode).toBe(400);
      expect(json(res)).toMatchObject({
        error: 'ValidationError',
        message: expect.stringContaining('eaas:space'),
      });
      const up = await call('uploads', 'create-upload', who, {
        body: { key: 'y', keyId, size: 1, context: { 'eaas:space': 'z' } },
      });
      expect(up.statusCode).toBe(400);
    }
    expect(w.vault.objects.size).toBe(0);
  });

  it("people/ is the spaces': a caller who is no person may not write there, so it cannot take a person's names", async () => {
    const squat = `people/${personA.identityId}/report.txt`;
    const res = await put(undefined, squat, 'squat', w.operatorKey);
    expect(res.statusCode).toBe(400);
    expect(json(res)).toMatchObject({
      error: 'ValidationError',
      message: expect.stringContaining('people/'),
    });
    const up = await call('uploads', 'create-upload', undefined, {
      body: { key: squat, keyId: w.operatorKey, size: 1 },
    });
    expect([up.statusCode, json(up).error]).toEqual([400, 'ValidationError']);
    expect(w.vault.objects.size).toBe(0);
    // The person's own name is still free: written into its space.
    expect((await put(personA, 'report.txt', 'mine')).statusCode).toBe(200);
    expect([...w.vault.objects.keys()].filter((k) => !k.endsWith('.instruction'))).toEqual([squat]);
  });

  it('a name too long once in the space is refused before anything is written', async () => {
    const long = 'n'.repeat(1024 - 'people/'.length - personA.identityId.length - 1 - 12 + 1);
    const res = await put(personA, long, 'x');
    expect(res.statusCode).toBe(400);
    expect(json(res)).toMatchObject({ error: 'ValidationError' });
    expect(w.vault.objects.size).toBe(0);
  });

  it('callers without a Cognito identity are unchanged', async () => {
    expect((await put(undefined, 'ops/x.txt', 'op', w.operatorKey)).statusCode).toBe(200);
    expect([...w.vault.objects.keys()]).toEqual(['ops/x.txt']);
    expect(await list(undefined)).toEqual(['ops/x.txt']);
    expect(await list(personA)).toEqual([]);
  });

  it('whoami shows a person its identity and space; of the page key, what its policy lets it see', async () => {
    const raw = await call('whoami', 'whoami', personA, { query: {} });
    expect(raw.statusCode, raw.body).toBe(200);
    expect(json(raw).person).toEqual({
      identityId: personA.identityId,
      identityPoolId: expect.any(String),
      space: { prefix: `people/${personA.identityId}/`, context: { 'eaas:space': personA.identityId } },
    });
    // The page key's policy gives people no DescribeKey: whoami tells them nothing of the key.
    expect((await call('whoami', 'whoami', personA, { query: { keyId: w.pageKey } })).statusCode).toBe(403);
    expect(json(await call('whoami', 'whoami', undefined, { query: {} })).person).toBeUndefined();
  });

  it('the audit record tells people apart (they share one role), never with a token', async () => {
    await put(personA, 'a.txt', 'a');
    await put(personB, 'b.txt', 'b');
    await put(undefined, 'ops/x.txt', 'op', w.operatorKey);
    const [a, b, op] = w.audit;
    expect(a?.principal).toBe(b?.principal);
    expect(a?.person).toEqual({ identityId: personA.identityId, identityPoolId: expect.any(String) });
    expect(b?.person).toEqual({ identityId: personB.identityId, identityPoolId: expect.any(String) });
    expect(op?.person).toBeUndefined();
  });

  it('a guest (unauthenticated) Cognito identity is refused', async () => {
    const event = eventAs('list-objects', personA, { query: {} });
    event.requestContext.identity.cognitoAuthenticationType = 'unauthenticated';
    const res = await w.handlers.objects(event, context);
    expect([res.statusCode, json(res).error]).toEqual([403, 'AccessDenied']);
  });

  it('an authenticated identity whose ids are not <region>:<uuid> is refused', async () => {
    const res = await call('objects', 'list-objects', { identityId: 'people/../x', sub: 's' }, { query: {} });
    expect(res.statusCode).toBe(403);
  });
});
