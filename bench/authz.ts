import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { LocalIdentities, SERVICE } from '@eaas/aws-local';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { EsdkEnvelope } from '../src/aws/esdk.js';
import { KmsKeyAdmin } from '../src/aws/kms-admin.js';
import { KmsSigning } from '../src/aws/kms-signing.js';
import { makeHandler } from '../src/handlers/crypto.js';
import type { ApiHandler } from '../src/http/api.js';
import { AccessControl } from '../src/services/access.js';
import { CryptoService, INLINE_LIMIT } from '../src/services/crypto.js';
import { SigningService } from '../src/services/signing.js';
import { type Measurement, measure, table } from './lib.js';
import { startBenchStack } from './stack.js';

const ACCOUNT = '111122223333';

/** events/encrypt.json (POST /v1/encrypt by myKeyUser) with another body. */
function encryptEvent(body: string): APIGatewayProxyEvent {
  const event = JSON.parse(
    readFileSync(join(import.meta.dirname, '..', 'events', 'encrypt.json'), 'utf8'),
  ) as APIGatewayProxyEvent;
  return { ...event, body, isBase64Encoded: false };
}

const context = { awsRequestId: 'bench', getRemainingTimeInMillis: () => 29000 } as unknown as Context;

/**
 * The cost of authorization: an allowed 1 KiB encrypt through the crypto handler, in process, with
 * authorization switched off (baseline), with a warm policy/grant cache, and with a cold one (TTL 0:
 * every call reads the key, its policy and the caller's grants from KMS). The local KMS runs in its
 * own process, as in the other rows.
 */
export async function benchAuthz(durationMs: number): Promise<Measurement[]> {
  const stack = await startBenchStack();
  const service = LocalIdentities.open(stack.dataDir, ACCOUNT, 'us-east-1').byName(SERVICE);
  const kms = new KMSClient({
    endpoint: stack.kmsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
  });
  try {
    const admin = new KmsKeyAdmin(kms);
    const crypto = new CryptoService(admin, new EsdkEnvelope(kms, INLINE_LIMIT * 2));
    const signing = new SigningService(new KmsSigning(kms), admin);
    const handlerWith = (access: AccessControl | null) =>
      makeHandler({ audit: { record() {} }, logger: { error() {} }, crypto, signing, access });
    const body = JSON.stringify({
      keyId: 'alias/eaas-default',
      plaintext: randomBytes(1024).toString('base64'),
    });
    const variants: [string, ApiHandler][] = [
      ['encrypt 1 KiB, authorization off (baseline)', handlerWith(null)],
      ['encrypt 1 KiB, authorization, warm cache', handlerWith(new AccessControl(admin))],
      [
        'encrypt 1 KiB, authorization, cold cache (TTL 0)',
        handlerWith(new AccessControl(admin, { ttlMs: 0 })),
      ],
    ];
    const rows: Measurement[] = [];
    for (const [name, handler] of variants) {
      const call = () => handler(encryptEvent(body), context) as Promise<APIGatewayProxyResult>;
      const first = await call();
      if (first.statusCode !== 200) {
        throw new Error(`${name}: POST /v1/encrypt answered ${first.statusCode}: ${first.body}`);
      }
      rows.push(
        await measure(
          name,
          async () => {
            const res = await call();
            if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
          },
          { concurrency: 1, durationMs },
        ),
      );
    }
    const base = rows.find((r) => r.name.includes('baseline'));
    console.log(
      '\nAuthorization cost: allowed 1 KiB encrypt through the crypto handler in process, vs authorization off (KMS in its own process)',
    );
    console.log(table(rows, () => base));
    if (base) {
      for (const r of rows) {
        if (r !== base) console.log(`  ${r.name}: p50 ${(r.p50Ms / base.p50Ms).toFixed(2)}x baseline`);
      }
    }
    return rows;
  } finally {
    kms.destroy();
    await stack.stop();
  }
}
