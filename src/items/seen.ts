/**
 * The memory of items already taken in: identity keys with the time they were last confirmed.
 * Bounded by a TTL far longer than an item stays in a feed, and refreshed while an item is still in
 * its feed, so it forgets only what has left its feed long ago and can't return.
 */
import type Keyv from "keyv";
import { MemoryItemClaims, type ItemClaims } from "./item-claims.js";

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
  /**
   * Keys whose remembering failed (the store was failing), with their time: they count as seen
   * and are written with the next remember. Their items may already be in the outbox, and taking
   * them in again once the store is back would send them twice.
   */
  private readonly unsaved = new Map<string, number>();

  /** `claims`: the polls' holds, this process's own unless instances share them. */
  constructor(
    private readonly keyv: Keyv,
    private readonly ttlMs = SEEN_TTL_MS,
    private readonly claims: ItemClaims = new MemoryItemClaims(),
  ) {}

  /**
   * For each entry's identity keys, whether any of them has been seen. One store read; the keys of
   * seen entries that are missing (the entry gained a key, e.g. a changed link) or older than
   * {@link SEEN_REFRESH_MS} are remembered in one write.
   */
  async seen(keysPerEntry: readonly (readonly string[])[], now = Date.now()): Promise<boolean[]> {
    const rememberedAt = await this.rememberedAt(keysPerEntry, now);
    const flags = keysPerEntry.map((keys) => keys.some((key) => rememberedAt.has(key)));
    const refresh = keysPerEntry
      .filter((_, index) => flags[index])
      .flat()
      .filter((key) => now - (rememberedAt.get(key) ?? Number.NEGATIVE_INFINITY) > SEEN_REFRESH_MS);
    await this.remember([...new Set(refresh)], now);
    return flags;
  }

  /** When each of the entries' keys was remembered (the unsaved ones: now). */
  private async rememberedAt(keysPerEntry: readonly (readonly string[])[], now: number): Promise<Map<string, number>> {
    const all = [...new Set(keysPerEntry.flat())];
    if (all.length === 0) return new Map();
    const values = await this.keyv.getMany<number>(all);
    const rememberedAt = new Map(all.flatMap((key, index) => (values[index] === undefined ? [] : [[key, values[index]!]])));
    for (const key of all) if (this.unsaved.has(key)) rememberedAt.set(key, now);
    return rememberedAt;
  }

  /**
   * Decides which entries one poll takes in, so that two feeds polled at once (by this instance or
   * another) never both take the same story (the same link in two feeds): of the entries not seen,
   * those no other poll holds (nor an earlier entry of this list) are held until `release`, then
   * checked against the memory again, since a poll that held one before may have remembered it
   * and let go meanwhile. Held from that second read until after `remember`, a story is seen by a
   * second poll either as held or as remembered. Entries seen at the first read (nearly all, poll
   * after poll) are never claimed: that costs one read.
   */
  async claimNew(keysPerEntry: readonly (readonly string[])[], now = Date.now()): Promise<Claim> {
    const seen = await this.seen(keysPerEntry, now);
    const unseen = keysPerEntry.flatMap((_, index) => (seen[index] ? [] : [index]));
    const isNew = keysPerEntry.map(() => false);
    if (unseen.length === 0) return { isNew, release: () => undefined };
    const hold = await this.claims.hold(unseen.map((index) => keysPerEntry[index]!));
    try {
      const held = unseen.filter((_, position) => hold.held[position]);
      const rememberedAt = await this.rememberedAt(held.map((index) => keysPerEntry[index]!), now);
      for (const index of held) isNew[index] = !keysPerEntry[index]!.some((key) => rememberedAt.has(key));
      return { isNew, release: () => void hold.release() };
    } catch (error) {
      void hold.release();
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
