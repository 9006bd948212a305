import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { KEY_USER, LocalIdentities, SERVICE } from '@eaas/aws-local';
import { downloadDocument, EaasClient, uploadDocument, waitForSeal } from '@eaas/client';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDataDir } from '../helpers/local-kms.js';

/**
 * The seal killed for real: the stack's process gets SIGKILL while the seal is streaming a
 * document into the vault. Nothing of it is visible in the vault, the plaintext stays in staging
 * (nowhere else), and once the stack runs again the sweep takes the upload over when the dead
 * seal's lease has expired and seals it whole.
 */

const dataDir = makeDataDir();
const base = 5200 + Math.floor(Math.random() * 200);
const ports = {
  kms: base,
  api: base + 300,
  s3: base + 600,
  logs: base + 900,
  userPool: base + 1200,
  identityPool: base + 1500,
  s3Control: base + 1800,
};
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function startStack(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: {
      ...process.env,
      EAAS_DATA_DIR: dataDir,
      EAAS_KMS_PORT: String(ports.kms),
      EAAS_API_PORT: String(ports.api),
      EAAS_S3_PORT: String(ports.s3),
      EAAS_LOGS_PORT: String(ports.logs),
      EAAS_S3CONTROL_PORT: String(ports.s3Control),
      EAAS_USER_POOL_PORT: String(ports.userPool),
      EAAS_IDENTITY_POOL_PORT: String(ports.identityPool),
      EAAS_SEAL_LEASE_SECONDS: '8',
      EAAS_SWEEP_SECONDS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not up in time:\n${out}`)), 30_000);
    const check = setInterval(() => {
      if (out.includes('Ctrl-C stops it.')) {
        clearInterval(check);
        clearTimeout(timer);
        resolve();
      }
    }, 50);
  });
  return child;
}

/** Whether the local S3 holds a committed part of an open multipart upload into the vault: the seal is mid-stream. */
function sealStreaming(): boolean {
  const root = join(dataDir, 's3', 'uploads');
  if (!existsSync(root)) return false;
  return readdirSync(root).some((id) => {
    const record = join(root, id, 'upload.json');
    if (!existsSync(record) || !readFileSync(record, 'utf8').includes('"bucket":"eaas-vault"')) return false;
    return readdirSync(join(root, id)).some((f) => /^part-\d+\.json$/.test(f));
  });
}

describe('a seal killed mid-stream', () => {
  it('leaves no vault object, keeps the upload pending, and is sealed whole after a restart', async () => {
    let stack = await startStack();
    const ids = LocalIdentities.open(dataDir, '111122223333', 'us-east-1');
    const api = new EaasClient({
      endpoint: `http://127.0.0.1:${ports.api}`,
      credentials: ids.byName(KEY_USER),
    });
    const service = ids.byName(SERVICE);
    const s3 = new S3Client({
      endpoint: `http://127.0.0.1:${ports.s3}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
    });
    const file = join(dataDir, 'document.bin');
    const bytes = randomBytes(96 * 1024 * 1024);
    writeFileSync(file, bytes);
    const key = 'killed/document.bin';

    const created = await uploadDocument(
      api,
      { key, keyId: 'alias/eaas-default', file },
      { waitForSeal: false },
    );
    // The seal runs in the stack as soon as the upload completes: kill it once its first vault part is written.
    const deadline = Date.now() + 30_000;
    while (!sealStreaming()) {
      if (Date.now() > deadline) throw new Error('the seal never started writing to the vault');
      await new Promise((r) => setTimeout(r, 5));
    }
    stack.kill('SIGKILL');
    await new Promise((r) => stack.once('close', r));
    rmSync(file);

    stack = await startStack();
    // Mid-stream indeed: an incomplete multipart upload into the vault (kept across the restart), and no object.
    expect(sealStreaming()).toBe(true);
    await expect(s3.send(new HeadObjectCommand({ Bucket: 'eaas-vault', Key: key }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    const staged = await s3.send(new ListObjectsV2Command({ Bucket: 'eaas-staging', Prefix: 'incoming/' }));
    expect((staged.Contents ?? []).map((o) => o.Key)).toEqual([`incoming/${created.id}`]);

    // The dead seal's lease expires; the sweep seals it from the start.
    const sealed = await waitForSeal(api, created.id, 60_000);
    expect(sealed.state).toBe('sealed');
    const out = join(dataDir, 'document.out');
    await downloadDocument(api, key, out);
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    expect(sha(readFileSync(out))).toBe(sha(bytes));
    const after = await s3.send(new ListObjectsV2Command({ Bucket: 'eaas-staging', Prefix: 'incoming/' }));
    expect(after.Contents ?? []).toEqual([]);
    s3.destroy();
    stack.kill('SIGINT');
    await new Promise((r) => stack.once('close', r));
  });
});
