/**
 * A bucket's keys kept in S3's listing order, the binary order of their UTF-8 bytes, with binary
 * search to start a page anywhere without scanning what came before.
 */
export class SortedKeys {
  private readonly keys: string[] = [];
  private readonly bytes: Buffer[] = [];

  get size(): number {
    return this.keys.length;
  }

  keyAt(index: number): string | undefined {
    return this.keys[index];
  }

  bytesAt(index: number): Buffer | undefined {
    return this.bytes[index];
  }

  /** Index of the first key whose bytes are >= `target` (or > it when `strict`). */
  bound(target: Buffer, strict = false): number {
    let lo = 0;
    let hi = this.bytes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = Buffer.compare(this.bytes[mid] as Buffer, target);
      if (c < 0 || (strict && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(key: string): void {
    const b = Buffer.from(key, 'utf8');
    const at = this.bound(b);
    if (this.keys[at] === key) return;
    this.keys.splice(at, 0, key);
    this.bytes.splice(at, 0, b);
  }

  remove(key: string): void {
    const at = this.bound(Buffer.from(key, 'utf8'));
    if (this.keys[at] !== key) return;
    this.keys.splice(at, 1);
    this.bytes.splice(at, 1);
  }
}
