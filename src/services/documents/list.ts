import { EAAS_METADATA } from '../../core/envelope/index.js';
import { isDocumentKey, reservedPrefixOf } from '../../core/reserved-keys.js';
import type { ObjectStore } from '../../ports.js';
import { scanPages } from '../scan.js';
import { type DocumentReader, type Header, viewOf } from './reader.js';
import {
  DEFAULT_LIST_SCAN_OBJECTS,
  type DocumentCaller,
  type DocumentCursor,
  type ObjectView,
} from './types.js';

/**
 * One page of the documents under `prefix` that the caller may decrypt: up to `limit` of them,
 * examining at most `budget` stored objects (one S3 listing page) per call, so that a call's cost
 * is bounded whatever the vault holds. Instruction files, job and quota records and objects this
 * service did not write are never listed. `next` (the last object examined) is where the
 * following call starts; the handler seals it into an opaque page token, since it may name a
 * document the caller may not know of. A page may hold fewer than `limit` (even none) with a
 * `next`: how many calls a listing takes reveals, of what the caller may not read, no more than
 * about how many times `budget` objects the prefix holds.
 */
export async function listDocuments(
  deps: { store: ObjectStore; reader: DocumentReader },
  caller: DocumentCaller,
  input: { prefix: string; limit: number; cursor?: DocumentCursor | undefined; budget?: number | undefined },
): Promise<{ objects: ObjectView[]; next?: DocumentCursor }> {
  const { store, reader } = deps;
  // Nothing under a reserved prefix is a document: the records there are not even examined.
  if (reservedPrefixOf(input.prefix) !== undefined) return { objects: [] };
  // One decision per key and whole context KMS binds, as every other read decides with.
  const decisions = new Map<string, Promise<boolean>>();
  const allowed = (keyArn: string, context: Record<string, string>) => {
    const decisionKey = `${keyArn}\n${JSON.stringify(Object.entries(context).sort())}`;
    let decision = decisions.get(decisionKey);
    if (!decision) {
      decision = caller.guard(keyArn, 'kms:Decrypt', context).then(
        () => true,
        () => false,
      );
      decisions.set(decisionKey, decision);
    }
    return decision;
  };
  const keep = async (key: string): Promise<ObjectView | undefined> => {
    if (!isDocumentKey(key)) return undefined;
    const info = await store.head(key);
    const keyArn = info?.metadata[EAAS_METADATA.keyArn];
    if (!info || !keyArn) return undefined;
    let parsed: Header;
    try {
      parsed = await reader.headerOf(key, info);
    } catch {
      return undefined;
    }
    if (!(await allowed(parsed.recorded ?? keyArn, parsed.header.kmsContext))) return undefined;
    return viewOf(key, info, parsed.header, parsed.instruction, parsed.recorded);
  };
  const out = await scanPages<string, ObjectView, DocumentCursor>({
    start: input.cursor,
    limit: input.limit,
    budget: input.budget ?? DEFAULT_LIST_SCAN_OBJECTS,
    keep,
    // A listing after a key: each page asks for no more than the call may still examine.
    fetch: async (at, room) => {
      const page = await store.list(input.prefix, room, undefined, at?.after);
      const last = page.items.at(-1)?.key;
      return {
        items: page.items.map((item) => item.key),
        ...(page.nextToken !== undefined && last !== undefined ? { next: { after: last } } : {}),
      };
    },
    resume: (at, keys, i) => (i === 0 ? at : { after: keys[i - 1] as string }),
  });
  return { objects: out.items, ...(out.next ? { next: out.next } : {}) };
}
