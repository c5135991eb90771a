/**
 * The store's epoch: a marker written once into a new store. A store that comes back without it
 * (a Redis without persistence restarted, a wiped database) has lost everything newswire
 * remembered, seen items included; the caller then re-baselines every feed instead of taking
 * each feed's back catalogue for news.
 */
import type Keyv from "keyv";
import { randomUUID } from "node:crypto";

const MARKER_KEY = "epoch";

/** How the store was found at start. */
export type EpochStart =
  /** The marker was there: the store is the one newswire last ran on. */
  | "intact"
  /** An empty store: a first start, or one that lost everything while newswire was stopped. */
  | "empty"
  /** Data without a marker: the first start of a version that writes one. */
  | "unmarked";

/** The marker of one store, checked while newswire runs. */
export class StoreEpoch {
  private constructor(
    private readonly meta: Keyv,
    private marker: string,
  ) {}

  /**
   * Reads the marker, writing one when there is none. `hasData` tells whether the store holds
   * anything (feed states, subscribers) besides a marker.
   */
  static async open(meta: Keyv, hasData: boolean): Promise<{ epoch: StoreEpoch; start: EpochStart }> {
    const marker = await meta.get<string>(MARKER_KEY);
    if (marker !== undefined) return { epoch: new StoreEpoch(meta, marker), start: "intact" };
    const epoch = new StoreEpoch(meta, randomUUID());
    await meta.set(MARKER_KEY, epoch.marker);
    return { epoch, start: hasData ? "unmarked" : "empty" };
  }

  /**
   * Whether the store still carries a marker. Rejects when the store fails. A marker other than
   * this run's was written by another instance on the same database (two first starts at once,
   * or one that dealt with a loss before this one looked): it is adopted, and the store counts as
   * intact. Renewing it here would make each instance take the other's marker for a loss, forever.
   */
  async intact(): Promise<boolean> {
    const marker = await this.meta.get<string>(MARKER_KEY);
    if (marker === undefined) return false;
    this.marker = marker;
    return true;
  }

  /**
   * Marks the store anew, once the caller has dealt with its loss (so the loss is dealt with once;
   * if this write fails, the next check finds the loss again).
   */
  async renew(): Promise<void> {
    const marker = randomUUID();
    await this.meta.set(MARKER_KEY, marker);
    this.marker = marker;
  }
}
