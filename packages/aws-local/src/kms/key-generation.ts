import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { KmsError } from './errors.js';

/**
 * Key pair generation, off the event loop and bounded. An RSA key pair takes up to a second of CPU
 * (RSA_4096) on the libuv threadpool, which the server's other work shares: CreateKey of an RSA
 * key, GenerateDataKeyPair and GetParametersForImport's wrapping keys all generate through one gate,
 * so that a burst of them cannot starve every other operation. A request beyond the gate's queue
 * answers ThrottlingException, KMS's answer to a request rate over its quota ("The request was
 * denied due to request throttling", https://docs.aws.amazon.com/kms/latest/developerguide/throttling.html).
 */

const generate = promisify(generateKeyPair);

/** Key pairs generated at once, in the whole process (half the default libuv threadpool). */
export const MAX_KEY_GENERATIONS = 2;

/** At most `limit` tasks at once; a task waits in order when its caller's queue bound allows, else is refused. */
export class Gate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(queue: number, task: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    else if (this.waiting.length < queue) await new Promise<void>((go) => this.waiting.push(go));
    else throw new KmsError('ThrottlingException', 'Rate exceeded');
    try {
      return await task();
    } finally {
      // The slot passes to the next waiting task, or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

const generations = new Gate(MAX_KEY_GENERATIONS);

/** An RSA key pair's private key (public exponent 65537), generated through the gate. */
export async function generateRsa(bits: number, queue: number): Promise<KeyObject> {
  const pair = await generations.run(queue, () =>
    generate('rsa', { modulusLength: bits, publicExponent: 0x10001 }),
  );
  return pair.privateKey;
}

/** An EC key pair's private key on a named curve (cheap: no gate). */
export async function generateEc(namedCurve: string): Promise<KeyObject> {
  return (await generate('ec', { namedCurve })).privateKey;
}
