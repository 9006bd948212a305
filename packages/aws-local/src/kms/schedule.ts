/**
 * Times by id, soonest first: one entry per id, moved or removed when its time changes (a
 * binary search), and taken from the head when due, so that a look at what is due costs one
 * comparison when nothing is.
 */
export class Schedule {
  private readonly entries: Array<{ at: number; id: string }> = [];
  private readonly byId = new Map<string, number>();

  get size(): number {
    return this.entries.length;
  }

  /** The first index whose time is after `at` (`strict`) or not before it. */
  private bound(at: number, strict: boolean): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const t = (this.entries[mid] as { at: number }).at;
      if (t < at || (strict && t === at)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Schedules `id` at `at`, or unschedules it (`at` undefined). */
  set(id: string, at: number | undefined): void {
    const old = this.byId.get(id);
    if (old === at) return;
    if (old !== undefined) {
      for (let i = this.bound(old, false); i < this.entries.length && this.entries[i]?.at === old; i++) {
        if (this.entries[i]?.id === id) {
          this.entries.splice(i, 1);
          break;
        }
      }
      this.byId.delete(id);
    }
    if (at === undefined) return;
    this.entries.splice(this.bound(at, true), 0, { at, id });
    this.byId.set(id, at);
  }

  /** Removes and answers the ids whose time is at or before `now`, soonest first. */
  takeDue(now: number): string[] {
    let n = 0;
    while (n < this.entries.length && (this.entries[n] as { at: number }).at <= now) n++;
    if (n === 0) return [];
    const due = this.entries.splice(0, n);
    for (const { id } of due) this.byId.delete(id);
    return due.map((e) => e.id);
  }
}
