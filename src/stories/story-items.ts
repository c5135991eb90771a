/**
 * The port of stories' items: every accepted item of the story window, by key. The sender renders
 * a chat's message of a story again from it when another source joins (the item's own job may be
 * long done, and the recent list keeps only the newest); on a shared database each instance's
 * story index also learns from it the items the other instances took in. An item never changes,
 * so a write is a plain insert and any instance may read it.
 *
 * Two sides: this file's, over the store's `stories` namespace (SQLite and Redis, one instance),
 * and postgres-story-items.ts (one table every instance shares).
 */
import type Keyv from "keyv";
import type { Item } from "../items/item.js";

/** Items another instance stored, oldest first, and where to ask from next time. */
export interface StoredItems {
  items: Item[];
  cursor: number | undefined;
}

export interface StoryItemStore {
  /** Stores items of stories; an item stored already is left as it is. */
  add(items: readonly Item[]): Promise<void>;
  get(key: string): Promise<Item | undefined>;
  /**
   * The items stored since `cursor` (undefined: since the start) by any instance, published at
   * `publishedFrom` or later, oldest first, at most `limit` (the newest). A store of one instance
   * answers none: the index knows its own items already.
   */
  storedSince(cursor: number | undefined, publishedFrom: number, limit: number): Promise<StoredItems>;
}

const PREFIX = "item:";

/** Stories' items in the Keyv namespace `stories`. */
export class KeyvStoryItems implements StoryItemStore {
  /** `ttlMs`: how long an item is kept, as long as a story can be joined and its messages edited. */
  constructor(
    private readonly store: Keyv,
    private readonly ttlMs: number,
  ) {}

  async add(items: readonly Item[]): Promise<void> {
    if (items.length === 0) return;
    await this.store.setMany(items.map((item) => ({ key: PREFIX + item.key, value: item, ttl: this.ttlMs })));
  }

  get(key: string): Promise<Item | undefined> {
    return this.store.get<Item>(PREFIX + key);
  }

  async storedSince(cursor: number | undefined): Promise<StoredItems> {
    return { items: [], cursor };
  }
}
