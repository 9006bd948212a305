import { randomBytes } from 'node:crypto';
import { GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER } from '@eaas/aws-local';
import { COLUMNS, PRINCIPAL, type Who } from '@eaas/aws-local/testing/callers';
import { signedFetch } from '@eaas/aws-local/testing/signed-fetch';
import { type EaasClient, type RawResponse, type WrappingAlgorithm, wrapKeyMaterial } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personalAliasPrefix } from '../../src/core/alias-names.js';
import { ROUTES } from '../../src/http/routes.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The authorization matrix: every route of the API against every kind of caller, each cell's
 * allow or deny asserted. A denial of a key that exists is 403 AccessDenied, never 404 or 500;
 * but a document the caller may not decrypt is answered as a missing one (404 NotFound), so that
 * no refusal tells the caller it exists.
 */

let t: TestStack;
let accountId: string;
/** The key of the matrix: myKeyManager administers it; myKeyUser and the role myAppRole use it. */
let key: string;
/** A key myGrantee held a grant on, revoked before the matrix runs. */
let revokedKey: string;
let granteeGrantId: string;
let acmeCiphertext: string;
let revokedCiphertext: string;

const acme = { tenant: 'acme' };
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function ok(res: Promise<RawResponse>): Promise<Record<string, unknown>> {
  const r = await res;
  if (r.status !== 200) throw new Error(`expected 200, got ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Record<string, unknown>;
}

interface Cell {
  /** Which callers are allowed; everyone else must get 403 AccessDenied (or `deniedAs`). */
  allowed: readonly Who[];
  /** The refusal when it is not 403 AccessDenied. */
  deniedAs?: { status: number; error: string };
  call(c: EaasClient, keyId: string): Promise<RawResponse>;
  /** For the key administrator: puts the key back as it was after an allowed call. */
  undo?(c: EaasClient, keyId: string): Promise<unknown>;
}

const ADMIN_ONLY: readonly Who[] = ['admin'];
const USERS: readonly Who[] = ['user', 'session'];

/** One cell per route, with the same names as the route table's operation ids. */
const CELLS: Record<string, Cell> = {
  encrypt: {
    allowed: [...USERS, 'grantee'],
    call: (c, k) => c.raw('POST', '/v1/encrypt', { keyId: k, plaintext: b64('m'), context: acme }),
  },
  decrypt: {
    allowed: [...USERS, 'grantee'],
    call: (c, k) =>
      // Naming the key: a caller without rights is refused before KMS is asked.
      c.raw('POST', '/v1/decrypt', {
        ciphertext: k === key ? acmeCiphertext : revokedCiphertext,
        context: acme,
        keyId: k,
      }),
  },
  reEncrypt: {
    allowed: USERS,
    call: (c, k) =>
      c.raw('POST', '/v1/re-encrypt', {
        ciphertext: k === key ? acmeCiphertext : revokedCiphertext,
        context: acme,
        sourceKeyId: k,
        destinationKeyId: k,
      }),
  },
  generateDataKey: {
    allowed: USERS,
    call: (c, k) => c.raw('POST', '/v1/data-keys', { keyId: k, context: acme }),
  },
  describeKey: { allowed: [...ADMIN_ONLY, ...USERS], call: (c, k) => c.raw('GET', `/v1/keys/${k}`) },
  enableKey: { allowed: ADMIN_ONLY, call: (c, k) => c.raw('POST', `/v1/keys/${k}/enable`) },
  disableKey: {
    allowed: ADMIN_ONLY,
    call: (c, k) => c.raw('POST', `/v1/keys/${k}/disable`),
    undo: (c, k) => ok(c.raw('POST', `/v1/keys/${k}/enable`)),
  },
  scheduleKeyDeletion: {
    allowed: ADMIN_ONLY,
    call: (c, k) => c.raw('DELETE', `/v1/keys/${k}`, undefined, { pendingWindowInDays: '7' }),
    undo: async (c, k) => {
      await ok(c.raw('POST', `/v1/keys/${k}/cancel-deletion`));
      await ok(c.raw('POST', `/v1/keys/${k}/enable`));
    },
  },
  cancelKeyDeletion: {
    allowed: ADMIN_ONLY,
    // Allowed callers get past authorization to the key's state: it is not pending deletion.
    call: (c, k) => c.raw('POST', `/v1/keys/${k}/cancel-deletion`),
  },
  getKeyRotation: { allowed: ADMIN_ONLY, call: (c, k) => c.raw('GET', `/v1/keys/${k}/rotation`) },
  putKeyRotation: {
    allowed: ADMIN_ONLY,
    call: (c, k) => c.raw('PUT', `/v1/keys/${k}/rotation`, { enabled: true, periodInDays: 180 }),
  },
  rotateKey: { allowed: ADMIN_ONLY, call: (c, k) => c.raw('POST', `/v1/keys/${k}/rotate`) },
  listKeyRotations: { allowed: ADMIN_ONLY, call: (c, k) => c.raw('GET', `/v1/keys/${k}/rotations`) },
  getKeyPolicy: { allowed: ADMIN_ONLY, call: (c, k) => c.raw('GET', `/v1/keys/${k}/policy`) },
  putKeyPolicy: {
    allowed: ADMIN_ONLY,
    call: async (c, k) => {
      // The policy as it is: an allowed call changes nothing.
      const current = k === key ? await t.client(KEY_MANAGER).raw('GET', `/v1/keys/${k}/policy`) : undefined;
      const { administrators, users } = (current?.body ?? {}) as {
        administrators?: string[];
        users?: string[];
      };
      return c.raw('PUT', `/v1/keys/${k}/policy`, {
        administrators: administrators ?? [`arn:aws:iam::${accountId}:user/${KEY_MANAGER}`],
        users: users ?? [],
      });
    },
  },
  createGrant: {
    allowed: ADMIN_ONLY,
    call: (c, k) =>
      c.raw('POST', `/v1/keys/${k}/grants`, {
        grantee: `arn:aws:iam::${accountId}:user/someone-else`,
        operations: ['Encrypt'],
      }),
    undo: async (c, k) => {
      const grants = (await ok(c.raw('GET', `/v1/keys/${k}/grants`))).grants as Array<{
        grantId: string;
        grantee: string;
      }>;
      for (const g of grants.filter((x) => x.grantee.endsWith('/someone-else')))
        await ok(c.raw('DELETE', `/v1/keys/${k}/grants/${g.grantId}`));
    },
  },
  listGrants: { allowed: ADMIN_ONLY, call: (c, k) => c.raw('GET', `/v1/keys/${k}/grants`) },
  revokeGrant: {
    allowed: ADMIN_ONLY,
    call: async (c, k) => {
      if (!ADMIN_ONLY.includes(whoIs(c))) return c.raw('DELETE', `/v1/keys/${k}/grants/${granteeGrantId}`);
      // The administrator revokes a grant made for the purpose, not the grantee's.
      const made = await ok(
        c.raw('POST', `/v1/keys/${k}/grants`, {
          grantee: `arn:aws:iam::${accountId}:user/short-lived`,
          operations: ['Decrypt'],
        }),
      );
      return c.raw('DELETE', `/v1/keys/${k}/grants/${made.grantId}`);
    },
  },
  putAlias: {
    allowed: ADMIN_ONLY,
    // A name each caller may claim (its own prefix), so that the key's administration decides.
    call: (c, k) => c.raw('PUT', `/v1/aliases/${ownAlias(c)}`, { keyId: k }),
    undo: (c) => ok(c.raw('DELETE', `/v1/aliases/${ownAlias(c)}`)),
  },
  deleteAlias: {
    allowed: ADMIN_ONLY,
    call: async (c, k) => {
      const alias = k === key ? 'matrix' : 'matrix-revoked';
      return c.raw('DELETE', `/v1/aliases/${alias}`);
    },
    undo: (c, k) => ok(c.raw('PUT', `/v1/aliases/${k === key ? 'matrix' : 'matrix-revoked'}`, { keyId: k })),
  },
};

/** Routes every signed caller may call: their answers depend on the caller, checked below. */
const ANY_CALLER = new Set([
  'createKey',
  'listKeys',
  'listAliases',
  'whoAmI',
  'listObjects',
  // The caller's own jobs only (anyone else's: never), checked in jobs-list.test.ts.
  'listJobs',
  // An upload is its creator's alone (anyone else: 404), checked in api-uploads.test.ts
  // (api-upload-resume.test.ts for resumeUpload).
  'getUpload',
  'completeUpload',
  'cancelUpload',
  'resumeUpload',
]);

/** A dry-run job per key, made by its administrator on first use, for GET /v1/jobs/{id}. */
const jobOfKey = new Map<string, Promise<string>>();
const jobOf = (k: string): Promise<string> => {
  let id = jobOfKey.get(k);
  if (!id) {
    id = ok(
      t.client(KEY_MANAGER).raw('POST', '/v1/jobs/re-encrypt', {
        olderThanRotation: true,
        destinationKeyId: k,
        prefix: 'matrix-jobs/',
        dryRun: true,
      }),
    ).then((body) => String(body.id));
    jobOfKey.set(k, id);
  }
  return id;
};

/** The dry-run job of a key once it has finished (the local stack runs it at once). */
const finishedJobOf = async (k: string): Promise<string> => {
  const id = await jobOf(k);
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    const view = await ok(t.client(KEY_MANAGER).raw('GET', `/v1/jobs/${id}`));
    if (view.state !== 'pending' && view.state !== 'running') return id;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} did not finish`);
};

Object.assign(CELLS, {
  // A current-material campaign on the key: its administrator alone (see README, Re-encryption jobs).
  startReEncryptJob: {
    allowed: ADMIN_ONLY,
    call: (c: EaasClient, k: string) =>
      c.raw('POST', '/v1/jobs/re-encrypt', {
        olderThanRotation: true,
        destinationKeyId: k,
        prefix: 'matrix-jobs/',
        dryRun: true,
      }),
  },
  getJob: {
    allowed: ADMIN_ONLY,
    call: async (c: EaasClient, k: string) => c.raw('GET', `/v1/jobs/${await jobOf(k)}`),
  },
  // The same dry run, finished (an empty prefix): the administrator passes the check and is
  // answered 409 InvalidState; everyone else is refused before the job's state is looked at.
  cancelJob: {
    allowed: ADMIN_ONLY,
    call: async (c: EaasClient, k: string) => c.raw('POST', `/v1/jobs/${await finishedJobOf(k)}/cancel`),
  },
} satisfies Record<string, Cell>);

/** The document of each key, stored with tenant=acme before the matrix runs. */
const docOf = (k: string) => `matrix/${k === key ? 'doc' : 'revoked-doc'}.txt`;
const objectPath = (name: string) => `/v1/objects/${encodeURIComponent(name)}`;
const putDoc = (c: EaasClient, k: string, name = docOf(k)) =>
  c.rawBytes('PUT', objectPath(name), Buffer.from('matrix document'), {
    keyId: k,
    context: JSON.stringify(acme),
  });

/** A document's refusal to a caller who may not decrypt it: as for a missing name. */
const HIDDEN = { status: 404, error: 'NotFound' } as const;

Object.assign(CELLS, {
  putObject: {
    allowed: [...USERS, 'grantee'],
    call: (c: EaasClient, k: string) => putDoc(c, k, `matrix/by-${whoIs(c)}.txt`),
  },
  getObject: {
    allowed: [...USERS, 'grantee'],
    deniedAs: HIDDEN,
    call: (c: EaasClient, k: string) => c.rawBytes('GET', objectPath(docOf(k))),
  },
  headObject: {
    allowed: [...USERS, 'grantee'],
    deniedAs: HIDDEN,
    call: (c: EaasClient, k: string) => c.rawBytes('HEAD', objectPath(docOf(k))),
  },
  // The streamed read decides as getObject does, through the same service call.
  streamObject: {
    allowed: [...USERS, 'grantee'],
    deniedAs: HIDDEN,
    call: (c: EaasClient, k: string) => c.rawBytes('GET', `/v1/streams/${docOf(k)}`),
  },
  createDownload: {
    allowed: [...USERS, 'grantee'],
    deniedAs: HIDDEN,
    call: (c: EaasClient, k: string) => c.raw('POST', '/v1/downloads', { key: docOf(k) }),
  },
  createUpload: {
    allowed: [...USERS, 'grantee'],
    call: (c: EaasClient, k: string) =>
      c.raw('POST', '/v1/uploads', {
        key: `matrix/upload-${whoIs(c)}.txt`,
        keyId: k,
        size: 10,
        context: acme,
      }),
  },
  deleteObject: {
    allowed: [...USERS, 'grantee'],
    deniedAs: HIDDEN,
    call: (c: EaasClient, k: string) => c.raw('DELETE', objectPath(docOf(k))),
    undo: (_c: EaasClient, k: string) => ok(putDoc(t.client(KEY_USER), k)),
  },
} satisfies Record<string, Cell>);

/**
 * Keys of the other kinds, each set up as the matrix key is (myKeyManager administers it,
 * myKeyUser and myAppRole use it, myGrantee holds a grant of its operations) and beside it one
 * whose grant to myGrantee was revoked, for the revoked column.
 */
type Kind = 'sign' | 'mac' | 'external' | 'rsa';
const kindKeys = {} as Record<Kind, { live: string; revoked: string }>;
const keyOfKind = (kind: Kind, k: string) => (k === key ? kindKeys[kind].live : kindKeys[kind].revoked);
/** The material of each EXTERNAL key, kept to import it again after a deletion. */
const materials = new Map<string, Buffer>();
const importInto = async (c: EaasClient, keyId: string) =>
  c.raw('PUT', `/v1/keys/${keyId}/material`, await wrappedFor(keyId));
async function wrappedFor(keyId: string) {
  const params = await ok(t.client(KEY_MANAGER).raw('GET', `/v1/keys/${keyId}/import-parameters`));
  const material = materials.get(keyId) ?? randomBytes(32);
  materials.set(keyId, material);
  return {
    importToken: String(params.importToken),
    encryptedKeyMaterial: wrapKeyMaterial(
      material,
      String(params.publicKey),
      params.wrappingAlgorithm as WrappingAlgorithm,
    ).toString('base64'),
  };
}
let signature: string;
let mac: string;
/** A ciphertext under each RSA key (live and revoked), made by its user. */
const rsaCiphertexts = new Map<string, string>();
const OAEP = 'RSAES_OAEP_SHA_256';
const RSA_USERS: readonly Who[] = [...USERS, 'grantee'];

Object.assign(CELLS, {
  sign: {
    allowed: [...USERS, 'grantee'],
    call: (c: EaasClient, k: string) =>
      c.raw('POST', '/v1/sign', { keyId: keyOfKind('sign', k), message: b64('matrix') }),
  },
  verify: {
    allowed: [...USERS, 'grantee'],
    call: (c: EaasClient, k: string) =>
      c.raw('POST', '/v1/verify', { keyId: keyOfKind('sign', k), message: b64('matrix'), signature }),
  },
  getPublicKey: {
    allowed: [...USERS, 'grantee'],
    call: (c: EaasClient, k: string) => c.raw('GET', `/v1/keys/${keyOfKind('sign', k)}/public-key`),
  },
  generateMac: {
    allowed: [...USERS, 'grantee'],
    call: (c: EaasClient, k: string) =>
      c.raw('POST', '/v1/mac', { keyId: keyOfKind('mac', k), message: b64('matrix') }),
  },
  verifyMac: {
    allowed: [...USERS, 'grantee'],
    call: (c: EaasClient, k: string) =>
      c.raw('POST', '/v1/verify-mac', { keyId: keyOfKind('mac', k), message: b64('matrix'), mac }),
  },
  // RSA keys for ENCRYPT_DECRYPT. A caller refused sends what would be a 400 about the key's kind
  // (no algorithm, an over-long plaintext) to a caller allowed: the 403 comes first.
  encryptRsa: {
    allowed: RSA_USERS,
    call: (c: EaasClient, k: string) =>
      RSA_USERS.includes(whoIs(c))
        ? c.raw('POST', '/v1/encrypt', {
            keyId: keyOfKind('rsa', k),
            plaintext: b64('matrix'),
            encryptionAlgorithm: OAEP,
          })
        : c.raw('POST', '/v1/encrypt', { keyId: keyOfKind('rsa', k), plaintext: b64('matrix') }),
  },
  decryptRsa: {
    allowed: RSA_USERS,
    call: (c: EaasClient, k: string) =>
      c.raw('POST', '/v1/decrypt', {
        ciphertext: rsaCiphertexts.get(keyOfKind('rsa', k)),
        keyId: keyOfKind('rsa', k),
        encryptionAlgorithm: OAEP,
      }),
  },
  reEncryptRsa: {
    allowed: RSA_USERS,
    call: (c: EaasClient, k: string) =>
      c.raw('POST', '/v1/re-encrypt', {
        ciphertext: rsaCiphertexts.get(keyOfKind('rsa', k)),
        sourceKeyId: keyOfKind('rsa', k),
        sourceEncryptionAlgorithm: OAEP,
        destinationKeyId: keyOfKind('rsa', k),
        destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
      }),
  },
  // Key material: administration, as for a key's policy.
  getImportParameters: {
    allowed: ADMIN_ONLY,
    call: (c: EaasClient, k: string) =>
      c.raw('GET', `/v1/keys/${keyOfKind('external', k)}/import-parameters`),
  },
  importKeyMaterial: {
    allowed: ADMIN_ONLY,
    call: async (c: EaasClient, k: string) => {
      const keyId = keyOfKind('external', k);
      // Who may not import is refused before its request is looked at: any well-formed body.
      if (!ADMIN_ONLY.includes(whoIs(c)))
        return c.raw('PUT', `/v1/keys/${keyId}/material`, {
          importToken: 'AAAA',
          encryptedKeyMaterial: 'AAAA',
        });
      return importInto(c, keyId);
    },
  },
  deleteKeyMaterial: {
    allowed: ADMIN_ONLY,
    call: (c: EaasClient, k: string) => c.raw('DELETE', `/v1/keys/${keyOfKind('external', k)}/material`),
    undo: async (c: EaasClient, k: string) => ok(importInto(c, keyOfKind('external', k))),
  },
} satisfies Record<string, Cell>);

const clients = new Map<EaasClient, Who>();
function whoIs(c: EaasClient): Who {
  return clients.get(c) ?? 'outsider';
}
/** An alias name under the caller's own prefix (`alias/<its user or role name>/`). */
function ownAlias(c: EaasClient): string {
  return encodeURIComponent(`${personalAliasPrefix(t.principal(PRINCIPAL[whoIs(c)]).arn, accountId)}matrix`);
}
function clientOf(who: Who): EaasClient {
  const c = t.client(PRINCIPAL[who]);
  clients.set(c, who);
  return c;
}

beforeAll(async () => {
  // Each function keeps its own authorization cache, as each Lambda does: a change made through
  // the keys function reaches the others within EAAS_AUTHZ_CACHE_SECONDS. These tests check each
  // decision at once, so they keep none.
  t = await startTestStack({ env: { EAAS_AUTHZ_CACHE_SECONDS: '0' } });
  accountId = t.config.accountId;
  const manager = t.client(KEY_MANAGER);
  const created = await ok(
    manager.raw('POST', '/v1/keys', {
      description: 'authorization matrix',
      users: [`arn:aws:iam::${accountId}:user/${KEY_USER}`, `arn:aws:iam::${accountId}:role/myAppRole`],
      alias: 'alias/matrix',
    }),
  );
  key = (created.key as { keyId: string }).keyId;
  const grant = await ok(
    manager.raw('POST', `/v1/keys/${key}/grants`, {
      grantee: `arn:aws:iam::${accountId}:user/${GRANTEE}`,
      operations: ['Encrypt', 'Decrypt'],
      constraints: { encryptionContextSubset: acme },
    }),
  );
  granteeGrantId = String(grant.grantId);
  await ok(putDoc(t.client(KEY_USER), key));
  acmeCiphertext = String(
    (
      await ok(
        t
          .client(KEY_USER)
          .raw('POST', '/v1/encrypt', { keyId: key, plaintext: b64('acme data'), context: acme }),
      )
    ).ciphertext,
  );

  // The revoked caller: myGrantee held every crypto operation on another key, used it, and lost it.
  const other = await ok(
    manager.raw('POST', '/v1/keys', { description: 'revoked grant', alias: 'matrix-revoked' }),
  );
  revokedKey = (other.key as { keyId: string }).keyId;
  const g = await ok(
    manager.raw('POST', `/v1/keys/${revokedKey}/grants`, {
      grantee: `arn:aws:iam::${accountId}:user/${GRANTEE}`,
      operations: ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GenerateDataKey', 'DescribeKey'],
    }),
  );
  revokedCiphertext = String(
    (
      await ok(
        t.client(GRANTEE).raw('POST', '/v1/encrypt', {
          keyId: revokedKey,
          plaintext: b64('before revocation'),
          context: acme,
          grantTokens: [g.grantToken],
        }),
      )
    ).ciphertext,
  );
  // The revoked grantee's own document, stored while its grant held.
  expect(
    (
      await t
        .client(GRANTEE)
        .rawBytes('PUT', objectPath(docOf(revokedKey)), Buffer.from('before revocation'), {
          keyId: revokedKey,
          context: JSON.stringify(acme),
        })
    ).status,
  ).toBe(200);
  await ok(manager.raw('DELETE', `/v1/keys/${revokedKey}/grants/${g.grantId}`));

  const users = [`arn:aws:iam::${accountId}:user/${KEY_USER}`, `arn:aws:iam::${accountId}:role/myAppRole`];
  const grantee = `arn:aws:iam::${accountId}:user/${GRANTEE}`;
  const kinds: Record<Kind, [Record<string, unknown>, string[]]> = {
    sign: [{ keySpec: 'ECC_NIST_P256' }, ['Sign', 'Verify', 'GetPublicKey']],
    mac: [{ keySpec: 'HMAC_256' }, ['GenerateMac', 'VerifyMac']],
    external: [{ origin: 'EXTERNAL' }, ['Encrypt', 'Decrypt']],
    rsa: [
      { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' },
      ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo'],
    ],
  };
  for (const [kind, [spec, operations]] of Object.entries(kinds) as [
    Kind,
    [Record<string, unknown>, string[]],
  ][]) {
    const made: string[] = [];
    for (const revoked of [false, true]) {
      const out = await ok(
        manager.raw('POST', '/v1/keys', { description: `matrix ${kind}`, users, ...spec }),
      );
      const id = (out.key as { keyId: string }).keyId;
      const grant = await ok(manager.raw('POST', `/v1/keys/${id}/grants`, { grantee, operations }));
      if (revoked) await ok(manager.raw('DELETE', `/v1/keys/${id}/grants/${grant.grantId}`));
      if (kind === 'external') await ok(importInto(manager, id));
      made.push(id);
    }
    kindKeys[kind] = { live: made[0] as string, revoked: made[1] as string };
  }
  const user = t.client(KEY_USER);
  signature = String(
    (await ok(user.raw('POST', '/v1/sign', { keyId: kindKeys.sign.live, message: b64('matrix') }))).signature,
  );
  mac = String(
    (await ok(user.raw('POST', '/v1/mac', { keyId: kindKeys.mac.live, message: b64('matrix') }))).mac,
  );
  for (const rsaKey of Object.values(kindKeys.rsa))
    rsaCiphertexts.set(
      rsaKey,
      String(
        (
          await ok(
            user.raw('POST', '/v1/encrypt', {
              keyId: rsaKey,
              plaintext: b64('matrix'),
              encryptionAlgorithm: OAEP,
            }),
          )
        ).ciphertext,
      ),
    );
});
afterAll(() => t.stop());

describe('the route table and the matrix agree', () => {
  it('has a cell for every route on a key, and names the rest as open to any signed caller', () => {
    for (const route of ROUTES) {
      expect(
        CELLS[route.operationId] !== undefined || ANY_CALLER.has(route.operationId),
        route.operationId,
      ).toBe(true);
    }
  });
});

describe.each(COLUMNS)('as %s', (who) => {
  it.each(Object.keys(CELLS))('%s', async (operationId) => {
    const cell = CELLS[operationId] as Cell;
    const c = clientOf(who);
    const keyId = who === 'revoked' ? revokedKey : key;
    const res = await cell.call(c, keyId);
    if (cell.allowed.includes(who)) {
      if (operationId === 'cancelKeyDeletion' || operationId === 'cancelJob') {
        expect(res.status).toBe(409);
        expect(res.body).toMatchObject({ error: 'InvalidState' });
      } else {
        expect(res.status, JSON.stringify(res.body)).toBe(200);
      }
      await cell.undo?.(c, keyId);
    } else {
      const denied = cell.deniedAs ?? { status: 403, error: 'AccessDenied' };
      expect(res.status, JSON.stringify(res.body)).toBe(denied.status);
      // A HEAD answer has no body to carry the code.
      if (operationId !== 'headObject') expect(res.body).toMatchObject({ error: denied.error });
    }
  });
});

describe('RSA keys: a caller refused learns nothing of the key kind', () => {
  it('what would be a 400 about the kind to a user is 403 to the outsider and the revoked grantee', async () => {
    for (const who of ['outsider', 'revoked'] as const) {
      const c = clientOf(who);
      const rsa = keyOfKind('rsa', who === 'revoked' ? revokedKey : key);
      const symmetric = who === 'revoked' ? revokedKey : key;
      for (const body of [
        {
          path: '/v1/encrypt',
          keyId: rsa,
          plaintext: randomBytes(300).toString('base64'),
          encryptionAlgorithm: OAEP,
        },
        { path: '/v1/encrypt', keyId: rsa, plaintext: randomBytes(5000).toString('base64') },
        { path: '/v1/encrypt', keyId: symmetric, plaintext: b64('m'), encryptionAlgorithm: OAEP },
        { path: '/v1/decrypt', keyId: rsa, ciphertext: b64('m'), encryptionAlgorithm: OAEP },
        { path: '/v1/decrypt', keyId: symmetric, ciphertext: b64('m'), encryptionAlgorithm: OAEP },
      ]) {
        const { path, ...request } = body;
        const res = await c.raw('POST', path, request);
        expect(res.status, `${who} ${JSON.stringify(request).slice(0, 120)}`).toBe(403);
        expect(res.body).toMatchObject({ error: 'AccessDenied' });
      }
      const re = await c.raw('POST', '/v1/re-encrypt', {
        ciphertext: acmeCiphertext,
        context: acme,
        destinationKeyId: symmetric,
        destinationEncryptionAlgorithm: OAEP,
      });
      expect(re.status).toBe(403);
    }
    // The same requests from a user: the 400s and 413 they are.
    const user = clientOf('user');
    const rsa = keyOfKind('rsa', key);
    const tooLong = await user.raw('POST', '/v1/encrypt', {
      keyId: rsa,
      plaintext: randomBytes(300).toString('base64'),
      encryptionAlgorithm: OAEP,
    });
    expect(tooLong.status).toBe(413);
    const noAlgorithm = await user.raw('POST', '/v1/encrypt', { keyId: rsa, plaintext: b64('m') });
    expect(noAlgorithm.body).toMatchObject({ error: 'InvalidKeyUsage' });
  });
});

describe('routes open to any signed caller answer according to the caller', () => {
  it('GET /v1/keys lists the key to its administrator, users and grantee, not to others', async () => {
    const listed = async (who: Who) =>
      (
        (await ok(clientOf(who).raw('GET', '/v1/keys', undefined, { limit: '100' }))).keys as Array<{
          keyId: string;
        }>
      )
        .map((k) => k.keyId)
        .includes(key);
    expect(await listed('admin')).toBe(true);
    expect(await listed('user')).toBe(true);
    expect(await listed('session')).toBe(true);
    expect(await listed('grantee')).toBe(true);
    expect(await listed('outsider')).toBe(false);
    const keys = (await ok(clientOf('admin').raw('GET', '/v1/keys', undefined, { limit: '100' })))
      .keys as Array<{
      keyId: string;
      access: { administer: boolean; use: boolean };
    }>;
    expect(keys.find((k) => k.keyId === key)?.access).toEqual({ administer: true, use: false });
  });

  it('GET /v1/aliases shows the alias to those who may describe the key', async () => {
    const names = async (who: Who) =>
      ((await ok(clientOf(who).raw('GET', '/v1/aliases'))).aliases as Array<{ name: string }>).map(
        (a) => a.name,
      );
    expect(await names('admin')).toContain('alias/matrix');
    expect(await names('user')).toContain('alias/matrix');
    expect(await names('outsider')).not.toContain('alias/matrix');
  });

  it('without keyId, a refused decrypt is the uniform InvalidCiphertext, right context or wrong', async () => {
    for (const context of [acme, { tenant: 'globex' }]) {
      const res = await clientOf('outsider').raw('POST', '/v1/decrypt', {
        ciphertext: acmeCiphertext,
        context,
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'InvalidCiphertext' });
    }
  });

  it('any signed caller may create a key and becomes its administrator', async () => {
    const out = await ok(clientOf('outsider').raw('POST', '/v1/keys', { description: 'mine' }));
    expect(out.administrators).toEqual([`arn:aws:iam::${accountId}:user/${OUTSIDER}`]);
    expect(out.rotation).toEqual({ enabled: true, periodInDays: 365 });
  });

  it('an unsigned request is refused by the gateway on every route', async () => {
    for (const route of ROUTES) {
      const path = route.path.replace(/\{(\w+)\}/g, (_m, n: string) => (n === 'keyId' ? key : 'x'));
      const res = await signedFetch({
        endpoint: t.api,
        principal: undefined,
        service: 'execute-api',
        method: route.method,
        path,
        headers: route.request ? { 'content-type': 'application/json' } : {},
        body: route.request ? '{}' : (undefined as unknown as string),
      });
      expect(res.status, `${route.method} ${route.path}`).toBe(403);
      expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    }
  });
});
