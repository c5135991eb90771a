/**
 * `/search` over a year's archive: BENCH_ITEMS (default 100,000) items that read like real news,
 * archived as the poller archives them (archive.add, in batches of 500, oldest first), on SQLite
 * (SqliteArchive in the store file openNamespaces opens, FTS5) and on PostgreSQL (a fresh database
 * on the server TEST_POSTGRES_URL, or BENCH_POSTGRES_URL, names, migrated, PostgresArchive,
 * tsvector + GIN), and then ~200 queries, each timed as what the bot computes before it replies:
 * `/search WORDS [#TOPIC]` as searchPage does (parseQuery, queryTerms, archive.search for a page of
 * 5 and one more, the reply's text with listEntry, its buttons), and inline queries (`@bot WORDS`,
 * the last word a prefix, a page of 20, each result rendered with renderItem) as the inline
 * handler does. The baseline, timed the same way and interleaved with the queries (one after
 * each): the `/latest` reply (archive.latest(20), listStories, listEntry, packMessages).
 *
 * The items: titles and summaries of the real feed entries of ../shared/fixtures/feeds (decoded
 * and parsed by decodeText and parseFeed, summaries by the extractive summariser) and of
 * test/fixtures/stories/labelled.json (most of the Russian ones: the shared feeds hold 11 distinct
 * Russian entries); 30 % of items are the article pages of ../shared/fixtures/pages (og:title, the
 * summary of expected.txt, and expected.txt as the article kept for "Read here"); 20 % of the feed
 * items are Russian. About 1,900 distinct texts in all, so each recurs about 50 times (a word's
 * matches are its share of the texts times the items): publication times spread over the past
 * 365 days, topics (1 or 2 of 8, unevenly sized) chosen per text, keys unique. Without the
 * fixture pages and feeds the bench says so and stops.
 *
 * The queries, drawn from that corpus (a fixed seed: the same every run), by class: a common
 * English word (among the 20 most frequent terms), the same with a #topic and on page 4 (offset
 * 15), a rare word, two and three adjacent words of a title (with a #topic, on page 4), Russian
 * words in another inflected form than the texts have (with and without a #topic), and inline
 * prefixes (2–5 letters, alone or after whole words). One untimed pass first (it counts each
 * query's matches, to check both stores find the same), then BENCH_RUNS (default 3) timed runs in
 * a shuffled order; reported per store: p50, p95, p99 and max of every run, and their medians
 * across runs, overall, for the baseline and per class (a class holds 10–30 queries: its p99 is
 * its slowest), the slowest queries with their match counts, and what exceeds 50 ms p99.
 *
 * Size: SQLite's page_count × page_size before and after the load, and the archive's tables and
 * indexes by dbstat where SQLite has it; PostgreSQL's pg_total_relation_size('newswire_archive')
 * (heap, TOAST and indexes) with each index's pg_relation_size, after a VACUUM ANALYZE (what
 * autovacuum does to a table after a bulk insert); both per 100,000 items.
 *
 * Run: TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5440/postgres node --import tsx bench/search.ts
 * BENCH_STORES=sqlite,postgres (the default; postgres is skipped, saying so, without a URL),
 * BENCH_ITEMS=100000, BENCH_RUNS=3. The PostgreSQL database `newswire_bench_search` is created
 * for the run (dropped first if it exists) and dropped at the end; BENCH_KEEP=1 keeps it, and the
 * SQLite file, to look into a query.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import pg from "pg";
import { pino } from "pino";
import { inlineItems, inlineResult, parseQuery, searchPage } from "../src/bot/features/search.js";
import { listEntry, listStories } from "../src/bot/listing.js";
import { packMessages, safeUrl } from "../src/delivery/render.js";
import { decodeText } from "../src/feeds/decode.js";
import { parseFeed } from "../src/feeds/parse.js";
import { messages } from "../src/i18n/i18n.js";
import { ARTICLE_CHARS, DEFAULT_ARCHIVE_DAYS, type Archive, type ArchiveEntry } from "../src/items/archive.js";
import type { Item } from "../src/items/item.js";
import { PostgresArchive } from "../src/items/postgres-archive.js";
import { ftsQuery, queryTerms, searchTerm, searchWords, tsQuery } from "../src/items/search-words.js";
import { SqliteArchive } from "../src/items/sqlite-archive.js";
import { closeNamespaces, openNamespaces, postgresOf, sqliteOf, type Sqlite } from "../src/store/keyv.js";
import { migrate, type Postgres } from "../src/store/postgres.js";
import { htmlToText, parseDocument } from "../src/summaries/html-text.js";
import { summarize } from "../src/summaries/summarize.js";
import { escapeHtml } from "../src/text/html.js";
import { words } from "../src/text/words.js";
import { ALL_TOPIC } from "../src/topics/topics.js";
import { postgresDatabase } from "../test/support/store-servers.js";

const ITEMS = Number(process.env.BENCH_ITEMS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const STORES = (process.env.BENCH_STORES ?? "sqlite,postgres").split(",").map((store) => store.trim()).filter(Boolean);
const POSTGRES_SERVER = process.env.BENCH_POSTGRES_URL || process.env.TEST_POSTGRES_URL;
const POSTGRES_DATABASE = "newswire_bench_search";
const KEEP = process.env.BENCH_KEEP === "1";

const RETENTION_MS = DEFAULT_ARCHIVE_DAYS * 86_400_000;
const YEAR_MS = 365 * 86_400_000;
const BATCH = 500;
const ARTICLE_SHARE = 0.3;
/** Of the items that are not article pages. */
const RUSSIAN_SHARE = 0.2;
/** The reply's target. */
const TARGET_MS = 50;


/** Topics with the share of texts that have each as their first. */
const TOPICS: readonly (readonly [string, number])[] = [
  ["world", 0.34],
  ["politics", 0.22],
  ["business", 0.16],
  ["tech", 0.12],
  ["science", 0.07],
  ["sports", 0.05],
  ["culture", 0.03],
  ["space", 0.01],
];
const TOPIC_IDS = TOPICS.map(([id]) => id);

const FEEDS = new URL("../../shared/fixtures/feeds/", import.meta.url);
const PAGES = new URL("../../shared/fixtures/pages/", import.meta.url);
const LABELLED = new URL("../test/fixtures/stories/labelled.json", import.meta.url);

const t = messages("en");
const CYRILLIC = /\p{Script=Cyrillic}/u;
const LATIN_WORD = /^\p{Script=Latin}+$/u;

/** mulberry32: the same corpus and queries every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rng = random(20_261_116);
const pick = <T>(values: readonly T[], next = rng): T => values[Math.floor(next() * values.length)]!;
function shuffle<T>(values: readonly T[], next: () => number): T[] {
  const copy = [...values];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

// ---- the corpus ----

/** One distinct text: every item made of it says the same. */
interface Source {
  kind: "feed" | "page";
  feedId: string;
  feedTitle: string;
  title: string;
  summary: string;
  link?: string;
  image?: string;
  categories: string[];
  article?: string;
  russian: boolean;
  topics: string[];
  /** Its terms (title and body), for the queries drawn from the corpus. */
  terms: Set<string>;
  /** Items made of it. */
  copies: number;
}

/** A topic by its size. */
function weightedTopic(): string {
  let roll = rng();
  for (const [id, share] of TOPICS) if ((roll -= share) < 0) return id;
  return TOPICS[0]![0];
}

function topicsOf(): string[] {
  const first = weightedTopic();
  const second = rng() < 0.25 ? pick(TOPIC_IDS) : first;
  return [...new Set([ALL_TOPIC, first, second])];
}

function source(fields: Omit<Source, "russian" | "topics" | "terms" | "copies">): Source {
  const body = [fields.feedTitle, fields.summary, fields.article ?? ""].join("\n");
  return {
    ...fields,
    russian: CYRILLIC.test(fields.title),
    topics: topicsOf(),
    terms: new Set([...searchWords(fields.title), ...searchWords(body)]),
    copies: 0,
  };
}

async function feedSources(): Promise<{ sources: Source[]; files: number }> {
  const [header, ...lines] = readFileSync(new URL("MANIFEST.tsv", FEEDS), "utf8").trimEnd().split("\n");
  const fileColumn = header!.split("\t").indexOf("file");
  const seen = new Set<string>();
  const sources: Source[] = [];
  let files = 0;
  for (const line of lines) {
    const file = line.split("\t")[fileColumn]!;
    let bytes: Uint8Array = readFileSync(new URL(file, FEEDS));
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
    let feed;
    try {
      feed = await parseFeed(decodeText(bytes), `https://${file.split("/")[0]}.example/${file}`);
    } catch {
      continue; // the corpus's broken and non-feed documents
    }
    files++;
    for (const entry of feed.entries) {
      const title = entry.title.trim();
      if (title === "") continue;
      const summary = summarize(htmlToText(entry.html ?? ""), { title });
      const identity = `${title}\n${summary}`;
      if (seen.has(identity)) continue;
      seen.add(identity);
      sources.push(source({
        kind: "feed",
        feedId: file,
        feedTitle: feed.title?.trim() || file.split("/").at(-1)!,
        title,
        summary,
        ...(entry.link ? { link: entry.link } : {}),
        ...(entry.image ? { image: entry.image } : {}),
        categories: entry.categories,
      }));
    }
  }
  const labelled = JSON.parse(readFileSync(LABELLED, "utf8")) as { key: string; feedId: string; title: string; summary: string }[];
  for (const story of labelled) {
    sources.push(source({
      kind: "feed",
      feedId: story.feedId,
      feedTitle: story.feedId.toUpperCase(),
      title: story.title,
      summary: story.summary,
      link: `https://${story.feedId}.example/${story.key}`,
      categories: [],
    }));
  }
  return { sources, files };
}

function pageSources(): Source[] {
  const names = readdirSync(PAGES, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(new URL(`${entry.name}/expected.txt`, PAGES)))
    .map((entry) => entry.name)
    .sort();
  return names.map((name) => {
    const text = readFileSync(new URL(`${name}/expected.txt`, PAGES), "utf8").trim();
    const document = parseDocument(readFileSync(new URL(`${name}/source.html`, PAGES), "utf8"));
    const meta = (selector: string) => document.querySelector(selector)?.getAttribute("content")?.trim() || undefined;
    const title = meta('meta[property="og:title"]') ?? document.querySelector("title")?.textContent?.trim() ?? text.split("\n", 1)[0]!.slice(0, 200);
    const image = safeUrl(meta('meta[property="og:image"]'));
    return source({
      kind: "page",
      feedId: `pages/${name}`,
      feedTitle: name,
      title: title.replace(/\s+/gu, " "),
      summary: summarize(text, { title }),
      link: `https://${name}.example/article`,
      ...(image ? { image } : {}),
      categories: [],
      article: text.slice(0, ARTICLE_CHARS),
    });
  });
}

function entryOf(from: Source, index: number, now: number): ArchiveEntry {
  const publishedAt = now - 60_000 - Math.floor(rng() * (YEAR_MS - 120_000));
  from.copies++;
  const item: Item = {
    key: `//${from.feedId}/${index.toString(36)}`,
    feedId: from.feedId,
    source: from.feedTitle,
    title: from.title,
    ...(from.link ? { link: from.link } : {}),
    summary: from.summary,
    topics: from.topics,
    categories: from.categories,
    ...(from.image ? { image: from.image } : {}),
    publishedAt,
    seenAt: publishedAt + 120_000,
    ...(from.article !== undefined ? { readable: true } : {}),
  };
  return from.article === undefined ? { item } : { item, article: { text: from.article, headings: [], ...(from.image ? { image: from.image } : {}) } };
}

// ---- the queries ----

interface Query {
  /** What the user typed: `/search TEXT`, or the inline query. */
  text: string;
  class: string;
  page: number;
  inline: boolean;
}

/** Written in other forms than the texts have (землетрясение → землетрясения, Москве → Москвы). */
const RUSSIAN_QUERIES = [
  "землетрясения", "землетрясением на Камчатке", "Камчатку", "Москвы", "снегопада", "снегопадом в Москве",
  "ключевой ставки", "ставкой", "Казахстаном", "Путину", "Путина и Токаева", "переговорах", "Лаврову", "Турцией",
  "Сирией", "Зениту", "рублем", "доллару", "прибылью Сбербанка", "нефти", "поставками газа", "космонавтов",
  "самолета", "посадки самолета", "судом", "арестом", "пожаром на складе", "инфляцией", "выставки Рембрандта",
  "Оренбурге",
];

function drawQueries(sources: readonly Source[]): Query[] {
  const df = new Map<string, number>();
  /** Each term's written forms, counted: a query is typed as words, not stems. */
  const forms = new Map<string, Map<string, number>>();
  for (const from of sources) {
    for (const term of from.terms) df.set(term, (df.get(term) ?? 0) + from.copies);
    if (from.copies === 0) continue;
    for (const word of words(`${from.title}\n${from.summary}`)) {
      const term = searchTerm(word);
      if (term === undefined) continue;
      const counts = forms.get(term) ?? new Map<string, number>();
      counts.set(word, (counts.get(word) ?? 0) + from.copies);
      forms.set(term, counts);
    }
  }
  const written = (term: string) => [...forms.get(term)!].sort((a, b) => b[1] - a[1])[0]![0];
  const typed = [...forms.keys()].filter((term) => LATIN_WORD.test(written(term)) && !/\d/.test(term));
  const byFrequency = typed.sort((a, b) => df.get(b)! - df.get(a)! || (a < b ? -1 : 1));
  const common = byFrequency.slice(0, 20).map(written);
  const rare = shuffle(byFrequency.filter((term) => term.length >= 5).slice(-300), rng).slice(0, 20).map(written);
  /** The big topics are named more often. */
  const topic = () => ` #${weightedTopic()}`;

  const used = sources.filter((from) => from.copies > 0);
  const english = used.filter((from) => !from.russian && LATIN_WORD.test(words(from.title).join("")));
  /**
   * `count` adjacent words of a title (or summary) that are all search terms; with `topic`, and
   * `#` one of that text's topics most of the time (someone searching a topic expects it there).
   */
  const adjacent = (count: number, pool: readonly Source[], { fromSummary = false, topic = false } = {}): string => {
    for (;;) {
      const from = pick(pool);
      const run = words(fromSummary && rng() < 0.5 ? from.summary : from.title);
      const starts = run.map((_, i) => i).filter((i) => i + count <= run.length && run.slice(i, i + count).every((word) => searchTerm(word) !== undefined));
      if (starts.length === 0) continue;
      const start = pick(starts);
      const text = run.slice(start, start + count).join(" ");
      if (!topic) return text;
      const own = from.topics.filter((id) => id !== ALL_TOPIC);
      return `${text} #${rng() < 0.8 ? pick(own) : pick(TOPIC_IDS)}`;
    }
  };
  /** What an inline query holds as it is typed: whole words, then the start of the next one. */
  const typing = (): string => {
    const length = 2 + Math.floor(rng() * 4);
    for (;;) {
      const from = pick(rng() < 0.75 ? english : used.filter((other) => other.russian));
      const run = words(from.title).filter((word) => searchTerm(word) !== undefined && word.length > length && !/\d/.test(word));
      if (run.length === 0) continue;
      const whole = rng() < 0.5 ? 0 : Math.min(run.length - 1, 1 + Math.floor(rng() * 2));
      return [...run.slice(0, whole), run[whole]!.slice(0, length)].join(" ");
    }
  };

  const queries: Query[] = [];
  const add = (className: string, count: number, text: () => string, page = 0, inline = false) => {
    for (let i = 0; i < count; i++) queries.push({ text: text(), class: className, page, inline });
  };
  let next = 0;
  add("common word", 20, () => common[next++ % common.length]!);
  add("common word #topic", 15, () => pick(common) + topic());
  add("common word, page 4", 15, () => pick(common), 3);
  next = 0;
  add("rare word", 20, () => rare[next++ % rare.length]!);
  add("two words", 25, () => adjacent(2, english));
  add("two words #topic", 15, () => adjacent(2, english, { topic: true }));
  add("three words", 20, () => adjacent(3, english, { fromSummary: true }));
  add("three words, page 4", 10, () => adjacent(3, english, { fromSummary: true }), 3);
  next = 0;
  add("russian forms", 22, () => RUSSIAN_QUERIES[next++ % RUSSIAN_QUERIES.length]!);
  add("russian forms #topic", 8, () => RUSSIAN_QUERIES[next++ % RUSSIAN_QUERIES.length]! + topic());
  add("inline prefix", 30, typing, 0, true);
  return queries;
}

// ---- what a reply computes (as src/bot/features/search.ts and latest.ts) ----

/** The reply search.ts computes: searchPage for `/search`, inlineItems and inlineResult for an inline query; returns the items shown. */
async function searchReply(archive: Archive, query: Query): Promise<number> {
  const parsed = parseQuery(query.text, TOPIC_IDS);
  if ("problem" in parsed) throw new Error(`query "${query.text}": ${JSON.stringify(parsed.problem)}`);
  if (query.inline) return (await inlineItems({ recent: archive, archive }, parsed, 0)).map((item) => inlineResult(item, "en")).length;
  const page = await searchPage(archive, t, parsed.query, query.page);
  return page === undefined ? 0 : page.text.split("\n\n").length - 1;
}

/** The `/latest` reply (5 stories, from the 20 newest items): the baseline. */
async function latestReply(archive: Archive): Promise<number> {
  const stories = listStories(await archive.latest(20)).slice(0, 5);
  return packMessages(escapeHtml(t.latestHeader(stories.length)), stories.map((story, index) => listEntry(story, index + 1))).length;
}

// ---- the stores ----

interface Opened {
  name: string;
  label: string;
  archive: Archive;
  /** Bytes of the store, and what it is made of, for the size lines. */
  size(): Promise<{ total: number; parts: [string, number][]; file?: number }>;
  /** The query's matches, counted by the store itself. */
  matches(query: Query): Promise<number>;
  /** After the load: what the store's own maintenance would do by itself. */
  settle(): Promise<string>;
  close(): Promise<void>;
}

const matchTerms = (query: Query) => {
  const parsed = parseQuery(query.text, TOPIC_IDS);
  if ("problem" in parsed) return undefined;
  return { terms: queryTerms(parsed.query.words, { prefix: query.inline }), topic: parsed.query.topic };
};

async function openSqlite(): Promise<Opened> {
  const dir = mkdtempSync(join(tmpdir(), "newswire-bench-search-"));
  const path = join(dir, "bench.sqlite");
  const store = await openNamespaces(`sqlite://${path}`);
  const file: Sqlite = sqliteOf(store)!;
  const archive = await SqliteArchive.open(file, RETENTION_MS);
  return {
    name: "SQLite",
    label: `SQLite ${path} (temporary)`,
    archive,
    async size() {
      await file.query("PRAGMA wal_checkpoint(TRUNCATE)");
      const [{ page_count: pages }] = (await file.query<{ page_count: number }>("PRAGMA page_count")) as [{ page_count: number }];
      const [{ page_size: pageSize }] = (await file.query<{ page_size: number }>("PRAGMA page_size")) as [{ page_size: number }];
      let parts: [string, number][] = [];
      try {
        const rows = await file.query<{ name: string; bytes: number }>(
          "SELECT name, sum(pgsize) AS bytes FROM dbstat WHERE name LIKE '%newswire_archive%' GROUP BY name ORDER BY bytes DESC",
        );
        parts = rows.map((row) => [row.name, row.bytes]);
      } catch {
        parts = [["(no dbstat in this SQLite)", 0]];
      }
      return { total: pages * pageSize, parts, file: statSync(path).size };
    },
    async matches(query) {
      const asked = matchTerms(query);
      if (!asked || asked.terms.words.length === 0) return 0;
      // As SqliteArchive matches: the words in the title and body, the topic by its token.
      const words = `{title body} : (${ftsQuery(asked.terms)})`;
      const match = asked.topic === ALL_TOPIC ? words : `${words} AND topics : "${asked.topic}"`;
      const rows = await file.query<{ n: number }>("SELECT count(*) AS n FROM newswire_archive_words WHERE newswire_archive_words MATCH ?", [match]);
      return rows[0]?.n ?? 0;
    },
    async settle() {
      return "no maintenance (FTS5's automatic merges only, as in production)";
    },
    async close() {
      await closeNamespaces(store);
      if (KEEP) console.log(`kept: ${path}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgres(server: string): Promise<Opened> {
  const url = await postgresDatabase(server, POSTGRES_DATABASE);
  const store = await openNamespaces(url);
  const database: Postgres = postgresOf(store)!;
  await migrate(database.pool, pino({ level: "silent" }));
  const archive = new PostgresArchive(database, RETENTION_MS);
  return {
    name: "PostgreSQL",
    label: `PostgreSQL ${new URL(url).host}/${POSTGRES_DATABASE} (created for the run)`,
    archive,
    async size() {
      const [total] = await database.query<{ bytes: string; heap: string; toast: string }>(
        `SELECT pg_total_relation_size(c.oid) AS bytes, pg_relation_size(c.oid) AS heap,
                coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast
         FROM pg_class c WHERE c.oid = 'newswire_archive'::regclass`,
      );
      const indexes = await database.query<{ name: string; bytes: string }>(
        `SELECT indexrelid::regclass::text AS name, pg_relation_size(indexrelid) AS bytes FROM pg_index
         WHERE indrelid = 'newswire_archive'::regclass ORDER BY pg_relation_size(indexrelid) DESC`,
      );
      return {
        total: Number(total!.bytes),
        parts: [["heap", Number(total!.heap)], ["toast", Number(total!.toast)], ...indexes.map((index): [string, number] => [index.name, Number(index.bytes)])],
      };
    },
    async matches(query) {
      const asked = matchTerms(query);
      if (!asked || asked.terms.words.length === 0) return 0;
      const [row] = await database.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM newswire_archive WHERE words @@ to_tsquery('simple', $1) AND ($2::text IS NULL OR topics @> ARRAY[$2::text])",
        [tsQuery(asked.terms), asked.topic === ALL_TOPIC ? null : asked.topic],
      );
      return row?.n ?? 0;
    },
    async settle() {
      const started = performance.now();
      await database.pool.query("VACUUM (ANALYZE) newswire_archive");
      return `VACUUM (ANALYZE) newswire_archive in ${((performance.now() - started) / 1000).toFixed(1)} s (what autovacuum does after a bulk insert; it also empties the GIN pending list)`;
    },
    async close() {
      await closeNamespaces(store);
      if (KEEP) return;
      const admin = new pg.Client({ connectionString: server });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${POSTGRES_DATABASE} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

// ---- statistics ----

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
/** Nearest rank. */
const percentile = (sorted: readonly number[], p: number): number => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;

interface Stats {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}
function stats(values: readonly number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), p99: percentile(sorted, 0.99), max: sorted.at(-1)! };
}
const medianStats = (runs: readonly Stats[]): Stats => ({
  p50: median(runs.map((run) => run.p50)),
  p95: median(runs.map((run) => run.p95)),
  p99: median(runs.map((run) => run.p99)),
  max: median(runs.map((run) => run.max)),
});
const ms = (value: number) => (value >= 10 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toFixed(2));
const line = ({ p50, p95, p99, max }: Stats) => `p50 ${ms(p50)}, p95 ${ms(p95)}, p99 ${ms(p99)}, max ${ms(max)} ms`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const per100k = (bytes: number) => mb((bytes * 100_000) / ITEMS);

// ---- the bench ----

async function benchStore(opened: Opened, entries: readonly ArchiveEntry[], queries: readonly Query[]): Promise<Map<Query, number>> {
  const { archive } = opened;
  console.log(`\n== ${opened.label}`);
  const before = await opened.size();
  const started = performance.now();
  for (let from = 0; from < entries.length; from += BATCH) await archive.add(entries.slice(from, from + BATCH));
  const loadS = (performance.now() - started) / 1000;
  console.log(`load: ${entries.length} items in ${loadS.toFixed(1)} s (${Math.round(entries.length / loadS)} items/s, archive.add of ${BATCH})`);
  console.log(`after the load: ${await opened.settle()}`);
  const after = await opened.size();
  const { file } = after;
  console.log(
    `size: ${mb(before.total)} before, ${mb(after.total)} after: ${per100k(after.total - before.total)} per 100,000 items` +
      (file !== undefined ? ` (file ${mb(file)})` : ""),
  );
  console.log(`  ${after.parts.map(([name, bytes]) => `${name} ${per100k(bytes)}`).join(", ")} (per 100,000 items)`);

  // The untimed pass: every query once (the caches warmed as a running bot's are), its matches counted.
  const matches = new Map<Query, number>();
  for (const query of queries) {
    await searchReply(archive, query);
    matches.set(query, await opened.matches(query));
  }
  await latestReply(archive);
  const none = queries.filter((query) => matches.get(query) === 0);
  if (none.length > 0) console.log(`queries with no match: ${none.map((query) => `"${query.text}"`).join(", ")}`);

  const classes = [...new Set(queries.map((query) => query.class))];
  const perRun: { all: Stats; latest: Stats; byClass: Map<string, Stats>; byQuery: Map<Query, number> }[] = [];
  for (let run = 0; run < RUNS; run++) {
    const order = shuffle(queries, random(run + 1));
    const times = new Map<Query, number>();
    const latest: number[] = [];
    for (const query of order) {
      let begun = performance.now();
      await searchReply(archive, query);
      times.set(query, performance.now() - begun);
      begun = performance.now();
      await latestReply(archive);
      latest.push(performance.now() - begun);
    }
    const byClass = new Map(classes.map((name) => [name, stats(queries.filter((query) => query.class === name).map((query) => times.get(query)!))]));
    const result = { all: stats([...times.values()]), latest: stats(latest), byClass, byQuery: times };
    perRun.push(result);
    console.log(`run ${run + 1}: /search ${line(result.all)}; /latest ${line(result.latest)}`);
  }
  const all = medianStats(perRun.map((run) => run.all));
  const latest = medianStats(perRun.map((run) => run.latest));
  console.log(`medians of ${RUNS} runs: /search ${line(all)}; baseline /latest ${line(latest)}`);
  console.log(`  /search ÷ /latest: p50 ×${(all.p50 / latest.p50).toFixed(1)}, p99 ×${(all.p99 / latest.p99).toFixed(1)}`);
  console.log(`per class (medians of runs; matches: median, max):`);
  const over: string[] = [];
  for (const name of classes) {
    const of = queries.filter((query) => query.class === name);
    const s = medianStats(perRun.map((run) => run.byClass.get(name)!));
    const counts = of.map((query) => matches.get(query)!);
    console.log(`  ${name.padEnd(22)} ${String(of.length).padStart(3)} queries  ${line(s).padEnd(40)} matches ${median(counts)}, ${Math.max(...counts)}`);
    if (s.p99 > TARGET_MS) over.push(name);
  }
  const slowest = queries
    .map((query) => ({ query, ms: median(perRun.map((run) => run.byQuery.get(query)!)) }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 8);
  console.log(`slowest queries (median of runs):`);
  for (const { query, ms: took } of slowest) {
    console.log(`  ${ms(took).padStart(5)} ms  ${query.inline ? "inline" : "/search"} "${query.text}"${query.page ? ` page ${query.page + 1}` : ""} (${query.class}; ${matches.get(query)} matches)`);
  }
  console.log(
    all.p99 <= TARGET_MS && over.length === 0
      ? `${opened.name}: p99 ${ms(all.p99)} ms ≤ ${TARGET_MS} ms, every class within it`
      : `${opened.name}: OVER ${TARGET_MS} ms p99: ${all.p99 > TARGET_MS ? `overall ${ms(all.p99)} ms; ` : ""}classes ${over.join(", ") || "none"}`,
  );
  return matches;
}

async function main(): Promise<void> {
  if (!existsSync(new URL("MANIFEST.tsv", FEEDS)) || !existsSync(PAGES)) {
    console.log(`bench/search: the fixture feeds and pages (${FEEDS.pathname}, ${PAGES.pathname}) are absent; nothing measured`);
    return;
  }
  const unknown = STORES.filter((store) => store !== "sqlite" && store !== "postgres");
  if (unknown.length > 0) throw new Error(`BENCH_STORES: sqlite and/or postgres, not ${unknown.join(", ")}`);

  const built = performance.now();
  const { sources: feeds, files } = await feedSources();
  const pages = pageSources();
  const russian = feeds.filter((from) => from.russian);
  const other = feeds.filter((from) => !from.russian);
  const now = Date.now();
  const entries: ArchiveEntry[] = [];
  for (let i = 0; i < ITEMS; i++) {
    const from = rng() < ARTICLE_SHARE ? pick(pages) : rng() < RUSSIAN_SHARE ? pick(russian) : pick(other);
    entries.push(entryOf(from, i, now));
  }
  entries.sort((a, b) => a.item.publishedAt - b.item.publishedAt);
  const queries = drawQueries([...feeds, ...pages]);
  const articles = entries.filter((entry) => entry.article).length;
  const ruItems = entries.filter((entry) => CYRILLIC.test(entry.item.title)).length;
  console.log(`load average at start: ${loadavg().map((load) => load.toFixed(2)).join(", ")} (${availableParallelism()} cores)`);
  console.log(
    `corpus: ${ITEMS} items over the past 365 days from ${feeds.length} feed texts (${files} feed files of the corpus + labelled.json; ${russian.length} Russian) and ${pages.length} article pages: ` +
      `${((100 * articles) / ITEMS).toFixed(1)} % with article text, ${((100 * ruItems) / ITEMS).toFixed(1)} % Russian; built in ${((performance.now() - built) / 1000).toFixed(1)} s`,
  );
  console.log(`queries: ${queries.length}, e.g. ${[0, 20, 50, 70, 95, 140, 170, 190].map((i) => queries[i]).filter(Boolean).map((query) => `"${query!.text}"`).join(", ")}`);

  const counted: Map<Query, number>[] = [];
  for (const name of STORES) {
    if (name === "postgres" && !POSTGRES_SERVER) {
      console.log("\n== PostgreSQL skipped: set TEST_POSTGRES_URL (or BENCH_POSTGRES_URL) to a server, e.g. postgres://postgres@127.0.0.1:5440/postgres");
      continue;
    }
    const opened = name === "sqlite" ? await openSqlite() : await openPostgres(POSTGRES_SERVER!);
    try {
      counted.push(await benchStore(opened, entries, queries));
    } finally {
      await opened.close();
    }
  }
  if (counted.length === 2) {
    const differ = queries.filter((query) => counted[0]!.get(query) !== counted[1]!.get(query));
    console.log(
      differ.length === 0
        ? "\nboth stores found the same number of matches for every query"
        : `\nmatch counts differ between the stores for ${differ.length} queries: ${differ.slice(0, 5).map((query) => `"${query.text}" ${counted[0]!.get(query)}/${counted[1]!.get(query)}`).join(", ")}`,
    );
  }
}

await main();
