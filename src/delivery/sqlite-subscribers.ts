/**
 * The subscriptions as rows of `newswire_subscriptions` in the SQLite file, beside Keyv's tables:
 * every read is a query, so nothing is loaded whole at start (1,000,000 subscribers held in memory
 * took 6 s to read, and 35 MB of heap per 100,000), and a broadcast's fan-out reads the index of
 * its topics. One instance runs on SQLite (its lease sees to it), so the changes, run here one at
 * a time, read what they change with no other change in between.
 */
import type { Sqlite } from "../store/keyv.js";
import { inOrder } from "../store/in-order.js";
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
const TOPICS = "newswire_subscription_topics";

/** The Keyv namespace (table and key prefix) the subscribers were kept in before. */
const LEGACY = "subscribers";

/**
 * A row as the Subscriber's JSON, built by SQLite: the record with the columns patched in (a null
 * thread_id patches the key away, as a Subscriber outside a forum thread has none).
 */
const SUBSCRIBER_JSON = "json_patch(record, json_object('chatId', chat_id, 'threadId', thread_id, 'topics', json(topics), 'since', since))";

/**
 * The tables, one statement each. key is recipientKey; topics a JSON array; record a JSON object
 * of the rest of the Subscriber (kind, language, title, linkedBy, home). The topic table, a row
 * per topic of each subscription, is what `following` reads; triggers keep it, so every change
 * stays one statement.
 */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${TABLE} (
     key TEXT PRIMARY KEY, chat_id INTEGER NOT NULL, thread_id INTEGER, topics TEXT NOT NULL, record TEXT NOT NULL, since INTEGER NOT NULL, version INTEGER NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS ${TABLE}_chat_id ON ${TABLE} (chat_id)`,
  `CREATE INDEX IF NOT EXISTS ${TABLE}_linked_by ON ${TABLE} (json_extract(record, '$.linkedBy')) WHERE json_extract(record, '$.linkedBy') IS NOT NULL`,
  `CREATE TABLE IF NOT EXISTS ${TOPICS} (topic TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (topic, key)) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS ${TOPICS}_key ON ${TOPICS} (key)`,
  `CREATE TRIGGER IF NOT EXISTS ${TABLE}_inserted AFTER INSERT ON ${TABLE} BEGIN
     INSERT INTO ${TOPICS} (topic, key) SELECT DISTINCT value, new.key FROM json_each(new.topics);
   END`,
  // A row moved to a new key (migrateChat) replaces the row there, whose delete fires no trigger:
  // the topics of both keys go.
  `CREATE TRIGGER IF NOT EXISTS ${TABLE}_changed AFTER UPDATE OF key, topics ON ${TABLE} BEGIN
     DELETE FROM ${TOPICS} WHERE key IN (old.key, new.key);
     INSERT INTO ${TOPICS} (topic, key) SELECT DISTINCT value, new.key FROM json_each(new.topics);
   END`,
  `CREATE TRIGGER IF NOT EXISTS ${TABLE}_deleted AFTER DELETE ON ${TABLE} BEGIN
     DELETE FROM ${TOPICS} WHERE key = old.key;
   END`,
];

/** Replaces a subscription whole. */
const UPSERT = `
INSERT INTO ${TABLE} (key, chat_id, thread_id, topics, record, since, version) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET topics = excluded.topics, record = excluded.record, since = excluded.since, version = excluded.version`;

/**
 * Moves a chat's rows to the new chat id, as supergroup, replacing what was there. The new key is
 * recipientKey's, built in SQL: the chat id's text, then `:` and the thread's when there is one
 * (the id cast to INTEGER: node-sqlite3 binds one beyond 32 bits as a REAL, whose text ends in ".0").
 */
const MIGRATE = `
UPDATE OR REPLACE ${TABLE} SET key = CAST(?2 AS INTEGER) || coalesce(':' || thread_id, ''), chat_id = ?2,
  record = json_set(record, '$.kind', 'supergroup'), version = ?3
WHERE chat_id = ?1`;

/** Sets the record's schedule (?2 JSON), or takes it out (?2 null). */
const SET_SCHEDULE = `
UPDATE ${TABLE} SET record = CASE WHEN ?2 IS NULL THEN json_remove(record, '$.schedule') ELSE json_set(record, '$.schedule', json(?2)) END
WHERE key = ?1 RETURNING key`;

/** Keyv rows per step of {@link SqliteSubscribers.takeOver}: each step well within a store call's deadline. */
const TAKE_OVER_BATCH = 10_000;

/**
 * Copies the Keyv rows of a rowid range (?1 to ?2, key `subscribers:<recipientKey>`, value the
 * text `{"value":{...Subscriber}}`) into the table, as the PostgreSQL migration does: malformed
 * rows and those without topics left out, Keyv's escape of a title that begins with ':' (another
 * ':' in front) taken off. A row the table has already is replaced: Keyv's is newer (an older
 * release, rolled back to, wrote it). Resolves with a row per subscriber copied.
 */
const TAKE_OVER = `
INSERT INTO ${TABLE} (key, chat_id, thread_id, topics, record, since, version)
SELECT substr(key, length(?3) + 1),
       json_extract(subscriber, '$.chatId'),
       json_extract(subscriber, '$.threadId'),
       json_extract(subscriber, '$.topics'),
       json_remove(CASE WHEN json_extract(subscriber, '$.title') LIKE ':%'
                        THEN json_set(subscriber, '$.title', substr(json_extract(subscriber, '$.title'), 2)) ELSE subscriber END,
                   '$.chatId', '$.threadId', '$.topics', '$.since', '$.version'),
       coalesce(json_extract(subscriber, '$.since'), 0),
       ?4
FROM (
  SELECT key, CASE WHEN json_valid(value) THEN CASE json_type(value, '$.value') WHEN 'object' THEN json_extract(value, '$.value') END END AS subscriber
  FROM ${LEGACY} WHERE rowid >= ?1 AND rowid < ?2 AND key LIKE ?3 || '%'
)
WHERE json_type(subscriber, '$.chatId') = 'integer' AND json_type(subscriber, '$.topics') = 'array' AND json_array_length(subscriber, '$.topics') > 0
ON CONFLICT (key) DO UPDATE SET topics = excluded.topics, record = excluded.record, since = excluded.since, version = excluded.version
RETURNING 1`;

/** The subscriptions in the SQLite file, of its one instance. */
export class SqliteSubscribers implements SubscriberStore {
  /** This instance's changes, one at a time. */
  private readonly inTurn = inOrder();

  private constructor(private readonly database: Sqlite) {}

  /** The subscriptions in `database`, their tables created if new. */
  static async open(database: Sqlite): Promise<SqliteSubscribers> {
    for (const statement of SCHEMA) await database.query(statement);
    return new SqliteSubscribers(database);
  }

  /**
   * Moves the subscribers kept in Keyv's namespace (newswire before these tables) into the table,
   * before any change; resolves with how many. Each batch is copied, then deleted (malformed rows
   * too: nothing reads them), so a start cut short between the two copies nothing twice.
   */
  async takeOver(): Promise<number> {
    const [range] = await this.database.query<{ low: number | null; high: number | null }>(`SELECT min(rowid) AS low, max(rowid) AS high FROM ${LEGACY}`);
    const prefix = `${LEGACY}:`;
    let moved = 0;
    for (let from = range?.low ?? 0; from <= (range?.high ?? -1); from += TAKE_OVER_BATCH) {
      const to = from + TAKE_OVER_BATCH;
      moved += (await this.database.query(TAKE_OVER, [from, to, prefix, SUBSCRIBER_VERSION])).length;
      await this.database.query(`DELETE FROM ${LEGACY} WHERE rowid >= ? AND rowid < ? AND key LIKE ? || '%'`, [from, to, prefix]);
    }
    return moved;
  }

  async get(recipient: Recipient): Promise<Subscriber | undefined> {
    const [found] = await this.select("key = ?", [recipientKey(recipient)]);
    return found;
  }

  async ofChat(chatId: number): Promise<Subscriber[]> {
    return this.select("chat_id = ?", [chatId]);
  }

  async following(topics: readonly string[]): Promise<Subscriber[]> {
    return this.select(`key IN (SELECT key FROM ${TOPICS} WHERE topic IN (SELECT value FROM json_each(?)))`, [JSON.stringify([...topics, ALL_TOPIC])]);
  }

  async linkedBy(userId: number): Promise<Subscriber[]> {
    return this.select(`json_extract(record, '$.linkedBy') = ? AND json_extract(record, '$.kind') = 'channel'`, [userId]);
  }

  async count(): Promise<number> {
    const [row] = await this.database.query<{ count: number }>(`SELECT count(*) AS count FROM ${TABLE}`);
    return row?.count ?? 0;
  }

  async subscribe(target: SubscriberTarget, topics: readonly string[], now = Date.now()): Promise<TopicChange> {
    return this.inTurn(async () => {
      const current = await this.get(target);
      const have = current?.topics ?? [];
      const change = subscribeChange(have, topics);
      await this.write({ ...current, ...target, topics: [...have, ...change.changed], since: current?.since ?? now });
      return change;
    });
  }

  async unsubscribe(recipient: Recipient, topics: readonly string[]): Promise<TopicChange> {
    return this.inTurn(async () => {
      const current = await this.get(recipient);
      const change = unsubscribeChange(current?.topics ?? [], topics);
      if (!current || change.changed.length === 0) return change;
      const remaining = current.topics.filter((topic) => !change.changed.includes(topic));
      if (remaining.length === 0) await this.database.query(`DELETE FROM ${TABLE} WHERE key = ?`, [recipientKey(current)]);
      else await this.write({ ...current, topics: remaining });
      return change;
    });
  }

  async removeChat(chatId: number): Promise<Subscriber[]> {
    return this.inTurn(async () => {
      const removed = await this.ofChat(chatId);
      if (removed.length > 0) await this.database.query(`DELETE FROM ${TABLE} WHERE chat_id = ?`, [chatId]);
      return removed;
    });
  }

  async migrateChat(fromChatId: number, toChatId: number): Promise<void> {
    await this.inTurn(() => this.database.query(MIGRATE, [fromChatId, toChatId, SUBSCRIBER_VERSION]));
  }

  async update(value: Subscriber): Promise<void> {
    await this.inTurn(() => this.write(value));
  }

  async setSchedule(recipient: Recipient, schedule: DeliverySchedule | undefined): Promise<boolean> {
    const rows = await this.inTurn(() => this.database.query(SET_SCHEDULE, [recipientKey(recipient), schedule ? JSON.stringify(schedule) : null]));
    return rows.length > 0;
  }

  private async write(value: Subscriber): Promise<void> {
    const { chatId, threadId, topics, since, ...record } = value;
    await this.database.query(UPSERT, [recipientKey(value), chatId, threadId ?? null, JSON.stringify(topics), JSON.stringify(record), since, SUBSCRIBER_VERSION]);
  }

  /**
   * The subscribers `where` selects, in key order, as one row of one JSON text parsed at once:
   * node-sqlite3 makes an object per row, which for a broadcast's 300,000 recipients took 4 s and
   * hundreds of MB (one text: a fraction of both).
   */
  private async select(where: string, values: readonly unknown[]): Promise<Subscriber[]> {
    const [row] = await this.database.query<{ subscribers: string }>(
      // Joined as texts: SQLite 3.44's json_group_array with ORDER BY turns each object into a string.
      `SELECT '[' || coalesce(group_concat(${SUBSCRIBER_JSON}, ',' ORDER BY key), '') || ']' AS subscribers FROM ${TABLE} WHERE ${where}`,
      values,
    );
    return JSON.parse(row!.subscribers) as Subscriber[];
  }
}
