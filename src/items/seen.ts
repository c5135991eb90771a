/**
 * The memory of items already taken in: identity keys with the time they were last confirmed.
 * Bounded by a TTL far longer than an item stays in a feed, and refreshed while an item is still in
 * its feed, so it forgets only what has left its feed long ago and can't return.
 */
import type Keyv from "keyv";

/** Items leave feeds within days; remembering them for half a year covers every feed we know. */
const SEEN_TTL_MS = 180 * 24 * 60 * 60 * 1000;

/**
 * A key found again after this long is remembered afresh: an item that stays in a quiet feed for
 * years is never forgotten while it is there. (The poller reads every feed in full at least this
 * often, so unchanged feeds answering 304 are covered too.)
 */
export const SEEN_REFRESH_MS = 30 * 24 * 60 * 60 * 1000;

/** Entries one poll holds until it has remembered them; see {@link SeenItems.claimNew}. */
export interface Claim {
  /** Per entry: not seen before and held by this poll (so it is this poll's to take in). */
  isNew: boolean[];
  /** Lets other polls decide about these entries again; call once the new ones are remembered (or on failure). */
  release(): void;
}

/** Seen-item memory over the store's `seen` namespace. */
export class SeenItems {
  /** Keys some poll is deciding about right now. */
  private readonly claimed = new Set<string>();
  /**
   * Keys whose remembering failed (the store was failing), with their time: they count as seen
   * and are written with the next remember. Their items may already be in the outbox, and taking
   * them in again once the store is back would send them twice.
   */
  private readonly unsaved = new Map<string, number>();

  constructor(
    private readonly keyv: Keyv,
    private readonly ttlMs = SEEN_TTL_MS,
  ) {}

  /**
   * For each entry's identity keys, whether any of them has been seen. One store read; the keys of
   * seen entries that are missing (the entry gained a key, e.g. a changed link) or older than
   * {@link SEEN_REFRESH_MS} are remembered in one write.
   */
  async seen(keysPerEntry: readonly (readonly string[])[], now = Date.now()): Promise<boolean[]> {
    const all = [...new Set(keysPerEntry.flat())];
    if (all.length === 0) return keysPerEntry.map(() => false);
    const values = await this.keyv.getMany<number>(all);
    const rememberedAt = new Map(all.flatMap((key, index) => (values[index] === undefined ? [] : [[key, values[index]!]])));
    for (const key of all) if (this.unsaved.has(key)) rememberedAt.set(key, now);
    const flags = keysPerEntry.map((keys) => keys.some((key) => rememberedAt.has(key)));
    const refresh = keysPerEntry
      .filter((_, index) => flags[index])
      .flat()
      .filter((key) => now - (rememberedAt.get(key) ?? Number.NEGATIVE_INFINITY) > SEEN_REFRESH_MS);
    await this.remember([...new Set(refresh)], now);
    return flags;
  }

  /**
   * Decides which entries one poll takes in, so that two feeds polled at once never both take the
   * same story (the same link in two feeds): an entry sharing a key with an entry another poll
   * holds, or with an earlier entry of this list, is not new; the others are held until `release`,
   * then checked against the memory. Hold from before the read until after `remember`, and a
   * second poll sees either the hold or the memory.
   */
  async claimNew(keysPerEntry: readonly (readonly string[])[], now = Date.now()): Promise<Claim> {
    const mine = new Set<string>();
    const held = keysPerEntry.map((keys) => {
      if (keys.some((key) => this.claimed.has(key))) return false;
      for (const key of keys) {
        this.claimed.add(key);
        mine.add(key);
      }
      return true;
    });
    const release = (): void => mine.forEach((key) => this.claimed.delete(key));
    try {
      const seen = await this.seen(keysPerEntry, now);
      return { isNew: held.map((holds, index) => holds && !seen[index]), release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Remembers these identity keys as seen now (with any whose earlier remembering failed). */
  async remember(keys: readonly string[], now = Date.now()): Promise<void> {
    for (const key of keys) this.unsaved.set(key, now);
    if (this.unsaved.size === 0) return;
    const writing = [...this.unsaved];
    await this.keyv.setMany(writing.map(([key, at]) => ({ key, value: at, ttl: this.ttlMs })));
    for (const [key, at] of writing) if (this.unsaved.get(key) === at) this.unsaved.delete(key);
  }
}
