/**
 * The memory of items already taken in: identity keys with the time they were first seen.
 * Bounded by a TTL far longer than an item stays in a feed, so it forgets only what can't return.
 */
import type Keyv from "keyv";

/** Items leave feeds within days; remembering them for half a year covers every feed we know. */
export const SEEN_TTL_MS = 180 * 24 * 60 * 60 * 1000;

/** Seen-item memory over the store's `seen` namespace. */
export class SeenItems {
  constructor(
    private readonly keyv: Keyv,
    private readonly ttlMs = SEEN_TTL_MS,
  ) {}

  /** For each entry's identity keys, whether any of them has been seen. One store round trip. */
  async seen(keysPerEntry: readonly (readonly string[])[]): Promise<boolean[]> {
    const all = [...new Set(keysPerEntry.flat())];
    if (all.length === 0) return [];
    const values = await this.keyv.getMany<number>(all);
    const known = new Set(all.filter((_, index) => values[index] !== undefined));
    return keysPerEntry.map((keys) => keys.some((key) => known.has(key)));
  }

  /** Remembers these identity keys as seen now. */
  async remember(keys: readonly string[], now = Date.now()): Promise<void> {
    if (keys.length === 0) return;
    await this.keyv.setMany(keys.map((key) => ({ key, value: now, ttl: this.ttlMs })));
  }
}
