import type { KMSClient } from '@aws-sdk/client-kms';
import { SERVICE } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KEY_ALIAS } from '../../local/emulator-options.js';
import { EsdkEnvelope } from '../../src/aws/esdk.js';
import { DomainError } from '../../src/core/errors.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';

/**
 * The Encryption SDK's keyring swallows its KMS client's errors into one "unable to decrypt":
 * throttling and outages must still reach the caller as 429 Throttled / 502 DependencyFailure
 * (retry), while every failure that says something of the ciphertext stays InvalidCiphertext.
 * KMS is the local one over HTTP; the fault is injected in the client's middleware, as the SDK
 * would have received it from KMS.
 */

let t: TestKms;
let kms: KMSClient;
let fault: (() => Error) | undefined;

beforeAll(async () => {
  t = await startTestKms();
  kms = t.client(SERVICE);
  kms.middlewareStack.add(
    (next, context) => async (args) => {
      if (fault && context.commandName === 'DecryptCommand') throw fault();
      return next(args);
    },
    { step: 'initialize', name: 'injectFault' },
  );
});
afterAll(() => t.stop());

const kmsError = (name: string, status: number) =>
  Object.assign(new Error(`${name} from KMS`), { name, $metadata: { httpStatusCode: status } });

describe('Encryption SDK decrypt when KMS fails', () => {
  it('answers Throttled for throttling, DependencyFailure for an outage, InvalidCiphertext otherwise', async () => {
    const envelope = new EsdkEnvelope(kms, 1 << 20);
    const { message } = await envelope.encrypt(DEFAULT_KEY_ALIAS, new Uint8Array(8192).fill(7), { a: '1' });
    const codeOf = async () => {
      try {
        await envelope.decrypt(message, { a: '1' });
        return 'ok';
      } catch (error) {
        return error instanceof DomainError ? error.code : `other ${(error as Error).name}`;
      }
    };
    fault = () => kmsError('ThrottlingException', 400);
    expect(await codeOf()).toBe('Throttled');
    fault = () => kmsError('KMSInternalException', 500);
    expect(await codeOf()).toBe('DependencyFailure');
    fault = () => Object.assign(new Error('connect ECONNREFUSED'), { name: 'Error', code: 'ECONNREFUSED' });
    expect(await codeOf()).toBe('DependencyFailure');
    // What KMS says of the ciphertext or the key stays the uniform answer.
    for (const [name, status] of [
      ['InvalidCiphertextException', 400],
      ['IncorrectKeyException', 400],
      ['AccessDeniedException', 400],
      ['DisabledException', 400],
      ['NotFoundException', 400],
      ['UnsupportedOperationException', 400],
    ] as const) {
      fault = () => kmsError(name, status);
      expect(await codeOf(), name).toBe('InvalidCiphertext');
    }
    fault = undefined;
    expect(await codeOf()).toBe('ok');
  });
});

describe("Encryption SDK decrypt names only keys of the service's account", () => {
  it("skips a data key wrapped under another account before asking KMS or the caller's right anything", async () => {
    fault = undefined;
    const calls: string[] = [];
    const watched = t.client(SERVICE);
    watched.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'watch' },
    );
    const ours = new EsdkEnvelope(watched, 1 << 20, { accountIDs: [t.config.accountId], partition: 'aws' });
    const { message } = await ours.encrypt(DEFAULT_KEY_ALIAS, new Uint8Array(5000).fill(1), { a: '1' });
    // Read back by a service of the same account; then as if the message named another account.
    await expect(ours.decrypt(message, { a: '1' })).resolves.toMatchObject({ context: { a: '1' } });
    const elsewhere = new EsdkEnvelope(watched, 1 << 20, { accountIDs: ['444455556666'], partition: 'aws' });
    let asked = 0;
    calls.length = 0;
    await expect(
      elsewhere.decrypt(message, { a: '1' }, async () => {
        asked++;
      }),
    ).rejects.toMatchObject({ code: 'InvalidCiphertext' });
    expect(asked).toBe(0);
    expect(calls).toEqual([]);
  });
});
