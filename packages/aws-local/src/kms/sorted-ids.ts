/**
 * A set of ids kept in sorted order, for listings that page by cursor: a page after a given id
 * costs a binary search plus the page, whatever the size of the set, and an id removed between
 * two pages moves no other item in or out of the listing.
 */
export class SortedIds {
  private readonly ids: string[] = [];

  get size(): number {
    return this.ids.length;
  }

  /** The position of the first id not below `id`. */
  private lowerBound(id: string): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ids[mid] as string) < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(id: string): void {
    const at = this.lowerBound(id);
    if (this.ids[at] !== id) this.ids.splice(at, 0, id);
  }

  delete(id: string): void {
    const at = this.lowerBound(id);
    if (this.ids[at] === id) this.ids.splice(at, 1);
  }

  /**
   * Up to `limit` ids after `after` (from the first when undefined) that `accept` takes, and
   * whether another accepted id follows them. Without `accept` the cost is that of the page;
   * with it, that of the ids looked at.
   */
  page(
    after: string | undefined,
    limit: number,
    accept?: (id: string) => boolean,
  ): { ids: string[]; more: boolean } {
    let at = after === undefined ? 0 : this.lowerBound(after);
    if (after !== undefined && this.ids[at] === after) at++;
    const ids: string[] = [];
    for (; at < this.ids.length; at++) {
      const id = this.ids[at] as string;
      if (accept && !accept(id)) continue;
      if (ids.length === limit) return { ids, more: true };
      ids.push(id);
    }
    return { ids, more: false };
  }

  *[Symbol.iterator](): IterableIterator<string> {
    yield* this.ids;
  }
}
