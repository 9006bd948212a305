import { describe, expect, it } from 'vitest';
import { MarkerCodec } from '../../src/kms/markers.js';
import { SortedIds } from '../../src/kms/sorted-ids.js';

describe('SortedIds', () => {
  const ids = () => {
    const s = new SortedIds();
    for (const id of ['d', 'b', 'a', 'c', 'e', 'b']) s.add(id);
    return s;
  };

  it('keeps each id once, in order', () => {
    expect([...ids()]).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(ids().size).toBe(5);
  });

  it('pages after an id, saying whether more follow', () => {
    const s = ids();
    expect(s.page(undefined, 2)).toEqual({ ids: ['a', 'b'], more: true });
    expect(s.page('b', 2)).toEqual({ ids: ['c', 'd'], more: true });
    expect(s.page('d', 2)).toEqual({ ids: ['e'], more: false });
    expect(s.page('e', 2)).toEqual({ ids: [], more: false });
  });

  it('an id removed between two pages moves nothing: the next page starts after it', () => {
    const s = ids();
    const first = s.page(undefined, 2);
    s.delete('b');
    s.delete('a');
    expect(s.page(first.ids[1], 2)).toEqual({ ids: ['c', 'd'], more: true });
  });

  it('with a filter, returns only accepted ids and counts only them for more', () => {
    const s = ids();
    const vowel = (id: string) => id === 'a' || id === 'e';
    expect(s.page(undefined, 1, vowel)).toEqual({ ids: ['a'], more: true });
    expect(s.page('a', 1, vowel)).toEqual({ ids: ['e'], more: false });
  });
});

describe('MarkerCodec', () => {
  const root = Buffer.alloc(32, 3);

  it('opens what it sealed, for the same listing, across instances with the same root key', () => {
    const marker = new MarkerCodec(root).seal('keys', 'some-id');
    expect(new MarkerCodec(root).open('keys', marker)).toBe('some-id');
  });

  it('a marker of another listing, another root key, altered or made up does not open', () => {
    const codec = new MarkerCodec(root);
    const marker = codec.seal('grants/k1', 'g');
    expect(codec.open('grants/k2', marker)).toBeUndefined();
    expect(new MarkerCodec(Buffer.alloc(32, 4)).open('grants/k1', marker)).toBeUndefined();
    const bytes = Buffer.from(marker, 'base64url');
    bytes[13] = (bytes[13] ?? 0) ^ 1;
    expect(codec.open('grants/k1', bytes.toString('base64url'))).toBeUndefined();
    expect(codec.open('grants/k1', 'ZWFhczE6MA')).toBeUndefined();
    expect(codec.open('grants/k1', `${marker}=`)).toBeUndefined();
  });
});
