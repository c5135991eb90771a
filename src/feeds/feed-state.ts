/**
 * What newswire remembers per feed between polls: conditional-GET validators, whether the first
 * (baseline) poll is done, health for `/status` and admin alerts, when the feed may be polled
 * again, and the scope its items' guids are remembered in.
 *
 * A state is keyed by the feed's URL (its normal form, `feedUrlKey`), not by its id, so reordering
 * the config, adding a feed of the same site or giving a feed an `id:` never hands one feed's state
 * to another (which would push the other's whole back catalogue as new). A feed whose URL changes
 * starts afresh, with a baseline poll. newswire 0.1 keyed states by an id that depended on list
 * order; such a state is taken over once, at start, by the feed that had that id in the config as
 * it stands (so upgrade before reordering), keeping its identity scope so no guid is seen as new.
 */
import type Keyv from "keyv";
import { feedUrlKey, type FeedDefinition } from "../config/catalog.js";
import { readMany } from "../store/guard.js";

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

/** Where a feed's state is stored; `url:` keeps these apart from 0.1's id keys. */
const stateKey = (url: string): string => `url:${feedUrlKey(url)}`;

/** Feed states over the store's `feeds` namespace, cached in memory, looked up by feed id. */
export class FeedStates {
  private constructor(
    private readonly keyv: Keyv,
    private readonly keys: Map<string, string>,
    private readonly states: Map<string, FeedState>,
  ) {}

  /**
   * Loads the state of each feed (a new feed starts empty, its scope its URL's key), taking over a
   * state stored by newswire 0.1 under the feed's legacy id: written under the URL, then deleted
   * there, so no other feed can take it later.
   */
  static async open(keyv: Keyv, feeds: readonly Pick<FeedDefinition, "id" | "url" | "legacyId">[]): Promise<FeedStates> {
    const keys = new Map(feeds.map((feed) => [feed.id, stateKey(feed.url)]));
    const values = await readMany<FeedState>(keyv, [...keys.values()]);
    const unknown = feeds.filter((_, index) => values[index] === undefined);
    const legacyIds = unknown.map((feed) => feed.legacyId ?? feed.id);
    const legacy = await readMany<Omit<FeedState, "scope">>(keyv, legacyIds);
    const states = new Map(feeds.map((feed, index) => [feed.id, values[index] ?? initialState(feedUrlKey(feed.url))]));
    for (const [index, feed] of unknown.entries()) {
      const old = legacy[index];
      if (old === undefined) continue;
      // 0.1 scoped guids by that id: keeping it as the scope keeps every remembered guid.
      const state = { ...old, scope: legacyIds[index]! };
      await keyv.set(keys.get(feed.id)!, state);
      await keyv.delete(legacyIds[index]!);
      states.set(feed.id, state);
    }
    return new FeedStates(keyv, keys, states);
  }

  /** The state of a feed opened with this store. */
  get(feedId: string): FeedState {
    const state = this.states.get(feedId);
    if (state === undefined) throw new Error(`feed ${feedId} was not opened`);
    return state;
  }

  /** Replaces a feed's state, in memory and in the store. */
  async set(feedId: string, state: FeedState): Promise<void> {
    const key = this.keys.get(feedId);
    if (key === undefined) throw new Error(`feed ${feedId} was not opened`);
    this.states.set(feedId, state);
    await this.keyv.set(key, state);
  }
}
