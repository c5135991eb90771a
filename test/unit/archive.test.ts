/**
 * The archive and the recent-items port. The RecentStore contract on three sides: RecentItems
 * over Keyv (a SQLite file, as it is used on Redis), SqliteArchive and PostgresArchive (where
 * TEST_POSTGRES_URL is set). Then what only the archives do: keep every item for their retention,
 * search it in any word form, ranked by relevance and age, hand out an item's article by its ref.
 * Then what only one side does: PostgreSQL's instances sharing one table and taking over the old
 * newswire_recent_items; SQLite's side tables after a sweep and a reopened file. Time is
 * node:test's fake Date, which every side reads (the archives through their `now`).
 */
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, mock, test } from "node:test";
import pg from "pg";
import { createBot } from "../../src/bot/create-bot.js";
import { CANDIDATES, DEFAULT_ARCHIVE_DAYS, itemRef, RECENCY_HALF_MS, SWEEP_EVERY_MS, type Archive, type ArchiveEntry, type ArticleText } from "../../src/items/archive.js";
import type { Item } from "../../src/items/item.js";
import { PostgresArchive } from "../../src/items/postgres-archive.js";
import { RecentItems } from "../../src/items/recent.js";
import { RECENT_LIMIT, RECENT_TTL_MS, type RecentStore } from "../../src/items/recent-store.js";
import { queryTerms } from "../../src/items/search-words.js";
import { SqliteArchive } from "../../src/items/sqlite-archive.js";
import { sqliteOf, type Sqlite } from "../../src/store/keyv.js";
import { migrate, postgres } from "../../src/store/postgres.js";
import { API_ROOT, BOT_INFO, buildDeps, makeItem, messageUpdate, silentLogger, tempStore, TOKEN, type TempStore } from "../support/builders.js";
import { postgresDatabase, skipWithout, storeServers } from "../support/store-servers.js";

const START = Date.UTC(2026, 0, 1);
const DAY_MS = 24 * 60 * 60_000;
const RETENTION_MS = DEFAULT_ARCHIVE_DAYS * DAY_MS;
const now = () => Date.now();

const entries = (...items: Item[]): ArchiveEntry[] => items.map((item) => ({ item }));
const titles = async (recent: RecentStore, count: number, topic?: string) => (await recent.latest(count, topic)).map((item) => item.title);

/** One side of the port: a fresh, empty store per `open`, all closed by `close`. */
interface Side<Store extends RecentStore = RecentStore> {
  name: string;
  skip: string | false;
  open(retentionMs?: number): Promise<Store>;
  close(): Promise<void>;
}

/** An archive's side, with a count of its rows as stored (expired ones too, until a sweep). */
interface ArchiveSide extends Side<Archive> {
  rows(): Promise<number>;
}

function keyvSide(): Side {
  const store = tempStore();
  return {
    name: "RecentItems (Keyv on SQLite)",
    skip: false,
    async open() {
      const namespaces = await store.open();
      await Promise.all([namespaces.items.clear(), namespaces.recent.clear()]);
      return RecentItems.open(namespaces.items, namespaces.recent);
    },
    close: () => store.dispose(),
  };
}

/** A SQLite file of its own per `open`. */
function sqliteSide(): ArchiveSide & { file(): Sqlite; store(): TempStore } {
  const stores: TempStore[] = [];
  let file: Sqlite | undefined;
  return {
    name: "SqliteArchive",
    skip: false,
    async open(retentionMs = RETENTION_MS) {
      const store = tempStore();
      stores.push(store);
      file = sqliteOf(await store.open())!;
      return SqliteArchive.open(file, retentionMs, now);
    },
    async rows() {
      const [row] = await file!.query<{ count: number }>("SELECT count(*) AS count FROM newswire_archive");
      return row!.count;
    },
    file: () => file!,
    store: () => stores.at(-1)!,
    close: () => Promise.all(stores.splice(0).map((store) => store.dispose())).then(() => undefined),
  };
}

/** The archive's table on a database of its own, reached by as many pools (instances) as asked for. */
const pools: pg.Pool[] = [];
let databaseUrl: string | undefined;

async function postgresInstance(retentionMs = RETENTION_MS): Promise<PostgresArchive> {
  const pool = new pg.Pool({ connectionString: databaseUrl });
  pools.push(pool);
  return new PostgresArchive(postgres(pool, {}), retentionMs, now);
}

function postgresSide(): ArchiveSide {
  return {
    name: "PostgresArchive",
    skip: skipWithout("postgres"),
    async open(retentionMs = RETENTION_MS) {
      if (!databaseUrl) {
        databaseUrl = await postgresDatabase(storeServers.postgres!, "archive_test");
        const pool = new pg.Pool({ connectionString: databaseUrl });
        await migrate(pool, silentLogger).finally(() => pool.end());
      }
      const instance = await postgresInstance(retentionMs);
      await pools.at(-1)!.query("TRUNCATE newswire_archive, newswire_recent_items");
      return instance;
    },
    async rows() {
      return (await pools[0]!.query<{ count: number }>("SELECT count(*)::int AS count FROM newswire_archive")).rows[0]!.count;
    },
    close: () => Promise.all(pools.splice(0).map((pool) => pool.end())).then(() => undefined),
  };
}

for (const side of [keyvSide(), sqliteSide(), postgresSide()] as Side[]) {
  describe(`RecentStore on ${side.name}`, () => {
    let recent: RecentStore;
    beforeEach(async () => {
      if (side.skip) return;
      mock.timers.enable({ apis: ["Date"], now: START });
      recent = await side.open();
    });
    // A pending index write must not outlive the store it goes to.
    afterEach(async () => {
      mock.timers.reset();
      if (!side.skip) await recent.flush();
    });
    after(() => side.close());

    test("newest first by publication time, at most `count`, of one topic when asked", { skip: side.skip }, async () => {
      assert.deepEqual(await recent.latest(5), []);
      assert.equal(await recent.isEmpty(), true);
      await recent.add(entries(makeItem({ title: "middle", topics: ["all", "science"], publishedAt: 2_000 })));
      await recent.add(entries(makeItem({ title: "newest", topics: ["all", "china"], publishedAt: 3_000 }), makeItem({ title: "old", topics: ["all", "china"], publishedAt: 1_000 })));
      await recent.add([]);
      assert.equal(await recent.isEmpty(), false);
      assert.deepEqual(await titles(recent, 5), ["newest", "middle", "old"]);
      assert.deepEqual(await titles(recent, 5, "all"), ["newest", "middle", "old"]);
      assert.deepEqual(await titles(recent, 2), ["newest", "middle"]);
      assert.deepEqual(await titles(recent, 5, "china"), ["newest", "old"]);
      assert.deepEqual(await titles(recent, 1, "china"), ["newest"]);
      assert.deepEqual(await titles(recent, 5, "science"), ["middle"]);
      assert.deepEqual(await titles(recent, 5, "sport"), []);
      await recent.flush();
    });

    test("items come back whole", { skip: side.skip }, async () => {
      const item = makeItem({
        title: "A \"quoted\" title — ёлка, 'apostrophes' \\ and\nlines 🇷🇺",
        image: "https://example.org/a.png",
        categories: [":World", "Asia"],
        topics: ["all", "china"],
        storyId: "l:first",
        readable: true,
      });
      const bare = makeItem({ summary: "" });
      await recent.add(entries(item, bare));
      assert.deepEqual(await recent.latest(5), [bare, item]);
      assert.deepEqual(await recent.latest(1, "china"), [item]);
    });

    // The archives keep the item as first taken in; the list on Redis keeps the last (a re-dated item moves).
    test("a key added twice is held once", { skip: side.skip }, async () => {
      const item = makeItem({ title: "first", publishedAt: START - 1_000 });
      await recent.add(entries(item));
      await recent.add(entries({ ...item, title: "second" }));
      await recent.add(entries({ ...item, title: "third" }, makeItem({ title: "other", publishedAt: START - 5_000 })));
      assert.deepEqual(await titles(recent, 10), [side.name.startsWith("RecentItems") ? "third" : "first", "other"]);
    });

    test("a key twice in one batch is held once", { skip: side.skip }, async () => {
      const item = makeItem({ title: "once", publishedAt: START - 1_000 });
      await recent.add(entries(item, { ...item, title: "again" }, makeItem({ title: "other", publishedAt: START - 5_000 })));
      const listed = await titles(recent, 10);
      assert.equal(listed.length, 2, listed.join(", "));
      assert.equal(listed[1], "other");
    });
  });
}

describe("RecentItems keeps the newest RECENT_LIMIT for RECENT_TTL_MS", () => {
  const side = keyvSide();
  let recent: RecentStore;
  beforeEach(async () => {
    mock.timers.enable({ apis: ["Date"], now: START });
    recent = await side.open();
  });
  afterEach(async () => {
    mock.timers.reset();
    await recent.flush();
  });
  after(() => side.close());

  test(`keeps the newest ${RECENT_LIMIT}, and a quiet topic's item among them`, async () => {
    const items = Array.from({ length: RECENT_LIMIT + 1 }, (_, index) => makeItem({ title: `#${index}`, publishedAt: START + index * 1_000 }));
    items[1] = { ...items[1]!, topics: ["all", "science"] };
    await recent.add(entries(...items.slice(0, 1_000)));
    await recent.add(entries(...items.slice(1_000)));
    const kept = await titles(recent, RECENT_LIMIT + 1);
    assert.equal(kept.length, RECENT_LIMIT);
    assert.equal(kept[0], `#${RECENT_LIMIT}`);
    assert.equal(kept.at(-1), "#1", "the oldest is the one gone");
    assert.deepEqual(await titles(recent, 20, "science"), ["#1"]);
  });

  test("an item is kept for RECENT_TTL_MS after it is stored, whatever its publication time", async () => {
    await recent.add(entries(makeItem({ title: "first", publishedAt: START - 365 * DAY_MS })));
    mock.timers.setTime(START + RECENT_TTL_MS / 2);
    await recent.add(entries(makeItem({ title: "second", publishedAt: START - 400 * DAY_MS })));
    assert.deepEqual(await titles(recent, 5), ["first", "second"]);
    mock.timers.setTime(START + RECENT_TTL_MS + 1);
    assert.deepEqual(await titles(recent, 5), ["second"]);
    mock.timers.setTime(START + RECENT_TTL_MS / 2 + RECENT_TTL_MS + 1);
    assert.deepEqual(await titles(recent, 5), []);
  });
});

const article = (text: string, image?: string): ArticleText => ({
  text,
  headings: [{ text: "A heading", before: text.slice(0, 20) }],
  ...(image ? { image } : {}),
});

/** A search of `query` (its terms as newswire makes them), by title. */
async function find(archive: Archive, query: string, options: { topic?: string; offset?: number; limit?: number; prefix?: boolean } = {}): Promise<string[]> {
  const results = await archive.search({ terms: queryTerms(query, { prefix: options.prefix ?? false }), topic: options.topic, offset: options.offset ?? 0, limit: options.limit ?? 50 });
  return results.map((item) => item.title);
}

/** Items of other news, so that no term is in most of the archive (bm25 weighs such terms next to nothing). */
const filler = (count: number) =>
  entries(...Array.from({ length: count }, (_, index) => makeItem({ title: `Weather report ${index}`, summary: "Rain, then sun; mild winds.", publishedAt: START - (index + 1) * DAY_MS })));

const archiveSides: ArchiveSide[] = [sqliteSide(), postgresSide()];

for (const side of archiveSides) {
  describe(`the archive on ${side.name}`, () => {
    let archive: Archive;
    beforeEach(async () => {
      if (side.skip) return;
      mock.timers.enable({ apis: ["Date"], now: START });
      archive = await side.open();
    });
    afterEach(() => mock.timers.reset());
    after(() => side.close());
    const skip = side.skip;

    test("keeps every item for its retention: 2,500 here, and a quiet topic's oldest among them", { skip }, async () => {
      const items = Array.from({ length: 2_500 }, (_, index) => makeItem({ title: `#${index}`, publishedAt: START - (2_500 - index) * 60_000 }));
      items[0] = { ...items[0]!, topics: ["all", "science"] };
      await archive.add(entries(...items.slice(0, 1_200)));
      await archive.add(entries(...items.slice(1_200)));
      const kept = await titles(archive, 3_000);
      assert.equal(kept.length, 2_500);
      assert.equal(kept[0], "#2499");
      assert.equal(kept.at(-1), "#0");
      assert.deepEqual(await titles(archive, 20, "science"), ["#0"]);
      mock.timers.setTime(START + RETENTION_MS - 1);
      assert.equal((await archive.latest(3_000)).length, 2_500, "still kept the moment before its time");
    });

    test("an item goes retentionMs after it is stored: reads skip it at once, sweep() deletes it", { skip }, async () => {
      const retention = 10 * 60_000;
      archive = await side.open(retention);
      const early = makeItem({ title: "early", topics: ["all", "china"], summary: "Китай ввёл пошлины.", publishedAt: START + 5 * DAY_MS });
      await archive.add([{ item: early, article: article("Сталь.") }]);
      mock.timers.setTime(START + retention / 2);
      const later = makeItem({ title: "later", topics: ["all", "china"], summary: "Китай ввёл пошлины." });
      await archive.add(entries(later));
      assert.deepEqual(await titles(archive, 5), ["early", "later"]);
      mock.timers.setTime(START + retention);
      assert.deepEqual(await titles(archive, 5), ["later"], "gone at its time, whatever its publication time");
      assert.deepEqual(await titles(archive, 5, "china"), ["later"]);
      assert.deepEqual(await find(archive, "Китай"), ["later"]);
      assert.deepEqual(await find(archive, "сталь"), []);
      assert.equal(await archive.article(itemRef(early.key)), undefined);
      assert.deepEqual(await archive.article(itemRef(later.key)), { item: later });
      assert.equal(await side.rows(), 2, "kept as a row until a sweep");
      assert.equal(await archive.sweep(), 1);
      assert.equal(await side.rows(), 1);
      assert.equal(await archive.sweep(), 0);
      mock.timers.setTime(START + retention * 2);
      assert.deepEqual(await titles(archive, 5), []);
      assert.deepEqual(await find(archive, "Китай"), []);
      assert.equal(await archive.isEmpty(), false, "an expired row not yet swept still counts");
      assert.equal(await archive.sweep(), 1);
      assert.equal(await archive.isEmpty(), true);
    });

    test("add() sweeps at its first call, then at most once every SWEEP_EVERY_MS, behind the add (flush waits for it)", { skip }, async () => {
      const retention = 10 * 60_000;
      archive = await side.open(retention);
      const addAndSettle = async (into: Archive, added: ArchiveEntry[]) => {
        await into.add(added);
        await into.flush();
      };
      await addAndSettle(archive, entries(makeItem(), makeItem()));
      mock.timers.setTime(START + retention);
      await addAndSettle(archive, entries(makeItem()));
      assert.equal(await side.rows(), 3, "the first add swept, at START; this one does not");
      mock.timers.setTime(START + SWEEP_EVERY_MS / 2);
      await addAndSettle(archive, entries(makeItem()));
      assert.equal(await side.rows(), 4, "within SWEEP_EVERY_MS an add deletes nothing");
      mock.timers.setTime(START + SWEEP_EVERY_MS);
      await addAndSettle(archive, entries(makeItem()));
      assert.equal(await side.rows(), 1, "SWEEP_EVERY_MS after the last sweep, an add sweeps (and keeps its own items)");
      mock.timers.setTime(START + SWEEP_EVERY_MS + retention + 1);
      await addAndSettle(archive, entries(makeItem()));
      assert.equal(await side.rows(), 2);
      assert.equal(await archive.sweep(), 1, "sweep() at any time, and counts what went");
      assert.equal(await side.rows(), 1);
    });

    test("article(ref): the item with its article when added with one, the item alone without; undefined unknown or expired", { skip }, async () => {
      const retention = 10 * 60_000;
      archive = await side.open(retention);
      const read = makeItem({ title: "Read", readable: true, image: "https://example.org/i.jpg" });
      const unread = makeItem({ title: "Unread" });
      const text = "The first paragraph, \"quoted\".\n\nСанкции и пошлины: второй абзац.";
      const page: ArticleText = { text, headings: [{ text: "Heading of the page", before: "Санкции и пошлины" }], image: "https://example.org/lead.jpg" };
      const noImage: ArticleText = { text: "Just one paragraph.", headings: [] };
      const plain = makeItem({ title: "Plain article" });
      await archive.add([{ item: read, article: page }, { item: unread }, { item: plain, article: noImage }]);
      assert.deepEqual(await archive.article(itemRef(read.key)), { item: read, article: page });
      assert.deepEqual(await archive.article(itemRef(unread.key)), { item: unread });
      assert.deepEqual(await archive.article(itemRef(plain.key)), { item: plain, article: noImage });
      assert.equal(await archive.article(itemRef("l:never-added")), undefined);
      assert.equal(await archive.article(""), undefined);
      assert.equal(await archive.article("' OR 1=1 --"), undefined);
      assert.ok(archive.keepsArticles);
      // The article is not in the item as `latest` gives it.
      assert.deepEqual((await archive.latest(5)).find((item) => item.key === read.key), read);
      mock.timers.setTime(START + retention);
      assert.equal(await archive.article(itemRef(read.key)), undefined);
      assert.equal(await archive.article(itemRef(unread.key)), undefined);
    });
  });

  describe(`search on ${side.name}`, () => {
    let archive: Archive;
    beforeEach(async () => {
      if (side.skip) return;
      mock.timers.enable({ apis: ["Date"], now: START });
      archive = await side.open();
      await archive.add(filler(6));
    });
    afterEach(() => mock.timers.reset());
    after(() => side.close());
    const skip = side.skip;

    test("finds Russian words in other forms, English ones, ё as е, in any case", { skip }, async () => {
      await archive.add(entries(
        makeItem({ title: "Китай ввёл пошлины", summary: "Пекин ответил на решение Вашингтона." }),
        makeItem({ title: "Новые санкции против банков", summary: "ЕС расширил список." }),
        makeItem({ title: "US sanctions on steel", summary: "Tariffs follow." }),
        makeItem({ title: "Ёлки подорожали", summary: "Ёлочный базар открыт." }),
      ));
      for (const query of ["Китай", "Китая", "Китаю", "Китаем", "Китае", "китай", "КИТАЯ", "ввёл", "ввел", "ВВЁЛ", "пошлина", "пошлинами"]) {
        assert.deepEqual(await find(archive, query), ["Китай ввёл пошлины"], query);
      }
      for (const query of ["санкциями", "санкция", "Санкций", "санкции"]) assert.deepEqual(await find(archive, query), ["Новые санкции против банков"], query);
      for (const query of ["sanctioned", "Sanctions", "SANCTION", "sanctioning"]) assert.deepEqual(await find(archive, query), ["US sanctions on steel"], query);
      for (const query of ["елки", "ёлки", "ЕЛКИ", "ёлка", "ёлочный"]) assert.deepEqual(await find(archive, query), ["Ёлки подорожали"], query);
      assert.deepEqual(await find(archive, "Вашингтон"), ["Китай ввёл пошлины"], "the summary is searched");
    });

    test("every term must match; a query of stop words finds nothing", { skip }, async () => {
      await archive.add(entries(
        makeItem({ title: "Китай ввёл пошлины на сталь" }),
        makeItem({ title: "Китай и США договорились" }),
        makeItem({ title: "Пошлины на сталь в ЕС" }),
      ));
      assert.deepEqual(new Set(await find(archive, "Китай")), new Set(["Китай ввёл пошлины на сталь", "Китай и США договорились"]));
      assert.deepEqual(await find(archive, "Китай пошлины"), ["Китай ввёл пошлины на сталь"]);
      assert.deepEqual(await find(archive, "пошлины Китая сталь"), ["Китай ввёл пошлины на сталь"]);
      assert.deepEqual(await find(archive, "США"), ["Китай и США договорились"]);
      assert.deepEqual(await find(archive, "Китай пошлины Япония"), []);
      for (const query of ["", "   ", "и на в", "the of and", "это что", "а", "I"]) assert.deepEqual(await find(archive, query), [], JSON.stringify(query));
    });

    test("ranking: the newer of two equal matches first; a title match above a body-only one of its age", { skip }, async () => {
      await archive.add(entries(
        makeItem({ title: "Tariffs on steel rise", summary: "Markets react calmly.", publishedAt: START - 2 * DAY_MS }),
        makeItem({ title: "Tariffs on steel rise again", summary: "Markets react calmly.", publishedAt: START - 5 * DAY_MS }),
        makeItem({ title: "Markets react calmly", summary: "Tariffs on steel rise.", publishedAt: START - 2 * DAY_MS }),
      ));
      await archive.add(entries(makeItem({ title: "Tariffs on steel rise", summary: "Markets react calmly.", publishedAt: START - DAY_MS })));
      const found = await find(archive, "tariffs");
      assert.equal(found.length, 4);
      assert.deepEqual(found.slice(0, 2), ["Tariffs on steel rise", "Tariffs on steel rise"]);
      const items = await archive.search({ terms: queryTerms("tariffs"), offset: 0, limit: 2 });
      assert.deepEqual(items.map((item) => item.publishedAt), [START - DAY_MS, START - 2 * DAY_MS], "equally relevant: the newer first");
      assert.ok(found.indexOf("Markets react calmly") > 1, "of the same age (two days), the title match first");
      assert.deepEqual(found, await find(archive, "tariffs"), "the same order every time");
    });

    test("ranking by relevance weighed down by age: a day-old title match above today's body match, a five-year-old one below", { skip }, async () => {
      const mention = makeItem({ title: "Markets today", summary: "Some mention tariffs in passing among much else.", publishedAt: START });
      const dayOld = makeItem({ title: "Tariffs: the tariffs explained", summary: "Tariffs, tariffs.", publishedAt: START - DAY_MS });
      const ancient = makeItem({ title: "Tariffs: the tariffs explained", summary: "Tariffs, tariffs.", publishedAt: START - 5 * 365 * DAY_MS });
      await archive.add(entries(mention, dayOld, ancient));
      assert.ok(5 * 365 * DAY_MS > 50 * RECENCY_HALF_MS, "five years weigh a match down fiftyfold and more");
      const found = await archive.search({ terms: queryTerms("tariffs"), offset: 0, limit: 10 });
      assert.deepEqual(found.map((item) => item.key), [dayOld.key, mention.key, ancient.key]);
    });

    test("the topic filter, and `all` for every item", { skip }, async () => {
      await archive.add(entries(
        makeItem({ title: "Китай: пошлины", topics: ["all", "china"], publishedAt: START - 1_000 }),
        makeItem({ title: "Пошлины в науке", topics: ["all", "science"], publishedAt: START - 2_000 }),
        makeItem({ title: "Китай и наука: пошлины", topics: ["all", "china", "science"], publishedAt: START - 3_000 }),
      ));
      assert.deepEqual(await find(archive, "пошлины", { topic: "china" }), ["Китай: пошлины", "Китай и наука: пошлины"]);
      assert.deepEqual(await find(archive, "пошлины", { topic: "science" }), ["Пошлины в науке", "Китай и наука: пошлины"]);
      assert.equal((await find(archive, "пошлины", { topic: "all" })).length, 3);
      assert.equal((await find(archive, "пошлины")).length, 3);
      assert.deepEqual(await find(archive, "пошлины", { topic: "sport" }), []);
      assert.deepEqual(await find(archive, "пошлины", { topic: "' OR 1=1 --" }), []);
    });

    test("pages: offset and limit, no overlap, in a stable order (ties of relevance and time too)", { skip }, async () => {
      const distinct = Array.from({ length: 10 }, (_, index) => makeItem({ title: `Санкции, выпуск ${index}`, summary: "Одно и то же.", publishedAt: START - (index + 1) * 60_000 }));
      const tied = Array.from({ length: 40 }, (_, index) => makeItem({ title: "Пошлины снова", summary: "Одно и то же.", link: `https://example.org/tied/${index}`, publishedAt: START - 60_000 }));
      await archive.add(entries(...distinct, ...tied));
      for (const [query, total] of [["санкции", 10], ["пошлины", 40]] as const) {
        const whole = (await archive.search({ terms: queryTerms(query), offset: 0, limit: 50 })).map((item) => item.key);
        assert.equal(whole.length, total);
        for (const limit of [1, 2, 3, 7, 20]) {
          const paged: string[] = [];
          for (let offset = 0; offset < total + limit; offset += limit) {
            paged.push(...(await archive.search({ terms: queryTerms(query), offset, limit })).map((item) => item.key));
          }
          assert.deepEqual(paged, whole, `${query}, pages of ${limit}`);
        }
      }
      assert.deepEqual(await find(archive, "санкции", { limit: 3 }), ["Санкции, выпуск 0", "Санкции, выпуск 1", "Санкции, выпуск 2"]);
      assert.deepEqual(await find(archive, "санкции", { offset: 8, limit: 5 }), ["Санкции, выпуск 8", "Санкции, выпуск 9"]);
      assert.deepEqual(await find(archive, "санкции", { offset: 10, limit: 5 }), []);
    });

    test("a prefix: the last term as the start of a longer word, when asked", { skip }, async () => {
      await archive.add(entries(
        makeItem({ title: "Новые санкции против банков", publishedAt: START - 1_000 }),
        makeItem({ title: "Sanctions on steel", publishedAt: START - 2_000 }),
        makeItem({ title: "Санкт-Петербург встречает весну", publishedAt: START - 3_000 }),
      ));
      assert.deepEqual(await find(archive, "санкц", { prefix: true }), ["Новые санкции против банков"]);
      assert.deepEqual(await find(archive, "санк", { prefix: true }), ["Новые санкции против банков", "Санкт-Петербург встречает весну"]);
      assert.deepEqual(await find(archive, "санк"), [], "no prefix unless asked");
      assert.deepEqual(await find(archive, "sanct", { prefix: true }), ["Sanctions on steel"]);
      assert.deepEqual(await find(archive, "sanct"), []);
      assert.deepEqual(await find(archive, "банков санкц", { prefix: true }), ["Новые санкции против банков"], "the last term only");
      assert.deepEqual(await find(archive, "санкц банк", { prefix: true }), ["Новые санкции против банков"]);
      for (const typed of ["Нов", "Новы", "Новые санк", "против банко", "ПРОТИВ", "Sanc", "steel sanctio", "Петербу"]) {
        assert.equal((await find(archive, typed, { prefix: true })).length, 1, typed);
      }
    });

    test("the article's text is searched too", { skip }, async () => {
      const item = makeItem({ title: "Решение принято", summary: "Подробности в статье." });
      await archive.add([
        { item, article: article("Заголовок\n\nПравительство обсуждало квоты на экспорт зерна.\n\nAlso wheat exports.") },
        { item: makeItem({ title: "Другое" }) },
      ]);
      assert.deepEqual(await find(archive, "квотами"), ["Решение принято"]);
      assert.deepEqual(await find(archive, "экспорта зерна"), ["Решение принято"]);
      assert.deepEqual(await find(archive, "wheat"), ["Решение принято"]);
      assert.deepEqual(await find(archive, "заголовок"), ["Решение принято"]);
    });

    test("hostile queries never throw and never match everything; the store works after", { skip }, async () => {
      await archive.add([
        { item: makeItem({ title: "Китай ввёл пошлины", summary: "Or and not near." }), article: article("NEAR OR AND NOT * \" ' : title body") },
        { item: makeItem({ title: "Sanctions on steel" }) },
      ]);
      const total = (await archive.latest(100)).length;
      const hostile = [
        "\"", "*", "'", "''", "\"\"", "NEAR(", "NEAR(a b)", "a OR b", "-x", "title:foo", "body:китай", "{title}: китай",
        "') OR 1=1 --", "\" OR 1=1 --", "&|!:*", "!", "(", ")", "^китай", "китай*", "'китай':*", "китай & !сталь", "китай <-> пошлины",
        "x".repeat(10_000), "китай ".repeat(2_000), Array.from({ length: 2_000 }, (_, index) => `w${index}`).join(" "),
        "🔥", "🇷🇺🇨🇳", "👩‍👩‍👧", "китай🔥", "\u0000", "\\", "%", "_", "$1", ";DROP TABLE newswire_archive;",
        "\u0301\u0301", "китай \u0301\u0301", "\u0301\u0301 китай", "1\uFE0F\u20E3", "z\u0351\u0352\u0353a\u0354\u0355l\u0356g\u0357o", "\u200b\u200d\ufeff",
      ];
      for (const query of hostile) {
        for (const prefix of [false, true]) {
          const found = await archive.search({ terms: queryTerms(query, { prefix }), offset: 0, limit: 100 });
          assert.ok(Array.isArray(found), query.slice(0, 40));
          assert.ok(found.length < total, `${query.slice(0, 40)} (prefix ${prefix}) matched everything`);
          assert.ok(found.every((item) => item.title === "Китай ввёл пошлины"), `${query.slice(0, 40)}: ${found.map((item) => item.title).join(", ")}`);
        }
      }
      assert.deepEqual(await find(archive, "\"\"\"*"), []);
      assert.deepEqual(await find(archive, "title:foo"), []);
      assert.deepEqual(await find(archive, "китай🔥"), ["Китай ввёл пошлины"]);
      await archive.add(entries(makeItem({ title: "After the storm" })));
      assert.deepEqual(await find(archive, "storm"), ["After the storm"]);
      assert.equal((await archive.latest(100)).length, total + 1);
    });

    // Equal texts rank by age alone, so the pages are the newest CANDIDATES matches, newest first,
    // wherever they were found (PostgreSQL looks a month, then half a year, then all the way back).
    for (const [spread, ages] of [
      ["a month holds them all", (index: number) => index * 60 * 60_000],
      ["a month holds fewer, half a year the rest", (index: number) => (index < 300 ? index * 2 * 60 * 60_000 : 40 * DAY_MS + index * 60 * 60_000)],
      ["half a year holds fewer: all the way back", (index: number) => (index < 200 ? index * 60 * 60_000 : 200 * DAY_MS + index * 60 * 60_000)],
    ] as const) {
      test(`more matches than CANDIDATES (${spread}): the newest ${CANDIDATES}, paged without a gap or a repeat`, { skip }, async () => {
        const count = CANDIDATES + 150;
        // Taken in oldest first, as a poll takes them: on SQLite the candidates are the last taken in.
        const items = Array.from({ length: count }, (_, index) => makeItem({ title: `Reactor news ${index}`, summary: "The reactor restarted.", publishedAt: START - ages(index) })).reverse();
        await archive.add(entries(...items));
        const pages: string[] = [];
        for (let offset = 0; offset < CANDIDATES + 10; offset += 50) pages.push(...(await find(archive, "reactor", { offset, limit: 50 })));
        assert.deepEqual(pages, Array.from({ length: CANDIDATES }, (_, index) => `Reactor news ${index}`));
        assert.deepEqual(await find(archive, "reactor", { offset: CANDIDATES }), []);
      });
    }
  });
}

describe("PostgresArchive: instances on one database", () => {
  const side = postgresSide();
  const skip = side.skip;
  let first: PostgresArchive;
  let second: PostgresArchive;
  before(async () => {
    if (skip) return;
    first = (await side.open()) as PostgresArchive;
    second = await postgresInstance();
  });
  after(() => side.close());

  test("an item added by both is held once, the first one's; batches overlapping in any order all go in", { skip }, async () => {
    const item = makeItem({ title: "from the first" });
    await first.add(entries(item));
    await second.add(entries({ ...item, title: "from the second" }));
    assert.deepEqual(await titles(first, 5), ["from the first"]);
    assert.deepEqual(await titles(second, 5), ["from the first"]);

    // Both instances poll the same feeds at once: every item is stored once, and neither add fails.
    const shared = Array.from({ length: 200 }, (_, index) => makeItem({ title: `shared ${index}`, publishedAt: START + index }));
    await Promise.all([
      first.add(entries(...shared)),
      second.add(entries(...[...shared].reverse())),
      first.add(entries(...shared.slice(50))),
      second.add(entries(...shared.slice(0, 150).reverse())),
    ]);
    const listed = await titles(second, 1_000);
    assert.equal(listed.length, 201);
    assert.equal(await side.rows(), 201);
    assert.deepEqual(listed.slice(0, 200), shared.map((entry) => entry.title).reverse());
  });

  test("takeOver() moves the rows of newswire_recent_items in, searchable, and empties that table", { skip }, async () => {
    const pool = pools[0]!;
    await pool.query("TRUNCATE newswire_archive, newswire_recent_items");
    const legacy = [
      makeItem({ title: "Китай ввёл пошлины", topics: ["all", "china"], publishedAt: START - DAY_MS }),
      makeItem({ title: "Sanctions on steel", topics: ["all"], publishedAt: START - 2 * DAY_MS }),
    ];
    for (const item of legacy) {
      await pool.query("INSERT INTO newswire_recent_items (key, at, topics, item, version, expires_at) VALUES ($1, $2, $3, $4, 1, $5)", [
        item.key, item.publishedAt, item.topics, JSON.stringify(item), Date.now() + RECENT_TTL_MS,
      ]);
    }
    assert.equal(await first.isEmpty(), true);
    assert.equal(await first.takeOver(), 2);
    assert.deepEqual(await first.latest(10), legacy);
    assert.deepEqual(await second.latest(10, "china"), [legacy[0]]);
    assert.deepEqual((await second.search({ terms: queryTerms("Китаю"), offset: 0, limit: 10 })).map((item) => item.key), [legacy[0]!.key]);
    assert.deepEqual((await second.search({ terms: queryTerms("sanctioned"), offset: 0, limit: 10 })).map((item) => item.key), [legacy[1]!.key]);
    assert.deepEqual(await second.article(itemRef(legacy[1]!.key)), { item: legacy[1] });
    assert.equal((await pool.query("SELECT count(*)::int AS count FROM newswire_recent_items")).rows[0].count, 0);
    assert.equal(await second.takeOver(), 0);
    assert.equal(await first.takeOver(), 0);
    assert.equal(await side.rows(), 2);
  });

  test("takeOver() leaves behind the rows of newswire_recent_items already past their time", { skip }, async () => {
    const pool = pools[0]!;
    await pool.query("TRUNCATE newswire_archive, newswire_recent_items");
    const expired = makeItem({ title: "expired before the archive" });
    await pool.query("INSERT INTO newswire_recent_items (key, at, topics, item, version, expires_at) VALUES ($1, $2, $3, $4, 1, $5)", [
      expired.key, expired.publishedAt, expired.topics, JSON.stringify(expired), Date.now() - 1,
    ]);
    await first.takeOver();
    assert.deepEqual(await first.latest(10), []);
  });

  test("/latest on one instance lists the items the other polled", { skip }, async () => {
    const deps = { ...(await buildDeps()), recent: second };
    const bot = createBot({ token: TOKEN, apiRoot: API_ROOT, botInfo: BOT_INFO, fetch: deps.telegram.fetch as never, budget: deps.budget }, deps);
    await first.add(entries(makeItem({ title: "Polled by the first instance", topics: ["all", "china"], publishedAt: START + 20_000 })));
    deps.telegram.clear();
    await bot.handleUpdate(messageUpdate("/latest 1 china"));
    const [reply] = deps.telegram.requests.filter((request) => request.method === "sendMessage");
    assert.match(String(reply?.params.text), /Polled by the first instance/);
  });
});

describe("SqliteArchive: its side tables and its file", () => {
  const side = sqliteSide();
  beforeEach(() => mock.timers.enable({ apis: ["Date"], now: START }));
  afterEach(() => mock.timers.reset());
  after(() => side.close());

  const count = async (sql: string, values: unknown[] = []) => (await side.file().query<{ count: number }>(sql, values))[0]!.count;

  test("a swept item leaves the word index and the topic index with its row", async () => {
    const retention = 10 * 60_000;
    const archive = await side.open(retention);
    const gone = makeItem({ title: "Китай ввёл пошлины", topics: ["all", "china", "economy"], publishedAt: START + DAY_MS });
    await archive.add([{ item: gone, article: article("Сталь и алюминий.") }]);
    mock.timers.setTime(START + retention / 2);
    const kept = makeItem({ title: "Китай и США", topics: ["all", "china"], publishedAt: START - DAY_MS });
    await archive.add(entries(kept));
    assert.equal(await count("SELECT count(*) AS count FROM newswire_archive_topics"), 5);
    assert.equal(await count("SELECT count(*) AS count FROM newswire_archive WHERE title_words IS NOT NULL OR body_words IS NOT NULL"), 0, "the terms live in the index only");
    mock.timers.setTime(START + retention);
    assert.equal(await archive.sweep(), 1);
    assert.equal(await count("SELECT count(*) AS count FROM newswire_archive_topics"), 2);
    assert.equal(await count("SELECT count(*) AS count FROM newswire_archive_topics WHERE topic = 'economy'"), 0);
    assert.equal(await count("SELECT count(*) AS count FROM newswire_archive_words WHERE newswire_archive_words MATCH ?", ['"сталь"']), 0);
    assert.equal(await count("SELECT count(*) AS count FROM newswire_archive_words WHERE newswire_archive_words MATCH ?", ['"кит"']), 1);
    assert.deepEqual(await titles(archive, 5, "china"), ["Китай и США"]);
    assert.deepEqual(await titles(archive, 5, "economy"), []);
    assert.deepEqual(await find(archive, "Китай"), ["Китай и США"]);
    assert.deepEqual(await find(archive, "сталь"), []);
    // Its key is free again: added anew, it is found again, once.
    await archive.add([{ item: gone, article: article("Сталь и алюминий.") }]);
    assert.deepEqual(new Set(await find(archive, "Китай")), new Set(["Китай ввёл пошлины", "Китай и США"]));
    assert.deepEqual(await find(archive, "сталь"), ["Китай ввёл пошлины"]);
    assert.deepEqual(await titles(archive, 5, "economy"), ["Китай ввёл пошлины"]);
    assert.equal(await count("SELECT count(*) AS count FROM newswire_archive_topics"), 5);
  });

  test("opened again on the same store, or on the file reopened, it keeps everything", async () => {
    const archive = await side.open();
    const item = makeItem({ title: "Китай ввёл пошлины", topics: ["all", "china"] });
    const page = article("Заголовок\n\nТекст статьи о стали.", "https://example.org/lead.jpg");
    await archive.add([{ item, article: page }, { item: makeItem({ title: "Other" }) }]);
    const check = async (again: Archive) => {
      assert.equal(await again.isEmpty(), false);
      assert.deepEqual(await again.latest(1, "china"), [item]);
      assert.equal((await again.latest(10)).length, 2);
      assert.deepEqual(await find(again, "Китаю"), ["Китай ввёл пошлины"]);
      assert.deepEqual(await find(again, "стали"), ["Китай ввёл пошлины"]);
      assert.deepEqual(await again.article(itemRef(item.key)), { item, article: page });
    };
    await check(await SqliteArchive.open(side.file(), RETENTION_MS, now));
    const store = side.store();
    const namespaces = await store.open();
    await check(await SqliteArchive.open(sqliteOf(namespaces)!, RETENTION_MS, now));
  });
});
