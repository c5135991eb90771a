/**
 * What newswire remembers per feed between polls: conditional-GET validators, whether the first
 * (baseline) poll is done, health for `/status` and admin alerts, when the feed may be polled
 * again, and the scope its items' guids are remembered in.
 *
 * A state is keyed by the feed's URL (its normal form, `feedUrlKey`), not by its id, so reordering
 * the config, adding a feed of the same site or giving a feed an `id:` never hands one feed's state
 * to another (which would push the other's whole back catalogue as new). A feed whose URL changes
 * starts afresh, with a baseline poll. newswire 0.1 keyed states by an id that depended on list
 * order; such a state is taken over at the first start after the upgrade, by the feed that had that id
 * in the config as it stands (so upgrade before reordering), keeping its identity scope so no guid
 * is seen as new; the other legacy states are dropped then.
 */
import type Keyv from "keyv";
import { feedUrlKey, type FeedDefinition } from "../config/catalog.js";
import { readAll } from "../store/guard.js";

/** Per-feed state, one store record per feed. */
export interface FeedState {
  /** The feed's own title, for sources without a configured one. */
  title?: string;
  etag?: string;
  lastModified?: string;
  /** The first poll only records what is there (so subscribers aren't flooded with the back catalogue). */
  baselined: boolean;
  lastPollAt?: number;
  lastSuccessAt?: number;
  lastError?: string;
  lastErrorAt?: number;
  /**
   * What the feed's guids (and hashes) are scoped by in the seen memory (src/items/identity.ts):
   * fixed when the state is created, so renaming a feed never makes its items new again.
   */
  scope: string;
  /** Consecutive failed polls. */
  failures: number;
  /** New items taken in since the feed was added. */
  itemsSeen: number;
  /** Epoch ms before which the feed is not polled again (backoff, `<ttl>`, Retry-After). */
  nextPollAt?: number;
  /** The feed's `<ttl>` in ms, kept so that polls answered 304 honour it too. */
  ttlMs?: number;
  /** When the feed's document was last read in full (answered 200, not 304). */
  lastReadAt?: number;
  /** The admins have been told about the current run of failures (and are told when it ends). */
  alerted?: boolean;
}

const initialState = (scope: string): FeedState => ({ baselined: false, failures: 0, itemsSeen: 0, scope });

/** A state whose next poll is a baseline, reading the feed in full. */
const pendingBaseline = ({ etag: _etag, lastModified: _lastModified, ...state }: FeedState): FeedState => ({ ...state, baselined: false });

/** Where a feed's state is stored; `url:` keeps these apart from 0.1's id keys. */
const URL_PREFIX = "url:";
const stateKey = (url: string): string => `${URL_PREFIX}${feedUrlKey(url)}`;

/** Feed states a re-baseline reads and writes at a time. */
const REBASELINE_BATCH = 500;

/**
 * Feed states over the store's `feeds` namespace, looked up by feed id. Only each feed's next poll
 * time is held in memory, for the poller's choice of due feeds: a poll reads its feed's state from
 * the store and writes it back (100,000 states held whole took 60 MB of a process's heap).
 */
export class FeedStates {
  private constructor(
    private readonly keyv: Keyv,
    private readonly urls: Map<string, string>,
    /** Per feed, when it may be polled next (absent: now). */
    private readonly due: Map<string, number>,
    /** Whether any configured feed had had its first poll when the states were opened. */
    readonly anyBaselined: boolean,
  ) {}

  /** Re-baselines per feed in this run; see {@link generation}. */
  private readonly generations = new Map<string, number>();
  /**
   * Feeds re-baselined whose baseline is not yet known to be stored, with the generation whose
   * re-baseline this instance has written and when (absent: not written yet). Their states read
   * as pending a baseline whatever the store holds (a write that failed, a store that lost only
   * some keys, a poll from before the loss that wrote its state late), except a baseline read
   * in full after that write: another instance's baseline poll (it has the feed's claim), which
   * is the truth again. Taking it for pending would make a second baseline, and the items
   * published between the two would be recorded unsent.
   */
  private readonly pending = new Map<string, { generation: number; at: number } | undefined>();

  /**
   * Reads the stored states once, keeping each feed's next poll time (a new feed's state starts
   * empty, its scope its URL's key). States stored by newswire 0.1 under legacy ids are dealt
   * with at the first start that finds them: the configured feeds take theirs over (written under
   * the URL), and every legacy key is then deleted, so none is left for a feed added later to
   * inherit (its first poll is a baseline).
   */
  static async open(keyv: Keyv, feeds: readonly Pick<FeedDefinition, "id" | "url" | "legacyId">[]): Promise<FeedStates> {
    const urls = new Map(feeds.map((feed) => [feed.id, feed.url]));
    // One record per feed ever configured: listing them all is cheap, and shows any legacy key.
    const stored = await readAll(keyv);
    const states = new Map<string, FeedState>();
    for (const feed of feeds) {
      const state = stored.get(stateKey(feed.url)) as FeedState | undefined;
      if (state) states.set(feed.id, state);
    }
    const legacyKeys = [...stored.keys()].filter((key) => !key.startsWith(URL_PREFIX));
    for (const feed of legacyKeys.length === 0 ? [] : feeds) {
      const legacyId = feed.legacyId ?? feed.id;
      const old = stored.get(legacyId) as Omit<FeedState, "scope"> | undefined;
      if (states.has(feed.id) || old === undefined) continue;
      // 0.1 scoped guids by that id: keeping it as the scope keeps every remembered guid.
      const state = { ...old, scope: legacyId };
      await keyv.set(stateKey(feed.url), state);
      states.set(feed.id, state);
    }
    // Only once each taken-over state is written under its URL.
    if (legacyKeys.length > 0) await keyv.deleteMany(legacyKeys);
    const due = new Map<string, number>();
    for (const [feedId, state] of states) if (state.nextPollAt !== undefined) due.set(feedId, state.nextPollAt);
    return new FeedStates(keyv, urls, due, [...states.values()].some((state) => state.baselined));
  }

  /** When the feed may be polled next, as last read or written here; undefined: now. */
  nextPollAt(feedId: string): number | undefined {
    this.url(feedId);
    return this.due.get(feedId);
  }

  /**
   * Reads these feeds' next poll times from the store again: another instance may have polled
   * them since (a backoff, a `<ttl>`). A feed without a stored state keeps its own.
   */
  async refresh(feedIds: readonly string[]): Promise<void> {
    const stored = await this.storedStates(feedIds);
    feedIds.forEach((feedId, index) => {
      const state = stored[index];
      if (state) this.remember(feedId, state);
    });
  }

  /** The state of a feed opened with this store, as stored (a feed never polled: its initial state). */
  async get(feedId: string): Promise<FeedState> {
    return (await this.getMany([feedId]))[0]!;
  }

  /** The states of these feeds, as {@link get} gives each, in one read. */
  async getMany(feedIds: readonly string[]): Promise<FeedState[]> {
    const stored = await this.storedStates(feedIds);
    return feedIds.map((feedId, index) => {
      const state = stored[index] ?? initialState(feedUrlKey(this.url(feedId)));
      if (!this.pending.has(feedId)) return state;
      const written = this.pending.get(feedId);
      if (state.baselined && written?.generation === this.generation(feedId) && (state.lastReadAt ?? -Infinity) >= written.at) {
        this.pending.delete(feedId);
        return state;
      }
      return pendingBaseline(state);
    });
  }

  /**
   * How many times the feed was re-baselined in this run. A poll reads it as it starts and hands
   * it to {@link set}: a poll that ran across a re-baseline must neither dispatch nor undo it.
   */
  generation(feedId: string): number {
    return this.generations.get(feedId) ?? 0;
  }

  /**
   * Makes these feeds' next polls baselines (the store lost the seen memory): without validators,
   * so that a baseline reads its feed in full (a 304 would leave it pending, and the next new item
   * would go into the baseline unsent). In memory at once, whether or not the store can be read
   * or written now: polls under way see it by the feed's generation, later ones in its state.
   * Written a batch at a time, not all at once (a catalog of 100,000 feeds would be 200,000
   * store calls in one burst); a batch whose feed has had its baseline stored meanwhile leaves it.
   * The first batch that fails ends the writing (each would wait out the store's deadline).
   * @returns how many feeds' states could not be written (they stay pending in memory).
   */
  async rebaseline(feedIds: readonly string[]): Promise<number> {
    for (const feedId of feedIds) {
      this.url(feedId);
      this.generations.set(feedId, this.generation(feedId) + 1);
      this.pending.set(feedId, undefined);
    }
    for (let from = 0; from < feedIds.length; from += REBASELINE_BATCH) {
      const batch = feedIds.slice(from, from + REBASELINE_BATCH);
      let writes: { feedId: string; generation: number; key: string; value: FeedState }[] = [];
      try {
        const states = await this.getMany(batch);
        writes = batch.flatMap((feedId, index) =>
          this.pending.has(feedId) ? [{ feedId, generation: this.generation(feedId), key: stateKey(this.url(feedId)), value: states[index]! }] : [],
        );
        for (const { feedId, value } of writes) this.remember(feedId, value);
        if (writes.length > 0) await this.keyv.setMany(writes.map(({ key, value }) => ({ key, value })));
        const at = Date.now();
        for (const { feedId, generation } of writes) if (this.pending.has(feedId)) this.pending.set(feedId, { generation, at });
      } catch {
        return (writes.length || batch.length) + feedIds.length - (from + batch.length);
      }
    }
    return 0;
  }

  /**
   * Replaces a feed's state in the store. `generation` is the one the writer read (a poll, as it
   * started): when the feed was re-baselined since, the state stays pending a baseline. Its next
   * poll time holds here even if the write fails.
   */
  async set(feedId: string, state: FeedState, generation = this.generation(feedId)): Promise<void> {
    const current = generation === this.generation(feedId);
    const kept = current ? state : pendingBaseline(state);
    this.remember(feedId, kept);
    await this.keyv.set(stateKey(this.url(feedId)), kept);
    // The baseline of the latest re-baseline is stored: the store's state is the truth again.
    if (current && kept.baselined && this.generation(feedId) === generation) this.pending.delete(feedId);
  }

  private remember(feedId: string, state: FeedState): void {
    if (state.nextPollAt === undefined) this.due.delete(feedId);
    else this.due.set(feedId, state.nextPollAt);
  }

  private storedStates(feedIds: readonly string[]): Promise<(FeedState | undefined)[]> {
    return this.keyv.getMany<FeedState>(feedIds.map((feedId) => stateKey(this.url(feedId))));
  }

  private url(feedId: string): string {
    const url = this.urls.get(feedId);
    if (url === undefined) throw new Error(`feed ${feedId} was not opened`);
    return url;
  }
}
