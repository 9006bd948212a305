import { describe, expect, it } from 'vitest';
import { type DocumentCursor, DocumentService } from '../../src/services/documents.js';
import { MemoryDataKeys } from '../fakes/data-keys.js';
import { MemoryBucket } from '../fakes/s3.js';
import { ALICE, BOB, callerOf, KEY_A, KEY_B } from '../helpers/upload-world.js';

/** GET /v1/objects' listing, against an in-memory vault: what it shows, and what one call may cost. */

async function vaultOf(listScanObjects?: number) {
  const keys = new MemoryDataKeys();
  const vault = new MemoryBucket();
  const documents = new DocumentService(keys.asKeys, vault, {
    version: 'v3',
    ...(listScanObjects ? { listScanObjects } : {}),
  });
  const alice = callerOf(ALICE, [KEY_A]);
  const bob = callerOf(BOB, [KEY_B]);
  for (let i = 0; i < 6; i++)
    await documents.put(alice, `a/${i}`, Buffer.from(`alice ${i}`), {
      keyId: KEY_A,
      context: { n: String(i % 2) },
    });
  for (let i = 0; i < 4; i++) await documents.put(bob, `a/b${i}`, Buffer.from(`bob ${i}`), { keyId: KEY_B });
  // What is never a document: another writer's object, an instruction file, and the service's records.
  vault.set('a/foreign', 'plain', { 'x-amz-key-v2': 'abc' });
  vault.set('a/0x.instruction', '{}');
  vault.set('jobs/j1.json', '{}');
  vault.set('quotas/q.json', '{}');
  return { vault, documents, alice, bob };
}

/** Every page of a listing, and how many calls it took. */
async function listAll(
  documents: DocumentService,
  caller: ReturnType<typeof callerOf>,
  prefix: string,
  limit: number,
) {
  const keys: string[] = [];
  let cursor: DocumentCursor | undefined;
  let calls = 0;
  do {
    const page = await documents.list(caller, prefix, limit, cursor);
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.next;
    calls++;
  } while (cursor && calls < 50);
  return { keys, calls };
}

describe('listing documents', () => {
  it('shows each caller only the documents it may decrypt, with their views, never other objects', async () => {
    const { documents, alice, bob } = await vaultOf();
    const page = await documents.list(alice, '', 100);
    expect(page.objects.map((o) => o.key)).toEqual(['a/0', 'a/1', 'a/2', 'a/3', 'a/4', 'a/5']);
    expect(page.next).toBeUndefined();
    expect(page.objects[1]).toMatchObject({
      format: 's3ec-v3',
      keyId: KEY_A,
      owner: ALICE,
      context: { n: '1' },
      size: 7,
    });
    expect((await documents.list(bob, 'a/b', 100)).objects.map((o) => o.key)).toEqual([
      'a/b0',
      'a/b1',
      'a/b2',
      'a/b3',
    ]);
    expect((await documents.list(alice, 'jobs/', 100)).objects).toEqual([]);
  });

  it('pages by limit, each page resuming after the last object examined, every document once', async () => {
    const { documents, alice } = await vaultOf();
    const first = await documents.list(alice, 'a/', 4);
    expect(first.objects.map((o) => o.key)).toEqual(['a/0', 'a/1', 'a/2', 'a/3']);
    expect(first.next).toEqual({ after: 'a/3' });
    expect(await listAll(documents, alice, 'a/', 4)).toEqual({
      keys: ['a/0', 'a/1', 'a/2', 'a/3', 'a/4', 'a/5'],
      calls: 2,
    });
  });

  it('examines at most its budget of stored objects per call, even when it finds nothing the caller may read', async () => {
    const { vault, documents, bob } = await vaultOf(3);
    const heads = vault.calls.head;
    const first = await documents.list(bob, 'a/', 10);
    expect(first.objects).toEqual([]);
    // a/0, a/0x.instruction (passed over unread) and a/1.
    expect(first.next).toEqual({ after: 'a/1' });
    expect(vault.calls.head - heads).toBe(2);
    const all = await listAll(documents, bob, 'a/', 10);
    expect(all.keys).toEqual(['a/b0', 'a/b1', 'a/b2', 'a/b3']);
    // 12 stored objects under a/, 3 a call: 4 calls, the last reaching the listing's end.
    expect(all.calls).toBe(4);
  });

  it('asks once per key and whole context in a call, however many documents share them', async () => {
    const { documents } = await vaultOf();
    const asked: { keyId: string; action: string }[] = [];
    const page = await documents.list(callerOf(ALICE, [KEY_A], asked), 'a/', 100);
    expect(page.objects).toHaveLength(6);
    // Two contexts under KEY_A, one under KEY_B.
    expect(asked).toHaveLength(3);
    expect(asked.every((a) => a.action === 'kms:Decrypt')).toBe(true);
  });
});
