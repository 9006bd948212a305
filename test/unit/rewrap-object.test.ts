import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  EAAS_METADATA,
  type EnvelopeHeader,
  encodeHeader,
  INSTRUCTION_METADATA,
} from '../../src/core/envelope/index.js';
import { DomainError, InvalidCiphertextError } from '../../src/core/errors.js';
import { type JobSpec, SCHEDULED_BY } from '../../src/core/rewrap-job.js';
import type { JobObjects, Keys, StoredObjectInfo } from '../../src/ports.js';
import { MAX_COPY_BYTES, type ObjectStepDeps, rewrapObject } from '../../src/services/rewrap-object.js';

/**
 * One object of a re-encryption job against an in-memory vault: the object and its instruction
 * file must agree (the API reads an object with the key its metadata names) whatever the copy does.
 */

const A = 'arn:aws:kms:us-east-1:111122223333:key/a';
const B = 'arn:aws:kms:us-east-1:111122223333:key/b';
const spec: JobSpec = {
  mode: 'source-key',
  sourceKeyArn: A,
  destinationKeyArn: B,
  prefix: '',
  dryRun: false,
  concurrency: 1,
};

/** A wrapped key is `<key arn>|<random>`: ReEncrypt swaps the arn, refusing a ciphertext under another key. */
const wrapped = (keyArn: string) => Buffer.from(`${keyArn}|${randomBytes(8).toString('hex')}`);
const keyOf = (ciphertext: Uint8Array) => Buffer.from(ciphertext).toString().split('|')[0];

interface Stored {
  body: string;
  etag: string;
  size: number;
  contentType?: string | undefined;
  metadata: Record<string, string>;
}

class Vault implements JobObjects {
  readonly objects = new Map<string, Stored>();
  private n = 0;
  /** Called after each head (a writer landing then). */
  afterHead?: (key: string) => void;
  /** Makes the next metadata copy fail with this error. */
  copyError?: DomainError | undefined;
  reEncrypts = 0;

  put(key: string, body: string, metadata: Record<string, string>, size = body.length): string {
    const etag = `"e${++this.n}"`;
    this.objects.set(key, { body, etag, size, metadata: { ...metadata } });
    return etag;
  }

  async listAfter(prefix: string, startAfter?: string, limit = Number.POSITIVE_INFINITY) {
    const keys = [...this.objects.keys()]
      .filter((k) => k.startsWith(prefix) && (startAfter === undefined || k > startAfter))
      .sort();
    return { keys: keys.slice(0, limit), truncated: keys.length > limit };
  }

  async head(key: string): Promise<StoredObjectInfo | undefined> {
    const o = this.objects.get(key);
    const out = o && {
      key,
      size: o.size,
      etag: o.etag,
      lastModified: new Date(0),
      contentType: o.contentType,
      metadata: { ...o.metadata },
    };
    this.afterHead?.(key);
    return out;
  }

  async read(key: string) {
    const o = this.objects.get(key);
    return o && { text: o.body, etag: o.etag, metadata: { ...o.metadata } };
  }
  async readFrom(): Promise<AsyncIterable<Uint8Array> | undefined> {
    throw new Error('a job streams no document');
  }

  async write(
    key: string,
    text: string,
    options: { metadata?: Record<string, string> | undefined; ifMatch?: string | undefined },
  ) {
    const o = this.objects.get(key);
    if (options.ifMatch !== undefined && o?.etag !== options.ifMatch)
      throw new DomainError('PreconditionFailed', 'changed');
    return { etag: this.put(key, text, options.metadata ?? {}) };
  }

  async replaceMetadata(key: string, metadata: Record<string, string>, options: { ifMatch: string }) {
    const o = this.objects.get(key);
    if (o?.etag !== options.ifMatch) throw new DomainError('PreconditionFailed', 'changed');
    const error = this.copyError;
    this.copyError = undefined;
    if (error) throw error;
    o.metadata = { ...metadata };
    return { etag: o.etag };
  }
}

function depsOf(vault: Vault): ObjectStepDeps {
  const keys = {
    reEncrypt: async (input: Parameters<Keys['reEncrypt']>[0]) => {
      vault.reEncrypts++;
      const from = keyOf(input.ciphertext) as string;
      if (input.sourceKeyId !== undefined && from !== input.sourceKeyId) throw new InvalidCiphertextError();
      const rest = Buffer.from(input.ciphertext).toString().split('|')[1];
      return {
        ciphertext: Buffer.from(`${input.destinationKeyId}|${rest}`),
        sourceKeyArn: from,
        keyArn: input.destinationKeyId,
      };
    },
  } as unknown as Keys;
  return {
    keys,
    objects: vault,
    now: () => new Date(),
    call: (_kms, fn) => fn(),
    step: async () => undefined,
    authorized: () => true,
  };
}

const header = (keyArn: string): EnvelopeHeader => ({
  version: 'v3',
  wrappedKey: wrapped(keyArn),
  kmsContext: { tenant: 'acme', 'aws:x-amz-cek-alg': '115' },
  messageId: randomBytes(28),
  commitment: randomBytes(28),
});

/** Writes an instruction-file object as the API does: the object first, then its instruction file. */
function upload(vault: Vault, key: string, keyArn: string, size = 100) {
  const encoded = encodeHeader(header(keyArn), { instructionFile: true });
  vault.put(
    key,
    'ciphertext',
    {
      ...encoded.metadata,
      [EAAS_METADATA.keyArn]: keyArn,
      [EAAS_METADATA.wrappedAt]: '2020-01-01T00:00:00Z',
    },
    size,
  );
  vault.put(`${key}.instruction`, encoded.instruction ?? '', { ...INSTRUCTION_METADATA });
}

/** The key an object's metadata names, and the key its instruction file's data key is really under. */
function agreement(vault: Vault, key: string) {
  const named = vault.objects.get(key)?.metadata[EAAS_METADATA.keyArn];
  const instruction = JSON.parse(vault.objects.get(`${key}.instruction`)?.body ?? '{}') as Record<
    string,
    string
  >;
  const under = keyOf(Buffer.from(instruction['x-amz-3'] ?? '', 'base64'));
  return { named, under };
}

/** Writes an object whose header is in its metadata, as the API does for a small context. */
function uploadInMetadata(vault: Vault, key: string, keyArn: string, wrappedAt = '2020-01-01T00:00:00Z') {
  vault.put(key, 'ciphertext', {
    ...encodeHeader(header(keyArn)).metadata,
    [EAAS_METADATA.keyArn]: keyArn,
    [EAAS_METADATA.wrappedAt]: wrappedAt,
  });
}

describe('rewrapObject: a header in metadata read long ago', () => {
  /** Another worker re-wraps `doc` onto B while this one waits on KMS: same bytes, so the same ETag. */
  function racedByAnotherWorker(vault: Vault, deps: ObjectStepDeps) {
    const reEncrypt = deps.keys.reEncrypt.bind(deps.keys);
    deps.keys.reEncrypt = async (input) => {
      const out = await reEncrypt(input);
      const o = vault.objects.get('doc');
      if (o && o.metadata[EAAS_METADATA.wrappedAt] === '2020-01-01T00:00:00Z')
        o.metadata = {
          ...encodeHeader(header(B)).metadata,
          [EAAS_METADATA.keyArn]: B,
          [EAAS_METADATA.wrappedAt]: '2030-01-01T00:00:00Z',
        };
      return out;
    };
  }

  it('is read again before the copy: moved meanwhile, it is left as the other worker wrote it', async () => {
    const vault = new Vault();
    uploadInMetadata(vault, 'doc', A);
    const etag = vault.objects.get('doc')?.etag;
    const deps = { ...depsOf(vault), recheckAfterMs: 0 };
    racedByAnotherWorker(vault, deps);
    expect(await rewrapObject(deps, spec, 'doc')).toEqual({ kind: 'alreadyCurrent' });
    expect(vault.objects.get('doc')?.etag).toBe(etag);
    expect(vault.objects.get('doc')?.metadata[EAAS_METADATA.wrappedAt]).toBe('2030-01-01T00:00:00Z');
  });

  it('a fresh head is not read again: the ETag condition alone cannot see the metadata change', async () => {
    const vault = new Vault();
    uploadInMetadata(vault, 'doc', A);
    const deps = { ...depsOf(vault), recheckAfterMs: 60_000 };
    racedByAnotherWorker(vault, deps);
    // What the re-read guards against, within its time: the copy passes and writes over the other's.
    expect(await rewrapObject(deps, spec, 'doc')).toEqual({ kind: 'rewrapped' });
    expect(vault.objects.get('doc')?.metadata[EAAS_METADATA.wrappedAt]).not.toBe('2030-01-01T00:00:00Z');
  });

  it('an object unchanged since its head is copied after the read again', async () => {
    const vault = new Vault();
    uploadInMetadata(vault, 'doc', A);
    expect(await rewrapObject({ ...depsOf(vault), recheckAfterMs: 0 }, spec, 'doc')).toEqual({
      kind: 'rewrapped',
    });
    expect(vault.objects.get('doc')?.metadata[EAAS_METADATA.keyArn]).toBe(B);
  });
});

describe('rewrapObject: the object and its instruction file agree', () => {
  it('re-wraps an instruction-file object: both name B', async () => {
    const vault = new Vault();
    upload(vault, 'doc', A);
    expect(await rewrapObject(depsOf(vault), spec, 'doc')).toEqual({ kind: 'rewrapped' });
    expect(agreement(vault, 'doc')).toEqual({ named: B, under: B });
  });

  it('refuses an object too large for one CopyObject before calling KMS or writing anything', async () => {
    const vault = new Vault();
    upload(vault, 'big', A, MAX_COPY_BYTES + 16);
    const before = vault.objects.get('big.instruction')?.etag;
    expect(await rewrapObject(depsOf(vault), spec, 'big')).toEqual({
      kind: 'failed',
      reason: 'too-large-to-copy',
    });
    expect(vault.reEncrypts).toBe(0);
    expect(vault.objects.get('big.instruction')?.etag).toBe(before);
    expect(agreement(vault, 'big')).toEqual({ named: A, under: A });
  });

  it('puts the instruction file back when S3 refuses the copy (4xx): still readable under A', async () => {
    const vault = new Vault();
    upload(vault, 'doc', A);
    vault.copyError = new DomainError('InternalError', 'S3 refused a request on doc: MetadataTooLarge.');
    expect(await rewrapObject(depsOf(vault), spec, 'doc')).toEqual({
      kind: 'failed',
      reason: 'InternalError',
    });
    expect(agreement(vault, 'doc')).toEqual({ named: A, under: A });
  });

  it('an upload landing between the head and the instruction read (object, then file) is left as written', async () => {
    const vault = new Vault();
    upload(vault, 'doc', A);
    let raced = false;
    vault.afterHead = (key) => {
      if (key !== 'doc' || raced) return;
      raced = true;
      upload(vault, 'doc', A); // a new upload under A: its object, then its instruction file
    };
    const outcome = await rewrapObject(depsOf(vault), spec, 'doc');
    // Whatever the job reports, the new upload must stay readable: its metadata and file agree.
    const after = agreement(vault, 'doc');
    expect(after.named).toBe(after.under);
    // Its copy lost (412), the file put back, the next attempt re-wraps the new upload itself.
    expect(outcome).toEqual({ kind: 'rewrapped' });
    expect(after).toEqual({ named: B, under: B });
  });
});

describe("rewrapObject: the starter's per-object check", () => {
  const refusing = (vault: Vault, seen: Record<string, string>[] = []): ObjectStepDeps => ({
    ...depsOf(vault),
    authorized: (context) => {
      seen.push(context);
      return false;
    },
  });

  it('skips a refused object as not-authorized before any KMS call or write, dry run included', async () => {
    for (const dryRun of [false, true]) {
      const vault = new Vault();
      upload(vault, 'doc', A);
      const before = [...vault.objects.values()].map((o) => o.etag);
      const seen: Record<string, string>[] = [];
      expect(await rewrapObject(refusing(vault, seen), { ...spec, dryRun }, 'doc')).toEqual({
        kind: 'skipped',
        reason: 'not-authorized',
      });
      expect(vault.reEncrypts).toBe(0);
      expect([...vault.objects.values()].map((o) => o.etag)).toEqual(before);
      // Asked with the full context stored with the object, exactly what KMS binds.
      expect(seen).toEqual([{ tenant: 'acme', 'aws:x-amz-cek-alg': '115' }]);
    }
  });

  it("counts another writer's refused object as unknown-key, not as one of the job's", async () => {
    const vault = new Vault();
    upload(vault, 'foreign', A);
    const o = vault.objects.get('foreign');
    if (o) delete o.metadata[EAAS_METADATA.keyArn];
    expect(await rewrapObject(refusing(vault), spec, 'foreign')).toEqual({
      kind: 'skipped',
      reason: 'unknown-key',
    });
    expect(vault.reEncrypts).toBe(0);
  });

  it('selects before reading a header: a broken object under another key is other-key, uncounted as failed', async () => {
    const vault = new Vault();
    vault.put('other', 'x', {
      'x-amz-3': 'not base64 !',
      [EAAS_METADATA.keyArn]: 'arn:aws:kms:us-east-1:111122223333:key/c',
    });
    vault.put('mine', 'x', { 'x-amz-3': 'not base64 !', [EAAS_METADATA.keyArn]: A });
    vault.put('foreign', 'x', { 'x-amz-3': 'not base64 !' });
    expect(await rewrapObject(depsOf(vault), spec, 'other')).toEqual({
      kind: 'skipped',
      reason: 'other-key',
    });
    expect(await rewrapObject(depsOf(vault), spec, 'mine')).toEqual({
      kind: 'failed',
      reason: 'malformed-metadata',
    });
    expect(await rewrapObject(depsOf(vault), spec, 'foreign')).toEqual({
      kind: 'failed',
      reason: 'unknown-key:malformed-metadata',
    });
  });

  it('finishes a copy left half done even when the starter is now refused (its data key is already moved)', async () => {
    const vault = new Vault();
    upload(vault, 'doc', A);
    class Crash extends Error {}
    const crashing: ObjectStepDeps = {
      ...depsOf(vault),
      step: async (name) => {
        if (name === 'instruction-written') throw new Crash();
      },
    };
    await expect(rewrapObject(crashing, spec, 'doc')).rejects.toBeInstanceOf(Crash);
    expect(agreement(vault, 'doc')).toEqual({ named: A, under: B });
    expect(await rewrapObject(refusing(vault), spec, 'doc')).toEqual({ kind: 'rewrapped' });
    expect(agreement(vault, 'doc')).toEqual({ named: B, under: B });
    expect(vault.reEncrypts).toBe(1);
  });
});

describe('rewrapObject: a copy left half done by an earlier job', () => {
  const C = 'arn:aws:kms:us-east-1:111122223333:key/c';
  class Crash extends Error {}
  /** Leaves 'doc' half done by a job from A to B: its instruction file under B, its metadata naming A. */
  async function halfDone(vault: Vault) {
    upload(vault, 'doc', A);
    const crashing: ObjectStepDeps = {
      ...depsOf(vault),
      step: async (name) => {
        if (name === 'instruction-written') throw new Crash();
      },
    };
    await expect(rewrapObject(crashing, spec, 'doc')).rejects.toBeInstanceOf(Crash);
    expect(agreement(vault, 'doc')).toEqual({ named: A, under: B });
  }

  it('a job made again to another destination completes the copy onto B, counted as the earlier job’s', async () => {
    const vault = new Vault();
    await halfDone(vault);
    const toC = { ...spec, destinationKeyArn: C };
    expect(await rewrapObject(depsOf(vault), { ...toC, dryRun: true }, 'doc')).toEqual({
      kind: 'skipped',
      reason: 'finished-for-another-job',
    });
    expect(agreement(vault, 'doc')).toEqual({ named: A, under: B });
    expect(await rewrapObject(depsOf(vault), toC, 'doc')).toEqual({
      kind: 'skipped',
      reason: 'finished-for-another-job',
    });
    expect(agreement(vault, 'doc')).toEqual({ named: B, under: B });
    expect(vault.reEncrypts).toBe(1);
  });

  it('the same destination (the job itself, or one made again) counts it rewrapped', async () => {
    const vault = new Vault();
    await halfDone(vault);
    expect(await rewrapObject(depsOf(vault), spec, 'doc')).toEqual({ kind: 'rewrapped' });
    expect(agreement(vault, 'doc')).toEqual({ named: B, under: B });
  });

  it("a finish-only pass (a cancelled job's) completes it, and touches no other object", async () => {
    const vault = new Vault();
    await halfDone(vault);
    upload(vault, 'other', A);
    uploadInMetadata(vault, 'meta', A);
    const finishOnly = { ...depsOf(vault), finishOnly: true };
    expect(await rewrapObject(finishOnly, spec, 'doc')).toEqual({ kind: 'rewrapped' });
    expect(agreement(vault, 'doc')).toEqual({ named: B, under: B });
    for (const key of ['other', 'meta'])
      expect(await rewrapObject(finishOnly, spec, key)).toEqual({ kind: 'skipped', reason: 'cancelled' });
    expect(agreement(vault, 'other')).toEqual({ named: A, under: A });
    expect(vault.objects.get('meta')?.metadata[EAAS_METADATA.keyArn]).toBe(A);
    expect(vault.reEncrypts).toBe(1);
  });
});

describe('RewrapService.tick', () => {
  it('gives every job its turn when one of them fails', async () => {
    const { RewrapService } = await import('../../src/services/rewrap.js');
    const documents = new Vault();
    upload(documents, 'good/doc', A);
    const listAfter = documents.listAfter.bind(documents);
    documents.listAfter = async (prefix: string, startAfter?: string, limit?: number) => {
      if (prefix === 'bad/')
        throw new DomainError('InternalError', 'S3 refused a request on bad/: AccessDenied.');
      return listAfter(prefix, startAfter, limit);
    };
    const records = new Vault();
    const lines: Record<string, unknown>[] = [];
    const service = new RewrapService(depsOf(documents).keys, {} as never, {} as never, documents, records, {
      log: (message, fields) => lines.push({ message, ...fields }),
    });
    // Ids in listing order: the failing job comes first.
    await service.create({ ...spec, prefix: 'bad/' }, SCHEDULED_BY, '1-bad');
    await service.create({ ...spec, prefix: 'good/' }, SCHEDULED_BY, '2-good');
    expect(await service.tick()).toEqual(['2-good']);
    expect((await service.load('2-good'))?.job.phase).toBe('succeeded');
    expect(agreement(documents, 'good/doc')).toEqual({ named: B, under: B });
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: 're-encryption job turn failed',
        jobId: '1-bad',
        error: 'InternalError',
      }),
    );
  });

  it('gives the jobs turns of one page each, so a large job does not hold up a small one; a finished job frees its slot', async () => {
    const { RewrapService } = await import('../../src/services/rewrap.js');
    const { QuotaLedger } = await import('../../src/services/quotas.js');
    const { MemoryQuotaStore } = await import('../helpers/memory-quota-store.js');
    const documents = new Vault();
    for (let i = 0; i < 4; i++) upload(documents, `big/doc-${i}`, A);
    upload(documents, 'small/doc', A);
    const listAll = documents.listAfter.bind(documents);
    documents.listAfter = async (prefix: string, startAfter?: string, limit = 1000) => {
      const all = await listAll(prefix, startAfter);
      return { keys: all.keys.slice(0, limit), truncated: all.keys.length > limit };
    };
    const pages: string[] = [];
    const store = new MemoryQuotaStore();
    const quotas = new QuotaLedger(store, { keys: 1, aliases: 1, jobs: 2 });
    const alice = 'arn:aws:iam::111122223333:user/alice';
    // alice administers both keys, so her jobs' objects pass the per-object check.
    const { AccessControl } = await import('../../src/services/access.js');
    const access = new AccessControl({
      describe: async (keyId) => ({ arn: keyId, keyId, state: 'Enabled', description: '' }),
      keyPolicy: async () =>
        JSON.stringify({
          Statement: [
            { Effect: 'Allow', Principal: { AWS: alice }, Action: 'kms:PutKeyPolicy', Resource: '*' },
          ],
        }),
      grantsFor: async () => [],
    });
    const service = new RewrapService(depsOf(documents).keys, {} as never, access, documents, new Vault(), {
      pageSize: 1,
      quotas,
      log: (message, fields) => {
        if (message === 're-encryption job page') pages.push(`${fields.jobId} ${fields.phase}`);
      },
    });
    // Ids in listing order: the large job comes first.
    await service.create({ ...spec, prefix: 'big/' }, alice, '1-big');
    await service.create({ ...spec, prefix: 'small/' }, alice, '2-small');
    expect(store.ids(alice, 'jobs')).toEqual(['1-big', '2-small']);
    expect(await service.tick()).toEqual(['1-big', '2-small']);
    // Turns alternate; the small job is done long before the large one.
    expect(pages.slice(0, 4).map((p) => p.split(' ')[0])).toEqual(['1-big', '2-small', '1-big', '2-small']);
    expect(pages.indexOf('2-small succeeded')).toBeLessThan(pages.length / 2);
    expect(pages.at(-1)).toBe('1-big succeeded');
    expect(store.ids(alice, 'jobs')).toEqual([]);
  });
});

describe("RewrapService: the starter's rights read afresh for each page", () => {
  it('reads each key policy once a page, not once an object, and a change takes effect at the next page', async () => {
    const { RewrapService } = await import('../../src/services/rewrap.js');
    const { AccessControl } = await import('../../src/services/access.js');
    const STARTER = 'arn:aws:iam::111122223333:user/operator';
    const adminOf = (who: string[]) =>
      JSON.stringify({
        Statement: [{ Effect: 'Allow', Principal: { AWS: who }, Action: 'kms:PutKeyPolicy', Resource: '*' }],
      });
    const policies = new Map([
      [A, adminOf([STARTER])],
      [B, adminOf([STARTER])],
    ]);
    const reads: string[] = [];
    // A 30 s cache, as the API's: the job must not lean on it.
    const access = new AccessControl({
      describe: async (keyId) => ({ arn: keyId, keyId, state: 'Enabled', description: '' }),
      keyPolicy: async (keyArn) => {
        reads.push(keyArn);
        return policies.get(keyArn) ?? '{}';
      },
      grantsFor: async () => [],
    });
    const documents = new Vault();
    for (let i = 0; i < 6; i++) upload(documents, `doc/${i}`, A);
    let pages = 0;
    let logged: Record<string, unknown> | undefined;
    const service = new RewrapService(depsOf(documents).keys, {} as never, access, documents, new Vault(), {
      // Four keys a page: two documents and their instruction files.
      pageSize: 4,
      log: (message, fields) => {
        if (message === 're-encryption job page') logged = fields;
      },
      step: (name) => {
        // After the counting page and the first page of re-wraps, the starter stops administering A.
        if (name === 'page-saved' && ++pages === 2) policies.set(A, adminOf(['someone-else']));
      },
    });
    const job = await service.create({ ...spec, concurrency: 2 }, STARTER);
    const done = await service.run(job.id);
    expect(done?.counts).toMatchObject({ rewrapped: 2, skipped: { 'not-authorized': 4 } });
    // The operators' log line carries every count (the API's view shows none).
    expect(logged).toMatchObject({
      phase: 'succeeded',
      scanned: 6,
      rewrapped: 2,
      alreadyCurrent: 0,
      skipped: { 'not-authorized': 4 },
      failed: {},
      deferred: 0,
    });
    // Three pages of two objects: one read of each key per page.
    expect(reads.filter((k) => k === A)).toHaveLength(3);
    expect(reads.filter((k) => k === B)).toHaveLength(3);
    expect(agreement(documents, 'doc/0')).toEqual({ named: B, under: B });
    expect(agreement(documents, 'doc/5')).toEqual({ named: A, under: A });
  });
});

describe('RewrapService: a starter that is a role session', () => {
  it('is re-checked as the session it started as: a Deny naming the session applies', async () => {
    const { RewrapService } = await import('../../src/services/rewrap.js');
    const { AccessControl } = await import('../../src/services/access.js');
    const ROLE = 'arn:aws:iam::111122223333:role/ops';
    const SESSION = 'arn:aws:sts::111122223333:assumed-role/ops/alice';
    const policy = JSON.stringify({
      Statement: [
        { Effect: 'Allow', Principal: { AWS: ROLE }, Action: 'kms:PutKeyPolicy', Resource: '*' },
        {
          Effect: 'Deny',
          Principal: { AWS: SESSION },
          Action: 'kms:*',
          Resource: '*',
          Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } },
        },
      ],
    });
    const access = new AccessControl({
      describe: async (keyId) => ({ arn: keyId, keyId, state: 'Enabled', description: '' }),
      keyPolicy: async () => policy,
      grantsFor: async () => [],
    });
    const run = async (createdByArn?: string) => {
      const documents = new Vault();
      upload(documents, 'doc', A);
      const service = new RewrapService(depsOf(documents).keys, {} as never, access, documents, new Vault());
      const job = await service.create({ ...spec, dryRun: true }, ROLE, 'j', createdByArn);
      return (await service.run(job.id))?.counts;
    };
    expect(await run(SESSION)).toMatchObject({ rewrapped: 0, skipped: { 'not-authorized': 1 } });
    // As the role alone (a record made before the session was kept), the Deny does not name it.
    expect(await run()).toMatchObject({ rewrapped: 1, skipped: {} });
  });
});

describe('RewrapService: the index of unfinished jobs', () => {
  /** A vault that counts the reads of job records (not of the index). */
  const countingVault = () => {
    const records = new Vault();
    let reads = 0;
    const read = records.read.bind(records);
    records.read = async (key: string) => {
      if (key !== 'jobs/index/unfinished.json') reads++;
      return read(key);
    };
    return { records, reads: () => reads };
  };

  it('costs a tick one read per unfinished job, not one per job ever made', async () => {
    const { RewrapService } = await import('../../src/services/rewrap.js');
    const { records, reads } = countingVault();
    const service = new RewrapService(
      depsOf(new Vault()).keys,
      {} as never,
      {} as never,
      new Vault(),
      records,
    );
    for (let i = 0; i < 40; i++)
      await service.create({ ...spec, prefix: `p${i}/` }, SCHEDULED_BY, `done-${i}`);
    expect(await service.tick()).toHaveLength(40);
    // Two more, not finished.
    await service.create({ ...spec, prefix: 'a/' }, SCHEDULED_BY, 'open-1');
    await service.create({ ...spec, prefix: 'b/' }, SCHEDULED_BY, 'open-2');
    const before = reads();
    expect(await service.unfinished()).toEqual(['open-1', 'open-2']);
    expect(reads() - before).toBe(2);
  });

  it('is built once from the records made before it, and drops an id whose record never appeared', async () => {
    const { RewrapService } = await import('../../src/services/rewrap.js');
    let now = new Date('2026-12-01T00:00:00Z');
    const { records } = countingVault();
    const service = new RewrapService(
      depsOf(new Vault()).keys,
      {} as never,
      {} as never,
      new Vault(),
      records,
      {
        now: () => now,
      },
    );
    await service.create({ ...spec, prefix: 'old/' }, SCHEDULED_BY, 'old-1');
    // As a data dir of an earlier version: the records, no index.
    records.objects.delete('jobs/index/unfinished.json');
    expect(await service.unfinished()).toEqual(['old-1']);
    // Kept once built.
    expect(records.objects.get('jobs/index/unfinished.json')?.body).toContain('old-1');
    // An id indexed by a create that died before writing its record.
    await service.create({ ...spec, prefix: 'x/' }, SCHEDULED_BY, 'ghost');
    records.objects.delete('jobs/ghost.json');
    expect(await service.unfinished()).toEqual(['old-1']);
    expect(records.objects.get('jobs/index/unfinished.json')?.body).toContain('ghost');
    now = new Date(now.getTime() + 11 * 60_000);
    expect(await service.unfinished()).toEqual(['old-1']);
    expect(records.objects.get('jobs/index/unfinished.json')?.body).not.toContain('ghost');
  });
});

describe('RewrapService: the Deny statements the per-object check honours', () => {
  const STARTER = 'arn:aws:iam::111122223333:user/operator';
  /** The policy the service writes for STARTER as administrator (with its Deny of every use), plus `extra`. */
  const policyWith = async (...extra: object[]) => {
    const { rolesKeyPolicy } = await import('../../src/core/key-policy.js');
    const doc = rolesKeyPolicy({ accountId: '111122223333', administrators: [STARTER], users: [] });
    return JSON.stringify({ ...doc, Statement: [...doc.Statement, ...extra] });
  };
  const jobUnder = async (sourcePolicy: string) => {
    const { RewrapService } = await import('../../src/services/rewrap.js');
    const { AccessControl } = await import('../../src/services/access.js');
    const destinationPolicy = await policyWith();
    const access = new AccessControl({
      describe: async (keyId) => ({ arn: keyId, keyId, state: 'Enabled', description: '' }),
      keyPolicy: async (keyArn) => (keyArn === A ? sourcePolicy : destinationPolicy),
      grantsFor: async () => [],
    });
    const documents = new Vault();
    upload(documents, 'doc', A);
    const service = new RewrapService(depsOf(documents).keys, {} as never, access, documents, new Vault());
    const job = await service.create(spec, STARTER);
    return { done: await service.run(job.id), documents };
  };

  it("passes over the administrators' own Deny the service writes (ADMIN_DENY_SID)", async () => {
    const { done, documents } = await jobUnder(await policyWith());
    expect(done?.counts).toMatchObject({ rewrapped: 1, skipped: {} });
    expect(agreement(documents, 'doc')).toEqual({ named: B, under: B });
  });

  it.each(['kms:ReEncrypt*', 'kms:ReEncryptFrom', 'kms:*'])(
    'honours a hand-written unconditional Deny of %s for the starter: the object is skipped, not-authorized',
    async (Action) => {
      const deny = { Sid: 'No moves', Effect: 'Deny', Principal: { AWS: STARTER }, Action, Resource: '*' };
      const { done, documents } = await jobUnder(await policyWith(deny));
      expect(done?.counts).toMatchObject({ rewrapped: 0, skipped: { 'not-authorized': 1 } });
      expect(documents.reEncrypts).toBe(0);
      expect(agreement(documents, 'doc')).toEqual({ named: A, under: A });
    },
  );

  it("honours a Deny under the administrators' Sid when it carries a condition", async () => {
    const { ADMIN_DENY_SID } = await import('../../src/core/key-policy.js');
    const deny = {
      Sid: ADMIN_DENY_SID,
      Effect: 'Deny',
      Principal: { AWS: STARTER },
      Action: 'kms:ReEncryptFrom',
      Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } },
    };
    const { done } = await jobUnder(await policyWith(deny));
    expect(done?.counts).toMatchObject({ rewrapped: 0, skipped: { 'not-authorized': 1 } });
  });
});
