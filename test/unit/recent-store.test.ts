/**
 * The RecentStore contract on both sides: RecentItems over Keyv (a SQLite file; one instance) and
 * PostgresRecent (where TEST_POSTGRES_URL is set), plus what only the shared table can do: two
 * instances on one database (two pools) hold an item once, and `/latest` on one lists what the
 * other polled. Retention's age is driven by node:test's fake Date, which both sides read.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, mock, test } from "node:test";
import pg from "pg";
import { createBot } from "../../src/bot/create-bot.js";
import { PostgresRecent } from "../../src/items/postgres-recent.js";
import { RecentItems } from "../../src/items/recent.js";
import { RECENT_LIMIT, RECENT_TTL_MS, type RecentStore } from "../../src/items/recent-store.js";
import { migrate, postgres } from "../../src/store/postgres.js";
import { API_ROOT, BOT_INFO, buildDeps, makeItem, messageUpdate, silentLogger, tempStore, TOKEN } from "../support/builders.js";
import { postgresDatabase, skipWithout, storeServers } from "../support/store-servers.js";

const START = Date.UTC(2026, 0, 1);

/** One side of the port: a fresh, empty store per test, and one more instance on its data where that exists. */
interface Side {
  name: string;
  skip: string | false;
  open(): Promise<RecentStore>;
  close(): Promise<void>;
}

function keyvSide(): Side {
  const store = tempStore();
  return {
    name: "Keyv (SQLite)",
    skip: false,
    async open() {
      const namespaces = await store.open();
      await Promise.all([namespaces.items.clear(), namespaces.recent.clear()]);
      return RecentItems.open(namespaces.items, namespaces.recent);
    },
    close: () => store.dispose(),
  };
}

/** The table on a database of its own, reached by as many pools (instances) as asked for. */
const pools: pg.Pool[] = [];
let databaseUrl: string | undefined;

async function postgresInstance(): Promise<PostgresRecent> {
  const pool = new pg.Pool({ connectionString: databaseUrl });
  pools.push(pool);
  return new PostgresRecent(postgres(pool, {}), () => Date.now());
}

function postgresSide(): Side {
  return {
    name: "PostgreSQL",
    skip: skipWithout("postgres"),
    async open() {
      if (!databaseUrl) {
        databaseUrl = await postgresDatabase(storeServers.postgres!, "recent_store_test");
        const pool = new pg.Pool({ connectionString: databaseUrl });
        await migrate(pool, silentLogger).finally(() => pool.end());
      }
      const instance = await postgresInstance();
      await pools.at(-1)!.query("TRUNCATE newswire_recent_items");
      return instance;
    },
    close: () => Promise.all(pools.splice(0).map((pool) => pool.end())).then(() => undefined),
  };
}

const titles = async (recent: RecentStore, count: number, topic?: string) => (await recent.latest(count, topic)).map((item) => item.title);

for (const side of [keyvSide(), postgresSide()]) {
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
      await recent.add([makeItem({ title: "middle", topics: ["all", "science"], publishedAt: 2_000 })]);
      await recent.add([makeItem({ title: "newest", topics: ["all", "china"], publishedAt: 3_000 }), makeItem({ title: "old", topics: ["all", "china"], publishedAt: 1_000 })]);
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
      const item = makeItem({ title: "A \"quoted\" title", image: "https://example.org/a.png", categories: [":World", "Asia"], topics: ["all", "china"] });
      await recent.add([item]);
      assert.deepEqual(await recent.latest(1), [item]);
    });

    test(`keeps the newest ${RECENT_LIMIT}, and a quiet topic's item among them`, { skip: side.skip }, async () => {
      const items = Array.from({ length: RECENT_LIMIT + 1 }, (_, index) => makeItem({ title: `#${index}`, publishedAt: START + index * 1_000 }));
      items[1] = { ...items[1]!, topics: ["all", "science"] };
      await recent.add(items.slice(0, 1_000));
      await recent.add(items.slice(1_000));
      const kept = await titles(recent, RECENT_LIMIT + 1);
      assert.equal(kept.length, RECENT_LIMIT);
      assert.equal(kept[0], `#${RECENT_LIMIT}`);
      assert.equal(kept.at(-1), "#1", "the oldest is the one gone");
      assert.deepEqual(await titles(recent, 20, "science"), ["#1"]);
    });

    test("an item is kept for RECENT_TTL_MS after it is stored, whatever its publication time", { skip: side.skip }, async () => {
      await recent.add([makeItem({ title: "first", publishedAt: START - 365 * 24 * 60 * 60_000 })]);
      mock.timers.setTime(START + RECENT_TTL_MS / 2);
      await recent.add([makeItem({ title: "second", publishedAt: START - 400 * 24 * 60 * 60_000 })]);
      assert.deepEqual(await titles(recent, 5), ["first", "second"]);
      mock.timers.setTime(START + RECENT_TTL_MS + 1);
      assert.deepEqual(await titles(recent, 5), ["second"]);
      mock.timers.setTime(START + RECENT_TTL_MS / 2 + RECENT_TTL_MS + 1);
      assert.deepEqual(await titles(recent, 5), []);
    });
  });
}

describe("PostgresRecent: instances on one database", () => {
  const side = postgresSide();
  const skip = side.skip;
  let first: RecentStore;
  let second: RecentStore;
  before(async () => {
    if (skip) return;
    first = await side.open();
    second = await postgresInstance();
  });
  after(() => side.close());

  test("an item added by both is held once, the first one's; batches overlapping in any order all go in", { skip }, async () => {
    const item = makeItem({ title: "from the first" });
    await first.add([item]);
    await second.add([{ ...item, title: "from the second" }]);
    assert.deepEqual(await titles(first, 5), ["from the first"]);
    assert.deepEqual(await titles(second, 5), ["from the first"]);

    // Both instances poll the same feeds at once: every item is stored once, and neither add fails.
    const shared = Array.from({ length: 200 }, (_, index) => makeItem({ title: `shared ${index}`, publishedAt: START + index }));
    await Promise.all([first.add(shared), second.add([...shared].reverse()), first.add(shared.slice(50)), second.add(shared.slice(0, 150).reverse())]);
    const listed = await titles(second, RECENT_LIMIT);
    assert.equal(listed.length, 201);
    assert.deepEqual(listed.slice(0, 200), shared.map((entry) => entry.title).reverse());
  });

  test("an add deletes the rows no longer kept: past the newest RECENT_LIMIT, or past their time (an instance's first add, then a minute apart)", { skip }, async () => {
    const rows = async () => (await pools[0]!.query<{ count: number }>("SELECT count(*)::int AS count FROM newswire_recent_items")).rows[0]!.count;
    mock.timers.enable({ apis: ["Date"], now: START });
    try {
      await first.add(Array.from({ length: RECENT_LIMIT }, () => makeItem({ publishedAt: START + 10_000 })));
      assert.equal(await rows(), RECENT_LIMIT);
      mock.timers.setTime(START + RECENT_TTL_MS + 1);
      await second.add([makeItem()]);
      assert.equal(await rows(), 1, "the sweep came before the trim: the new item is kept");
      // Within the minute an add sweeps nothing: an expired row stays (reads skip it) until then.
      await pools[0]!.query("UPDATE newswire_recent_items SET expires_at = 0");
      mock.timers.setTime(START + RECENT_TTL_MS + 30_000);
      await second.add([makeItem()]);
      assert.equal(await rows(), 2);
      mock.timers.setTime(START + RECENT_TTL_MS + 61_000);
      await second.add([makeItem()]);
      assert.equal(await rows(), 2, "a minute on, the sweep takes the expired one");
    } finally {
      mock.timers.reset();
    }
  });

  test("the table keeps exactly RECENT_LIMIT rows when many items share a publication time", { skip }, async () => {
    const rows = async () => (await pools[0]!.query<{ count: number }>("SELECT count(*)::int AS count FROM newswire_recent_items")).rows[0]!.count;
    await pools[0]!.query("DELETE FROM newswire_recent_items");
    await first.add(Array.from({ length: RECENT_LIMIT + 50 }, () => makeItem({ publishedAt: START + 30_000 })));
    assert.equal(await rows(), RECENT_LIMIT);
    assert.equal((await first.latest(RECENT_LIMIT + 50)).length, RECENT_LIMIT);
    await pools[0]!.query("DELETE FROM newswire_recent_items");
  });

  test("/latest on one instance lists the items the other polled", { skip }, async () => {
    const deps = { ...(await buildDeps()), recent: second };
    const bot = createBot({ token: TOKEN, apiRoot: API_ROOT, botInfo: BOT_INFO, fetch: deps.telegram.fetch as never, budget: deps.budget }, deps);
    await first.add([makeItem({ title: "Polled by the first instance", topics: ["all", "china"], publishedAt: START + 20_000 })]);
    deps.telegram.clear();
    await bot.handleUpdate(messageUpdate("/latest 1 china"));
    const [reply] = deps.telegram.requests.filter((request) => request.method === "sendMessage");
    assert.match(String(reply?.params.text), /Polled by the first instance/);
  });
});
