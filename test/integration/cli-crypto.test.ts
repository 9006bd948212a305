import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node';
import {
  DecryptCommand,
  type DecryptCommandInput,
  EncryptCommand,
  type EncryptCommandInput,
  GenerateDataKeyCommand,
  type GenerateDataKeyCommandInput,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../helpers/cli-run.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

const KEY = 'alias/eaas-default';
const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
let t: TestStack;
let env: NodeJS.ProcessEnv;
let dir: string;

beforeAll(async () => {
  t = await startTestStack();
  env = cliEnv(t);
  dir = mkdtempSync(join(tmpdir(), 'eaas-cli-crypto-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await t?.stop();
});

const eaas = (args: string[], stdin?: Uint8Array | { file: string }) =>
  runCli(args, { env, ...(stdin ? { stdin } : {}) });
const file = (name: string) => join(dir, name);
/** The temporary files a run left beside `name`: none, whether it succeeded or failed. */
const leftovers = (name: string) => readdirSync(dir).filter((n) => n.startsWith(`.${name}.`));

function kmsFacade(kms: KMSClient) {
  return {
    generateDataKey: (a: GenerateDataKeyCommandInput) => kms.send(new GenerateDataKeyCommand(a)),
    encrypt: (a: EncryptCommandInput) => kms.send(new EncryptCommand(a)),
    decrypt: (a: DecryptCommandInput) => kms.send(new DecryptCommand(a)),
  } as never;
}

describe.concurrent('eaas encrypt and decrypt round trips', () => {
  for (const size of [0, 1, 4096, 4097]) {
    it(`${size} bytes through pipes`, async () => {
      const plaintext = randomBytes(size);
      const enc = await eaas(['encrypt', '--key', KEY, '--context', 'tenant=acme'], plaintext);
      expect(enc.stderr).toBe('');
      expect(enc.code).toBe(0);
      // Up to 4096 bytes: a KMS ciphertext from the API; above: an Encryption SDK message (0x0478).
      if (size > 0 && size <= 4096) expect(enc.stdout[0]).not.toBe(0x02);
      else expect([enc.stdout[0], enc.stdout.readUInt16BE(1)]).toEqual([0x02, 0x0478]);
      const dec = await eaas(['decrypt', '--context', 'tenant=acme'], enc.stdout);
      expect(dec.stderr).toBe('');
      expect(dec.code).toBe(0);
      expect(dec.stdout.equals(plaintext)).toBe(true);
    });

    it(`${size} bytes through files, with the description printed as JSON`, async () => {
      const plaintext = randomBytes(size);
      writeFileSync(file(`p${size}`), plaintext);
      const enc = await eaas(['encrypt', '--key', KEY, '--in', file(`p${size}`), '--out', file(`c${size}`)]);
      expect(enc.code).toBe(0);
      const described = JSON.parse(enc.stdout.toString());
      expect(described).toMatchObject({
        keyId: expect.stringMatching(/^arn:aws:kms:/),
        format: size > 0 && size <= 4096 ? 'kms' : 'aws-encryption-sdk',
        out: file(`c${size}`),
      });
      const dec = await eaas(['-o', 'json', 'decrypt', '--in', file(`c${size}`), '--out', file(`d${size}`)]);
      expect(dec.code).toBe(0);
      expect(JSON.parse(dec.stdout.toString()).keyId).toBe(described.keyId);
      expect(readFileSync(file(`d${size}`)).equals(plaintext)).toBe(true);
      expect(statSync(file(`d${size}`)).mode & 0o777).toBe(0o600);
      expect(leftovers(`d${size}`)).toEqual([]);
    });
  }
});

describe('eaas encrypt and decrypt of 50 MiB, streamed', () => {
  it('round-trips from a pipe to a file and back to a pipe, in bounded time', async () => {
    const size = 50 * 1024 * 1024;
    const source = file('big');
    // 50 MiB of random bytes, written in pieces; its digest to compare with.
    const want = createHash('sha256');
    await pipeline(
      (async function* () {
        for (let i = 0; i < 50; i++) {
          const piece = randomBytes(1024 * 1024);
          want.update(piece);
          yield piece;
        }
      })(),
      (await import('node:fs')).createWriteStream(source),
    );
    const started = Date.now();
    const enc = await eaas(['encrypt', '--key', KEY, '--context', 'size=50MiB', '--out', file('big.enc')], {
      file: source,
    });
    const encrypted = Date.now();
    expect(enc.stderr).toBe('');
    expect(enc.code).toBe(0);
    expect(statSync(file('big.enc')).size).toBeGreaterThan(size);
    const got = createHash('sha256');
    let bytes = 0;
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        got.update(chunk);
        bytes += chunk.length;
        done();
      },
    });
    const dec = await runCli(['decrypt', '--context', 'size=50MiB', '--in', file('big.enc')], {
      env,
      stdout: sink,
    });
    const decrypted = Date.now();
    expect(dec.stderr).toBe('');
    expect(dec.code).toBe(0);
    expect(bytes).toBe(size);
    const digest = got.digest('hex');
    expect(digest).toBe(want.digest('hex'));
    console.log(`50 MiB: encrypt ${encrypted - started} ms, decrypt ${decrypted - encrypted} ms`);

    // Any Encryption SDK with KMS access reads it: @aws-crypto/client-node with a KMS keyring on the local KMS.
    const keyring = new KmsKeyringNode({ discovery: true, clientProvider: () => kmsFacade(t.kms()) });
    const check = createHash('sha256');
    let header: { encryptionContext: Record<string, string> } | undefined;
    const reading = esdk.decryptUnsignedMessageStream(keyring);
    reading.once('MessageHeader', (h) => {
      header = h;
    });
    await pipeline(
      createReadStream(file('big.enc')),
      reading,
      new Writable({
        write(chunk: Buffer, _e, done) {
          check.update(chunk);
          done();
        },
      }),
    );
    expect(header?.encryptionContext).toEqual({ size: '50MiB' });
    expect(check.digest('hex')).toBe(digest);
    rmSync(source);
    rmSync(file('big.enc'));
  }, 120_000);
});

describe('interoperability with the AWS Encryption SDK on KMS', () => {
  it('a message made by @aws-crypto/client-node with a KMS keyring decrypts with eaas decrypt', async () => {
    const generator = new KmsKeyringNode({ generatorKeyId: KEY, clientProvider: () => kmsFacade(t.kms()) });
    const plaintext = randomBytes(300_000);
    // Unsigned (0x0478): decrypted here, streamed, with the data key unwrapped by the API.
    const unsigned = await esdk.encrypt(generator, plaintext, {
      encryptionContext: { from: 'sdk' },
      suiteId: 0x0478,
    });
    const a = await eaas(['decrypt', '--context', 'from=sdk', '--key', KEY], unsigned.result);
    expect(a.stderr).toBe('');
    expect(a.stdout.equals(plaintext)).toBe(true);
    // Signed (the SDK's default): its KMS context holds aws-crypto-public-key, so the API opens it whole.
    const signed = await esdk.encrypt(generator, plaintext, { encryptionContext: { from: 'sdk' } });
    expect(Object.keys(signed.messageHeader.encryptionContext)).toContain('aws-crypto-public-key');
    const b = await eaas(['decrypt', '--context', 'from=sdk'], signed.result);
    expect(b.stderr).toBe('');
    expect(b.stdout.equals(plaintext)).toBe(true);
  });
});

describe.concurrent('eaas data-key', () => {
  it('prints the wrapped key as JSON, and the API decrypts it under its context', async () => {
    const res = await eaas(['-o', 'json', 'data-key', '--key', KEY, '--context', 'use=dk']);
    expect(res.stderr).toBe('');
    const answer = JSON.parse(res.stdout.toString());
    expect(answer).toEqual({ keyId: expect.stringMatching(/^arn:aws:kms:/), ciphertext: expect.any(String) });
    const opened = await eaas(['decrypt', '--context', 'use=dk'], Buffer.from(answer.ciphertext, 'base64'));
    expect(opened.code).toBe(0);
    expect(opened.stdout.length).toBe(32);
  });

  it('writes the wrapped key and, only where asked, the plaintext key with mode 0600', async () => {
    const res = await eaas([
      'data-key',
      '--key',
      KEY,
      '--key-spec',
      'AES_128',
      '--out',
      file('dk.wrapped'),
      '--plaintext-out',
      file('dk.key'),
    ]);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout.toString())).toEqual({
      keyId: expect.stringMatching(/^arn:aws:kms:/),
      out: file('dk.wrapped'),
      plaintextOut: file('dk.key'),
    });
    expect(statSync(file('dk.key')).mode & 0o777).toBe(0o600);
    const key = readFileSync(file('dk.key'));
    expect(key.length).toBe(16);
    const opened = await eaas(['decrypt', '--in', file('dk.wrapped')]);
    expect(opened.stdout.equals(key)).toBe(true);
    // The plaintext key to a pipe, the wrapped one to a file.
    const piped = await eaas([
      'data-key',
      '--key',
      KEY,
      '--out',
      file('dk2.wrapped'),
      '--plaintext-out',
      '-',
    ]);
    expect(piped.code).toBe(0);
    expect(piped.stdout.length).toBe(32);
    expect((await eaas(['decrypt', '--in', file('dk2.wrapped')])).stdout.equals(piped.stdout)).toBe(true);
    // Both to standard output: a usage error, nothing written.
    const both = await eaas(['data-key', '--key', KEY, '--plaintext-out', '-']);
    expect(both.code).toBe(2);
    expect(both.stdout.length).toBe(0);
  });

  it('a key the caller may not use (or that does not exist): exit 4, the API error on standard error, nothing on standard output or at --out', async () => {
    const res = await eaas(['data-key', '--key', 'alias/no-such-key', '--out', file('nk')]);
    expect(res.code).toBe(4);
    expect(res.stdout.length).toBe(0);
    expect(res.stderr).toMatch(/^eaas: \w+: /);
    expect(existsSync(file('nk'))).toBe(false);
    expect(leftovers('nk')).toEqual([]);
  });
});

describe.concurrent('eaas re-encrypt', () => {
  for (const [name, size] of [
    ['a KMS ciphertext, in the service', 100],
    ['a message up to 4 MiB, in the service', 100_000],
    ['a message over 4 MiB, streamed here', 5 * 1024 * 1024],
  ] as const) {
    it(name, async () => {
      const f = (n: string) => file(`${n}.${size}`);
      const plaintext = randomBytes(size);
      writeFileSync(f('re.p'), plaintext);
      const enc = await eaas([
        'encrypt',
        '--key',
        KEY,
        '--context',
        'v=1',
        '--in',
        f('re.p'),
        '--out',
        f('re.c'),
      ]);
      expect(enc.code).toBe(0);
      const re = await eaas([
        're-encrypt',
        '--key',
        KEY,
        '--context',
        'v=1',
        '--destination-context',
        'v=2',
        '--in',
        f('re.c'),
        '--out',
        f('re.c2'),
      ]);
      expect(re.stderr).toBe('');
      expect(re.code).toBe(0);
      expect(JSON.parse(re.stdout.toString())).toEqual({
        sourceKeyId: expect.stringMatching(/^arn:aws:kms:/),
        keyId: expect.stringMatching(/^arn:aws:kms:/),
        format: size <= 4096 ? 'kms' : 'aws-encryption-sdk',
        out: f('re.c2'),
      });
      const old = await eaas(['decrypt', '--context', 'v=1', '--in', f('re.c2')]);
      expect(old.code).toBe(8);
      const dec = await eaas(['decrypt', '--context', 'v=2', '--in', f('re.c2'), '--out', f('re.p2')]);
      expect(dec.code).toBe(0);
      expect(readFileSync(f('re.p2')).equals(plaintext)).toBe(true);
    });
  }

  it('refuses the wrong source context with exit 8 and leaves nothing', async () => {
    const big = randomBytes(5 * 1024 * 1024);
    writeFileSync(file('re.big'), big);
    expect(
      (
        await eaas([
          'encrypt',
          '--key',
          KEY,
          '--context',
          'v=1',
          '--in',
          file('re.big'),
          '--out',
          file('re.bigc'),
        ])
      ).code,
    ).toBe(0);
    const res = await eaas([
      're-encrypt',
      '--key',
      KEY,
      '--context',
      'v=9',
      '--in',
      file('re.bigc'),
      '--out',
      file('re.x'),
    ]);
    expect(res.code).toBe(8);
    expect(res.stdout.length).toBe(0);
    expect(res.stderr).toMatch(/^eaas: InvalidCiphertext: /);
    expect(existsSync(file('re.x'))).toBe(false);
    expect(leftovers('re.x')).toEqual([]);
  });
});
