/**
 * The poll schedule on PostgreSQL: a row per feed with the last cycle (tick) an instance claimed
 * it for. A claim is one statement that takes unclaimed rows with `FOR UPDATE SKIP LOCKED`, so
 * instances claiming at once take disjoint feeds without waiting for each other. A feed claimed by
 * an instance that then died is claimed again at the next tick. Rows of feeds no instance has
 * claimed for a week (no catalog has them: a configured feed is due at least daily) are deleted.
 */
import { randomUUID } from "node:crypto";
import type { Postgres } from "../store/postgres.js";
import type { PollSchedule } from "./poll-schedule.js";

/** Rows of feeds new to the table; in id order, so instances inserting at once do not deadlock. */
const ADD = `
  INSERT INTO newswire_poll_schedule (feed, cycle)
  SELECT feed, 0 FROM unnest($1::text[]) AS feed ORDER BY feed
  ON CONFLICT (feed) DO NOTHING`;

/**
 * The first `$5` of the candidates, in the order given (the poller's rotation: an overrunning
 * cycle's leftovers go first next time), that no instance has claimed for the cycle. Rows another
 * claim holds are skipped, not waited for, so claims never deadlock whatever their order.
 */
const CLAIM = `
  UPDATE newswire_poll_schedule SET cycle = $1, owner = $2, claimed_at = $3
  WHERE feed IN (
    SELECT schedule.feed FROM newswire_poll_schedule AS schedule
    JOIN unnest($4::text[]) WITH ORDINALITY AS candidates (feed, place) ON candidates.feed = schedule.feed
    WHERE schedule.cycle < $1
    ORDER BY candidates.place
    FOR UPDATE OF schedule SKIP LOCKED
    LIMIT $5)
  RETURNING feed`;

/** A feed claimed by no instance for this long is in no instance's catalog any more. */
export const SCHEDULE_ABANDONED_MS = 7 * 24 * 60 * 60_000;
const SWEEP_EVERY_MS = 24 * 60 * 60_000;
const SWEEP = "DELETE FROM newswire_poll_schedule WHERE claimed_at < $1";

/** The schedule in the table `newswire_poll_schedule` (migrations/1764670000006_poll_schedule.sql). */
export class PostgresPollSchedule implements PollSchedule {
  readonly shared = true;
  /** This instance's name on its claims (for operators reading the table). */
  private readonly owner = randomUUID();
  private readonly known = new Set<string>();
  private sweptAt: number | undefined;

  constructor(
    private readonly database: Postgres,
    private readonly now: () => number = Date.now,
  ) {}

  async claim(feedIds: readonly string[], cycle: number, limit: number): Promise<string[]> {
    if (feedIds.length === 0 || limit <= 0) return [];
    await this.sweep();
    const added = feedIds.filter((feed) => !this.known.has(feed));
    if (added.length > 0) {
      await this.database.query(ADD, [added]);
      for (const feed of added) this.known.add(feed);
    }
    const rows = await this.database.query<{ feed: string }>(CLAIM, [cycle, this.owner, this.now(), [...feedIds], limit]);
    return rows.map(({ feed }) => feed);
  }

  /** At most daily: abandoned feeds' rows go. Ours are added again at once, should one have gone. */
  private async sweep(): Promise<void> {
    const now = this.now();
    if (this.sweptAt !== undefined && now - this.sweptAt < SWEEP_EVERY_MS) return;
    this.sweptAt = now;
    // Housekeeping: a sweep that fails is made the next day, and fails no claim.
    await this.database.query(SWEEP, [now - SCHEDULE_ABANDONED_MS]).then(
      () => this.known.clear(),
      () => undefined,
    );
  }
}
