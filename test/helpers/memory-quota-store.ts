import type { QuotaStore } from '../../src/ports.js';

/**
 * The quota ledger's store in memory, for unit tests: versions as S3's ETags are, the version
 * check at write time, and a turn of the event loop in every call so that concurrent updates
 * interleave as they do over the network.
 */
export class MemoryQuotaStore implements QuotaStore {
  readonly records = new Map<string, { text: string; version: string }>();
  writes = 0;
  lostRaces = 0;
  private next = 0;

  async read(principal: string) {
    await new Promise((resolve) => setImmediate(resolve));
    const found = this.records.get(principal);
    return found ? { ...found } : undefined;
  }

  async write(principal: string, text: string, version: string | undefined): Promise<boolean> {
    await new Promise((resolve) => setImmediate(resolve));
    if (this.records.get(principal)?.version !== version) {
      this.lostRaces += 1;
      return false;
    }
    this.writes += 1;
    this.records.set(principal, { text, version: `"v${++this.next}"` });
    return true;
  }

  /** The ids a caller's record lists for a kind. */
  ids(principal: string, kind: 'keys' | 'aliases' | 'jobs'): string[] {
    const found = this.records.get(principal);
    if (!found) return [];
    return (JSON.parse(found.text)[kind] as { id: string }[]).map((e) => e.id);
  }
}
