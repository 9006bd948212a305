import {
  ListObjectsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../helpers/errors.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';

let t: TestS3;
let s3: S3Client;
const Bucket = 'eaas-staging';
const pad = (n: number, width: number) => String(n).padStart(width, '0');

// 1,050 keys: 700 flat ones, 300 under one sub-folder between two siblings, 48 folders of one key.
const FLAT = Array.from({ length: 700 }, (_, i) => `flat/${pad(i, 4)}`);
const MIX = ['mix/a', ...Array.from({ length: 300 }, (_, i) => `mix/b/${pad(i, 3)}`), 'mix/c'];
const TREE = Array.from({ length: 48 }, (_, i) => `tree/d${pad(i, 2)}/x`);
const ALL = [...FLAT, ...MIX, ...TREE];
// Binary UTF-8 order: B < a < a b < é < ｚ (U+FF5A) < 😀 (U+1F600); UTF-16 order puts 😀 before ｚ.
const ORDERED = ['order/B', 'order/a', 'order/a b', 'order/é', 'order/ｚ', 'order/😀'];

beforeAll(async () => {
  t = await startTestS3();
  s3 = t.client();
  const keys = [...ALL, ...ORDERED];
  for (let i = 0; i < keys.length; i += 50)
    await Promise.all(
      keys.slice(i, i + 50).map((Key) => s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }))),
    );
}, 60_000);
afterAll(async () => {
  await t.stop();
});

/** Every page of a V2 listing, following continuation tokens. */
async function pages(input: Omit<ListObjectsV2CommandInput, 'Bucket'>) {
  const out: Array<{ keys: string[]; prefixes: string[]; count: number }> = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, ...input, ContinuationToken: token }));
    const keys = (page.Contents ?? []).map((c) => c.Key ?? '');
    const prefixes = (page.CommonPrefixes ?? []).map((c) => c.Prefix ?? '');
    expect(page.KeyCount).toBe(keys.length + prefixes.length);
    out.push({ keys, prefixes, count: page.KeyCount ?? 0 });
    expect(page.IsTruncated).toBe(page.NextContinuationToken !== undefined);
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

describe('ListObjectsV2', () => {
  it('pages 1,050 keys by 100 through continuation tokens, each key once, in binary order', async () => {
    const all = await pages({ MaxKeys: 100, Prefix: 'f' });
    expect(all.map((p) => p.count)).toEqual([100, 100, 100, 100, 100, 100, 100]);
    const everything = await pages({ MaxKeys: 100 });
    expect(everything.map((p) => p.count)).toEqual([...Array(10).fill(100), 56]);
    const seen = everything.flatMap((p) => p.keys);
    expect(seen).toHaveLength(ALL.length + ORDERED.length);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });

  it('rolls keys up into common prefixes with a delimiter, each prefix once across pages', async () => {
    const top = await pages({ Delimiter: '/', MaxKeys: 100 });
    expect(top.flatMap((p) => p.prefixes)).toEqual(['flat/', 'mix/', 'order/', 'tree/']);

    const tree = await pages({ Prefix: 'tree/', Delimiter: '/', MaxKeys: 7 });
    expect(tree).toHaveLength(7);
    expect(tree.flatMap((p) => p.prefixes)).toEqual(TREE.map((k) => k.slice(0, -1)));
    expect(tree.flatMap((p) => p.keys)).toEqual([]);
  });

  it('a page that ends on a common prefix resumes after all of its keys', async () => {
    const mix = await pages({ Prefix: 'mix/', Delimiter: '/', MaxKeys: 1 });
    expect(mix.map((p) => [...p.keys, ...p.prefixes])).toEqual([['mix/a'], ['mix/b/'], ['mix/c']]);
    const mixed = await pages({ Prefix: 'mix/', Delimiter: '/', MaxKeys: 2 });
    expect(mixed.map((p) => [...p.keys, ...p.prefixes])).toEqual([['mix/a', 'mix/b/'], ['mix/c']]);
  });

  it('lists in the binary order of UTF-8, not of UTF-16', async () => {
    const keys = (await pages({ Prefix: 'order/' })).flatMap((p) => p.keys);
    expect(keys).toEqual(ORDERED);
    expect([...ORDERED].sort()).not.toEqual(ORDERED);
  });

  it('starts after StartAfter, and pages from there', async () => {
    const keys = (await pages({ Prefix: 'flat/', StartAfter: 'flat/0689', MaxKeys: 4 })).flatMap(
      (p) => p.keys,
    );
    expect(keys).toEqual(FLAT.slice(690));
  });

  it('URL-encodes keys and prefixes with EncodingType url', async () => {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'order/a', EncodingType: 'url' }));
    expect(page.Contents?.map((c) => c.Key)).toEqual(['order/a', 'order/a+b']);
  });

  it('refuses a forged continuation token and a bad max-keys with InvalidArgument', async () => {
    expect(
      await errorOf(s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken: 'not-a-token' }))),
    ).toMatchObject({
      name: 'InvalidArgument',
      status: 400,
    });
    expect(await errorOf(s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: -1 })))).toMatchObject({
      status: 400,
    });
  });

  it('answers an empty page for a prefix with no keys, and NoSuchBucket for a missing bucket', async () => {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'nothing/' }));
    expect(page).toMatchObject({ KeyCount: 0, IsTruncated: false });
    expect(page.Contents).toBeUndefined();
    expect(await errorOf(s3.send(new ListObjectsV2Command({ Bucket: 'missing-bucket' })))).toMatchObject({
      name: 'NoSuchBucket',
    });
  });
});

describe('ListObjects (V1)', () => {
  it('pages with Marker and NextMarker', async () => {
    const seen: string[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await s3.send(
        new ListObjectsCommand({ Bucket, Prefix: 'mix/', Delimiter: '/', MaxKeys: 1, Marker: marker }),
      );
      seen.push(
        ...(page.Contents ?? []).map((c) => c.Key ?? ''),
        ...(page.CommonPrefixes ?? []).map((c) => c.Prefix ?? ''),
      );
      if (!page.IsTruncated) break;
      marker = page.NextMarker;
    }
    expect(seen).toEqual(['mix/a', 'mix/b/', 'mix/c']);
  });
});
