/** The crypto commands' failures: decrypt refusals, interrupts, and --base64 text. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli, spawnCli } from '../helpers/cli-run.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

const KEY = 'alias/eaas-default';
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

describe.concurrent('decrypt failures: exit 8, a message on standard error, nothing on standard output or at --out', () => {
  let small: Buffer;
  let message: Buffer;
  beforeAll(async () => {
    small = (await eaas(['encrypt', '--key', KEY, '--context', 'a=b'], randomBytes(100))).stdout;
    message = (await eaas(['encrypt', '--key', KEY, '--context', 'a=b'], randomBytes(200_000))).stdout;
  });

  const flip = (bytes: Buffer, at: number) => {
    const copy = Buffer.from(bytes);
    copy[at] = (copy[at] ?? 0) ^ 0x01;
    return copy;
  };
  const cases: [string, () => Buffer, string[]][] = [
    ['a tampered KMS ciphertext', () => flip(small, small.length - 5), ['--context', 'a=b']],
    ['a KMS ciphertext under the wrong context', () => small, ['--context', 'a=c']],
    ['a truncated KMS ciphertext', () => small.subarray(0, small.length - 10), ['--context', 'a=b']],
    ['a message tampered in its header', () => flip(message, 40), ['--context', 'a=b']],
    ['a message tampered in its last frame', () => flip(message, message.length - 20), ['--context', 'a=b']],
    ['a truncated message', () => message.subarray(0, message.length - 100), ['--context', 'a=b']],
    ['a message under the wrong context', () => message, ['--context', 'a=c']],
    ['a message under another context than none', () => message, ['--context', 'x=y', '--context', 'a=b']],
    ['a message named under another key', () => message, ['--key', 'alias/no-such-key']],
    ['garbage', () => randomBytes(5000), []],
    ['nothing', () => Buffer.alloc(0), []],
  ];
  for (const [i, [name, bytes, args]] of cases.entries()) {
    it(name, async () => {
      const bad = file(`bad${i}`);
      const out = file(`bad${i}.out`);
      writeFileSync(bad, bytes());
      const piped = await eaas(['decrypt', ...args], bytes());
      expect(piped.code).toBe(8);
      expect(piped.stdout.length).toBe(0);
      expect(piped.stderr).toMatch(/^eaas: InvalidCiphertext: /);
      const toFile = await eaas(['decrypt', ...args, '--in', bad, '--out', out]);
      expect(toFile.code).toBe(8);
      expect(toFile.stdout.length).toBe(0);
      expect(existsSync(out)).toBe(false);
      expect(leftovers(`bad${i}.out`)).toEqual([]);
    });
  }
});

describe('an interrupted run', () => {
  it('Ctrl-C mid-way: exit 130, and neither the output nor its temporary file is left', async () => {
    const child = await spawnCli(['encrypt', '--key', KEY, '--out', file('int.enc')], env);
    const stderr: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    // More than the inline limit, and the input left open: the message is being written.
    child.stdin.write(randomBytes(200_000));
    await new Promise((r) => setTimeout(r, 1500));
    expect(leftovers('int.enc')).toHaveLength(1);
    const exited = new Promise<number | null>((r) => child.on('close', r));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(existsSync(file('int.enc'))).toBe(false);
    expect(leftovers('int.enc')).toEqual([]);
  });
});

describe.concurrent('--base64', () => {
  for (const size of [10, 70_000]) {
    it(`${size} bytes round-trip as one line of base64 text, re-encrypted too`, async () => {
      const plaintext = randomBytes(size);
      const enc = await eaas(['encrypt', '--key', KEY, '--base64'], plaintext);
      expect(enc.code).toBe(0);
      const text = enc.stdout.toString('latin1');
      expect(text).toMatch(/^[A-Za-z0-9+/]+={0,2}\n$/);
      // Wrapped as a mail or a YAML file would wrap it: line breaks are ignored.
      const wrapped = Buffer.from(text.trim().replace(/(.{76})/g, '$1\n'));
      const re = await eaas(
        ['re-encrypt', '--key', KEY, '--destination-context', 'b=64', '--base64'],
        wrapped,
      );
      expect(re.stderr).toBe('');
      const dec = await eaas(['decrypt', '--context', 'b=64', '--base64'], re.stdout);
      expect(dec.stderr).toBe('');
      expect(dec.stdout.equals(plaintext)).toBe(true);
      const bad = await eaas(['decrypt', '--base64'], Buffer.from(`${text.trim()}!`));
      expect(bad.code).toBe(8);
      expect(bad.stderr).toMatch(/^eaas: InvalidCiphertext: /);
      expect(bad.stdout.length).toBe(0);
    });
  }
});
