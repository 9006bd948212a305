import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  type KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeysCommand,
  ListRetirableGrantsCommand,
  RevokeGrantCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRANTEE, KEY_MANAGER } from '../../src/identity.js';
import { errorOf } from '../helpers/errors.js';
import { demoKey } from '../helpers/keys.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';

/**
 * Issue 12, finding 5: the local KMS rewrote its whole state file on every change, so creating
 * keys slowed as keys accumulated (1,505 keys in 40 s, 2,208 in 80 s) and every request read every
 * key. Now a change writes only its own record, and listings page from sorted indexes.
 */

const KEYS = 150;
let t: TestKms;
let admin: KMSClient;
const keyIds: string[] = [];

/** Every file under the KMS's folder, with what changes when it is rewritten (inode, size, time). */
function snapshot(): Map<string, string> {
  const root = join(t.dataDir, 'kms');
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else {
        const s = statSync(path);
        files.set(relative(root, path), `${s.ino}/${s.size}/${s.mtimeMs}`);
      }
    }
  };
  walk(root);
  return files;
}

/** The files `act` adds, changes or removes. */
async function written(act: () => Promise<unknown>): Promise<string[]> {
  const before = snapshot();
  await act();
  const after = snapshot();
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((p) => before.get(p) !== after.get(p)).sort();
}

beforeAll(async () => {
  t = await startTestKms();
  admin = t.client(KEY_MANAGER);
  for (let i = 0; i < KEYS; i++) {
    const key = await admin.send(new CreateKeyCommand(demoKey(t, { Description: `key ${i}` })));
    keyIds.push(key.KeyMetadata?.KeyId ?? '');
  }
}, 120_000);
afterAll(() => t.stop());

describe('the cost of a change (finding 5)', () => {
  it(`a change writes only its own record, with ${KEYS} keys already there`, async () => {
    let created = '';
    expect(
      await written(async () => {
        created = (await admin.send(new CreateKeyCommand(demoKey(t)))).KeyMetadata?.KeyId ?? '';
      }),
    ).toEqual([`keys/${created}.json`]);
    // The new record is as small as the first key's: its size does not grow with the keys.
    const size = (id: string) => statSync(join(t.dataDir, 'kms', 'keys', `${id}.json`)).size;
    expect(Math.abs(size(created) - size(keyIds[0] as string))).toBeLessThan(64);

    expect(
      await written(() =>
        admin.send(new UpdateKeyDescriptionCommand({ KeyId: keyIds[3], Description: 'new' })),
      ),
    ).toEqual([`keys/${keyIds[3]}.json`]);
    const alias = await written(() =>
      admin.send(new CreateAliasCommand({ AliasName: 'alias/one-file', TargetKeyId: created })),
    );
    expect(alias).toHaveLength(1);
    expect(alias[0]).toMatch(/^aliases\/[0-9a-f]{64}\.json$/);
    let grantId = '';
    expect(
      await written(async () => {
        grantId =
          (
            await admin.send(
              new CreateGrantCommand({
                KeyId: created,
                GranteePrincipal: t.principal(GRANTEE).arn,
                Operations: ['Decrypt'],
              }),
            )
          ).GrantId ?? '';
      }),
    ).toEqual([`grants/${grantId}.json`]);
    expect(
      await written(() => admin.send(new RevokeGrantCommand({ KeyId: created, GrantId: grantId }))),
    ).toEqual([`grants/${grantId}.json`]);
  });
});

describe('listings page by cursor', () => {
  it('ListKeys covers every key once, even when a page is followed after more keys were made', async () => {
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const out = await admin.send(new ListKeysCommand({ Limit: 40, Marker: marker }));
      seen.push(...(out.Keys ?? []).map((k) => k.KeyId ?? ''));
      marker = out.Truncated ? out.NextMarker : undefined;
      pages++;
    } while (marker);
    expect(pages).toBeGreaterThan(3);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of keyIds) expect(seen).toContain(id);
  });

  it('ListAliases pages all aliases, or one key’s, in name order', async () => {
    const key = keyIds[10] as string;
    for (const n of ['c', 'a', 'b']) {
      await admin.send(new CreateAliasCommand({ AliasName: `alias/paged-${n}`, TargetKeyId: key }));
    }
    const first = await admin.send(new ListAliasesCommand({ KeyId: key, Limit: 2 }));
    expect(first.Aliases?.map((a) => a.AliasName)).toEqual(['alias/paged-a', 'alias/paged-b']);
    expect(first.Truncated).toBe(true);
    const second = await admin.send(
      new ListAliasesCommand({ KeyId: key, Limit: 2, Marker: first.NextMarker }),
    );
    expect(second.Aliases?.map((a) => a.AliasName)).toEqual(['alias/paged-c']);
    expect(second.Truncated).toBe(false);
    const all = await admin.send(new ListAliasesCommand({ Limit: 100 }));
    const names = all.Aliases?.map((a) => a.AliasName) ?? [];
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['alias/eaas-default', 'alias/paged-a']));
  });

  it('ListGrants and ListRetirableGrants page a key’s grants; filters by grantee and grant id', async () => {
    const key = keyIds[20] as string;
    const grantee = t.principal(GRANTEE).arn;
    const retiring = t.principal(KEY_MANAGER).arn;
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const g = await admin.send(
        new CreateGrantCommand({
          KeyId: key,
          GranteePrincipal: i % 2 === 0 ? grantee : retiring,
          RetiringPrincipal: retiring,
          Operations: ['Decrypt'],
        }),
      );
      made.push(g.GrantId ?? '');
    }
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const out = await admin.send(new ListGrantsCommand({ KeyId: key, Limit: 2, Marker: marker }));
      expect(out.Grants?.length).toBeLessThanOrEqual(2);
      seen.push(...(out.Grants ?? []).map((g) => g.GrantId ?? ''));
      marker = out.Truncated ? out.NextMarker : undefined;
    } while (marker);
    expect(seen).toEqual([...made].sort());

    const toGrantee = await admin.send(new ListGrantsCommand({ KeyId: key, GranteePrincipal: grantee }));
    expect(toGrantee.Grants).toHaveLength(3);
    const one = await admin.send(new ListGrantsCommand({ KeyId: key, GrantId: made[1] }));
    expect(one.Grants?.map((g) => g.GrantId)).toEqual([made[1]]);
    // A grant of another key is not found through this key.
    const other = await admin.send(new ListGrantsCommand({ KeyId: keyIds[21], GrantId: made[1] }));
    expect(other.Grants).toEqual([]);

    const retirable = await admin.send(
      new ListRetirableGrantsCommand({ RetiringPrincipal: retiring, Limit: 3 }),
    );
    expect(retirable.Grants).toHaveLength(3);
    expect(retirable.Truncated).toBe(true);
    const rest = await admin.send(
      new ListRetirableGrantsCommand({ RetiringPrincipal: retiring, Limit: 3, Marker: retirable.NextMarker }),
    );
    expect(rest.Grants).toHaveLength(2);
  });

  it('a marker is opaque: it does not show the last id of its page', async () => {
    const page = await admin.send(new ListKeysCommand({ Limit: 1 }));
    const lastId = page.Keys?.[0]?.KeyId ?? '';
    const bytes = Buffer.from(page.NextMarker ?? '', 'base64url');
    expect(bytes.includes(Buffer.from(lastId))).toBe(false);
    expect(page.NextMarker).not.toContain(lastId);
  });

  it('a marker of another listing, altered, or of no listing, is InvalidMarkerException', async () => {
    const keysPage = await admin.send(new ListKeysCommand({ Limit: 1 }));
    const marker = keysPage.NextMarker ?? '';
    const altered = `${marker.slice(0, 20)}${marker[20] === 'A' ? 'B' : 'A'}${marker.slice(21)}`;
    expect((await errorOf(admin.send(new ListKeysCommand({ Marker: altered })))).name).toBe(
      'InvalidMarkerException',
    );
    const foreign = await errorOf(admin.send(new ListAliasesCommand({ Marker: keysPage.NextMarker })));
    expect(foreign.name).toBe('InvalidMarkerException');
    const grantsPage = await admin.send(new ListGrantsCommand({ KeyId: keyIds[20], Limit: 1 }));
    const otherKey = await errorOf(
      admin.send(new ListGrantsCommand({ KeyId: keyIds[21], Marker: grantsPage.NextMarker })),
    );
    expect(otherKey.name).toBe('InvalidMarkerException');
    expect((await errorOf(admin.send(new ListKeysCommand({ Marker: 'ZWFhczE6MA' })))).name).toBe(
      'InvalidMarkerException',
    );
  });
});

describe('KMS’s resource quotas', () => {
  it('a key takes at most 50 aliases: the 51st is LimitExceededException, and an alias moved to it too', async () => {
    const key = keyIds[30] as string;
    for (let i = 0; i < 50; i++) {
      await admin.send(new CreateAliasCommand({ AliasName: `alias/quota-${i}`, TargetKeyId: key }));
    }
    const over = await errorOf(
      admin.send(new CreateAliasCommand({ AliasName: 'alias/quota-50', TargetKeyId: key })),
    );
    expect(over.name).toBe('LimitExceededException');
    await admin.send(new CreateAliasCommand({ AliasName: 'alias/elsewhere', TargetKeyId: keyIds[31] }));
    const moved = await errorOf(
      admin.send(new UpdateAliasCommand({ AliasName: 'alias/elsewhere', TargetKeyId: key })),
    );
    expect(moved.name).toBe('LimitExceededException');
    // Pointing an alias of the key at the key again is no new alias.
    await admin.send(new UpdateAliasCommand({ AliasName: 'alias/quota-0', TargetKeyId: key }));
    expect((await admin.send(new ListAliasesCommand({ KeyId: key }))).Aliases).toHaveLength(50);
  });

  it('keys in the account and grants per key are bounded too (lowered for the test)', async () => {
    const small = await startTestKms({ limits: { keys: 3, grantsPerKey: 2 } });
    try {
      const a = small.client(KEY_MANAGER);
      // The seed's default key is the first of 3.
      const key = (await a.send(new CreateKeyCommand(demoKey(small)))).KeyMetadata?.KeyId;
      await a.send(new CreateKeyCommand(demoKey(small)));
      expect((await errorOf(a.send(new CreateKeyCommand(demoKey(small))))).name).toBe(
        'LimitExceededException',
      );
      const grant = () =>
        a.send(
          new CreateGrantCommand({
            KeyId: key,
            GranteePrincipal: small.principal(GRANTEE).arn,
            Operations: ['Decrypt'],
          }),
        );
      const first = await grant();
      await grant();
      expect((await errorOf(grant())).name).toBe('LimitExceededException');
      await a.send(new RevokeGrantCommand({ KeyId: key, GrantId: first.GrantId }));
      await grant();
    } finally {
      await small.stop();
    }
  });
});
