import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import { parse } from 'yaml';

/**
 * The Lambda bundles as `npm run package` builds them: the esbuild options are read from
 * serverless.yml (`custom.esbuild`), the one place they are written, and the entries from its
 * functions' handlers. Only serverless-esbuild's own keys are left out.
 */

/** Keys of `custom.esbuild` that serverless-esbuild keeps for itself and does not hand to esbuild. */
const PLUGIN_KEYS = new Set([
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'packagerOptions',
  'installExtraArgs',
  'watch',
  'keepOutputDirectory',
  'outputFileExtension',
  'outputWorkFolder',
  'outputBuildFolder',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
  'config',
]);

interface Serverless {
  provider: { environment?: Record<string, unknown> };
  custom: { esbuild: Record<string, unknown> };
  functions: Record<string, { handler: string }>;
}

export interface Deployment {
  /** The folder of serverless.yml: the entries and node_modules are resolved from it. */
  root: string;
  /** esbuild's options, as serverless-esbuild passes them. */
  options: BuildOptions;
  /** Each function's entry module, relative to `root`, and its exported handler's name. */
  functions: Record<string, { entry: string; exportName: string }>;
  /** `NODE_OPTIONS` of the functions' environment, if any: how Lambda starts Node for them. */
  nodeOptions: string | undefined;
}

export function readDeployment(root = process.cwd()): Deployment {
  const sls = parse(readFileSync(join(root, 'serverless.yml'), 'utf8')) as Serverless;
  const options = Object.fromEntries(
    Object.entries(sls.custom.esbuild).filter(([k]) => !PLUGIN_KEYS.has(k)),
  ) as BuildOptions;
  const functions = Object.fromEntries(
    Object.entries(sls.functions).map(([name, fn]) => {
      const dot = fn.handler.lastIndexOf('.');
      return [name, { entry: `${fn.handler.slice(0, dot)}.ts`, exportName: fn.handler.slice(dot + 1) }];
    }),
  );
  const nodeOptions = sls.provider.environment?.NODE_OPTIONS;
  return { root, options, functions, nodeOptions: typeof nodeOptions === 'string' ? nodeOptions : undefined };
}

export interface Bundle {
  file: string;
  /** Bytes of the bundle's JavaScript (without its source map). */
  bytes: number;
}

/** Bundles `entry` (relative to the deployment's root) into `outfile` with the deployed options. */
export async function bundle(deployment: Deployment, entry: string, outfile: string): Promise<Bundle> {
  const result = await build({
    ...deployment.options,
    absWorkingDir: deployment.root,
    entryPoints: [entry],
    outfile,
    write: true,
    metafile: true,
    logLevel: 'error',
  });
  const output = Object.entries(result.metafile.outputs).find(([path]) => path.endsWith('.js'));
  return { file: outfile, bytes: output?.[1].bytes ?? Number.NaN };
}
