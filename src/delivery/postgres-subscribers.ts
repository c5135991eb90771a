/**
 * The subscriptions as rows of `newswire_subscriptions` (migrations/1764670000001_subscriptions.sql),
 * for instances sharing one PostgreSQL: every read is a query, so a chat that unsubscribes through
 * one instance gets nothing more from another, and every change is one statement that reads the row
 * it changes under its lock, so concurrent changes of one subscription never lose each other.
 */
import type { Postgres } from "../store/postgres.js";
import {
  recipientKey,
  subscribeChange,
  SUBSCRIBER_VERSION,
  unsubscribeChange,
  type Recipient,
  type Subscriber,
  type SubscriberStore,
  type SubscriberTarget,
  type TopicChange,
} from "./subscribers.js";
import { ALL_TOPIC } from "../topics/topics.js";
import type { DeliverySchedule } from "./schedule.js";

const TABLE = "newswire_subscriptions";

/** The rows `condition` selects, as a source for {@link PostgresSubscribers.select}. */
const where = (condition: string) => `(SELECT * FROM ${TABLE} WHERE ${condition})`;

/** A row as the Subscriber it stores (a thread id only where there is one). */
const SUBSCRIBER_JSON = `record || jsonb_strip_nulls(jsonb_build_object('chatId', chat_id, 'threadId', thread_id)) || jsonb_build_object('topics', topics, 'since', since)`;

/**
 * Adds topics: the row read under its lock first (`old`, referenced by the insert so it runs
 * before it), the new topics appended in the order asked; `before` is what it had (null: a new
 * subscription). A conflict with no `old` row means another instance created the row after this
 * statement's snapshot: `old` cannot tell what changed, so nothing is changed and no row returned,
 * and the caller runs the statement again (it then finds the row and locks it).
 */
const SUBSCRIBE = `
WITH old AS (SELECT topics, since FROM ${TABLE} WHERE key = $1 FOR UPDATE)
INSERT INTO ${TABLE} AS s (key, chat_id, thread_id, topics, record, since, version)
SELECT $1::text, $2::bigint, $3::bigint, $4::text[], $5::jsonb, coalesce((SELECT since FROM old), $6::bigint), $7::int
ON CONFLICT (key) DO UPDATE SET
  topics = s.topics || ARRAY(SELECT t FROM unnest(excluded.topics) WITH ORDINALITY AS added(t, i) WHERE NOT t = ANY(s.topics) ORDER BY i),
  record = s.record || excluded.record,
  version = excluded.version
WHERE EXISTS (SELECT 1 FROM old)
RETURNING (SELECT topics FROM old) AS before`;

/**
 * Removes topics ($3: all of them) from the row read under its lock; the row ends when none is
 * left. Resolves with the topics it had (no row: it had none).
 */
const UNSUBSCRIBE = `
WITH old AS (SELECT key, topics FROM ${TABLE} WHERE key = $1 FOR UPDATE),
next AS (
  SELECT key, topics, ARRAY(SELECT t FROM unnest(topics) WITH ORDINALITY AS kept(t, i) WHERE NOT ($3::boolean OR t = ANY($2::text[])) ORDER BY i) AS remaining FROM old
),
ended AS (DELETE FROM ${TABLE} s USING next WHERE s.key = next.key AND cardinality(next.remaining) = 0 RETURNING 1),
changed AS (UPDATE ${TABLE} s SET topics = next.remaining FROM next WHERE s.key = next.key AND cardinality(next.remaining) > 0 RETURNING 1)
SELECT topics FROM old`;

/** Sets the record's schedule ($2), or takes it out ($2 null), in one statement. */
const SET_SCHEDULE = `
UPDATE ${TABLE} SET record = CASE WHEN $2::jsonb IS NULL THEN record - 'schedule' ELSE jsonb_set(record, '{schedule}', $2::jsonb) END
WHERE key = $1 RETURNING key`;

/** Replaces a subscription whole. */
const UPSERT = `
INSERT INTO ${TABLE} (key, chat_id, thread_id, topics, record, since, version) VALUES ($1, $2, $3, $4::text[], $5::jsonb, $6, $7)
ON CONFLICT (key) DO UPDATE SET topics = excluded.topics, record = excluded.record, since = excluded.since, version = excluded.version`;

/**
 * Moves a chat's rows to the new chat id, as supergroup, replacing what was there. The new key is
 * recipientKey's, built in SQL: the chat id's text, then `:` and the thread's when there is one.
 */
const MIGRATE = `
WITH moved AS (DELETE FROM ${TABLE} WHERE chat_id = $1 RETURNING *)
INSERT INTO ${TABLE} (key, chat_id, thread_id, topics, record, since, version)
SELECT $2::bigint::text || coalesce(':' || thread_id::text, ''), $2, thread_id, topics, record || '{"kind":"supergroup"}'::jsonb, since, $3 FROM moved
ON CONFLICT (key) DO UPDATE SET
  thread_id = excluded.thread_id, topics = excluded.topics, record = excluded.record, since = excluded.since, version = excluded.version`;

/** The subscriptions in PostgreSQL, shared by every instance on it. */
export class PostgresSubscribers implements SubscriberStore {
  constructor(private readonly database: Postgres) {}

  async get(recipient: Recipient): Promise<Subscriber | undefined> {
    const [found] = await this.select(where("key = $1"), [recipientKey(recipient)]);
    return found;
  }

  async ofChat(chatId: number): Promise<Subscriber[]> {
    return this.select(where("chat_id = $1"), [chatId]);
  }

  async following(topics: readonly string[]): Promise<Subscriber[]> {
    return this.select(where("topics && $1::text[]"), [[...topics, ALL_TOPIC]]);
  }

  async linkedBy(userId: number): Promise<Subscriber[]> {
    return this.select(where(`record ? 'linkedBy' AND (record ->> 'linkedBy')::bigint = $1 AND record ->> 'kind' = 'channel'`), [userId]);
  }

  async count(): Promise<number> {
    const [row] = await this.database.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${TABLE}`);
    return row?.count ?? 0;
  }

  async subscribe(target: SubscriberTarget, topics: readonly string[], now = Date.now()): Promise<TopicChange> {
    const { chatId, threadId, ...record } = target;
    const values = [recipientKey(target), chatId, threadId ?? null, [...new Set(topics)], JSON.stringify(record), now, SUBSCRIBER_VERSION];
    for (;;) {
      const [row] = await this.database.query<{ before: string[] | null }>(SUBSCRIBE, values);
      if (row) return subscribeChange(row.before ?? [], topics);
    }
  }

  async unsubscribe(recipient: Recipient, topics: readonly string[]): Promise<TopicChange> {
    const [row] = await this.database.query<{ topics: string[] }>(UNSUBSCRIBE, [recipientKey(recipient), [...topics], topics.includes(ALL_TOPIC)]);
    return unsubscribeChange(row?.topics ?? [], topics);
  }

  async removeChat(chatId: number): Promise<Subscriber[]> {
    return this.select(`(DELETE FROM ${TABLE} WHERE chat_id = $1 RETURNING *)`, [chatId]);
  }

  async migrateChat(fromChatId: number, toChatId: number): Promise<void> {
    await this.database.query(MIGRATE, [fromChatId, toChatId, SUBSCRIBER_VERSION]);
  }

  async setSchedule(recipient: Recipient, schedule: DeliverySchedule | undefined): Promise<boolean> {
    const rows = await this.database.query(SET_SCHEDULE, [recipientKey(recipient), schedule ? JSON.stringify(schedule) : null]);
    return rows.length > 0;
  }

  async update(value: Subscriber): Promise<void> {
    const { chatId, threadId, topics, since, ...record } = value;
    await this.database.query(UPSERT, [recipientKey(value), chatId, threadId ?? null, topics, JSON.stringify(record), since, SUBSCRIBER_VERSION]);
  }

  /**
   * The subscribers among `rows` (a row source: {@link where}, or a DELETE … RETURNING), in key order, as one JSON text built by PostgreSQL and parsed
   * at once: pg makes an object per row (and parses each row's record apart), which for a
   * broadcast's 300,000 recipients is most of the fan-out's time and memory.
   */
  private async select(rows: string, values: readonly unknown[]): Promise<Subscriber[]> {
    const [row] = await this.database.query<{ subscribers: string }>(
      `WITH rows AS ${rows}
       SELECT coalesce(json_agg(${SUBSCRIBER_JSON} ORDER BY key), '[]')::text AS subscribers FROM rows`,
      values,
    );
    return JSON.parse(row!.subscribers) as Subscriber[];
  }
}
