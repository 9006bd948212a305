import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { KEY_MANAGER } from '@eaas/aws-local';
import { wrapKeyMaterial } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

let t: TestStack;
const captured: string[] = [];
const secrets: Buffer[] = [];

beforeAll(async () => {
  // Everything the service prints (Powertools' JSON lines go straight to process.stdout) is captured.
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    captured.push(Buffer.from(chunk).toString('utf8'));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    captured.push(Buffer.from(chunk).toString('utf8'));
    return true;
  });
  t = await startTestStack({ logger: new Logger({ serviceName: 'eaas', logLevel: 'DEBUG' }) });
});
afterAll(async () => {
  await t.stop();
  vi.restoreAllMocks();
});

/** The forms a secret could take in a log line. */
function forms(secret: Buffer): string[] {
  return [secret.toString('base64'), secret.toString('hex'), secret.toString('latin1')].filter(
    (f) => f.length >= 16,
  );
}

describe('no plaintext, data key or ciphertext in any log', () => {
  it('a run of successes and failures leaves one audit record per request and no secret anywhere', async () => {
    const api = t.client();
    const small = Buffer.from(`small secret ${randomBytes(8).toString('hex')}`);
    const large = randomBytes(300_000);
    secrets.push(small, large.subarray(0, 64), large.subarray(large.length - 64));

    const encSmall = await api.encrypt({
      keyId: 'alias/eaas-default',
      plaintext: small,
      context: { tenant: 'acme' },
    });
    const encLarge = await api.encrypt({ keyId: 'alias/eaas-default', plaintext: large });
    secrets.push(encSmall.ciphertext, encLarge.ciphertext.subarray(200, 264));
    await api.decrypt({ ciphertext: encSmall.ciphertext, context: { tenant: 'acme' } });
    await api.decrypt({ ciphertext: encLarge.ciphertext });
    await api
      .decrypt({ ciphertext: encSmall.ciphertext, context: { tenant: 'wrong' } })
      .catch(() => undefined);
    const dk = await api.generateDataKey({ keyId: 'alias/eaas-default' });
    secrets.push(dk.plaintext ?? Buffer.alloc(0), dk.ciphertext);
    await api.reEncrypt({
      ciphertext: encSmall.ciphertext,
      destinationKeyId: 'alias/eaas-default',
      context: { tenant: 'acme' },
    });
    await t
      .client(KEY_MANAGER)
      .encrypt({ keyId: 'alias/missing', plaintext: small })
      .catch(() => undefined);
    await api.raw('POST', '/v1/encrypt', {
      keyId: 'alias/eaas-default',
      plaintext: small.toString('base64'),
      bogus: small.toString('base64'),
    });
    await api.encryptBatch([
      { keyId: 'alias/eaas-default', plaintext: small },
      { keyId: 'nope', plaintext: small },
    ]);

    const auditFile = readFileSync(t.stack.auditLog, 'utf8');
    const stdoutAudit = captured
      .join('')
      .split('\n')
      .filter((l) => l.includes('"message":"audit"'));
    const fileAudit = auditFile.trim().split('\n');
    expect(fileAudit).toHaveLength(10);
    expect(stdoutAudit).toHaveLength(10);
    for (const line of fileAudit) {
      expect(JSON.parse(line)).toMatchObject({
        requestId: expect.any(String),
        principal: expect.stringMatching(/^arn:aws:iam::/),
        outcome: expect.any(String),
      });
    }
    const everything = captured.join('') + auditFile;
    for (const secret of secrets) {
      for (const form of forms(secret)) expect(everything.includes(form)).toBe(false);
    }
    // The scan would see a secret if one were there: the audit log does hold this non-secret.
    expect(everything.includes('arn:aws:iam::111122223333:user/myKeyUser')).toBe(true);
  });
});

describe('no message, MAC or key material in any log', () => {
  it('signing, MACs and importing material leave their secrets out of the logs and the audit records', async () => {
    const manager = t.client(KEY_MANAGER);
    const user = t.client();
    const users = ['arn:aws:iam::111122223333:user/myKeyUser'];
    const message = Buffer.from(`signed secret ${randomBytes(12).toString('hex')}`);
    const material = randomBytes(32);
    const found: Buffer[] = [message, material];
    const hmac = (await manager.createKey({ keySpec: 'HMAC_256', origin: 'EXTERNAL', users })).key;
    const params = await manager.importParameters(hmac.keyId);
    const wrapped = wrapKeyMaterial(material, params.publicKey, params.wrappingAlgorithm);
    found.push(wrapped.subarray(0, 64), Buffer.from(params.importToken, 'base64').subarray(0, 32));
    await manager.importKeyMaterial(hmac.keyId, {
      importToken: params.importToken,
      encryptedKeyMaterial: wrapped,
    });
    const mac = await user.generateMac({ keyId: hmac.keyId, message });
    found.push(mac.mac);
    await user.verifyMac({ keyId: hmac.keyId, message, mac: mac.mac });
    await user.verifyMac({ keyId: hmac.keyId, message: Buffer.from('other'), mac: mac.mac });
    const signer = (await manager.createKey({ keySpec: 'ECC_NIST_P256', users })).key;
    const long = randomBytes(6000);
    found.push(long.subarray(0, 64));
    await user.sign({ keyId: signer.keyId, message });
    await user.sign({ keyId: signer.keyId, message: long });
    await user.sign({ keyId: 'alias/eaas-default', message }).catch(() => undefined);

    const everything = captured.join('') + readFileSync(t.stack.auditLog, 'utf8');
    for (const secret of found)
      for (const form of forms(secret)) expect(everything.includes(form)).toBe(false);
    // The audit records are there, naming the keys.
    expect(everything.includes(hmac.arn)).toBe(true);
    expect(everything).toContain('"action":"generateMac"');
  });
});
