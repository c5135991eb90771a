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

/** Feed states over the store's `feeds` namespace, cached in memory, looked up by feed id. */
export class FeedStates {
  private constructor(
    private readonly keyv: Keyv,
    private readonly keys: Map<string, string>,
    private readonly states: Map<string, FeedState>,
  ) {}

  /** Re-baselines per feed in this run; see {@link generation}. */
  private readonly generations = new Map<string, number>();

  /**
   * Loads the state of each feed (a new feed starts empty, its scope its URL's key). States stored
   * by newswire 0.1 under legacy ids are dealt with at the first start that finds them: the
   * configured feeds take theirs over (written under the URL), and every legacy key is then
   * deleted, so none is left for a feed added later to inherit (its first poll is a baseline).
   */
  static async open(keyv: Keyv, feeds: readonly Pick<FeedDefinition, "id" | "url" | "legacyId">[]): Promise<FeedStates> {
    const keys = new Map(feeds.map((feed) => [feed.id, stateKey(feed.url)]));
    // One record per feed ever configured: listing them all is cheap, and shows any legacy key.
    const stored = await readAll(keyv);
    const states = new Map(feeds.map((feed) => [feed.id, (stored.get(keys.get(feed.id)!) as FeedState | undefined) ?? initialState(feedUrlKey(feed.url))]));
    const legacyKeys = [...stored.keys()].filter((key) => !key.startsWith(URL_PREFIX));
    if (legacyKeys.length === 0) return new FeedStates(keyv, keys, states);
    for (const feed of feeds) {
      const legacyId = feed.legacyId ?? feed.id;
      const old = stored.get(legacyId) as Omit<FeedState, "scope"> | undefined;
      if (stored.has(keys.get(feed.id)!) || old === undefined) continue;
      // 0.1 scoped guids by that id: keeping it as the scope keeps every remembered guid.
      const state = { ...old, scope: legacyId };
      await keyv.set(keys.get(feed.id)!, state);
      states.set(feed.id, state);
    }
    // Only once each taken-over state is written under its URL.
    await keyv.deleteMany(legacyKeys);
    return new FeedStates(keyv, keys, states);
  }

  /**
   * Reads these feeds' states from the store again: another instance may have polled them since
   * (new validators, a baseline done, a backoff). A feed without a stored state keeps its own.
   */
  async refresh(feedIds: readonly string[]): Promise<void> {
    const keys = feedIds.map((feedId) => {
      const key = this.keys.get(feedId);
      if (key === undefined) throw new Error(`feed ${feedId} was not opened`);
      return key;
    });
    const stored = await this.keyv.getMany<FeedState>(keys);
    feedIds.forEach((feedId, index) => {
      const state = stored[index];
      if (state) this.states.set(feedId, state);
    });
  }

  /** The state of a feed opened with this store. */
  get(feedId: string): FeedState {
    const state = this.states.get(feedId);
    if (state === undefined) throw new Error(`feed ${feedId} was not opened`);
    return state;
  }

  /**
   * How many times the feed was re-baselined in this run. A poll reads it as it starts and hands
   * it to {@link set}: a poll that ran across a re-baseline must neither dispatch nor undo it.
   */
  generation(feedId: string): number {
    return this.generations.get(feedId) ?? 0;
  }

  /**
   * Makes the feed's next poll a baseline (the store lost the seen memory): without validators, so
   * that the baseline reads the feed in full (a 304 would leave it pending, and the next new item
   * would go into the baseline unsent). In memory at once, whether or not the write succeeds.
   */
  async rebaseline(feedId: string): Promise<void> {
    const state = this.get(feedId);
    this.generations.set(feedId, this.generation(feedId) + 1);
    await this.set(feedId, pendingBaseline(state));
  }

  /**
   * Replaces a feed's state, in memory and in the store. `generation` is the one the writer read
   * (a poll, as it started): when the feed was re-baselined since, the state stays pending a baseline.
   */
  async set(feedId: string, state: FeedState, generation = this.generation(feedId)): Promise<void> {
    const key = this.keys.get(feedId);
    if (key === undefined) throw new Error(`feed ${feedId} was not opened`);
    const kept = generation === this.generation(feedId) ? state : pendingBaseline(state);
    this.states.set(feedId, kept);
    await this.keyv.set(key, kept);
  }
}
