import { writeFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { WrappingAlgorithm } from '../../key-import.js';
import { CliError, EXIT } from '../exit-codes.js';
import { readLocal } from '../options.js';
import { action, type Runtime } from '../runtime.js';
import { printKey } from './view.js';

/**
 * An RFC 3339 date-time with its time zone (Z or an offset), as the API wants it: without one,
 * Date would read the time in this machine's zone (and a bare date in UTC), and the material
 * could expire hours before the operator meant.
 */
const date = (value: string): Date => {
  const d = new Date(value);
  if (
    !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i.test(value) ||
    Number.isNaN(d.getTime())
  )
    throw new InvalidArgumentError(
      'an RFC 3339 date-time with its time zone, e.g. 2027-01-31T12:00:00Z or 2027-01-31T12:00:00+01:00',
    );
  return d;
};

/** `eaas keys import` (your own material, wrapped in this process) and `keys public-key`. */
export function registerMaterial(keys: Command, runtime: Runtime): void {
  keys
    .command('import <key>')
    .description(
      'import key material into a key created with --origin EXTERNAL: the material is wrapped here, with the import parameters the API gives, and never leaves this process unwrapped',
    )
    .requiredOption(
      '--material <file>',
      'the raw key material (32 bytes for SYMMETRIC_DEFAULT; DER PKCS#8 for RSA/ECC)',
    )
    .addOption(
      new Option('--wrapping-algorithm <alg>', 'how to wrap it (default: chosen for the key)').choices([
        'RSAES_OAEP_SHA_256',
        'RSA_AES_KEY_WRAP_SHA_256',
        'RSAES_OAEP_SHA_1',
        'RSA_AES_KEY_WRAP_SHA_1',
      ]),
    )
    .addOption(
      new Option('--wrapping-key-spec <spec>', 'the wrapping key (default RSA_4096)').choices([
        'RSA_2048',
        'RSA_3072',
        'RSA_4096',
      ]),
    )
    .option('--valid-to <date>', 'the material expires then (default: never)', date)
    .action(
      action(
        runtime,
        async (
          ctx,
          key: string,
          flags: {
            material: string;
            wrappingAlgorithm?: WrappingAlgorithm;
            wrappingKeySpec?: string;
            validTo?: Date;
          },
        ) => {
          const material = await readLocal(flags.material);
          try {
            const answer = await (await ctx.client()).keys.importKey(key, material, {
              ...(flags.wrappingAlgorithm ? { wrappingAlgorithm: flags.wrappingAlgorithm } : {}),
              ...(flags.wrappingKeySpec ? { wrappingKeySpec: flags.wrappingKeySpec } : {}),
              ...(flags.validTo ? { validTo: flags.validTo } : {}),
            });
            printKey(ctx.printer, answer);
          } finally {
            material.fill(0);
          }
        },
      ),
    );

  keys
    .command('public-key <key>')
    .description('the public key of an asymmetric key: PEM as text, the API answer as JSON')
    .option('--out <file>', 'write the PEM to FILE instead')
    .action(
      action(runtime, async (ctx, key: string, flags: { out?: string }) => {
        const answer = await (await ctx.client()).keys.publicKey(key);
        if (flags.out) {
          await writeFile(flags.out, answer.publicKeyPem).catch((error: Error) => {
            throw new CliError('FileError', `cannot write ${flags.out}: ${error.message}`, EXIT.usage);
          });
          return;
        }
        const json = { ...answer, publicKey: Buffer.from(answer.publicKey).toString('base64') };
        ctx.printer.value(json, () => answer.publicKeyPem.replace(/\n?$/, '\n'));
      }),
    );
}
