/**
 * The poller: on every tick of `POLL_CRON`, polls each feed that is due (not backing off, not
 * within its `<ttl>`) and not already being polled, a bounded number at once. One feed's trouble
 * stays in that feed's state; the others go on.
 */
import { schedule, type ScheduledTask } from "node-cron";
import pLimit, { type LimitFunction } from "p-limit";
import type { FeedDefinition } from "../config/catalog.js";
import { StoreError } from "../store/guard.js";
import { pollFeed, type PollDeps, type PollResult } from "./poll-feed.js";

/** Polls the catalog's feeds on a schedule. */
export class Poller {
  private readonly inFlight = new Map<string, Promise<PollResult | undefined>>();
  private readonly limit: LimitFunction;
  private readonly abort = new AbortController();
  private task: ScheduledTask | undefined;

  constructor(
    private readonly feeds: readonly FeedDefinition[],
    private readonly deps: PollDeps,
    concurrency: number,
    /** Runs before each cycle; resolving false skips the cycle (the store cannot be trusted right now). */
    private readonly beforeCycle?: () => Promise<boolean>,
  ) {
    this.limit = pLimit(concurrency);
  }

  /**
   * One cycle: polls every due feed that is not already in flight.
   * Resolves when the feeds it started are done.
   */
  async pollDue(): Promise<void> {
    if (this.beforeCycle && !(await this.beforeCycle())) return;
    const now = this.deps.now?.() ?? Date.now();
    const due = this.feeds.filter((feed) => {
      if (this.inFlight.has(feed.id)) return false;
      const next = this.deps.feedStates.get(feed.id).nextPollAt;
      return next === undefined || next <= now;
    });
    await Promise.all(due.map((feed) => this.poll(feed)));
  }

  /** Polls now and then on every tick of `cron`. */
  start(cron: string): void {
    this.task = schedule(cron, () => this.pollDue(), { name: "poll feeds" });
    void this.pollDue();
  }

  /** Stops the schedule, aborts fetches under way and waits for the polls to wind down. */
  async stop(): Promise<void> {
    await this.task?.stop();
    // Not limit.clearQueue(): the promises of cleared runs never settle. Queued runs see the abort
    // and return at once instead.
    this.abort.abort();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Feeds being polled now. */
  get polling(): number {
    return this.inFlight.size;
  }

  private poll(feed: FeedDefinition): Promise<PollResult | undefined> {
    const run = this.limit(async () => {
      if (this.abort.signal.aborted) return undefined;
      try {
        return await pollFeed(feed, this.deps, this.abort.signal);
      } catch (error) {
        // Stopping aborts fetches under way; that is no error.
        if (this.abort.signal.aborted) return undefined;
        // The store failed: its health logs that once per outage, not once per poll. The poll
        // took nothing in, so the next one after the outage takes the same items.
        if (error instanceof StoreError) return undefined;
        // Not the feed's fault (the store failed, a bug): log it and keep polling the others.
        this.deps.logger.error({ feed: feed.id, err: error }, "poll failed unexpectedly");
        return undefined;
      }
    }).finally(() => this.inFlight.delete(feed.id));
    this.inFlight.set(feed.id, run);
    return run;
  }
}
