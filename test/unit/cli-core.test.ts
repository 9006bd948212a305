import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { EaasError } from '@eaas/client';
import {
  bashScript,
  CliError,
  type CommandContext,
  commandTree,
  createProgram,
  describeError,
  EXIT,
  exitCodeOf,
  finishWatchedJob as finish,
  fishScript,
  main,
  outputFormatOf,
  Printer,
  parseContext,
  type Runtime,
  resolveSettings,
  table,
  UsageError,
  watchJob,
  zshScript,
} from '@eaas/client/cli';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';

/** The command line's core without a process: exit codes, settings, output, contexts, help, completion. */

function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

function fakeRuntime(env: NodeJS.ProcessEnv = {}) {
  const out = sink();
  const err = sink();
  const runtime: Runtime = { stdin: new PassThrough(), stdout: out.stream, stderr: err.stream, env };
  return { runtime, out, err };
}

const api = (status: number, code = `Http${status}`) => new EaasError(code, 'refused', status, 'req-1');

describe('exit codes: one per class of error', () => {
  it.each([
    ['a usage error of the command line', new UsageError('bad'), EXIT.usage],
    ['a CliError, its own class', new CliError('FileNotFound', 'no file', EXIT.usage), EXIT.usage],
    ['a 400 of the API', api(400, 'ValidationError'), EXIT.usage],
    ['a 400 InvalidPageToken', api(400, 'InvalidPageToken'), EXIT.usage],
    ['a bad signature (API Gateway, 403)', api(403, 'InvalidSignatureException'), EXIT.authentication],
    ['an unknown access key (403)', api(403, 'UnrecognizedClientException'), EXIT.authentication],
    ['an expired token', api(403, 'ExpiredTokenException'), EXIT.authentication],
    ['any 401', api(401), EXIT.authentication],
    [
      'no credentials in the chain',
      Object.assign(new Error('none'), { name: 'CredentialsProviderError' }),
      EXIT.authentication,
    ],
    ['access denied (403)', api(403, 'AccessDenied'), EXIT.accessDenied],
    ['not found (404)', api(404, 'NotFound'), EXIT.notFound],
    ['a conflict (409)', api(409, 'AlreadyExists'), EXIT.conflict],
    ['a disabled key (409)', api(409, 'KeyDisabled'), EXIT.conflict],
    ['a finished job not cancellable (409)', api(409, 'InvalidState'), EXIT.conflict],
    // A race lost to another writer: worth retrying, unlike the 409s above.
    ['a job changed while cancelling (409)', api(409, 'ConcurrentModification'), EXIT.throttled],
    ['gone (410)', api(410), EXIT.conflict],
    ['a failed precondition (412)', api(412, 'PreconditionFailed'), EXIT.conflict],
    ['throttled by the gateway (429)', api(429, 'TooManyRequestsException'), EXIT.throttled],
    ['a quota reached (429)', api(429, 'LimitExceeded'), EXIT.throttled],
    ['an invalid ciphertext', api(400, 'InvalidCiphertext'), EXIT.invalidCiphertext],
    ['a 500 of the service', api(500, 'InternalError'), EXIT.internal],
    ['a 502 of the gateway', api(502), EXIT.internal],
    ['a network failure', new TypeError('fetch failed'), EXIT.internal],
  ])('%s', (_what, error, code) => {
    expect(exitCodeOf(error)).toBe(code);
  });

  it('the codes are distinct', () => {
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).toBe(codes.length);
  });
});

describe('settings: flag > environment > config file profile > config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eaas-cli-config-'));
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      endpoint: 'https://file.example',
      region: 'eu-west-1',
      profiles: { ops: { endpoint: 'https://profile.example', region: 'eu-central-1' } },
    }),
  );
  const env = { EAAS_CONFIG: file };

  it('refuses plain http to any host but this machine, whose bodies would cross the network in clear', async () => {
    await expect(resolveSettings({ endpoint: 'http://api.example.com' }, {})).rejects.toThrow(
      /must be https unless it is on this machine/,
    );
    for (const endpoint of ['http://127.0.0.1:3000', 'http://localhost:3000', 'http://[::1]:3000'])
      expect((await resolveSettings({ endpoint }, {})).endpoint).toBe(endpoint);
  });

  it('the file alone', async () => {
    const s = await resolveSettings({}, env);
    expect([s.endpoint, s.region, s.profile]).toEqual(['https://file.example', 'eu-west-1', undefined]);
  });
  it("the profile's section over the file's defaults (--profile, AWS_PROFILE, or the file's profile)", async () => {
    expect((await resolveSettings({ profile: 'ops' }, env)).endpoint).toBe('https://profile.example');
    expect((await resolveSettings({}, { ...env, AWS_PROFILE: 'ops' })).region).toBe('eu-central-1');
    writeFileSync(
      join(dir, 'with-profile.json'),
      JSON.stringify({ profile: 'ops', profiles: { ops: { endpoint: 'https://p.example' } } }),
    );
    expect((await resolveSettings({ config: join(dir, 'with-profile.json') }, {})).endpoint).toBe(
      'https://p.example',
    );
  });
  it('the environment over the profile', async () => {
    const s = await resolveSettings(
      { profile: 'ops' },
      { ...env, EAAS_ENDPOINT: 'https://env.example', AWS_REGION: 'ap-south-1' },
    );
    expect([s.endpoint, s.region]).toEqual(['https://env.example', 'ap-south-1']);
    expect((await resolveSettings({}, { ...env, AWS_DEFAULT_REGION: 'sa-east-1' })).region).toBe('sa-east-1');
  });
  it('the flags over everything', async () => {
    const s = await resolveSettings(
      { endpoint: 'https://flag.example', region: 'us-west-2', profile: 'ops', config: file },
      { EAAS_ENDPOINT: 'https://env.example', AWS_REGION: 'ap-south-1' },
    );
    expect([s.endpoint, s.region, s.profile]).toEqual(['https://flag.example', 'us-west-2', 'ops']);
  });
  it('us-east-1 when nothing says a region; refusals of a missing URL, a bad URL, a bad or missing file', async () => {
    const none = join(dir, 'absent.json');
    expect((await resolveSettings({ endpoint: 'https://x.example' }, { XDG_CONFIG_HOME: dir })).region).toBe(
      'us-east-1',
    );
    await expect(resolveSettings({}, { XDG_CONFIG_HOME: dir })).rejects.toThrow(UsageError);
    await expect(resolveSettings({ endpoint: 'ftp://x' }, { XDG_CONFIG_HOME: dir })).rejects.toThrow(/http/);
    await expect(resolveSettings({ endpoint: 'not a url' }, { XDG_CONFIG_HOME: dir })).rejects.toThrow(
      /not a URL/,
    );
    await expect(resolveSettings({ config: none }, {})).rejects.toThrow(UsageError);
    writeFileSync(join(dir, 'bad.json'), '[1]');
    await expect(resolveSettings({}, { EAAS_CONFIG: join(dir, 'bad.json') })).rejects.toThrow(
      /not a JSON object/,
    );
  });
});

describe('output formats', () => {
  it('json when asked or when standard output is not a terminal; text when asked or on a terminal', () => {
    expect(outputFormatOf('json', true)).toBe('json');
    expect(outputFormatOf('text', false)).toBe('text');
    expect(outputFormatOf(undefined, true)).toBe('text');
    expect(outputFormatOf(undefined, false)).toBe('json');
  });
  it('json prints the answer as it is; text as fields, or a table with a header', () => {
    const answer = {
      keys: [
        { keyId: 'k1', state: 'Enabled' },
        { keyId: 'key-2', state: 'Disabled' },
      ],
      nextToken: 't',
    };
    const json = sink();
    new Printer('json', json.stream).rows(answer, answer.keys);
    expect(JSON.parse(json.text())).toEqual(answer);
    const text = sink();
    new Printer('text', text.stream).rows(answer, answer.keys, ['keyId', 'state']);
    expect(text.text()).toBe('KEYID  STATE\nk1     Enabled\nkey-2  Disabled\n');
    const fields = sink();
    new Printer('text', fields.stream).value({
      keyId: 'k1',
      enabled: true,
      tags: { a: 'b' },
      gone: undefined,
    });
    expect(fields.text()).toBe('keyId:   k1\nenabled: true\ntags:    {"a":"b"}\n');
    expect(table([])).toBe('');
  });
});

describe('text output shows what others chose without letting a terminal act on it', () => {
  it('escapes control characters, separators and bidirectional overrides in cells, fields and errors', () => {
    const description = 'ok\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202egnp.exe\nline2\ttab';
    const escaped = 'ok\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\\u202egnp.exe\\nline2\\ttab';
    const text = sink();
    new Printer('text', text.stream).rows({}, [{ keyId: 'k1', description }], ['keyId', 'description']);
    expect(text.text()).toBe(`KEYID  DESCRIPTION\nk1     ${escaped}\n`);
    const fields = sink();
    new Printer('text', fields.stream).value({ description, tags: { t: '\u001b[2J' } });
    expect(fields.text()).toBe(`description: ${escaped}\ntags:        {"t":"\\u001b[2J"}\n`);
    // JSON is JSON: the value as it is, which a reader parses back.
    const json = sink();
    new Printer('json', json.stream).value({ description });
    expect(JSON.parse(json.text())).toEqual({ description });
    // An error's message (which can quote a name) keeps its lines, nothing else.
    const error = new EaasError('NotFound', `No key "\u001b[2J${description}".`, 404, 'r-1');
    const described = describeError(error);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting none is left
    expect(described).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(described).toBe(
      `eaas: NotFound: No key "\\u001b[2J${escaped.replace('\\n', '\n')}".\n  request id: r-1\n`,
    );
  });
});

describe('parseContext', () => {
  it('k=v pairs (a value may hold =), or one JSON object', () => {
    expect(parseContext(['tenant=acme', 'q=a=b'])).toEqual({ tenant: 'acme', q: 'a=b' });
    expect(parseContext(['{"tenant":"acme"}'])).toEqual({ tenant: 'acme' });
    expect(parseContext(undefined)).toBeUndefined();
    expect(parseContext([])).toBeUndefined();
    expect(parseContext(['k='])).toEqual({ k: '' });
  });
  it.each([[['novalue']], [['=v']], [['k=1', 'k=2']], [['{"k":1}']], [['{not json']], [['["a"]']]])(
    'refuses %j as a usage error',
    (values) => {
      expect(() => parseContext(values)).toThrow(UsageError);
    },
  );
});

/** Every command's path below the program. */
function paths(command: Command, prefix: string[] = []): string[][] {
  return command.commands.flatMap((c) => [[...prefix, c.name()], ...paths(c, [...prefix, c.name()])]);
}

describe('--help on every command', () => {
  const all = paths(createProgram(fakeRuntime().runtime));
  it('walks the whole tree (keys, jobs, completion among it)', () => {
    const names = all.map((p) => p.join(' '));
    for (const p of ['keys create', 'keys rotation enable', 'keys grants revoke', 'jobs watch', 'completion'])
      expect(names).toContain(p);
  });
  it.each(all.map((p) => [p.join(' ')]))('eaas %s --help: usage on stdout, exit 0', async (path) => {
    const { runtime, out, err } = fakeRuntime();
    const code = await main([...path.split(' '), '--help'], runtime);
    expect(code).toBe(0);
    expect(out.text()).toContain(`Usage: eaas ${path}`);
    expect(err.text()).toBe('');
  });
});

describe('shell completion from the command tree', () => {
  const tree = commandTree(createProgram(fakeRuntime().runtime));
  it('bash completes commands, subcommands and options (run by bash)', () => {
    const script = bashScript(tree);
    const complete = (words: string[]) =>
      execFileSync('bash', [
        '-c',
        `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _eaas_complete; echo "\${COMPREPLY[*]}"`,
      ])
        .toString()
        .trim()
        .split(' ');
    expect(complete(['eaas', 'ke'])).toEqual(['keys']);
    expect(complete(['eaas', 'keys', 'rot'])).toEqual(['rotate', 'rotation', 'rotations']);
    expect(complete(['eaas', 'keys', 'rotation', 'enable', '--pe'])).toEqual(['--period']);
    expect(complete(['eaas', '--output', 'json', 'jobs', 'w'])).toEqual(['watch']);
  });
  it('zsh and fish name every command', () => {
    const zsh = zshScript(tree);
    const fish = fishScript(tree);
    expect(zsh).toContain('bashcompinit');
    for (const node of tree.filter((n) => n.path !== '')) {
      expect(zsh).toContain(`"${node.path}"`);
      expect(fish).toContain(`'${node.path}'`);
    }
    expect(fish).toContain("-l period -r -d 'rotate every DAYS (90-2560, default 365)'");
  });
  it('eaas completion bash prints the script; an unknown shell is a usage error', async () => {
    const ok = fakeRuntime();
    expect(await main(['completion', 'bash'], ok.runtime)).toBe(0);
    expect(ok.out.text()).toContain('complete -o default -F _eaas_complete eaas');
    const bad = fakeRuntime();
    expect(await main(['completion', 'tcsh'], bad.runtime)).toBe(EXIT.usage);
    expect(bad.out.text()).toBe('');
    expect(bad.err.text()).toContain('tcsh');
  });
});

describe('option values refused before anything is asked of the API', () => {
  it.each([
    ['a polling interval under half a second', ['jobs', 'watch', 'job-1', '--interval', '0.1'], '0.5'],
    [
      'a zero interval',
      ['jobs', 'start', '--destination', 'alias/k', '--older-than-rotation', '--watch', '--interval', '0'],
      '0.5',
    ],
    [
      'an engine the API does not have',
      ['jobs', 'start', '--destination', 'alias/k', '--older-than-rotation', '--engine', 'fast'],
      '--engine must be scheduled, batch or auto',
    ],
    [
      'a validity end without a time zone (read in local time)',
      ['keys', 'import', 'alias/k', '--material', 'm.bin', '--valid-to', '2027-01-31T12:00:00'],
      'time zone',
    ],
    [
      'a validity end that is a bare date',
      ['keys', 'import', 'alias/k', '--material', 'm.bin', '--valid-to', '2027-01-31'],
      'time zone',
    ],
  ])('%s', async (_what, argv, says) => {
    const run = fakeRuntime();
    expect(await main(argv, run.runtime)).toBe(EXIT.usage);
    expect(run.out.text()).toBe('');
    expect(run.err.text()).toContain(says);
  });
});

describe('jobs watch: polls until a finished state', () => {
  it('asks again after each interval and returns the finished job', async () => {
    const states = ['pending', 'running', 'running', 'completed-with-failures'];
    let calls = 0;
    const slept: number[] = [];
    const ctx = { progress: false, runtime: fakeRuntime().runtime } as unknown as CommandContext;
    const job = await watchJob(
      ctx,
      async () => ({ id: 'j', state: states[calls++] }) as never,
      250,
      async (ms) => {
        slept.push(ms);
      },
    );
    expect(job).toMatchObject({ state: 'completed-with-failures' });
    expect(calls).toBe(4);
    expect(slept).toEqual([250, 250, 250]);
  });
});

describe('jobs watch: the exit of a finished job', () => {
  const job = (state: string) => ({ id: 'j', state, report: { summary: 'done' } }) as never;
  it(`0 when it succeeded, ${EXIT.jobFailures} (JobCompletedWithFailures) when it completed with failures; the job printed either way`, () => {
    const out = sink();
    const printer = new Printer('json', out.stream);
    expect(() => finish({ printer }, job('succeeded'))).not.toThrow();
    let error: unknown;
    try {
      finish({ printer }, job('completed-with-failures'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CliError);
    expect(exitCodeOf(error)).toBe(EXIT.jobFailures);
    expect(out.text()).toContain('completed-with-failures');
  });
});
