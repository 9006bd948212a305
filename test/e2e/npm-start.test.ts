import { execFile, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KEY_USER, LocalIdentities } from '@eaas/aws-local';
import { EaasClient } from '@eaas/client';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDataDir } from '../helpers/local-kms.js';

const exec = promisify(execFile);
const dataDir = makeDataDir();
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('npm start', () => {
  it('brings up the stack, prints its endpoints and profiles, serves a signed request, and stops cleanly on SIGINT', async () => {
    const kmsPort = 4800 + Math.floor(Math.random() * 100);
    const apiPort = kmsPort + 100;
    const s3Port = kmsPort + 200;
    const logsPort = kmsPort + 300;
    const child = spawn('npm', ['start', '--silent'], {
      env: {
        ...process.env,
        EAAS_DATA_DIR: dataDir,
        EAAS_KMS_PORT: String(kmsPort),
        EAAS_API_PORT: String(apiPort),
        EAAS_S3_PORT: String(s3Port),
        EAAS_LOGS_PORT: String(logsPort),
        EAAS_S3CONTROL_PORT: String(kmsPort + 80),
        EAAS_USER_POOL_PORT: String(kmsPort + 40),
        EAAS_IDENTITY_POOL_PORT: String(kmsPort + 60),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('close', (code, signal) => resolve({ code, signal })),
    );
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
    expect(out).toContain(`API      http://127.0.0.1:${apiPort}`);
    expect(out).toContain(`KMS      http://127.0.0.1:${kmsPort}`);
    expect(out).toContain('myKeyManager');
    expect(out).toContain('myKeyUser');

    const user = LocalIdentities.open(dataDir, '111122223333', 'us-east-1').byName(KEY_USER);
    const api = new EaasClient({ endpoint: `http://127.0.0.1:${apiPort}`, credentials: user });
    const enc = await api.encrypt({ keyId: 'alias/eaas-default', plaintext: 'over npm start' });
    expect((await api.decrypt({ ciphertext: enc.ciphertext })).plaintext.toString()).toBe('over npm start');

    // The command line finds this stack through the config file npm start writes, as its hint says.
    expect(out).toContain(`EAAS_CONFIG=${dataDir}/cli.json npx eaas --profile ${KEY_USER} whoami`);
    expect(JSON.parse(readFileSync(join(dataDir, 'cli.json'), 'utf8'))).toEqual({
      endpoint: `http://127.0.0.1:${apiPort}`,
      region: 'us-east-1',
    });
    const whoami = await exec(
      'npx',
      ['--no-install', 'eaas', '--profile', KEY_USER, '-o', 'json', 'whoami'],
      {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          EAAS_CONFIG: join(dataDir, 'cli.json'),
          AWS_SHARED_CREDENTIALS_FILE: join(dataDir, 'credentials'),
          AWS_CONFIG_FILE: join(dataDir, 'config'),
        },
      },
    );
    expect(JSON.parse(whoami.stdout)).toMatchObject({ principal: expect.stringContaining(KEY_USER) });

    // Ctrl-C reaches the whole process group, as in a terminal.
    process.kill(-(child.pid ?? 0), 'SIGINT');
    const { code, signal } = await exited;
    // npm itself may die of the SIGINT it shares with the stack; the stack must stop on its own terms.
    expect(code === 0 || signal === 'SIGINT').toBe(true);
    expect(out).toContain('SIGINT: stopping');
    await expect(fetch(`http://127.0.0.1:${apiPort}/v1/whoami`)).rejects.toThrow();
  });

  it('names the variable to change when a port is taken, instead of a bare EADDRINUSE', async () => {
    const listening = (port: number) =>
      new Promise<Server>((resolve, reject) => {
        const server = createServer().once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve(server));
      });
    const free = async () => {
      const server = await listening(0);
      const { port } = server.address() as { port: number };
      await new Promise((resolve) => server.close(resolve));
      return port;
    };
    const busy = await listening(0);
    const apiPort = (busy.address() as { port: number }).port;
    try {
      const child = spawn('npm', ['start', '--silent'], {
        env: {
          ...process.env,
          EAAS_DATA_DIR: dataDir,
          EAAS_KMS_PORT: String(await free()),
          EAAS_S3_PORT: String(await free()),
          EAAS_LOGS_PORT: String(await free()),
          EAAS_S3CONTROL_PORT: String(await free()),
          EAAS_USER_POOL_PORT: String(await free()),
          EAAS_IDENTITY_POOL_PORT: String(await free()),
          EAAS_API_PORT: String(apiPort),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      expect(code).not.toBe(0);
      expect(err).toContain(`Port ${apiPort} on 127.0.0.1 is already in use (EAAS_API_PORT)`);
      expect(err).toContain('EAAS_API_PORT=');
      expect(err).not.toMatch(/^Error: listen EADDRINUSE/m);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
