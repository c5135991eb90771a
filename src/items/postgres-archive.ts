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
import { tsQuery } from "./search-words.js";

/**
 * The rows of a batch ($1, JSON of ArchiveRows), in key order, so two instances inserting
 * overlapping batches wait for each other instead of deadlocking; a key kept stays as it is.
 */
const INSERT = `
  INSERT INTO newswire_archive (key, ref, at, stored_at, topics, item, article, words, version)
  SELECT row ->> 'key', row ->> 'ref', (row ->> 'at')::bigint, $3, ARRAY(SELECT jsonb_array_elements_text(row -> 'item' -> 'topics')),
         row -> 'item', row -> 'article',
         setweight(to_tsvector('simple', row ->> 'titleWords'), 'A') || to_tsvector('simple', row ->> 'bodyWords'), $2
  FROM jsonb_array_elements($1::jsonb) AS row
  ORDER BY row ->> 'key'
  ON CONFLICT DO NOTHING`;

const LATEST = "SELECT item FROM newswire_archive WHERE stored_at > $1 ORDER BY at DESC, key LIMIT $2";

const LATEST_OF_TOPIC = `
  SELECT item FROM newswire_archive WHERE stored_at > $1 AND topics @> ARRAY[$3::text]
  ORDER BY at DESC, key LIMIT $2`;

/**
 * The newest $7 matches of the tsquery $1 published from $9 on (of topic $6 when given, stored
 * after $8), ranked as in sqlite-archive.ts: relevance (a title word three times a body word)
 * divided by 1 + the age in RECENCY_HALF_MS ($3); a page of them, each with how many candidates
 * there were. Only the page's rows are joined for their items. `at + 0` keeps the candidates to the
 * GIN index's matches: walking the time index would test the words of every row it passes.
 */
const SEARCH = `
  WITH candidates AS MATERIALIZED (
    SELECT key, at, words FROM newswire_archive
    WHERE words @@ to_tsquery('simple', $1) AND at >= $9 AND stored_at > $8 AND ($6::text IS NULL OR topics @> ARRAY[$6::text])
    ORDER BY at + 0 DESC, key LIMIT $7
  ), ranked AS (
    SELECT key, at, ts_rank('{0.333, 0.333, 0.333, 1}', words, to_tsquery('simple', $1), 1) / (1 + greatest(0, $2 - at) / $3::float8) AS score,
           count(*) OVER () AS found
    FROM candidates ORDER BY score DESC, at DESC, key LIMIT $4 OFFSET $5
  )
  SELECT archive.item, ranked.found::int AS found FROM ranked JOIN newswire_archive AS archive USING (key)
  ORDER BY ranked.score DESC, ranked.at DESC, ranked.key`;

/**
 * The newest matches are looked for among the items published in the last 30 days, then 180, then
 * all: a common word's candidates are found among a month's items, not by reading each of its
 * matches over the year (PostgreSQL visits every matching row for its time: a word in a fifth of
 * 100,000 items took 190 ms, and planned as a scan that reads every row's words, 260 ms). A window
 * holding CANDIDATES matches holds the newest CANDIDATES overall, so the result is the same. A word
 * whose matches are mostly older than 180 days still costs the full reading at the last step.
 */
const WINDOWS_MS = [30, 180].map((days) => days * 24 * 60 * 60_000);

const ARTICLE = "SELECT item, article FROM newswire_archive WHERE ref = $1 AND stored_at > $2";

/** A batch of what is past its time ($1: stored up to then), $2 rows at most. */
const SWEEP = `
  WITH gone AS (DELETE FROM newswire_archive WHERE key IN (SELECT key FROM newswire_archive WHERE stored_at <= $1 LIMIT $2) RETURNING 1)
  SELECT count(*)::int AS deleted FROM gone`;

const ANY = "SELECT EXISTS (SELECT 1 FROM newswire_archive) AS held";

/** The recent items newswire kept before the archive, moved in when an instance starts (at most 2,000). */
const LEGACY = "SELECT item FROM newswire_recent_items WHERE expires_at > $1";
const LEGACY_MOVED = "DELETE FROM newswire_recent_items WHERE key = ANY($1::text[]) OR expires_at <= $2";

/** The archive in the table `newswire_archive`, shared by the instances. */
export class PostgresArchive implements Archive {
  readonly keepsArticles = true;
  private readonly keeping: Keeping;

  /** `retentionMs`, `now`, `onSweepError`: how long an item is kept, on which clock, and who hears of a failed sweep ({@link Keeping}). */
  constructor(
    private readonly database: Postgres,
    retentionMs: number,
    now: () => number = Date.now,
    onSweepError: (error: unknown) => void = console.error,
  ) {
    this.keeping = new Keeping(retentionMs, now, onSweepError);
  }

  /** Moves in the rows of newswire_recent_items (newswire before the archive); returns how many. */
  async takeOver(): Promise<number> {
    const items = (await this.database.query<{ item: Item }>(LEGACY, [this.keeping.now()])).map((row) => row.item);
    if (items.length === 0) return 0;
    await this.add(items.map((item) => ({ item })));
    // Those past their time go too. Rows an older instance writes meanwhile stay for the next start.
    await this.database.query(LEGACY_MOVED, [items.map((item) => item.key), this.keeping.now()]);
    return items.length;
  }

  async add(entries: readonly ArchiveEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.database.query(INSERT, [JSON.stringify(entries.map(archiveRow)), ARCHIVE_VERSION, this.keeping.now()]);
    this.keeping.added(() => this.sweep());
  }

  async latest(count: number, topic = ALL_TOPIC): Promise<Item[]> {
    const rows = topic === ALL_TOPIC
      ? await this.database.query<{ item: Item }>(LATEST, [this.keeping.since(), count])
      : await this.database.query<{ item: Item }>(LATEST_OF_TOPIC, [this.keeping.since(), count, topic]);
    return rows.map((row) => row.item);
  }

  async search({ terms, topic = ALL_TOPIC, offset, limit }: SearchRequest): Promise<Item[]> {
    if (terms.words.length === 0 || offset >= CANDIDATES) return [];
    const now = this.keeping.now();
    const values = [tsQuery(terms), now, RECENCY_HALF_MS, limit, offset, topic === ALL_TOPIC ? null : topic, CANDIDATES, this.keeping.since()];
    for (const window of WINDOWS_MS) {
      const rows = await this.database.query<{ item: Item; found: number }>(SEARCH, [...values, now - window]);
      if (rows[0] && rows[0].found >= CANDIDATES) return rows.map((row) => row.item);
    }
    const rows = await this.database.query<{ item: Item }>(SEARCH, [...values, Number.MIN_SAFE_INTEGER]);
    return rows.map((row) => row.item);
  }

  async article(ref: string): Promise<{ item: Item; article?: ArticleText } | undefined> {
    const [row] = await this.database.query<{ item: Item; article: ArticleText | null }>(ARTICLE, [ref, this.keeping.since()]);
    if (!row) return undefined;
    return row.article === null ? { item: row.item } : { item: row.item, article: row.article };
  }

  sweep(): Promise<number> {
    return this.keeping.inBatches(async (since) => (await this.database.query<{ deleted: number }>(SWEEP, [since, SWEEP_BATCH]))[0]?.deleted ?? 0);
  }

  async isEmpty(): Promise<boolean> {
    const [row] = await this.database.query<{ held: boolean }>(ANY);
    return !row?.held;
  }

  /** At a clean stop: every add is written when it resolves; a sweep under way ends after its batch. */
  async flush(): Promise<void> {
    await this.keeping.stop();
  }
}
