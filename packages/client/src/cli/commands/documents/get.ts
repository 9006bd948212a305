import { basename, resolve } from 'node:path';
import { decryptInto, downloadDocument } from '../../../download.js';
import { UsageError } from '../../exit-codes.js';
import type { CommandContext } from '../../runtime.js';
import { byteMeter } from './progress.js';
import { INLINE_BYTES } from './put.js';
import { HeldSink } from './spool.js';

/**
 * `eaas get KEY [FILE|-]`: downloads and decrypts a document. Into a file: a temporary file
 * beside it, renamed into place once the tag has checked. To standard output (`-`): nothing is
 * written before the tag has checked; the plaintext is held in memory up to 4 MiB, beyond that in
 * an unlinked temporary file (mode 0600, in TMPDIR), then copied out.
 */
export async function get(ctx: CommandContext, key: string, destination: string | undefined): Promise<void> {
  const target = destination ?? basename(key);
  if (!target) throw new UsageError(`give a file to write ${key} to (or - for standard output)`);
  const client = await ctx.client();
  const meter = await byteMeter(ctx, 'get');
  const onProgress = ({ receivedBytes, totalBytes }: { receivedBytes: number; totalBytes: number }) => {
    meter.total(totalBytes);
    meter.update(receivedBytes);
  };
  if (target === '-') {
    const held = new HeldSink(INLINE_BYTES);
    try {
      await decryptInto(client, key, held, { onProgress });
      meter.stop();
      await held.release(ctx.runtime.stdout);
    } finally {
      meter.stop();
      await held.discard();
    }
    return;
  }
  const path = resolve(target);
  try {
    const out = await downloadDocument(client, key, path, { onProgress });
    meter.stop();
    if (ctx.printer.format === 'json') ctx.printer.value({ ...out, file: path });
  } finally {
    meter.stop();
  }
}
