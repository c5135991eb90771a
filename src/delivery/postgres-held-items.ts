/**
 * Held items on PostgreSQL: a row per recipient and item (`ON CONFLICT DO NOTHING`, so an item
 * two instances accept is held once), the items once each beside them. Only the sending instance
 * takes what is due and releases it (digests.ts), so taking needs no claim.
 */
import type { Item } from "../items/item.js";
import type { Postgres } from "../store/postgres.js";
import { HELD_ITEM_TTL_MS, type DueItems, type HeldEntry, type HeldItemStore } from "./held-items.js";
import { recipientKey, type Recipient } from "./subscribers.js";

/** The format of the stored item (the `Item` interface), as in the recent items' table. */
const ITEM_VERSION = 1;

/** How often expired items are deleted. */
const SWEEP_EVERY_MS = 60 * 60_000;

/** Rows in key order, so two instances inserting overlapping batches wait instead of deadlocking. */
const INSERT_ITEMS = `
  INSERT INTO newswire_hold_items (key, item, version, expires_at)
  SELECT item ->> 'key', item, $2, $3 FROM jsonb_array_elements($1::jsonb) AS item
  ORDER BY item ->> 'key'
  ON CONFLICT (key) DO NOTHING`;

const INSERT_HELD = `
  INSERT INTO newswire_holds (recipient, chat_id, thread_id, item_key, until)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[]) ORDER BY 1, 4
  ON CONFLICT (recipient, item_key) DO NOTHING`;

/** The `$2` recipients due longest, each with its items due at `$1` (null where the item expired). */
const DUE = `
  WITH due AS (
    SELECT recipient, min(until) AS until FROM newswire_holds WHERE until <= $1
    GROUP BY recipient ORDER BY min(until), recipient LIMIT $2
  )
  SELECT held.recipient, min(held.chat_id) AS chat_id, min(held.thread_id) AS thread_id, due.until::float8 AS until,
         json_agg(json_build_object('key', held.item_key, 'item', texts.item)) AS entries
  FROM due JOIN newswire_holds AS held ON held.recipient = due.recipient AND held.until <= $1
  LEFT JOIN newswire_hold_items AS texts ON texts.key = held.item_key
  GROUP BY held.recipient, due.until ORDER BY due.until, held.recipient`;

const RESCHEDULE = "UPDATE newswire_holds SET until = $2 WHERE recipient = $1";

/** A group's rows under the supergroup's id, its recipient keys made as recipientKey makes them. */
const MIGRATE = `
  WITH moved AS (DELETE FROM newswire_holds WHERE chat_id = $1 RETURNING thread_id, item_key, until)
  INSERT INTO newswire_holds (recipient, chat_id, thread_id, item_key, until)
  SELECT $2::bigint::text || coalesce(':' || thread_id, ''), $2, thread_id, item_key, until FROM moved
  ON CONFLICT (recipient, item_key) DO UPDATE SET until = least(newswire_holds.until, excluded.until)`;

const RELEASE = "DELETE FROM newswire_holds WHERE recipient = $1 AND item_key = ANY($2::text[])";

/** Items no row holds any more, past their time. */
const SWEEP = `
  DELETE FROM newswire_hold_items AS texts WHERE expires_at <= $1
  AND NOT EXISTS (SELECT 1 FROM newswire_holds WHERE item_key = texts.key)`;

/** Held items in the tables `newswire_holds` and `newswire_hold_items` (migrations/1764670000010_holds.sql). */
export class PostgresHeldItems implements HeldItemStore {
  private sweptAt: number | undefined;

  constructor(
    private readonly database: Postgres,
    private readonly now: () => number = Date.now,
  ) {}

  async hold(entries: readonly HeldEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const items = [...new Map(entries.map(({ item }) => [item.key, item])).values()];
    await this.database.query(INSERT_ITEMS, [JSON.stringify(items), ITEM_VERSION, this.now() + HELD_ITEM_TTL_MS]);
    await this.database.query(INSERT_HELD, [
      entries.map(({ recipient }) => recipientKey(recipient)),
      entries.map(({ recipient }) => recipient.chatId),
      entries.map(({ recipient }) => recipient.threadId ?? null),
      entries.map(({ item }) => item.key),
      entries.map(({ until }) => until),
    ]);
  }

  async due(now: number, limit: number): Promise<DueItems[]> {
    if (this.sweptAt === undefined || now - this.sweptAt >= SWEEP_EVERY_MS) {
      this.sweptAt = now;
      // Housekeeping, not awaited: a digest does not wait for it, and one that fails is made at the next.
      void this.database.query(SWEEP, [now]).catch(() => undefined);
    }
    const rows = await this.database.query<{ chat_id: string; thread_id: string | null; until: number; entries: Array<{ key: string; item: Item | null }> }>(DUE, [now, limit]);
    return rows.map(({ chat_id, thread_id, until, entries }) => ({
      recipient: { chatId: Number(chat_id), ...(thread_id === null ? {} : { threadId: Number(thread_id) }) },
      until,
      items: entries.flatMap(({ item }) => (item ? [item] : [])).sort((a, b) => a.publishedAt - b.publishedAt),
      missing: entries.filter(({ item }) => item === null).map(({ key }) => key),
    }));
  }

  async reschedule(recipient: Recipient, until: number): Promise<void> {
    await this.database.query(RESCHEDULE, [recipientKey(recipient), until]);
  }

  async migrateChat(fromChatId: number, toChatId: number): Promise<void> {
    await this.database.query(MIGRATE, [fromChatId, toChatId]);
  }

  async release(recipient: Recipient, itemKeys: readonly string[]): Promise<void> {
    if (itemKeys.length === 0) return;
    await this.database.query(RELEASE, [recipientKey(recipient), itemKeys]);
  }
}
