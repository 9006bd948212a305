/** Entries a cache of the authorization lookups holds at most; the oldest goes first. */
export const MAX_CACHE_ENTRIES = 10_000;

/** A small time-bounded cache of promises, so concurrent lookups of one key share one call. */
export class TtlCache<T> {
  private readonly entries = new Map<string, { value: Promise<T>; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  get(key: string, load: () => Promise<T>, fresh = false): Promise<T> {
    const hit = this.entries.get(key);
    const t = this.now();
    if (hit && !fresh && hit.expires > t) return hit.value;
    if (this.entries.size >= MAX_CACHE_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    const value = load();
    this.entries.delete(key);
    this.entries.set(key, { value, expires: t + this.ttlMs });
    // A failed lookup is not cached.
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }

  deleteWhere(test: (key: string) => boolean): void {
    for (const key of [...this.entries.keys()]) if (test(key)) this.entries.delete(key);
  }
}
