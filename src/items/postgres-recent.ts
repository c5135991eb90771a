/**
 * Recent items on PostgreSQL: one table every instance on the database shares, so `/latest` on any
 * instance lists the items every instance polled. An item is one row (its key the primary key, so
 * one item polled by two instances is stored once); `/latest` is one indexed query; each add trims
 * the table to the newest RECENT_LIMIT, and rows older than RECENT_TTL_MS since stored are swept
 * a minute apart (reads skip them meanwhile): the retention the Keyv side keeps, in a small table.
 */
import { coalesce } from "../store/coalesce.js";
import type { Postgres } from "../store/postgres.js";
import { ALL_TOPIC } from "../topics/topics.js";
import type { Item } from "./item.js";
import { RECENT_LIMIT, RECENT_TTL_MS, type RecentStore } from "./recent-store.js";

/**
 * The format of the stored item (the `Item` interface): raised when it changes incompatibly, so
 * rows written by older instances can be told apart.
 */
const ITEM_VERSION = 1;

/**
 * The columns are taken from each item of the batch (one JSON parameter); rows go in key order, so
 * two instances inserting overlapping batches wait for each other instead of deadlocking.
 */
const INSERT = `
  INSERT INTO newswire_recent_items (key, at, topics, item, version, expires_at)
  SELECT item ->> 'key', (item ->> 'publishedAt')::bigint, ARRAY(SELECT jsonb_array_elements_text(item -> 'topics')), item, $2, $3
  FROM jsonb_array_elements($1::jsonb) AS item
  ORDER BY item ->> 'key'
  ON CONFLICT (key) DO NOTHING`;

/**
 * Rows after the newest `$1 + 1` in /latest's order (time, newest first, then key), so the table
 * keeps exactly RECENT_LIMIT rows however many share a time (keeping ties let it grow without
 * bound where items share a publication time); both sides on the `(at DESC, key)` index. Rows past
 * their time count among them until swept (within a minute; reads skip them): the newest are
 * rarely the expired, as an item expires 30 days after it is stored. With the expiry test in it,
 * the statement scanned the table and the newest rows' heap at every add.
 */
const TRIM = `
  WITH last AS (SELECT at, key FROM newswire_recent_items ORDER BY at DESC, key LIMIT 1 OFFSET $1)
  DELETE FROM newswire_recent_items AS recent USING last
  WHERE recent.at < last.at OR (recent.at = last.at AND recent.key > last.key)`;

/** Rows past their time. */
const SWEEP = "DELETE FROM newswire_recent_items WHERE expires_at <= $1";

/** How often an instance sweeps rows past their time (at its first add, then at most this often). */
const SWEEP_EVERY_MS = 60_000;

const LATEST = `
  SELECT item FROM newswire_recent_items
  WHERE expires_at > $1
  ORDER BY at DESC, key LIMIT $2`;

const LATEST_OF_TOPIC = `
  SELECT item FROM newswire_recent_items
  WHERE expires_at > $1 AND topics @> ARRAY[$3::text]
  ORDER BY at DESC, key LIMIT $2`;

const ANY = "SELECT EXISTS (SELECT 1 FROM newswire_recent_items) AS held";

/** Recent items in the table `newswire_recent_items` (migrations/1764670000004_recent_items.sql). */
export class PostgresRecent implements RecentStore {
  /** `now` is the clock items' retention is counted on. */
  constructor(
    private readonly database: Postgres,
    private readonly now: () => number = Date.now,
  ) {}

  /** When this instance last swept rows past their time. */
  private sweptAt: number | undefined;

  /**
   * One trim at a time, the adds made while one runs served by the next: concurrent polls' trims
   * deleted the same rows and waited on each other's row locks (a baseline of 100,000 feeds with
   * 8 polls at once: most of the statements PostgreSQL held were trims waiting on a lock).
   */
  private readonly trim = coalesce(async () => {
    const now = this.now();
    // The sweep first, so rows past their time do not count among the newest kept. A clock set
    // back sweeps too: the rows' times are on the clock as it is now.
    if (this.sweptAt === undefined || now - this.sweptAt >= SWEEP_EVERY_MS || now < this.sweptAt) {
      await this.database.query(SWEEP, [now]);
      this.sweptAt = now;
    }
    await this.database.query(TRIM, [RECENT_LIMIT - 1]);
  });

  async add(items: readonly Item[]): Promise<void> {
    if (items.length === 0) return;
    await this.database.query(INSERT, [JSON.stringify(items), ITEM_VERSION, this.now() + RECENT_TTL_MS]);
    await this.trim();
  }

  async latest(count: number, topic = ALL_TOPIC): Promise<Item[]> {
    const rows = topic === ALL_TOPIC
      ? await this.database.query<{ item: Item }>(LATEST, [this.now(), count])
      : await this.database.query<{ item: Item }>(LATEST_OF_TOPIC, [this.now(), count, topic]);
    return rows.map((row) => row.item);
  }

  async isEmpty(): Promise<boolean> {
    const [row] = await this.database.query<{ held: boolean }>(ANY);
    return !row?.held;
  }

  /** Every add is written when it resolves: nothing waits. */
  async flush(): Promise<void> {}
}
