/**
 * The poll schedule: which of the feeds due at a tick of POLL_CRON this instance polls. A narrow
 * port: where one instance polls it polls them all, and asks no store; where several share a
 * database (src/poller/postgres-poll-schedule.ts) each claims feeds for the tick in batches, as
 * it has room for them, so each feed is fetched once per tick by whichever instance is free.
 */
export interface PollSchedule {
  /** Whether other instances poll the same feeds (so their states may have changed since read). */
  readonly shared: boolean;
  /**
   * Of `feedIds`, at most `limit` that no instance has claimed for `cycle` yet, now claimed by this
   * one. `cycle` names the tick (its scheduled time, ms): the same on every instance.
   */
  claim(feedIds: readonly string[], cycle: number, limit: number): Promise<string[]>;
}

/** One instance polls every due feed. */
export const soleSchedule: PollSchedule = {
  shared: false,
  claim: async (feedIds, _cycle, limit) => feedIds.slice(0, limit),
};

/**
 * The cycle a tick names: its scheduled time to the second (node-cron gives the scheduled time;
 * a timer firing a little late names the same tick on every instance).
 */
export const cycleOf = (scheduled: Date): number => Math.floor(scheduled.getTime() / 1000) * 1000;

/**
 * The cycle the poll at start belongs to: the tick before the next, as far as the next two ticks
 * tell (exact for regular schedules such as `*\/5 * * * *`). Feeds polled at that tick by running
 * instances are not fetched again by one that starts now.
 */
export function startCycle(nextTicks: readonly number[], now: number): number {
  const [next, after] = nextTicks;
  if (next === undefined || after === undefined) return cycleOf(new Date(now));
  return cycleOf(new Date(Math.min(now, next - (after - next))));
}

/**
 * When a shared cycle stops claiming feeds: a tenth of the interval (at most 5 s) before the next
 * tick, by this instance's clock, so that its last fetches are under way before the next cycle's
 * claims even where this instance's tick timer fires late. No end where the ticks are unknown.
 */
export function cycleEnd(cycle: number, nextTicks: readonly number[]): number {
  const next = nextTicks.find((tick) => tick >= cycle + 1000);
  if (next === undefined) return Number.POSITIVE_INFINITY;
  return next - Math.min(5_000, (next - cycle) / 10);
}
