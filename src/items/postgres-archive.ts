/**
 * The archive on PostgreSQL: one table every instance shares (migrations/1764670000011_archive.sql),
 * a row per item with its search terms as a tsvector under a GIN index. The terms are newswire's
 * (search-words.ts) under the `simple` configuration, which only splits them: the `russian` one
 * stems Китай and Китая apart. Ranked by ts_rank (title terms weigh A), weighed down by age.
 */
import type { Postgres } from "../store/postgres.js";
import { ALL_TOPIC } from "../topics/topics.js";
import {
  ARCHIVE_VERSION,
  archiveRow,
  RECENCY_HALF_MS,
  sweepDue,
  type Archive,
  type ArchiveEntry,
  type ArticleText,
  type SearchRequest,
} from "./archive.js";
import type { Item } from "./item.js";
import { tsQuery } from "./search-words.js";

/**
 * The rows of a batch ($1, JSON of ArchiveRows), in key order, so two instances inserting
 * overlapping batches wait for each other instead of deadlocking; a key kept stays as it is.
 */
const INSERT = `
  INSERT INTO newswire_archive (key, ref, at, expires_at, topics, item, article, words, version)
  SELECT row ->> 'key', row ->> 'ref', (row ->> 'at')::bigint, $3, ARRAY(SELECT jsonb_array_elements_text(row -> 'item' -> 'topics')),
         row -> 'item', row -> 'article',
         setweight(to_tsvector('simple', row ->> 'titleWords'), 'A') || to_tsvector('simple', row ->> 'bodyWords'), $2
  FROM jsonb_array_elements($1::jsonb) AS row
  ORDER BY row ->> 'key'
  ON CONFLICT DO NOTHING`;

const LATEST = "SELECT item FROM newswire_archive WHERE expires_at > $1 ORDER BY at DESC, key LIMIT $2";

const LATEST_OF_TOPIC = `
  SELECT item FROM newswire_archive WHERE expires_at > $1 AND topics @> ARRAY[$3::text]
  ORDER BY at DESC, key LIMIT $2`;

/** As in sqlite-archive.ts: relevance divided by 1 + the age in RECENCY_HALF_MS. */
const SEARCH = `
  SELECT item FROM newswire_archive, to_tsquery('simple', $1) AS query
  WHERE words @@ query AND expires_at > $2 AND ($6::text IS NULL OR topics @> ARRAY[$6::text])
  ORDER BY ts_rank(words, query) / (1 + greatest(0, $2 - at) / $3::float8) DESC, at DESC, key
  LIMIT $4 OFFSET $5`;

const ARTICLE = "SELECT item, article FROM newswire_archive WHERE ref = $1 AND expires_at > $2";

const SWEEP = "WITH gone AS (DELETE FROM newswire_archive WHERE expires_at <= $1 RETURNING 1) SELECT count(*)::int AS deleted FROM gone";

const ANY = "SELECT EXISTS (SELECT 1 FROM newswire_archive) AS held";

/** The recent items newswire kept before the archive, moved in when an instance starts (at most 2,000). */
const LEGACY = "SELECT item FROM newswire_recent_items WHERE expires_at > $1";
const LEGACY_MOVED = "DELETE FROM newswire_recent_items";

/** The archive in the table `newswire_archive`, shared by the instances. */
export class PostgresArchive implements Archive {
  readonly keepsArticles = true;
  private sweptAt: number | undefined;

  /** `retentionMs`: how long an item is kept after it is stored; `now` the clock it is counted on. */
  constructor(
    private readonly database: Postgres,
    private readonly retentionMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Moves in the rows of newswire_recent_items (newswire before the archive); returns how many. */
  async takeOver(): Promise<number> {
    const items = (await this.database.query<{ item: Item }>(LEGACY, [this.now()])).map((row) => row.item);
    if (items.length === 0) return 0;
    await this.add(items.map((item) => ({ item })));
    // Those past their time go too: the table is left empty.
    await this.database.query(LEGACY_MOVED);
    return items.length;
  }

  async add(entries: readonly ArchiveEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const now = this.now();
    await this.database.query(INSERT, [JSON.stringify(entries.map(archiveRow)), ARCHIVE_VERSION, now + this.retentionMs]);
    if (sweepDue(this.sweptAt, now)) await this.sweep();
  }

  async latest(count: number, topic = ALL_TOPIC): Promise<Item[]> {
    const rows = topic === ALL_TOPIC
      ? await this.database.query<{ item: Item }>(LATEST, [this.now(), count])
      : await this.database.query<{ item: Item }>(LATEST_OF_TOPIC, [this.now(), count, topic]);
    return rows.map((row) => row.item);
  }

  async search({ terms, topic = ALL_TOPIC, offset, limit }: SearchRequest): Promise<Item[]> {
    if (terms.terms.length === 0) return [];
    const rows = await this.database.query<{ item: Item }>(SEARCH, [tsQuery(terms), this.now(), RECENCY_HALF_MS, limit, offset, topic === ALL_TOPIC ? null : topic]);
    return rows.map((row) => row.item);
  }

  async article(ref: string): Promise<{ item: Item; article?: ArticleText } | undefined> {
    const [row] = await this.database.query<{ item: Item; article: ArticleText | null }>(ARTICLE, [ref, this.now()]);
    if (!row) return undefined;
    return row.article === null ? { item: row.item } : { item: row.item, article: row.article };
  }

  async sweep(): Promise<number> {
    const now = this.now();
    this.sweptAt = now;
    const [row] = await this.database.query<{ deleted: number }>(SWEEP, [now]);
    return row?.deleted ?? 0;
  }

  async isEmpty(): Promise<boolean> {
    const [row] = await this.database.query<{ held: boolean }>(ANY);
    return !row?.held;
  }

  /** Every add is written when it resolves: nothing waits. */
  async flush(): Promise<void> {}
}
