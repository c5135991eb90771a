/**
 * Stories' items on PostgreSQL: one table every instance shares (its key the primary key, so an
 * item two instances polled is stored once), so that each instance's story index learns the items
 * the others took in before it matches its own, and the sending instance finds any item it must
 * render again. An instance catches up by the time rows were stored, by the database's clock, and
 * reads again the last CATCH_UP_OVERLAP_MS each time: a row stored just before another but
 * committed after it is not passed over (the index ignores the items it knows).
 */
import type { Item } from "../items/item.js";
import type { Postgres } from "../store/postgres.js";
import type { StoredItems, StoryItemStore } from "./story-items.js";

/** The format of the stored item (the `Item` interface), as in the recent items' table. */
const ITEM_VERSION = 1;

/** Longer than any insert of a batch takes to commit. */
const CATCH_UP_OVERLAP_MS = 10_000;

/** How often an instance deletes rows past their time. */
const SWEEP_EVERY_MS = 60_000;

/** Rows go in key order, so two instances inserting overlapping batches wait instead of deadlocking. */
const INSERT = `
  INSERT INTO newswire_story_items (key, item, version, expires_at)
  SELECT item ->> 'key', item, $2, $3 FROM jsonb_array_elements($1::jsonb) AS item
  ORDER BY item ->> 'key'
  ON CONFLICT (key) DO NOTHING`;

const GET = "SELECT item FROM newswire_story_items WHERE key = $1 AND expires_at > $2";

/** The newest `$4` stored after `$1` (epoch ms), published from `$3`, newest first. */
const STORED_SINCE = `
  SELECT item, floor(extract(epoch FROM stored_at) * 1000)::float8 AS at FROM newswire_story_items
  WHERE stored_at > to_timestamp($1::float8 / 1000) AND expires_at > $2 AND (item ->> 'publishedAt')::bigint >= $3
  ORDER BY stored_at DESC LIMIT $4`;

const SWEEP = "DELETE FROM newswire_story_items WHERE expires_at <= $1";

/** Stories' items in the table `newswire_story_items` (migrations/1764670000009_story_items.sql). */
export class PostgresStoryItems implements StoryItemStore {
  private sweptAt: number | undefined;

  /** `ttlMs`: how long an item is kept; `now` the clock that is counted on. */
  constructor(
    private readonly database: Postgres,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async add(items: readonly Item[]): Promise<void> {
    if (items.length === 0) return;
    const now = this.now();
    if (this.sweptAt === undefined || now - this.sweptAt >= SWEEP_EVERY_MS) {
      this.sweptAt = now;
      // Housekeeping: a sweep that fails is made at the next one, and fails no add.
      await this.database.query(SWEEP, [now]).catch(() => undefined);
    }
    await this.database.query(INSERT, [JSON.stringify(items), ITEM_VERSION, now + this.ttlMs]);
  }

  async get(key: string): Promise<Item | undefined> {
    const [row] = await this.database.query<{ item: Item }>(GET, [key, this.now()]);
    return row?.item;
  }

  async storedSince(cursor: number | undefined, publishedFrom: number, limit: number): Promise<StoredItems> {
    const from = cursor === undefined ? 0 : cursor - CATCH_UP_OVERLAP_MS;
    const rows = await this.database.query<{ item: Item; at: number }>(STORED_SINCE, [from, this.now(), publishedFrom, limit]);
    return { items: rows.map(({ item }) => item).reverse(), cursor: rows.length > 0 ? Math.max(cursor ?? 0, rows[0]!.at) : cursor };
  }
}
