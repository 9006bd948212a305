import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LocalIdentities, SERVICE } from '@eaas/aws-local';
import { bundle, type Deployment, readDeployment } from './bundles.js';
import { startBenchStack } from './stack.js';

/**
 * Per Lambda function: its bundle's size (built as `npm run package` builds it) and its cold
 * init, as a ratio to a minimal handler (bench/minimal-kms-handler.ts: `@aws-sdk/client-kms`
 * and one Encrypt) bundled the same way. Cold init is measured in a fresh Node process: load the
 * bundle, then the first invocation (which builds the handler and its services from
 * configuration) answering one request against the local stack, in its own process. Node's own
 * start is left out: it is the same for every bundle.
 *
 * `BENCH_BUNDLE_ROOT` measures the functions of another checkout (its serverless.yml, sources
 * and node_modules) against this one's local stack: how the figures before a change were taken.
 */

export interface ColdStartRow {
  name: string;
  /** Minified JavaScript of the bundle, bytes. */
  bundleBytes: number;
  /** Medians over the runs, milliseconds. */
  loadMs: number;
  firstInvocationMs: number;
  initMs: number;
  /** initMs over the minimal handler's. */
  vsBaseline: number;
  /** The answer's status (API functions); 0 for the event functions. */
  status: number;
  /** The body of an answer other than 2xx. */
  answer?: string;
}

const MINIMAL = 'minimal handler: client-kms Encrypt (baseline)';

/** A request the API gateway would hand the function, from events/encrypt.json's shape (myKeyUser's). */
function apiEvent(
  method: string,
  resource: string,
  init: Record<string, unknown> = {},
  caller?: string,
): object {
  const template = JSON.parse(readFileSync('events/encrypt.json', 'utf8')) as {
    requestContext: { identity: Record<string, unknown> };
  };
  const { requestContext } = template;
  return {
    ...template,
    requestContext: caller
      ? { ...requestContext, identity: { ...requestContext.identity, userArn: caller } }
      : requestContext,
    resource,
    path: resource,
    httpMethod: method,
    body: null,
    pathParameters: null,
    queryStringParameters: null,
    ...init,
  };
}

const json = (value: unknown) => ({
  headers: { 'content-type': 'application/json', host: 'abc123.execute-api.us-east-1.amazonaws.com' },
  body: JSON.stringify(value),
});

/** One representative request per function, each one the function answers with a 2xx. */
const EVENTS: Record<string, object> = {
  crypto: apiEvent('POST', '/v1/encrypt', json({ keyId: 'alias/eaas-default', plaintext: 'aGVsbG8=' })),
  keys: apiEvent('GET', '/v1/keys/{keyId}', { pathParameters: { keyId: 'alias/eaas-default' } }),
  whoami: apiEvent('GET', '/v1/whoami', { queryStringParameters: { keyId: 'alias/eaas-default' } }),
  objects: apiEvent('PUT', '/v1/objects/{key+}', {
    headers: {
      'content-type': 'application/octet-stream',
      host: 'abc123.execute-api.us-east-1.amazonaws.com',
    },
    pathParameters: { key: 'bench/cold-start.txt' },
    queryStringParameters: { keyId: 'alias/eaas-default' },
    body: Buffer.from('hello, cold start').toString('base64'),
    isBase64Encoded: true,
  }),
  uploads: apiEvent(
    'POST',
    '/v1/uploads',
    json({ key: 'bench/cold-start.bin', keyId: 'alias/eaas-default', size: 1024 }),
  ),
  jobs: apiEvent(
    'POST',
    '/v1/jobs/re-encrypt',
    json({ olderThanRotation: true, destinationKeyId: 'alias/eaas-default', dryRun: true }),
    // A job is for the administrator of the keys.
    'arn:aws:iam::111122223333:user/myKeyManager',
  ),
  reencrypt: { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
  seal: { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
};

interface Run {
  loadMs: number;
  firstMs: number;
  status: number;
  /** The body of an answer other than 2xx, or what the run wrote on stderr. */
  answer?: string;
}

/** Loads `file` in a fresh Node process and invokes its handler once with `event`. */
function coldRun(file: string, exportName: string, event: object, env: NodeJS.ProcessEnv): Promise<Run> {
  const script = `
    const { performance } = require('node:perf_hooks');
    const t0 = performance.now();
    const handler = require(${JSON.stringify(file)})[${JSON.stringify(exportName)}];
    const t1 = performance.now();
    const context = { awsRequestId: 'cold-start', getRemainingTimeInMillis: () => 900000 };
    Promise.resolve(handler(${JSON.stringify(event)}, context)).then(
      (answer) => {
        const t2 = performance.now();
        const status = (answer && answer.statusCode) || 0;
        if (status >= 300) console.error(answer.body);
        process.stdout.write('\\nBENCH_RESULT ' + JSON.stringify({ loadMs: t1 - t0, firstMs: t2 - t1, status }) + '\\n');
        process.exit(0);
      },
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );`;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('close', (code) => {
      const line = /BENCH_RESULT (.*)/.exec(out)?.[1];
      if (code !== 0 || !line) reject(new Error(`${file} failed (${code}):\n${err}\n${out.slice(-2000)}`));
      else resolvePromise({ ...(JSON.parse(line) as Run), ...(err ? { answer: err.trim() } : {}) });
    });
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

export async function benchColdStart(
  runs = Number(process.env.BENCH_COLD_RUNS ?? 5),
): Promise<ColdStartRow[]> {
  const here = readDeployment();
  const measured: Deployment = process.env.BENCH_BUNDLE_ROOT
    ? readDeployment(resolve(process.env.BENCH_BUNDLE_ROOT))
    : here;
  const out = mkdtempSync(join(tmpdir(), 'eaas-bench-bundles-'));
  const stack = await startBenchStack({ EAAS_SWEEP_SECONDS: '0', EAAS_REWRAP_TICK_SECONDS: '0' });
  try {
    const service = LocalIdentities.open(stack.dataDir, '111122223333', 'us-east-1').byName(SERVICE);
    const env = (nodeOptions: string | undefined): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: service.accessKeyId,
      AWS_SECRET_ACCESS_KEY: service.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      EAAS_KMS_ENDPOINT: stack.kmsEndpoint,
      EAAS_S3_ENDPOINT: stack.s3Endpoint,
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
    });
    const targets = [
      {
        name: MINIMAL,
        bundled: await bundle(here, 'bench/minimal-kms-handler.ts', join(out, 'minimal.js')),
        exportName: 'handler',
        event: apiEvent('POST', '/v1/encrypt', json({ keyId: 'alias/eaas-default', plaintext: 'aGVsbG8=' })),
        env: env(here.nodeOptions),
      },
      ...(await Promise.all(
        Object.entries(measured.functions).map(async ([name, fn]) => ({
          name,
          bundled: await bundle(measured, fn.entry, join(out, `${name}.js`)),
          exportName: fn.exportName,
          event: EVENTS[name] ?? {},
          env: env(measured.nodeOptions),
        })),
      )),
    ];
    // One run of each first, not counted: the file system's cache, as Lambda's is after a deploy.
    // Then round after round of every target, so that a busy moment of the machine is shared.
    const results: Run[][] = targets.map(() => []);
    for (let round = -1; round < runs; round++)
      for (const [i, t] of targets.entries()) {
        const run = await coldRun(t.bundled.file, t.exportName, t.event, t.env);
        if (round >= 0) results[i]?.push(run);
      }
    const rows: ColdStartRow[] = targets.map((t, i) => {
      const runsOf = results[i] ?? [];
      return {
        name: t.name,
        bundleBytes: t.bundled.bytes,
        loadMs: median(runsOf.map((r) => r.loadMs)),
        firstInvocationMs: median(runsOf.map((r) => r.firstMs)),
        initMs: median(runsOf.map((r) => r.loadMs + r.firstMs)),
        vsBaseline: Number.NaN,
        status: runsOf[0]?.status ?? 0,
        ...(runsOf[0]?.answer ? { answer: runsOf[0].answer } : {}),
      };
    });
    const base = rows[0]?.initMs ?? Number.NaN;
    for (const r of rows) r.vsBaseline = r.initMs / base;
    console.log(
      `\n## Lambda bundles: size and cold init (fresh process: load, build, one request; median of ${runs})${
        measured === here ? '' : ` of ${measured.root}`
      }\n`,
    );
    console.log(coldStartTable(rows));
    for (const r of rows)
      if (r.answer) console.log(`${r.name} answered ${r.status}: ${r.answer.slice(0, 300)}`);
    const over = rows.filter((r) => r.bundleBytes > 700 * 1024 || r.vsBaseline > 1.5);
    if (over.length > 0) console.log(`over the goal (700 KiB, 1.5x): ${over.map((r) => r.name).join(', ')}`);
    return rows;
  } finally {
    await stack.stop();
    rmSync(out, { recursive: true, force: true });
  }
}

export function coldStartTable(rows: ColdStartRow[]): string {
  const header = ['function', 'bundle KiB', 'load ms', '1st call ms', 'init ms', 'vs baseline', 'status'];
  const lines = rows.map((r) => [
    r.name,
    (r.bundleBytes / 1024).toFixed(0),
    r.loadMs.toFixed(1),
    r.firstInvocationMs.toFixed(1),
    r.initMs.toFixed(1),
    r.name === MINIMAL ? '-' : `${r.vsBaseline.toFixed(2)}x`,
    r.status === 0 ? '-' : String(r.status),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n');
}

// `npx tsx bench/cold-start.ts`: this benchmark alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const started = performance.now();
  benchColdStart().then(
    () => {
      console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
