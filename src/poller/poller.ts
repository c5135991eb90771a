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
import { cycleEnd, cycleOf, soleSchedule, startCycle, type PollSchedule } from "./poll-schedule.js";

/** How a poll ended: its {@link PollResult} status, or "error" when it threw (a bug, the store). */
export type PollOutcome = PollResult["status"] | "error";

/** What the poller counts; see src/metrics/metrics.ts. */
export interface PollMetrics {
  /** One feed polled, with its duration. */
  polled(outcome: PollOutcome, seconds: number): void;
  /** Items a poll accepted; `baseline`: a feed's first poll, recorded but not pushed. */
  accepted(items: number, baseline: boolean): void;
  /** A cycle (one tick's due feeds) completed at `at`, ms. */
  cycleCompleted(at: number): void;
}

/** Optional parts of a poller. */
export interface PollerHooks {
  /** Runs before each cycle; resolving false skips the cycle (the store cannot be trusted right now). */
  beforeCycle?: () => Promise<boolean>;
  /** Counted when given. */
  metrics?: PollMetrics;
  /** Which due feeds this instance polls; by default all of them (it is the only one). */
  schedule?: PollSchedule;
}

/** Candidates offered to one claim, at least (see pollClaimed). */
const CLAIM_WINDOW = 256;

/** The first `count` of `values`. */
function first<T>(values: Iterable<T>, count: number): T[] {
  const taken: T[] = [];
  for (const value of values) {
    if (taken.length >= count) break;
    taken.push(value);
  }
  return taken;
}

/** Polls the catalog's feeds on a schedule. */
export class Poller {
  private readonly inFlight = new Map<string, Promise<PollResult | undefined>>();
  private readonly limit: LimitFunction;
  private readonly schedule: PollSchedule;
  private readonly abort = new AbortController();
  private task: ScheduledTask | undefined;
  private lastCycle: number | undefined;
  /** The newest cycle begun here: an older one still claiming stops (see pollClaimed). */
  private newestCycle = 0;

  constructor(
    private readonly feeds: readonly FeedDefinition[],
    private readonly deps: PollDeps,
    private readonly concurrency: number,
    private readonly hooks: PollerHooks = {},
  ) {
    this.limit = pLimit(concurrency);
    this.schedule = hooks.schedule ?? soleSchedule;
    this.position = new Map(feeds.map((feed, index) => [feed.id, index]));
  }

  /** Each feed's place in the catalog. */
  private readonly position: Map<string, number>;
  /**
   * Where the next cycle starts in the catalog: after the last feed a cycle started. A cycle that
   * ends before reaching every due feed leaves the rest first in line, not last again.
   */
  private nextFeed = 0;

  /** The due feeds not in flight, in catalog order from {@link nextFeed} round. */
  private dueFeeds(now: number): FeedDefinition[] {
    const due: FeedDefinition[] = [];
    for (let offset = 0; offset < this.feeds.length; offset++) {
      const feed = this.feeds[(this.nextFeed + offset) % this.feeds.length]!;
      if (this.inFlight.has(feed.id)) continue;
      const next = this.deps.feedStates.nextPollAt(feed.id);
      if (next === undefined || next <= now) due.push(feed);
    }
    return due;
  }

  /**
   * One cycle (`cycle`: its tick, see PollSchedule): polls every due feed that is not already in
   * flight, or on a shared schedule those of them this instance claims until `endsAt`.
   * Resolves when the feeds it started are done. The cycle counts as completed (lastCycleAt) once
   * the feeds it found under way are done too, if it polled every feed it claimed and either left
   * no due feed unclaimed or ran out of time polling (it overran, and hands the rest on): a cycle
   * that polled nothing of what was due (its tick fired late) or whose store failed does not.
   */
  async pollDue(cycle = cycleOf(new Date(this.now())), endsAt = cycleEnd(cycle, this.nextTicks(2))): Promise<void> {
    if (this.hooks.beforeCycle && !(await this.hooks.beforeCycle())) return;
    this.newestCycle = Math.max(this.newestCycle, cycle);
    const from = this.nextFeed;
    const due = this.dueFeeds(this.now());
    const underWay = [...this.inFlight.values()];
    const polled = this.pollClaimed(due, cycle, endsAt, from);
    if (underWay.length > 0) void Promise.all([polled, ...underWay]).then(([finished]) => finished && this.cycleCompleted());
    const finished = await polled;
    if (underWay.length === 0 && finished) this.cycleCompleted();
  }

  /**
   * Claims due feeds for the cycle as polls free up, a batch at a time, so an instance with room
   * takes more and a cycle holds no more polls than it runs (100,000 queued polls held 113 MB);
   * each claimed feed's state is read again first where the schedule is shared (another instance
   * may have polled it since), and a feed no longer due by it is left. A cycle that overruns claims
   * nothing after `endsAt` (a little before the next tick, by this clock: a tick's timer may fire
   * late) nor once the next tick has come: that tick's cycle takes the feeds left, so none is
   * fetched by both.
   * @returns whether the cycle did its part: every feed it claimed polled, and every due feed
   * claimed (here or by another instance), or some polled before its time was up.
   */
  private async pollClaimed(due: readonly FeedDefinition[], cycle: number, endsAt: number, from: number): Promise<boolean> {
    const remaining = new Map(due.map((feed) => [feed.id, feed]));
    // How far into the rotation (from the cycle's first feed) the cycle has started polls: a claim
    // may return its feeds in any order, and the next cycle starts after the furthest.
    let furthest = -1;
    // The polls under way, each gone once done: what a cycle holds stays its few polls' worth.
    const started = new Set<Promise<unknown>>();
    // False once claimed feeds are left unpolled (the cycle ended, the store failed).
    let polledAllClaimed = true;
    let polls = 0;
    try {
      const over = () => cycle < this.newestCycle || this.now() >= endsAt;
      while (remaining.size > 0 && !this.abort.signal.aborted && !over()) {
        // Only as many as there are free slots (an earlier cycle's polls may hold some): a feed
        // claimed here is one no other instance fetches this cycle, so it must not wait for a slot.
        const free = this.concurrency - this.limit.activeCount - this.limit.pendingCount;
        if (free <= 0) {
          await Promise.race(this.inFlight.values());
          continue;
        }
        // The candidates are the next few of the feeds left, not all of them: a claim's cost
        // stays that of one batch however many feeds are due.
        const candidates = first(remaining.keys(), Math.max(free * 4, CLAIM_WINDOW));
        const ids = await this.schedule.claim(candidates, cycle, free);
        const claimed = ids.map((id) => remaining.get(id)!);
        // Fewer than asked for: every other candidate is claimed by another instance (or being
        // claimed, its row locked). Else those not claimed may only be past the claim's limit.
        for (const id of ids.length < free ? candidates : ids) remaining.delete(id);
        if (ids.length === 0) continue;
        if (this.schedule.shared) await this.deps.feedStates.refresh(ids);
        // The cycle ended meanwhile: the next claims these feeds again (this claim is older).
        if (over()) {
          polledAllClaimed = false;
          break;
        }
        const now = this.now();
        for (const feed of claimed) {
          const next = this.deps.feedStates.nextPollAt(feed.id);
          if (next !== undefined && next > now) continue;
          const poll = this.poll(feed).finally(() => started.delete(poll));
          started.add(poll);
          polls++;
          const position = this.position.get(feed.id)!;
          const offset = (position - from + this.feeds.length) % this.feeds.length;
          if (offset > furthest) {
            furthest = offset;
            this.nextFeed = (position + 1) % this.feeds.length;
          }
        }
      }
    } catch (error) {
      polledAllClaimed = false;
      // The store failed: its health tells of it once; the feeds left are claimed at the next tick.
      if (!(error instanceof StoreError)) this.deps.logger.error({ err: error }, "feeds could not be claimed for polling");
    }
    await Promise.all(started);
    return polledAllClaimed && (remaining.size === 0 || (polls > 0 && !this.abort.signal.aborted));
  }

  private cycleCompleted(): void {
    this.lastCycle = this.now();
    this.hooks.metrics?.cycleCompleted(this.lastCycle);
  }

  /** When the last cycle completed (ms), undefined before the first. */
  get lastCycleAt(): number | undefined {
    return this.lastCycle;
  }

  /** The next `count` ticks of the schedule (ms), empty before `start`. */
  nextTicks(count: number): number[] {
    return this.task?.getNextRuns(count).map((date) => date.getTime()) ?? [];
  }

  /** Polls now and then on every tick of `cron`. */
  start(cron: string): void {
    this.task = schedule(cron, (context) => this.pollDue(cycleOf(context.date)), { name: "poll feeds" });
    void this.pollDue(startCycle(this.nextTicks(2), this.now()));
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

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  private poll(feed: FeedDefinition): Promise<PollResult | undefined> {
    const run = this.limit(async () => {
      if (this.abort.signal.aborted) return undefined;
      const started = performance.now();
      const done = (outcome: PollOutcome) => this.hooks.metrics?.polled(outcome, (performance.now() - started) / 1000);
      try {
        const result = await pollFeed(feed, this.deps, this.abort.signal);
        done(result.status);
        if (result.status === "ok") this.hooks.metrics?.accepted(result.newItems, result.baseline);
        return result;
      } catch (error) {
        // Stopping aborts fetches under way; that is no error.
        if (this.abort.signal.aborted) return undefined;
        done("error");
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
