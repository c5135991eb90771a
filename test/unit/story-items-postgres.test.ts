/**
 * Stories' items on PostgreSQL (where TEST_POSTGRES_URL is set): an item is stored once however
 * many instances add it, read back by any of them, caught up from by time stored (the last few
 * seconds read again, so a late commit is not passed over), and two instances' story indexes
 * join one event that each polled from a different feed.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { migrate, postgres } from "../../src/store/postgres.js";
import { PostgresStoryItems } from "../../src/stories/postgres-story-items.js";
import { Stories } from "../../src/stories/stories.js";
import { RecentItems } from "../../src/items/recent.js";
import { makeItem, memoryNamespaces, silentLogger } from "../support/builders.js";
import { postgresDatabase, skipWithout, storeServers } from "../support/store-servers.js";

const HOUR = 3_600_000;
const skip = skipWithout("postgres");

describe("PostgresStoryItems", { skip }, () => {
  const pools: pg.Pool[] = [];
  let url: string;
  const instance = () => {
    const pool = new pg.Pool({ connectionString: url });
    pools.push(pool);
    return new PostgresStoryItems(postgres(pool, {}), 96 * HOUR);
  };

  before(async () => {
    url = await postgresDatabase(storeServers.postgres!, "story_items_test");
    const pool = new pg.Pool({ connectionString: url });
    await migrate(pool, silentLogger).finally(() => pool.end());
  });
  after(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
  });

  test("an item is stored once, read by any instance, and caught up from by time stored", async () => {
    const [a, b] = [instance(), instance()];
    const first = makeItem({ publishedAt: Date.now() });
    await Promise.all([a.add([first]), b.add([first])]);
    assert.deepEqual(await b.get(first.key), first);
    assert.equal(await b.get("l:nothing"), undefined);

    const start = await b.storedSince(undefined, Date.now() - HOUR, 100);
    assert.deepEqual(start.items.map((item) => item.key), [first.key]);
    const second = makeItem({ publishedAt: Date.now() });
    const old = makeItem({ publishedAt: Date.now() - 2 * HOUR });
    await a.add([second, old]);
    const next = await b.storedSince(start.cursor, Date.now() - HOUR, 100);
    // The last seconds again (the index ignores what it knows), and nothing published before the window.
    assert.deepEqual(next.items.map((item) => item.key), [first.key, second.key]);
    assert.ok(next.cursor! >= start.cursor!);
    const limited = await b.storedSince(undefined, Date.now() - HOUR, 1);
    assert.deepEqual(limited.items.map((item) => item.key), [second.key], "the newest, when limited");
  });

  test("two instances' stories: an item one polled joins the story of one the other polled", async () => {
    const open = async () => {
      const namespaces = memoryNamespaces();
      const recent = await RecentItems.open(namespaces.items, namespaces.recent);
      return Stories.open({ recent, items: instance(), logger: silentLogger, windowMs: 48 * HOUR });
    };
    const [a, b] = [await open(), await open()];
    const now = Date.now();
    const [tass] = await a.assign(
      [makeItem({ feedId: "tass", title: "Извержение вулкана Шивелуч началось на Камчатке", summary: "Вулкан Шивелуч выбросил столб пепла на высоту 8 км, сообщили вулканологи.", publishedAt: now - HOUR })],
      now,
    );
    const [ria] = await b.assign(
      [makeItem({ feedId: "ria", title: "Шивелуч выбросил пепел на восемь километров", summary: "На Камчатке проснулся вулкан Шивелуч: пепловый шлейф протянулся на 60 км.", publishedAt: now - HOUR / 2 })],
      now,
    );
    assert.equal(ria!.storyId, tass!.key);
  });
});
