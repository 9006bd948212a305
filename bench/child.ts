import { type ChildProcess, spawn } from 'node:child_process';

/** A server started in its own process, so client and server do not share one event loop. */
export interface Child {
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Spawns `command`, resolves once its stdout shows `ready`, with a time limit. */
export function spawnUntil(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  timeoutMs = 20_000,
): Promise<Child> {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${command} did not become ready in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    let isReady = false;
    proc.stdout?.on('data', (d: Buffer) => {
      // Once ready, the child's output (audit lines) is drained, not kept.
      if (isReady) return;
      out += d.toString();
      if (ready.test(out)) {
        isReady = true;
        clearTimeout(timer);
        resolve({
          proc,
          stop: () =>
            new Promise<void>((done) => {
              proc.once('exit', () => done());
              proc.kill('SIGTERM');
            }),
        });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code} before it was ready:\n${out}`));
    });
  });
}
