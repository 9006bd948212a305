import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The client's modules import one another only downwards (types and errors at the bottom, the
 * transfers over the client, `index.ts` gathering them): none imports the index, so the cycle
 * `index.ts` <-> `transfer.ts` cannot come back.
 */
const dir = join(import.meta.dirname, '../../packages/client/src');

describe('the client modules', () => {
  it('never import the index that gathers them', () => {
    const offenders = readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
      .filter((f) => /from '\.\/index\.js'/.test(readFileSync(join(dir, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
