import type { LargeObjects, ObjectStore } from '../../ports.js';

/**
 * The vault as a person sees it: every key relative to its space (`people/<identityId>/`), so
 * that names, listings, cursors and answers never leave it and never show the prefix. Only names
 * are translated: who may read what the space holds is the key policy's decision.
 */
export class SpaceStore implements ObjectStore, LargeObjects {
  readonly keyPrefix: string;

  constructor(
    private readonly base: ObjectStore & LargeObjects,
    private readonly prefix: string,
  ) {
    this.keyPrefix = `${base.keyPrefix}${prefix}`;
  }

  private at(key: string): string {
    return `${this.prefix}${key}`;
  }

  put(key: string, body: Uint8Array | NodeJS.ReadableStream, options: Parameters<ObjectStore['put']>[2]) {
    return this.base.put(this.at(key), body, options);
  }

  head(key: string) {
    return this.base.head(this.at(key));
  }

  exists(key: string) {
    return this.base.exists(this.at(key));
  }

  get(key: string, options?: { ifMatch?: string | undefined }) {
    return this.base.get(this.at(key), options);
  }

  getText(key: string) {
    return this.base.getText(this.at(key));
  }

  readText(key: string) {
    return this.base.readText(this.at(key));
  }

  delete(key: string) {
    return this.base.delete(this.at(key));
  }

  async list(prefix: string, limit: number, nextToken?: string, startAfter?: string) {
    const page = await this.base.list(
      this.at(prefix),
      limit,
      nextToken,
      startAfter === undefined ? undefined : this.at(startAfter),
    );
    return {
      ...page,
      items: page.items
        .filter((i) => i.key.startsWith(this.prefix))
        .map((i) => ({ ...i, key: i.key.slice(this.prefix.length) })),
    };
  }

  putStream(key: string, body: AsyncIterable<Uint8Array>, options: Parameters<LargeObjects['putStream']>[2]) {
    return this.base.putStream(this.at(key), body, options);
  }

  presignGet(key: string, expiresIn: number) {
    return this.base.presignGet(this.at(key), expiresIn);
  }
}
