/**
 * What newswire remembers per feed between polls: conditional-GET validators, whether the first
 * (baseline) poll is done, health for `/status` and admin alerts, and when the feed may be polled
 * again.
 */
import type Keyv from "keyv";

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

const initialState = (): FeedState => ({ baselined: false, failures: 0, itemsSeen: 0 });

/** Feed states over the store's `feeds` namespace, cached in memory. */
export class FeedStates {
  private constructor(
    private readonly keyv: Keyv,
    private readonly states: Map<string, FeedState>,
  ) {}

  /** Loads the state of each feed id (a new feed starts empty). */
  static async open(keyv: Keyv, feedIds: readonly string[]): Promise<FeedStates> {
    const values = feedIds.length > 0 ? await keyv.getMany<FeedState>([...feedIds]) : [];
    const states = new Map(feedIds.map((id, index) => [id, values[index] ?? initialState()]));
    return new FeedStates(keyv, states);
  }

  /** The state of a feed. */
  get(feedId: string): FeedState {
    let state = this.states.get(feedId);
    if (!state) {
      state = initialState();
      this.states.set(feedId, state);
    }
    return state;
  }

  /** Replaces a feed's state, in memory and in the store. */
  async set(feedId: string, state: FeedState): Promise<void> {
    this.states.set(feedId, state);
    await this.keyv.set(feedId, state);
  }
}
