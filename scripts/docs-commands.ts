import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The docs' commands, run as a reader would run them, so that the docs cannot rot.
 *
 * Fences, by their info string (GitHub highlights by the first word and shows none of the rest):
 * - ```sh (or bash): run, in order, one bash per Markdown file (`set -euo pipefail`, so variables,
 *   functions and the working directory carry from one block to the next as in a terminal);
 * - ```sh no-run <why>: shown only (deploying to AWS, a long-running server, the test suite itself);
 *   counted and listed, never run;
 * - ```<lang> file=<path>: must be exactly the content of that file (an example the docs then run);
 * - anything else (text, json, output) is not a command.
 *
 * Each file's blocks run in a scratch folder that stands in for the repository root: every top-level
 * entry of the repository is symlinked into it except `.eaas`, so `docs/examples/*.ts` and
 * `node_modules` resolve while whatever the examples write lands in the scratch folder, never in
 * the repository. The local stack is the reader's: `npm start` (the repository's own script) with
 * its data dir at `<scratch>/.eaas` and free ports; the documented default endpoints
 * (127.0.0.1:3000, :4599, :4569) are rewritten to those ports. The environment holds only PATH
 * and HOME: whatever else a block needs, the docs must tell the reader to export.
 *
 * `npx tsx scripts/docs-commands.ts [files...]` runs it from a terminal; `test/e2e/docs-commands.test.ts`
 * runs it in `npm test`.
 */

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the docs' commands expect each server by default, and the setting that moves it. */
export const DEFAULT_PORTS = { api: 3000, kms: 4599, s3: 4569, logs: 4586, s3control: 4570 } as const;
type Ports = Record<keyof typeof DEFAULT_PORTS, number>;

export interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  info: string;
  text: string;
  kind: 'run' | 'no-run' | 'file' | 'other';
  /** no-run: why; file: the path it must equal. */
  note?: string;
}

const SHELLS = new Set(['sh', 'bash', 'shell']);

/** The fenced blocks of a Markdown text, with what the runner does with each. */
export function extractBlocks(markdown: string, file: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i] ?? '');
    if (!open) continue;
    const [, indent = '', fence = '```', info = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j] ?? '';
      if (line.trimStart().startsWith(fence) && line.trim() === fence.trim()) break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line);
    }
    const words = info.trim().split(/\s+/).filter(Boolean);
    const lang = words[0] ?? '';
    const fileWord = words.find((w) => w.startsWith('file='));
    const block: Block = { file, line: i + 1, lang, info: info.trim(), text: body.join('\n'), kind: 'other' };
    if (fileWord) Object.assign(block, { kind: 'file', note: fileWord.slice('file='.length) });
    else if (SHELLS.has(lang) && words[1] === 'no-run')
      Object.assign(block, { kind: 'no-run', note: words.slice(2).join(' ') || '(no reason given)' });
    else if (SHELLS.has(lang)) block.kind = 'run';
    blocks.push(block);
    i = j;
  }
  return blocks;
}

/** README.md, then docs/*.md in name order: the files whose commands are run. */
export function docFiles(): string[] {
  const docs = readdirSync(join(REPO, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

/** Problems of a file's `file=` blocks and relative links (a link must stay in the repository and exist). */
export function staticProblems(file: string): string[] {
  const problems: string[] = [];
  const path = join(REPO, file);
  const markdown = readFileSync(path, 'utf8');
  for (const block of extractBlocks(markdown, file).filter((b) => b.kind === 'file')) {
    const target = join(REPO, block.note ?? '');
    if (!existsSync(target)) problems.push(`${file}:${block.line}: ${block.note} does not exist`);
    else if (readFileSync(target, 'utf8').trimEnd() !== block.text.trimEnd())
      problems.push(`${file}:${block.line}: the block differs from ${block.note}; copy the file into it`);
  }
  const outsideFences = markdown.replace(/^([ \t]*)(`{3,}|~{3,})[\s\S]*?^\1\2[ \t]*$/gm, '');
  for (const match of outsideFences.matchAll(/\]\((#[^)\s]+)\)/g))
    if (!headingAnchors(markdown).has((match[1] ?? '').slice(1)))
      problems.push(`${file}: link ${match[1]} names no heading of this file`);
  for (const match of outsideFences.matchAll(/\]\(([^)\s]+)\)/g)) {
    const href = match[1] ?? '';
    if (/^[a-z]+:/i.test(href) || href.startsWith('#')) continue; // web links; own anchors checked above
    const [pathPart = '', anchor] = href.split('#');
    const target = resolve(dirname(path), decodeURIComponent(pathPart));
    const inside = relative(REPO, target);
    if (inside.startsWith('..')) problems.push(`${file}: link ${href} points outside the repository`);
    else if (!existsSync(target)) problems.push(`${file}: link ${href} points to nothing (${inside})`);
    else if (anchor && target.endsWith('.md') && !headingAnchors(readFileSync(target, 'utf8')).has(anchor))
      problems.push(`${file}: link ${href} names no heading of ${inside}`);
  }
  return problems;
}

/** GitHub's anchors of a Markdown file's headings (lower case, punctuation dropped, spaces to hyphens). */
function headingAnchors(markdown: string): Set<string> {
  const outsideFences = markdown.replace(/^([ \t]*)(`{3,}|~{3,})[\s\S]*?^\1\2[ \t]*$/gm, '');
  const anchors = new Set<string>();
  for (const match of outsideFences.matchAll(/^#{1,6}\s+(.+?)\s*$/gm))
    anchors.add(
      (match[1] ?? '')
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  return anchors;
}

/** The documented default endpoints rewritten to the ports the run's stack listens on. */
export function rewritePorts(text: string, ports: Ports): string {
  let out = text;
  for (const name of Object.keys(DEFAULT_PORTS) as (keyof Ports)[])
    out = out.replace(
      new RegExp(`(127\\.0\\.0\\.1|localhost):${DEFAULT_PORTS[name]}\\b`, 'g'),
      `$1:${ports[name]}`,
    );
  return out;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

export interface FileResult {
  file: string;
  ran: Block[];
  notRun: Block[];
  output: string;
  /** How long each block that ran took, in milliseconds, in the order of `ran`. */
  durationsMs: number[];
}

export class DocsRunFailure extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = 'DocsRunFailure';
  }
}

/** One local stack (`npm start`) and a scratch folder per file, for running the docs' blocks. */
export class DocsRun {
  private constructor(
    readonly root: string,
    readonly ports: Ports,
    private readonly stack: ChildProcess,
    private readonly stackOutput: () => string,
  ) {}

  /** Starts `npm start` on free ports with its data dir in a scratch folder, and waits until it is up. */
  static async start(timeoutMs = 120_000): Promise<DocsRun> {
    const root = mkdtempSync(join(tmpdir(), 'eaas-docs-'));
    const ports: Ports = {
      api: await freePort(),
      kms: await freePort(),
      s3: await freePort(),
      logs: await freePort(),
      s3control: await freePort(),
    };
    const child = spawn('npm', ['start', '--silent'], {
      cwd: REPO,
      env: {
        ...process.env,
        EAAS_DATA_DIR: join(root, '.eaas'),
        EAAS_API_PORT: String(ports.api),
        EAAS_KMS_PORT: String(ports.kms),
        EAAS_S3_PORT: String(ports.s3),
        EAAS_LOGS_PORT: String(ports.logs),
        EAAS_S3CONTROL_PORT: String(ports.s3control),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const run = new DocsRun(root, ports, child, () => out);
    try {
      await new Promise<void>((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`npm start was not up in time:\n${out}`)), timeoutMs);
        child.once('close', (code) => fail(new Error(`npm start stopped (${code}):\n${out}`)));
        const poll = setInterval(() => {
          if (!out.includes('Ctrl-C stops it.')) return;
          clearInterval(poll);
          clearTimeout(timer);
          ok();
        }, 100);
      });
    } catch (error) {
      await run.stop();
      throw error;
    }
    return run;
  }

  /** Runs a file's shell blocks in order; throws DocsRunFailure naming the block that failed. */
  async runFile(file: string, timeoutMs = 300_000): Promise<FileResult> {
    const blocks = extractBlocks(readFileSync(join(REPO, file), 'utf8'), file);
    const ran = blocks.filter((b) => b.kind === 'run');
    const notRun = blocks.filter((b) => b.kind === 'no-run');
    if (ran.length === 0) return { file, ran, notRun, output: '', durationsMs: [] };
    const cwd = this.scratch(file);
    const script = ran
      .map((b, i) => `echo ${i} >&3\n${rewritePorts(b.text, this.ports)}\n`)
      .join('')
      .concat('echo done >&3\n');
    const child = spawn('bash', ['--noprofile', '--norc', '-euo', 'pipefail', '-c', script], {
      cwd,
      env: {
        PATH: [dirname(process.execPath), '/usr/bin', '/bin', process.env.PATH].join(':'),
        HOME: cwd,
        LANG: 'C.UTF-8',
        TMPDIR: tmpdir(),
      },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    let current = -1;
    let done = false;
    const durationsMs: number[] = [];
    let blockStarted = performance.now();
    const endBlock = () => {
      if (current >= 0) durationsMs[current] = Math.round(performance.now() - blockStarted);
      blockStarted = performance.now();
    };
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stdio[3]?.on('data', (d: Buffer) => {
      for (const mark of d.toString().split('\n').filter(Boolean)) {
        endBlock();
        if (mark === 'done') done = true;
        else {
          current = Number(mark);
          const block = ran[current];
          output += `\n$ # ${file}:${block?.line}\n`;
        }
      }
    });
    const timer = setTimeout(() => killGroup(child), timeoutMs);
    const code = await new Promise<number | null>((ok) => child.once('close', ok));
    clearTimeout(timer);
    if (code !== 0 || !done) {
      const block = ran[current];
      const where = block ? `${file}:${block.line}` : file;
      throw new DocsRunFailure(
        `The shell block at ${where} failed (exit ${code ?? 'timeout'}):\n${block?.text ?? ''}\n--- output ---\n${output.slice(-6000)}`,
        output,
      );
    }
    return { file, ran, notRun, output, durationsMs };
  }

  /** A folder standing in for the repository root: symlinks to its entries, and the stack's data dir. */
  private scratch(file: string): string {
    const dir = join(this.root, file.replace(/[^A-Za-z0-9.-]/g, '_'));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const skip = new Set(['.git', '.eaas', 'dist', 'coverage', 'test-artifacts', '.serverless', '.esbuild']);
    for (const entry of readdirSync(REPO)) {
      if (skip.has(entry) || entry.endsWith('.log') || entry.endsWith('-results.json')) continue;
      symlinkSync(join(REPO, entry), join(dir, entry));
    }
    symlinkSync(join(this.root, '.eaas'), join(dir, '.eaas'));
    return dir;
  }

  stackLog(): string {
    return this.stackOutput();
  }

  async stop(): Promise<void> {
    if (this.stack.exitCode === null && this.stack.signalCode === null) {
      const closed = new Promise((ok) => this.stack.once('close', ok));
      killGroup(this.stack, 'SIGINT');
      await Promise.race([closed, new Promise((ok) => setTimeout(ok, 10_000))]);
      killGroup(this.stack, 'SIGKILL');
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** `npx tsx scripts/docs-commands.ts [files...]`: runs the docs (all of them by default) and lists what it did not run. */
async function main(files: string[]): Promise<void> {
  const chosen = files.length > 0 ? files : docFiles();
  const problems = chosen.flatMap(staticProblems);
  for (const p of problems) console.error(p);
  const run = await DocsRun.start();
  console.log(`local stack: API :${run.ports.api}, KMS :${run.ports.kms}, S3 :${run.ports.s3}`);
  let failed = problems.length > 0;
  try {
    for (const file of chosen) {
      try {
        const result = await run.runFile(file);
        console.log(`${file}: ${result.ran.length} blocks run, ${result.notRun.length} not run`);
        for (const b of result.notRun) console.log(`  not run ${file}:${b.line} ${b.note}`);
        // The slowest blocks first: where the docs' run spends its time.
        const slowest = result.ran
          .map((b, i) => ({ line: b.line, ms: result.durationsMs[i] ?? 0 }))
          .sort((a, b) => b.ms - a.ms)
          .slice(0, 5);
        for (const s of slowest) console.log(`  ${(s.ms / 1000).toFixed(1)} s ${file}:${s.line}`);
      } catch (error) {
        failed = true;
        console.error(error instanceof Error ? error.message : error);
      }
    }
  } finally {
    await run.stop();
  }
  if (failed) process.exit(1);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
