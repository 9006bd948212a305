import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Builds the upload page into `web/dist/`: `app.js` (the TypeScript in `web/src`, bundled for
 * browsers with esbuild) beside the static files of `web/public`. The result is plain static files,
 * served by the local gateway at `/` and deployable as they are to S3 and CloudFront.
 */

const here = dirname(fileURLToPath(import.meta.url));
export const WEB_DIST = join(here, 'dist');

export async function buildWeb(outdir = WEB_DIST): Promise<string> {
  const out = resolve(outdir);
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    outfile: join(out, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // The package's `browser` field maps `./dist-es/index` to its browser entry, but esbuild
    // reaches `./dist-es/index.js` through `module` and misses that map (then pulls in the Node
    // providers: files, processes, IMDS). Point at the browser entry the package declares.
    alias: { '@aws-sdk/credential-providers': '@aws-sdk/credential-providers/dist-es/index.browser.js' },
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
  });
  for (const name of await readdir(join(here, 'public'))) {
    await copyFile(join(here, 'public', name), join(out, name));
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildWeb(process.argv[2]).then(
    (out) => process.stdout.write(`web page built into ${out}\n`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
