import { type ChildProcess, execFile, fork } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * The functions as `npm run package` bundles them (osls, serverless-esbuild), for the tests that
 * run the zips as Lambda would: packaged once per content of their sources and kept unzipped in
 * node_modules/.cache/eaas-bundles/<hash>, so that a rerun with nothing changed costs nothing.
 * The packaging runs in a directory of its own (links to the sources, a copy of serverless.yml),
 * so that it never shares `.esbuild/` or `.serverless/` with the package test running beside it.
 */

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const CACHE = join(ROOT, 'node_modules', '.cache', 'eaas-bundles');
/** What the bundles and the template are made of; node_modules counts through the lock file. */
const INPUTS = [
  'src',
  'packages',
  'deploy',
  'serverless.yml',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
];
/** Linked into the packaging directory; serverless.yml is copied (osls wants a file of its own). */
const LINKED = [
  'src',
  'packages',
  'deploy',
  'node_modules',
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
];

export interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
}
export type CfnTemplate = { Resources: Record<string, CfnResource> };

export interface PackagedFunction {
  /** The function's key in serverless.yml (its zip's name): `crypto`, `seal`... */
  name: string;
  /** The unzipped bundle: Lambda's LAMBDA_TASK_ROOT. */
  root: string;
  /** `src/functions/<name>.handler`. */
  handler: string;
  functionName: string;
  memorySize: number;
  timeout: number;
  /** The template's Environment.Variables, intrinsic functions unresolved. */
  environment: Record<string, unknown>;
}

export interface PackagedService {
  template: CfnTemplate;
  functions: Record<string, PackagedFunction>;
}

function hashInputs(): string {
  const hash = createHash('sha256');
  const add = (path: string) => {
    const full = join(ROOT, path);
    if (!existsSync(full)) return;
    if (statSync(full).isDirectory()) {
      for (const entry of readdirSync(full).sort())
        if (entry !== 'node_modules' && entry !== 'dist') add(join(path, entry));
      return;
    }
    hash.update(`${path}\0`).update(readFileSync(full)).update('\0');
  };
  for (const input of INPUTS) add(input);
  return hash.digest('hex').slice(0, 16);
}

/** Packages the service for `stage` (once per content of its sources) and answers its unzipped bundles. */
export async function packagedService(stage: string): Promise<PackagedService> {
  const dir = join(CACHE, `${stage}-${hashInputs()}`);
  if (!existsSync(join(dir, 'template.json'))) await packageInto(dir, stage);
  const template = JSON.parse(readFileSync(join(dir, 'template.json'), 'utf8')) as CfnTemplate;
  const functions: Record<string, PackagedFunction> = {};
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const p = r.Properties as {
      Code: { S3Key: string };
      Handler: string;
      FunctionName: string;
      MemorySize: number;
      Timeout: number;
      Environment?: { Variables?: Record<string, unknown> };
    };
    const name =
      p.Code.S3Key.split('/')
        .at(-1)
        ?.replace(/\.zip$/, '') ?? '';
    functions[name] = {
      name,
      root: join(dir, name),
      handler: p.Handler,
      functionName: p.FunctionName,
      memorySize: p.MemorySize,
      timeout: p.Timeout,
      environment: p.Environment?.Variables ?? {},
    };
  }
  return { template, functions };
}

async function packageInto(dir: string, stage: string): Promise<void> {
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'eaas-package-'));
  const building = mkdtempSync(join(CACHE, '.building-'));
  try {
    for (const path of LINKED) symlinkSync(join(ROOT, path), join(work, path));
    copyFileSync(join(ROOT, 'serverless.yml'), join(work, 'serverless.yml'));
    const out = join(work, 'out');
    await exec(join(ROOT, 'node_modules', '.bin', 'osls'), ['package', '--stage', stage, '--package', out], {
      cwd: work,
      env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
      timeout: 120_000,
    });
    for (const zip of readdirSync(out).filter((f) => f.endsWith('.zip')))
      await exec('unzip', ['-q', '-o', join(out, zip), '-d', join(building, zip.replace(/\.zip$/, ''))]);
    copyFileSync(join(out, 'cloudformation-template-update-stack.json'), join(building, 'template.json'));
    // Another run may have packaged the same sources meanwhile: either copy will do.
    if (!existsSync(dir)) renameSync(building, dir);
    // Earlier packagings of this stage are of sources that changed since.
    for (const old of readdirSync(CACHE))
      if (old.startsWith(`${stage}-`) && join(CACHE, old) !== dir)
        rmSync(join(CACHE, old), { recursive: true, force: true });
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(building, { recursive: true, force: true });
  }
}

/**
 * The environment CloudFormation gives a function: the template's Environment.Variables with
 * `Ref`, `Fn::GetAtt`, `Fn::Sub` and `Fn::Join` resolved from `refs` (pseudo parameters and
 * resources by logical id, attributes as `<id>.<attribute>`) and Secrets Manager dynamic references from `secrets` (by the secret's Ref). Anything else
 * throws, naming the variable: a new kind of value must be taught here, not passed through.
 */
export function resolvedEnvironment(
  variables: Record<string, unknown>,
  refs: Record<string, string>,
  secrets: Record<string, string>,
): Record<string, string> {
  const ref = (id: string, name: string) => {
    const value = refs[id];
    if (value === undefined) throw new Error(`${name}: no local value for Ref ${id}`);
    return value;
  };
  const render = (value: unknown, name: string): string => {
    if (typeof value === 'string') return value;
    const [fn, arg] = Object.entries(value as Record<string, unknown>)[0] ?? [];
    if (fn === 'Ref') return ref(String(arg), name);
    // An attribute by `<logical id>.<attribute>` in `refs` (a role's Arn).
    if (fn === 'Fn::GetAtt') return ref((arg as string[]).join('.'), name);
    if (fn === 'Fn::Sub') return String(arg).replace(/\$\{([^}]+)\}/g, (_m, id: string) => ref(id, name));
    if (fn === 'Fn::Join') {
      const [sep, parts] = arg as [string, unknown[]];
      return parts.map((p) => render(p, name)).join(sep);
    }
    throw new Error(`${name}: cannot resolve ${JSON.stringify(value)}`);
  };
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [
      name,
      render(value, name).replace(/\{\{resolve:secretsmanager:(.+?):SecretString\}\}/g, (_m, id: string) => {
        const secret = secrets[id];
        if (secret === undefined) throw new Error(`${name}: no local value for the secret ${id}`);
        return secret;
      }),
    ]),
  );
}

/** A function's execution environment, warm between invocations, as a child process. */
export interface LambdaInstance {
  readonly fn: PackagedFunction;
  /** Invokes the function; a handler that threw rejects with Lambda's errorType and errorMessage. */
  invoke<R = unknown>(event: unknown): Promise<R>;
  /** What the function wrote to stdout and stderr (its logs, the metrics' EMF lines). */
  output(): string;
  stop(): Promise<void>;
}

const RUNTIME = join(import.meta.dirname, 'lambda-runtime.cjs');

/**
 * Starts the function's runtime: Node without loaders, in the environment Lambda gives it
 * (`env`: the template's variables, the role's credentials, the runtime's own), its handler
 * loaded from the unzipped bundle.
 */
export async function startLambda(
  fn: PackagedFunction,
  env: Record<string, string>,
  account: { accountId: string; region: string },
): Promise<LambdaInstance> {
  let output = '';
  const child: ChildProcess = fork(RUNTIME, [], {
    cwd: fn.root,
    env,
    execArgv: [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout?.on('data', (b: Buffer) => {
    output += b.toString('utf8');
  });
  child.stderr?.on('data', (b: Buffer) => {
    output += b.toString('utf8');
  });
  const pending = new Map<string, { resolve(v: unknown): void; reject(e: Error): void }>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`${fn.name} exited (${code}) before it was ready:\n${output}`)),
    );
    child.on(
      'message',
      (m: { ready?: true; id?: string; result?: unknown; error?: Record<string, string> }) => {
        if (m.ready) return resolve();
        const call = pending.get(m.id ?? '');
        if (!call) return;
        pending.delete(m.id ?? '');
        if (m.error) call.reject(new Error(`${fn.name}: ${m.error.errorType}: ${m.error.errorMessage}`));
        else call.resolve(m.result);
      },
    );
  });
  child.on('exit', (code) => {
    for (const call of pending.values()) call.reject(new Error(`${fn.name} exited (${code}):\n${output}`));
    pending.clear();
  });
  return {
    fn,
    invoke<R>(event: unknown) {
      const id = randomUUID();
      const seconds = Math.floor(Date.now() / 1000).toString(16);
      const traceId = `Root=1-${seconds}-${randomUUID().replaceAll('-', '').slice(0, 24)};Parent=${randomUUID().replaceAll('-', '').slice(0, 16)};Sampled=1`;
      return new Promise<R>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({
          id,
          event,
          requestId: randomUUID(),
          functionArn: `arn:aws:lambda:${account.region}:${account.accountId}:function:${fn.functionName}`,
          deadline: Date.now() + fn.timeout * 1000,
          traceId,
        });
      });
    },
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill();
      await exited;
    },
  };
}
