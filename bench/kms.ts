import { Agent, request } from 'node:http';
import { EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { KEY_USER, LocalIdentities } from '@eaas/aws-local';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { spawnUntil } from './child.js';
import { type Measurement, measure, table } from './lib.js';
import { startBenchStack } from './stack.js';

/**
 * Local KMS round trips through @aws-sdk/client-kms, beside a plain keep-alive HTTP POST to a
 * trivial local server: the ratio is what the KMS protocol, SigV4 on both sides and the crypto
 * cost over the bare HTTP round trip. Each server runs in its own process, as it would in use.
 */
const TRIVIAL_SERVER = `
const http = require('node:http');
const s = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, {'content-type': 'application/json'}); res.end('{"ok":true}'); }); });
s.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
`;

export async function benchKms(durationMs: number): Promise<Measurement[]> {
  const stack = await startBenchStack();
  const dataDir = stack.dataDir;
  const trivialPort = 5100 + Math.floor(Math.random() * 200);
  const trivial = await spawnUntil(
    process.execPath,
    ['-e', TRIVIAL_SERVER],
    { PORT: String(trivialPort) },
    /ready/,
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const body = JSON.stringify({
    KeyId: 'alias/eaas-default',
    Plaintext: Buffer.alloc(1024, 1).toString('base64'),
  });
  const plainPost = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: trivialPort,
          method: 'POST',
          path: '/',
          agent,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const identities = LocalIdentities.open(dataDir, '111122223333', 'us-east-1');
  const user = identities.byName(KEY_USER);
  const client = new KMSClient({
    endpoint: stack.kmsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
  });
  const plaintext = Buffer.alloc(1024, 7);
  const rows: Measurement[] = [];
  try {
    for (const concurrency of [1, 16]) {
      rows.push(await measure('plain HTTP POST (baseline)', plainPost, { concurrency, durationMs }));
      rows.push(
        await measure(
          'KMS Encrypt 1 KiB',
          () => client.send(new EncryptCommand({ KeyId: 'alias/eaas-default', Plaintext: plaintext })),
          { concurrency, durationMs },
        ),
      );
      rows.push(
        await measure(
          'KMS GenerateDataKey AES_256',
          () => client.send(new GenerateDataKeyCommand({ KeyId: 'alias/eaas-default', KeySpec: 'AES_256' })),
          { concurrency, durationMs },
        ),
      );
    }
  } finally {
    client.destroy();
    agent.destroy();
    await trivial.stop();
    await stack.stop();
  }
  console.log(
    '\nLocal KMS (own process) through @aws-sdk/client-kms vs a plain keep-alive HTTP POST to a trivial server (own process)',
  );
  console.log(
    table(rows, (m) => rows.find((r) => r.concurrency === m.concurrency && r.name.includes('baseline'))),
  );
  return rows;
}
