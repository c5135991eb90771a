/**
 * The archive in the SQLite file, beside Keyv's tables: a row per item, its search terms and
 * topics in a contentless FTS5 table (ranked with bm25, title terms weighing more), and a row per
 * topic of each item for `/latest TOPIC`. Triggers keep the two side tables, so an add or a delete
 * is one statement, whole or not at all. The terms reach the FTS table through two columns of the
 * row, emptied once indexed: the index is all that needs them.
 * A search ranks the newest CANDIDATES matches (by when they were taken in), found in the FTS
 * index alone (archive.ts says why).
 */
import type { Sqlite } from "../store/keyv.js";
import { ALL_TOPIC } from "../topics/topics.js";
import {
  ARCHIVE_VERSION,
  archiveRow,
  CANDIDATES,
  RECENCY_HALF_MS,
  SWEEP_BATCH,
  Keeping,
  type Archive,
  type ArchiveEntry,
  type ArticleText,
  type SearchRequest,
} from "./archive.js";
import type { Item } from "./item.js";
import { ftsQuery } from "./search-words.js";

const TABLE = "newswire_archive";
const WORDS = "newswire_archive_words";
const TOPICS = "newswire_archive_topics";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${TABLE} (
     id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, ref TEXT NOT NULL UNIQUE, at INTEGER NOT NULL, stored_at INTEGER NOT NULL,
     item TEXT NOT NULL, article TEXT, version INTEGER NOT NULL, title_words TEXT, body_words TEXT
   )`,
  `CREATE INDEX IF NOT EXISTS ${TABLE}_at ON ${TABLE} (at)`,
  `CREATE INDEX IF NOT EXISTS ${TABLE}_stored_at ON ${TABLE} (stored_at)`,
  // Terms are already folded and stemmed (search-words.ts): the tokenizer only splits them. Topic
  // ids ([a-z0-9_-]+) are one token each; no term holds "-" or "_".
  `CREATE VIRTUAL TABLE IF NOT EXISTS ${WORDS} USING fts5(title, body, topics, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0 tokenchars ''-_''')`,
  `CREATE TABLE IF NOT EXISTS ${TOPICS} (topic TEXT NOT NULL, at INTEGER NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (topic, at, id)) WITHOUT ROWID`,
  `CREATE TRIGGER IF NOT EXISTS ${TABLE}_inserted AFTER INSERT ON ${TABLE} BEGIN
     INSERT INTO ${WORDS} (rowid, title, body, topics)
       VALUES (new.id, new.title_words, new.body_words, (SELECT group_concat(value, ' ') FROM json_each(new.item, '$.topics')));
     INSERT OR IGNORE INTO ${TOPICS} (topic, at, id) SELECT value, new.at, new.id FROM json_each(new.item, '$.topics');
     UPDATE ${TABLE} SET title_words = NULL, body_words = NULL WHERE id = new.id;
   END`,
  `CREATE TRIGGER IF NOT EXISTS ${TABLE}_deleted AFTER DELETE ON ${TABLE} BEGIN
     DELETE FROM ${WORDS} WHERE rowid = old.id;
     DELETE FROM ${TOPICS} WHERE id = old.id AND at = old.at AND topic IN (SELECT value FROM json_each(old.item, '$.topics'));
   END`,
];

/** The rows of a batch (?1, JSON of ArchiveRows); a key (or ref) already kept stays as it is. */
const INSERT = `
INSERT OR IGNORE INTO ${TABLE} (key, ref, at, stored_at, item, article, version, title_words, body_words)
SELECT value ->> 'key', value ->> 'ref', value ->> 'at', ?3, json(value -> 'item'), value -> 'article', ?2, value ->> 'titleWords', value ->> 'bodyWords'
FROM json_each(?1)`;

const LATEST = `SELECT item FROM ${TABLE} WHERE stored_at > ?1 ORDER BY at DESC, id DESC LIMIT ?2`;

const LATEST_OF_TOPIC = `
SELECT a.item FROM ${TOPICS} AS t JOIN ${TABLE} AS a ON a.id = t.id
WHERE t.topic = ?3 AND a.stored_at > ?1 ORDER BY t.at DESC, t.id DESC LIMIT ?2`;

/**
 * The newest ?6 matches of ?1 (an FTS5 query) with their relevance, then their rows still kept (stored after ?7). bm25 is
 * negative, better the lower: divided by 1 + the age in RECENCY_HALF_MS (?3), an older match moves
 * towards 0, so a month-old match needs twice the relevance of today's to rank with it.
 */
const SEARCH = `
WITH candidates AS (
  SELECT rowid AS id, bm25(${WORDS}, 3.0, 1.0, 0.0) AS relevance FROM ${WORDS} WHERE ${WORDS} MATCH ?1 ORDER BY rowid DESC LIMIT ?6
)
SELECT a.item FROM candidates AS c JOIN ${TABLE} AS a ON a.id = c.id
WHERE a.stored_at > ?7
ORDER BY c.relevance / (1.0 + max(0, ?2 - a.at) / ?3), a.at DESC, a.id DESC LIMIT ?4 OFFSET ?5`;

/** The FTS5 query of a request: its words in the title and body, and its topic's token. */
function match({ terms, topic = ALL_TOPIC }: SearchRequest): string {
  const words = `{title body} : (${ftsQuery(terms)})`;
  return topic === ALL_TOPIC ? words : `${words} AND topics : "${topic.replaceAll('"', '""')}"`;
}

const ARTICLE = `SELECT item, article FROM ${TABLE} WHERE ref = ?1 AND stored_at > ?2`;

const SWEEP = `DELETE FROM ${TABLE} WHERE id IN (SELECT id FROM ${TABLE} WHERE stored_at <= ?1 LIMIT ${SWEEP_BATCH}) RETURNING id`;

const ANY = `SELECT EXISTS (SELECT 1 FROM ${TABLE}) AS held`;

const parseItems = (rows: readonly { item: string }[]): Item[] => rows.map((row) => JSON.parse(row.item) as Item);

/** The archive in the tables `newswire_archive*` of the SQLite file (one instance). */
export class SqliteArchive implements Archive {
  readonly keepsArticles = true;

  private constructor(
    private readonly file: Sqlite,
    private readonly keeping: Keeping,
  ) {}

  /**
   * Creates the tables where they are missing. `retentionMs`, `now`, `onSweepError`: how long an
   * item is kept, on which clock, and who hears of a failed sweep ({@link Keeping}).
   */
  static async open(file: Sqlite, retentionMs: number, now: () => number = Date.now, onSweepError: (error: unknown) => void = console.error): Promise<SqliteArchive> {
    for (const statement of SCHEMA) await file.query(statement);
    return new SqliteArchive(file, new Keeping(retentionMs, now, onSweepError));
  }

  async add(entries: readonly ArchiveEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.file.query(INSERT, [JSON.stringify(entries.map(archiveRow)), ARCHIVE_VERSION, this.keeping.now()]);
    this.keeping.added(() => this.sweep());
  }

  async latest(count: number, topic = ALL_TOPIC): Promise<Item[]> {
    const rows = topic === ALL_TOPIC
      ? await this.file.query<{ item: string }>(LATEST, [this.keeping.since(), count])
      : await this.file.query<{ item: string }>(LATEST_OF_TOPIC, [this.keeping.since(), count, topic]);
    return parseItems(rows);
  }

  async search(request: SearchRequest): Promise<Item[]> {
    if (request.terms.words.length === 0 || request.offset >= CANDIDATES) return [];
    return parseItems(await this.file.query<{ item: string }>(SEARCH, [match(request), this.keeping.now(), RECENCY_HALF_MS, request.limit, request.offset, CANDIDATES, this.keeping.since()]));
  }

  async article(ref: string): Promise<{ item: Item; article?: ArticleText } | undefined> {
    const [row] = await this.file.query<{ item: string; article: string | null }>(ARTICLE, [ref, this.keeping.since()]);
    if (!row) return undefined;
    const item = JSON.parse(row.item) as Item;
    return row.article === null ? { item } : { item, article: JSON.parse(row.article) as ArticleText };
  }

  sweep(): Promise<number> {
    return this.keeping.inBatches(async (since) => (await this.file.query(SWEEP, [since])).length);
  }

  async isEmpty(): Promise<boolean> {
    const [row] = await this.file.query<{ held: number }>(ANY);
    return !row?.held;
  }

  /** At a clean stop: every add is written when it resolves; a sweep under way ends after its batch. */
  async flush(): Promise<void> {
    await this.keeping.stop();
  }
}
