/**
 * The items of recent stories, by key, in the store's `stories` namespace: what a chat's message
 * of a story is rendered from again when another source joins it (the item's own job may be long
 * done, and the recent list keeps only the newest). Every instance writes the items it accepts;
 * an item never changes, so a write is a plain set and any instance may read it.
 */
import type Keyv from "keyv";
import type { Item } from "../items/item.js";

const PREFIX = "item:";

export class StoryItems {
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
}
