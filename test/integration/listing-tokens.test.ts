import { CreateAliasCommand } from '@aws-sdk/client-kms';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER, SERVICE } from '@eaas/aws-local';
import type { RawResponse } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Issue 12, finding 2(b): page tokens named the vault's keys (`["globex/contract.pdf",0]` in
 * base64url) to any caller, and following them listed every stored object, job records included.
 * Here every listing's nextToken is opaque and bound to its caller and parameters, and the
 * listings examine a bounded number of entries per call.
 */

let t: TestStack;
/** Stored objects one GET /v1/objects call examines: small, so that a few documents make pages. */
const SCAN = 3;
const DOCUMENTS = [
  'a/1.txt',
  'a/2.txt',
  'a/3.txt',
  'a/4.txt',
  'b/1.txt',
  'b/2.txt',
  'globex/contract.pdf',
  'globex/plan.docx',
];
const BIG_CONTEXT = { tenant: 'globex', note: 'n'.repeat(1000), more: 'm'.repeat(1000) };

type Body = Record<string, unknown> & { nextToken?: string };

async function ok(res: Promise<RawResponse>): Promise<Body> {
  const r = await res;
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as Body;
}

/** Every page of a listing as `who`, following nextToken; each answer kept whole. */
async function pages(who: string, path: string, query: Record<string, string> = {}) {
  const answers: Body[] = [];
  let nextToken: string | undefined;
  do {
    const body = await ok(
      t.client(who).raw('GET', path, undefined, { ...query, ...(nextToken ? { nextToken } : {}) }),
    );
    answers.push(body);
    nextToken = body.nextToken;
    expect(answers.length, 'a listing ends').toBeLessThan(200);
  } while (nextToken);
  return answers;
}

/** What a token shows to someone who decodes it every way there is. */
function decodings(token: string): string[] {
  return (['base64url', 'base64', 'hex'] as const).flatMap((from) => {
    const raw = Buffer.from(token, from === 'hex' ? 'base64url' : from);
    return [raw.toString('utf8'), raw.toString('latin1'), raw.toString('hex')];
  });
}

async function refused(res: Promise<RawResponse>) {
  const r = await res;
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  expect(r.body).toMatchObject({ error: 'InvalidPageToken' });
}

/** The token with one character changed in its middle (still base64url). */
const tampered = (token: string) => {
  const i = Math.floor(token.length / 2);
  return `${token.slice(0, i)}${token[i] === 'A' ? 'B' : 'A'}${token.slice(i + 1)}`;
};

beforeAll(async () => {
  t = await startTestStack({ env: { EAAS_LIST_SCAN_OBJECTS: String(SCAN) } });
  const user = t.client(KEY_USER);
  for (const key of DOCUMENTS) {
    const context = key.startsWith('globex/') ? { tenant: 'globex' } : { tenant: 'acme' };
    const res = await user.rawBytes('PUT', `/v1/objects/${encodeURIComponent(key)}`, Buffer.from(key), {
      keyId: 'alias/eaas-default',
      context: JSON.stringify(context),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
  // A document whose header does not fit in metadata: it has an instruction file beside it.
  const big = await user.rawBytes(
    'PUT',
    `/v1/objects/${encodeURIComponent('globex/board.pdf')}`,
    Buffer.from('x'),
    {
      keyId: 'alias/eaas-default',
      context: JSON.stringify(BIG_CONTEXT),
    },
  );
  expect(big.status, JSON.stringify(big.body)).toBe(200);
  // A re-encryption job's record, where the jobs keep them: the root of the vault.
  await t.s3(SERVICE).send(
    new PutObjectCommand({
      Bucket: t.config.vaultBucket,
      Key: 'jobs/0f1e2d3c-globex.json',
      Body: JSON.stringify({ spec: { prefix: 'globex/' }, cursor: 'globex/contract.pdf' }),
    }),
  );
});
afterAll(() => t.stop());

describe('GET /v1/objects: page tokens and what a page says', () => {
  it('myOutsider pages through the whole vault with limit=1 and never sees a name, a job record or a token it can read', async () => {
    const answers = await pages(OUTSIDER, '/v1/objects', { limit: '1' });
    for (const body of answers) {
      expect(body.objects).toEqual([]);
      const text = JSON.stringify(body);
      for (const leak of ['globex', 'contract.pdf', 'jobs/', '.instruction', 'a/1.txt'])
        expect(text).not.toContain(leak);
      if (body.nextToken)
        for (const decoded of decodings(body.nextToken)) {
          expect(decoded).not.toContain('globex');
          expect(decoded).not.toContain('jobs/');
          expect(decoded).not.toContain('.txt');
        }
    }
    // 9 documents, 1 instruction file and 1 job record, 3 examined a call: 4 calls, not one per object.
    expect(answers.length).toBeLessThanOrEqual(Math.ceil(11 / SCAN));
  });

  it('myKeyUser sees each of its documents once, never an instruction file or a job record', async () => {
    const answers = await pages(KEY_USER, '/v1/objects', { limit: '2' });
    const keys = answers.flatMap((b) => (b.objects as { key: string }[]).map((o) => o.key));
    expect(keys).toEqual([...DOCUMENTS, 'globex/board.pdf'].sort());
    for (const body of answers) expect((body.objects as unknown[]).length).toBeLessThanOrEqual(2);
  });

  it("myKeyUser's token replayed by myOutsider is refused with 400 InvalidPageToken", async () => {
    const first = await ok(t.client(KEY_USER).raw('GET', '/v1/objects', undefined, { limit: '1' }));
    expect(first.nextToken).toBeDefined();
    await refused(
      t
        .client(OUTSIDER)
        .raw('GET', '/v1/objects', undefined, { limit: '1', nextToken: first.nextToken ?? '' }),
    );
    // The owner still follows it.
    await ok(
      t
        .client(KEY_USER)
        .raw('GET', '/v1/objects', undefined, { limit: '1', nextToken: first.nextToken ?? '' }),
    );
  });

  it('a token of prefix a/ is refused for prefix b/ (and for no prefix); a tampered or forged token too', async () => {
    const a = await ok(t.client(KEY_USER).raw('GET', '/v1/objects', undefined, { prefix: 'a/', limit: '1' }));
    const token = a.nextToken ?? '';
    expect(token).not.toBe('');
    const user = t.client(KEY_USER);
    await refused(user.raw('GET', '/v1/objects', undefined, { prefix: 'b/', nextToken: token }));
    await refused(user.raw('GET', '/v1/objects', undefined, { nextToken: token }));
    await refused(user.raw('GET', '/v1/objects', undefined, { prefix: 'a/', nextToken: tampered(token) }));
    // The token the old code answered: the position in clear.
    const forged = Buffer.from(JSON.stringify(['globex/contract.pdf', 0])).toString('base64url');
    await refused(t.client(OUTSIDER).raw('GET', '/v1/objects', undefined, { nextToken: forged }));
    const next = await ok(
      user.raw('GET', '/v1/objects', undefined, { prefix: 'a/', limit: '1', nextToken: token }),
    );
    expect((next.objects as { key: string }[]).map((o) => o.key)).toEqual(['a/2.txt']);
  });

  it('lists nothing under jobs/, not even to the service principal of the vault', async () => {
    for (const who of [OUTSIDER, KEY_USER]) {
      const body = await ok(t.client(who).raw('GET', '/v1/objects', undefined, { prefix: 'jobs/' }));
      expect(body).toMatchObject({ objects: [] });
      expect(body.nextToken).toBeUndefined();
    }
  });
});

describe('key listings: tokens bound to the caller and the key', () => {
  let keyA = '';
  let keyB = '';

  beforeAll(async () => {
    const manager = t.client(KEY_MANAGER);
    for (const description of ['tokens A', 'tokens B']) {
      const created = await ok(
        manager.raw('POST', '/v1/keys', {
          description,
          users: [`arn:aws:iam::${t.config.accountId}:user/${KEY_USER}`],
        }),
      );
      const arn = (created.key as { arn: string }).arn;
      if (description === 'tokens A') keyA = arn;
      else keyB = arn;
    }
    for (const key of [keyA, keyB])
      for (const grantee of [GRANTEE, OUTSIDER, KEY_USER])
        await ok(
          manager.raw('POST', `/v1/keys/${encodeURIComponent(key)}/grants`, {
            grantee: `arn:aws:iam::${t.config.accountId}:user/${grantee}`,
            operations: ['DescribeKey'],
          }),
        );
  });

  it("GET /v1/keys: myKeyUser's token is refused to myOutsider; tampered, refused", async () => {
    const first = await ok(t.client(KEY_USER).raw('GET', '/v1/keys', undefined, { limit: '1' }));
    expect((first.keys as unknown[]).length).toBe(1);
    const token = first.nextToken ?? '';
    expect(token).not.toBe('');
    await refused(t.client(OUTSIDER).raw('GET', '/v1/keys', undefined, { nextToken: token }));
    await refused(t.client(KEY_USER).raw('GET', '/v1/keys', undefined, { nextToken: tampered(token) }));
    // Another listing's token is not this one's either.
    await refused(t.client(KEY_USER).raw('GET', '/v1/aliases', undefined, { nextToken: token }));
    await ok(t.client(KEY_USER).raw('GET', '/v1/keys', undefined, { limit: '1', nextToken: token }));
  });

  it('GET .../grants and .../rotations: a token of key A is refused for key B, and to another caller', async () => {
    const manager = t.client(KEY_MANAGER);
    const grantsOf = (key: string, q: Record<string, string>, who = manager) =>
      who.raw('GET', `/v1/keys/${encodeURIComponent(key)}/grants`, undefined, q);
    const first = await ok(grantsOf(keyA, { limit: '1' }));
    const token = first.nextToken ?? '';
    expect(token).not.toBe('');
    for (const decoded of decodings(token)) expect(decoded).not.toContain('eaas1:');
    await refused(grantsOf(keyB, { nextToken: token }));
    await refused(grantsOf(keyA, { nextToken: tampered(token) }));
    const rest = await pages(KEY_MANAGER, `/v1/keys/${encodeURIComponent(keyA)}/grants`, {
      limit: '1',
      nextToken: token,
    });
    expect([first, ...rest].flatMap((b) => b.grants as unknown[])).toHaveLength(3);

    for (const key of [keyA, keyA])
      await ok(manager.raw('POST', `/v1/keys/${encodeURIComponent(key)}/rotate`));
    const rotations = await ok(
      manager.raw('GET', `/v1/keys/${encodeURIComponent(keyA)}/rotations`, undefined, { limit: '1' }),
    );
    const rotationToken = rotations.nextToken ?? '';
    expect(rotationToken).not.toBe('');
    await refused(
      manager.raw('GET', `/v1/keys/${encodeURIComponent(keyB)}/rotations`, undefined, {
        nextToken: rotationToken,
      }),
    );
    await refused(
      manager.raw('GET', `/v1/keys/${encodeURIComponent(keyA)}/grants`, undefined, {
        nextToken: rotationToken,
      }),
    );
  });
});

describe('GET /v1/aliases: paginated, each call bounded', () => {
  const ALIASES = 130;
  let mine = '';

  beforeAll(async () => {
    // myOutsider's own keys with many aliases (made straight in KMS: the API's naming rules are not
    // the point here), spread over three keys since KMS allows 50 aliases a key.
    const keys: string[] = [];
    for (let k = 0; k < 3; k++) {
      const created = await ok(t.client(OUTSIDER).raw('POST', '/v1/keys', { description: 'many aliases' }));
      keys.push((created.key as { arn: string }).arn);
    }
    mine = keys[0] as string;
    const kms = t.kms(SERVICE);
    for (let i = 0; i < ALIASES; i++)
      await kms.send(
        new CreateAliasCommand({
          AliasName: `alias/outsider-${String(i).padStart(3, '0')}`,
          TargetKeyId: keys[i % keys.length],
        }),
      );
  });

  it('answers at most limit aliases a page and every visible alias once across the pages', async () => {
    const answers = await pages(OUTSIDER, '/v1/aliases', { limit: '7' });
    const names = answers.flatMap((b) => (b.aliases as { name: string }[]).map((a) => a.name));
    for (const body of answers) expect((body.aliases as unknown[]).length).toBeLessThanOrEqual(7);
    const outsiders = names.filter((n) => n.startsWith('alias/outsider-'));
    expect(outsiders).toHaveLength(ALIASES);
    expect(new Set(names).size).toBe(names.length);
    expect(names).not.toContain('alias/eaas-default');
  });

  it("a caller who sees few aliases gets them in calls of at most 100 examined, never myOutsider's", async () => {
    const answers = await pages(KEY_USER, '/v1/aliases', { limit: '100' });
    const names = answers.flatMap((b) => (b.aliases as { name: string }[]).map((a) => a.name));
    expect(names).toContain('alias/eaas-default');
    expect(names.filter((n) => n.startsWith('alias/outsider-'))).toEqual([]);
    // More than 100 aliases in the account: the first call stops at its budget, with a token.
    expect(answers.length).toBeGreaterThanOrEqual(2);
    expect(answers[0]?.nextToken).toBeDefined();
    await refused(
      t.client(OUTSIDER).raw('GET', '/v1/aliases', undefined, { nextToken: answers[0]?.nextToken ?? '' }),
    );
  });

  it('keeps the ?keyId= form, paginated too, its token bound to the key', async () => {
    const answers = await pages(OUTSIDER, '/v1/aliases', { keyId: mine, limit: '20' });
    const names = answers.flatMap((b) => (b.aliases as { name: string; keyId: string }[]).map((a) => a.name));
    // Every third alias is on the first key.
    expect(names).toHaveLength(Math.ceil(ALIASES / 3));
    expect(answers.every((b) => (b.aliases as { keyId: string }[]).every((a) => a.keyId === mine))).toBe(
      true,
    );
    const token = answers[0]?.nextToken ?? '';
    expect(token).not.toBe('');
    await refused(t.client(OUTSIDER).raw('GET', '/v1/aliases', undefined, { nextToken: token }));
    await refused(
      t
        .client(OUTSIDER)
        .raw('GET', '/v1/aliases', undefined, { keyId: 'alias/outsider-000', nextToken: token }),
    );
  });
});
