/**
 * The SubscriberStore contract, run against every implementation: the in-memory Subscribers (Redis's;
 * here over a SQLite store), SqliteSubscribers and PostgresSubscribers. On PostgreSQL also what one instance's memory cannot
 * give: two instances on two pools see each other's changes at once, and concurrent changes of
 * one chat from both lose none. Also the migrations that move Keyv's subscribers into the tables.
 * PostgreSQL needs a server: TEST_POSTGRES_URL.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { PostgresSubscribers } from "../../src/delivery/postgres-subscribers.js";
import { SqliteSubscribers } from "../../src/delivery/sqlite-subscribers.js";
import { Subscribers, type SubscriberStore } from "../../src/delivery/subscribers.js";
import { closeNamespaces, openNamespaces, postgresOf, sqliteOf, type Namespace } from "../../src/store/keyv.js";
import { migrate, postgres } from "../../src/store/postgres.js";
import { silentLogger } from "../support/builders.js";
import { postgresDatabase, skipWithout, storeServers } from "../support/store-servers.js";

const skip = skipWithout("postgres");

/** A fresh, empty store of one implementation. */
type Open = () => Promise<SubscriberStore>;

const keys = (list: readonly { chatId: number; threadId?: number }[]) => list.map(({ chatId, threadId }) => (threadId === undefined ? `${chatId}` : `${chatId}:${threadId}`));

function contract(name: string, fresh: Open, options: { skip: string | false }) {
  describe(`SubscriberStore contract: ${name}`, () => {
    test("subscribe adds topics once, in order, keeps `since` and takes the target's settings", options, async () => {
      const store = await fresh();
      assert.deepEqual(await store.subscribe({ chatId: 1, kind: "private", language: "ru" }, ["china", "science", "china"], 5), {
        changed: ["china", "science"],
        unchanged: [],
      });
      assert.deepEqual(await store.subscribe({ chatId: 1, kind: "private", language: "en" }, ["world", "china"], 9), { changed: ["world"], unchanged: ["china"] });
      assert.deepEqual(await store.get({ chatId: 1 }), { chatId: 1, kind: "private", language: "en", topics: ["china", "science", "world"], since: 5 });
      assert.equal(await store.get({ chatId: 2 }), undefined);
    });

    test("unsubscribe removes topics; `all` removes every one; none left ends the subscription", options, async () => {
      const store = await fresh();
      await store.subscribe({ chatId: 1, kind: "private" }, ["china", "science", "world"], 1);
      assert.deepEqual(await store.unsubscribe({ chatId: 1 }, ["science", "sport"]), { changed: ["science"], unchanged: ["sport"] });
      assert.deepEqual((await store.get({ chatId: 1 }))?.topics, ["china", "world"]);
      assert.deepEqual(await store.unsubscribe({ chatId: 1 }, ["all"]), { changed: ["china", "world"], unchanged: [] });
      assert.equal(await store.get({ chatId: 1 }), undefined);
      assert.deepEqual(await store.unsubscribe({ chatId: 1 }, ["china"]), { changed: [], unchanged: ["china"] });
      await store.subscribe({ chatId: 2, kind: "private" }, ["sport"], 1);
      assert.deepEqual(await store.unsubscribe({ chatId: 2 }, ["sport"]), { changed: ["sport"], unchanged: [] });
      assert.equal(await store.count(), 0);
    });

    test("following: any of the topics or `all`, each subscriber once, in a stable order", options, async () => {
      const store = await fresh();
      await store.subscribe({ chatId: -100, kind: "supergroup", title: "Group" }, ["all"], 1);
      await store.subscribe({ chatId: -100, threadId: 7, kind: "supergroup" }, ["science"], 1);
      await store.subscribe({ chatId: 1, kind: "private" }, ["china", "science"], 1);
      await store.subscribe({ chatId: 2, kind: "private" }, ["sport"], 1);
      const both = await store.following(["science", "china"]);
      assert.deepEqual(keys(both).sort(), ["-100", "-100:7", "1"]);
      assert.deepEqual(keys(await store.following(["china", "science"])), keys(both), "the same order each time");
      assert.deepEqual(keys(await store.following(["weather"])), ["-100"]);
      assert.deepEqual(keys(await store.following([])), ["-100"]);
      assert.equal((await store.following(["sport"])).find((each) => each.chatId === 2)?.kind, "private");
    });

    test("a forum thread is a subscriber of its own; ofChat gives the chat's all", options, async () => {
      const store = await fresh();
      await store.subscribe({ chatId: -100, kind: "supergroup" }, ["china"], 1);
      await store.subscribe({ chatId: -100, threadId: 7, kind: "supergroup" }, ["science"], 2);
      await store.subscribe({ chatId: -200, threadId: 7, kind: "supergroup" }, ["science"], 2);
      assert.deepEqual(await store.get({ chatId: -100, threadId: 7 }), { chatId: -100, threadId: 7, kind: "supergroup", topics: ["science"], since: 2 });
      assert.deepEqual(keys(await store.ofChat(-100)).sort(), ["-100", "-100:7"]);
      await store.unsubscribe({ chatId: -100, threadId: 7 }, ["all"]);
      assert.deepEqual(keys(await store.ofChat(-100)), ["-100"]);
      assert.equal(await store.count(), 2);
    });

    test("migrateChat moves the chat and its threads to the supergroup, replacing nothing else", options, async () => {
      const store = await fresh();
      await store.subscribe({ chatId: -5, kind: "group", title: "Old group" }, ["china"], 1);
      await store.subscribe({ chatId: -5, threadId: 3, kind: "group" }, ["science"], 2);
      await store.subscribe({ chatId: 8, kind: "private" }, ["all"], 3);
      await store.migrateChat(-5, -1005);
      assert.deepEqual(await store.ofChat(-5), []);
      assert.deepEqual(await store.get({ chatId: -1005 }), { chatId: -1005, kind: "supergroup", title: "Old group", topics: ["china"], since: 1 });
      assert.deepEqual(await store.get({ chatId: -1005, threadId: 3 }), { chatId: -1005, threadId: 3, kind: "supergroup", topics: ["science"], since: 2 });
      assert.deepEqual(keys(await store.following(["china"])).sort(), ["-1005", "8"]);
      assert.equal(await store.count(), 3);
    });

    test("removeChat ends every subscription of the chat and gives them", options, async () => {
      const store = await fresh();
      await store.subscribe({ chatId: -100, kind: "supergroup" }, ["china"], 1);
      await store.subscribe({ chatId: -100, threadId: 4, kind: "supergroup" }, ["china"], 1);
      await store.subscribe({ chatId: 8, kind: "private" }, ["all"], 3);
      const removed = await store.removeChat(-100);
      assert.deepEqual(keys(removed).sort(), ["-100", "-100:4"]);
      assert.deepEqual(removed.find((each) => each.threadId === undefined), { chatId: -100, kind: "supergroup", topics: ["china"], since: 1 });
      assert.deepEqual(await store.removeChat(-100), []);
      assert.deepEqual(keys(await store.following(["china"])), ["8"]);
    });

    test("linkedBy: the channels this user linked, nothing else", options, async () => {
      const store = await fresh();
      await store.subscribe({ chatId: -1001, kind: "channel", title: "Mine", linkedBy: 42 }, ["china"], 1);
      await store.subscribe({ chatId: -1002, kind: "channel", title: "Theirs", linkedBy: 43 }, ["china"], 1);
      await store.subscribe({ chatId: -1003, kind: "channel", title: "Configured" }, ["china"], 1);
      await store.subscribe({ chatId: 42, kind: "private" }, ["china"], 1);
      assert.deepEqual(await store.linkedBy(42), [{ chatId: -1001, kind: "channel", title: "Mine", linkedBy: 42, topics: ["china"], since: 1 }]);
      assert.deepEqual(await store.linkedBy(44), []);
      assert.equal(await store.count(), 4);
    });

    test("update replaces a subscriber's settings, or creates it", options, async () => {
      const store = await fresh();
      await store.subscribe({ chatId: -1005, kind: "supergroup", title: "G", language: "en" }, ["china"], 1);
      const current = (await store.get({ chatId: -1005 }))!;
      await store.update({ ...current, language: "ru" });
      assert.deepEqual(await store.get({ chatId: -1005 }), { ...current, language: "ru" });
      await store.update({ chatId: -1009, kind: "channel", home: true, topics: ["world"], since: 7 });
      assert.deepEqual(await store.get({ chatId: -1009 }), { chatId: -1009, kind: "channel", home: true, topics: ["world"], since: 7 });
      await store.update({ chatId: -1009, kind: "channel", topics: ["china"], since: 7 });
      assert.deepEqual(await store.get({ chatId: -1009 }), { chatId: -1009, kind: "channel", topics: ["china"], since: 7 }, "what the new one leaves out is gone");
    });

    test("setSchedule sets and clears a subscriber's schedule alone; a subscribe keeps it; none without a subscription", options, async () => {
      const store = await fresh();
      const schedule = { digest: { every: "daily", at: 480 }, timeZone: "Europe/Moscow", quiet: { from: 1380, to: 480, mode: "hold" } } as const;
      assert.equal(await store.setSchedule({ chatId: 5 }, schedule), false);
      assert.equal(await store.get({ chatId: 5 }), undefined);
      await store.subscribe({ chatId: 5, kind: "private", language: "ru" }, ["china"], 3);
      await store.subscribe({ chatId: 5, threadId: 2, kind: "supergroup" }, ["china"], 3);
      assert.equal(await store.setSchedule({ chatId: 5 }, schedule), true);
      assert.deepEqual(await store.get({ chatId: 5 }), { chatId: 5, kind: "private", language: "ru", topics: ["china"], since: 3, schedule });
      assert.equal((await store.get({ chatId: 5, threadId: 2 }))?.schedule, undefined, "the chat's thread has its own");
      await store.subscribe({ chatId: 5, kind: "private", language: "en" }, ["science"], 9);
      assert.deepEqual((await store.get({ chatId: 5 }))?.schedule, schedule, "a subscribe keeps it");
      assert.deepEqual((await store.following(["science"])).map((subscriber) => subscriber.schedule), [schedule], "the fan-out reads it");
      assert.equal(await store.setSchedule({ chatId: 5 }, undefined), true);
      assert.deepEqual(await store.get({ chatId: 5 }), { chatId: 5, kind: "private", language: "en", topics: ["china", "science"], since: 3 });
    });

    test("concurrent changes of one chat: none lost, each told exactly what it changed", options, async () => {
      const store = await fresh();
      const topics = Array.from({ length: 20 }, (_, index) => `t${index}`);
      const changes = await Promise.all(topics.map((topic) => store.subscribe({ chatId: 77, kind: "private" }, [topic, "shared"])));
      assert.deepEqual([...(await store.get({ chatId: 77 }))!.topics].sort(), [...topics, "shared"].sort());
      assert.equal(changes.filter(({ changed }) => changed.includes("shared")).length, 1, "one of them added `shared`");
    });
  });
}

contract("in memory over SQLite", async () => Subscribers.open((await openNamespaces("sqlite://:memory:")).subscribers), { skip: false });

describe("on SQLite", () => {
  const dir = mkdtempSync(join(tmpdir(), "newswire-subscriptions-"));
  const opened: Record<Namespace, import("keyv").default>[] = [];
  let files = 0;
  /** A fresh SQLite file's store. */
  const fileStore = async () => {
    const store = await openNamespaces(`sqlite://${join(dir, `store-${++files}.sqlite`)}`);
    opened.push(store);
    return store;
  };
  after(async () => {
    await Promise.all(opened.map(closeNamespaces));
    rmSync(dir, { recursive: true, force: true });
  });

  contract("SQLite", async () => SqliteSubscribers.open(sqliteOf(await fileStore())!), { skip: false });

  test("following reads each subscriber once, matching several topics and `all`", async () => {
    const store = await SqliteSubscribers.open(sqliteOf(await fileStore())!);
    await store.subscribe({ chatId: 3, kind: "private" }, ["china", "science", "all"], 1);
    await store.subscribe({ chatId: 1, kind: "private" }, ["science", "china"], 1);
    await store.subscribe({ chatId: 2, kind: "private" }, ["sport"], 1);
    assert.deepEqual(keys(await store.following(["china", "science", "all"])), ["1", "3"]);
    await store.unsubscribe({ chatId: 3 }, ["all"]);
    await store.migrateChat(1, -1001);
    assert.deepEqual(keys(await store.following(["china"])), ["-1001"], "changes keep the topic index");
  });

  test("takeOver moves the subscribers Keyv kept, escapes undone, malformed rows left out; a row written later by an older release wins", async () => {
    const store = await fileStore();
    const keyv = await Subscribers.open(store.subscribers);
    await keyv.subscribe({ chatId: 1, kind: "private", language: "ru" }, ["china", "science"], 5);
    await keyv.subscribe({ chatId: -100, threadId: 7, kind: "supergroup", title: ":) news" }, ["all"], 6);
    await keyv.subscribe({ chatId: -1009, kind: "channel", title: "Home", linkedBy: 42, home: true }, ["world"], 7);
    // A record from before the version field, one without topics, and text that is not JSON.
    await store.subscribers.set("2", { chatId: 2, kind: "private", topics: ["sport"], since: 8 });
    await store.subscribers.set("3", { chatId: 3, kind: "private", topics: [], since: 8 });
    const file = sqliteOf(store)!;
    await file.query("INSERT INTO subscribers (key, value) VALUES (?, ?)", ["subscribers:4", "{not json"]);
    const table = await SqliteSubscribers.open(file);
    assert.equal(await table.takeOver(), 4);
    assert.equal(await table.count(), 4);
    for (const recipient of [{ chatId: 1 }, { chatId: -1009 }, { chatId: -100, threadId: 7 }]) assert.deepEqual(await table.get(recipient), await keyv.get(recipient));
    assert.equal((await table.get({ chatId: -100, threadId: 7 }))?.title, ":) news");
    assert.deepEqual(await table.get({ chatId: 2 }), { chatId: 2, kind: "private", topics: ["sport"], since: 8 });
    assert.deepEqual(keys(await table.following(["china"])), ["-100:7", "1"]);
    assert.deepEqual(keys(await table.linkedBy(42)), ["-1009"]);
    assert.deepEqual(await file.query("SELECT key FROM subscribers"), [], "Keyv's rows are gone");
    const [row] = await file.query<{ version: number }>("SELECT min(version) AS version FROM newswire_subscriptions");
    assert.equal(row?.version, 1);

    // A rollback to the release before the table: it reads and writes Keyv's rows only, so the
    // row it wrote is the newer one when this release starts again.
    await store.subscribers.set("1", { chatId: 1, kind: "private", topics: ["sport"], since: 5, version: 1 });
    await table.subscribe({ chatId: 2, kind: "private" }, ["world"], 9);
    assert.equal(await (await SqliteSubscribers.open(file)).takeOver(), 1);
    assert.deepEqual((await table.get({ chatId: 1 }))?.topics, ["sport"]);
    assert.deepEqual(keys(await table.following(["china"])), ["-100:7"], "the topic index follows the replaced row");
    assert.deepEqual((await table.get({ chatId: 2 }))?.topics, ["sport", "world"]);
    assert.equal(await table.count(), 4);
    assert.equal(await (await SqliteSubscribers.open(file)).takeOver(), 0, "nothing left to move");
  });
});

describe("on PostgreSQL", () => {
  const pools: pg.Pool[] = [];
  let url: string | undefined;
  /** A pool of its own on the test database: another instance. */
  const instance = () => {
    const pool = new pg.Pool({ connectionString: url });
    pools.push(pool);
    return new PostgresSubscribers(postgres(pool, {}));
  };
  let first: PostgresSubscribers;
  let second: PostgresSubscribers;
  before(async () => {
    if (skip) return;
    url = await postgresDatabase(storeServers.postgres!, "subs_subscriber_store");
    const pool = new pg.Pool({ connectionString: url });
    pools.push(pool);
    await migrate(pool, silentLogger);
    first = instance();
    second = instance();
  });
  after(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
  });
  const empty = async () => {
    await pools[0]!.query("TRUNCATE newswire_subscriptions");
  };

  contract("PostgreSQL", async () => (await empty(), first), { skip });

  test("two instances on two pools see each other's changes at once", { skip }, async () => {
    await empty();
    await first.subscribe({ chatId: 5, kind: "private" }, ["china"], 1);
    assert.deepEqual(keys(await second.following(["china"])), ["5"]);
    assert.deepEqual(await second.unsubscribe({ chatId: 5 }, ["china"]), { changed: ["china"], unchanged: [] });
    assert.deepEqual(await first.following(["china"]), [], "an unsubscribe on one instance ends deliveries from the other");
    await second.subscribe({ chatId: -5, kind: "group" }, ["all"], 1);
    await first.migrateChat(-5, -1005);
    assert.equal((await second.get({ chatId: -1005 }))?.kind, "supergroup");
    assert.equal(await second.count(), 1);
  });

  test("50 concurrent subscribes and unsubscribes of one chat from both instances lose none", { skip }, async () => {
    await empty();
    const removed = Array.from({ length: 25 }, (_, index) => `old${index}`);
    await first.subscribe({ chatId: 9, kind: "private" }, ["kept", ...removed], 1);
    const added = Array.from({ length: 25 }, (_, index) => `new${index}`);
    const changes = await Promise.all([
      ...added.map((topic, index) => (index % 2 ? first : second).subscribe({ chatId: 9, kind: "private" }, [topic])),
      ...removed.map((topic, index) => (index % 2 ? second : first).unsubscribe({ chatId: 9 }, [topic])),
    ]);
    assert.deepEqual([...(await first.get({ chatId: 9 }))!.topics].sort(), ["kept", ...added].sort());
    assert.deepEqual(changes.map(({ changed }) => changed), [...added, ...removed].map((topic) => [topic]), "each told exactly its change");
  });

  test("a chat another instance creates while subscribes wait for it: exactly one adds the topic", { skip }, async () => {
    await empty();
    // The other instance's insert, uncommitted: the subscribes find no row, then wait on its key.
    const other = await pools[0]!.connect();
    try {
      await other.query("BEGIN");
      await other.query("INSERT INTO newswire_subscriptions (key, chat_id, topics, record, since) VALUES ($1, $2, $3, $4, $5)", ["10", 10, ["sport"], { kind: "private" }, 1]);
      const calls = 20; // as many as the two pools' connections, so all of them wait at once
      const changes = Promise.all(Array.from({ length: calls }, (_, index) => (index % 2 ? first : second).subscribe({ chatId: 10, kind: "private" }, ["china"])));
      const waiting = async () => (await pools[0]!.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rows[0].n as number;
      while ((await waiting()) < calls);
      await other.query("COMMIT");
      const told = await changes;
      assert.equal(told.filter(({ changed }) => changed.length === 1).length, 1, "one added it");
      assert.equal(told.filter(({ unchanged }) => unchanged.length === 1).length, calls - 1, "the others were told it was there");
      assert.deepEqual((await first.get({ chatId: 10 }))?.topics, ["sport", "china"]);
    } finally {
      other.release();
    }
  });
});

describe("the PostgreSQL migration to newswire_subscriptions", () => {
  test("copies the subscribers Keyv kept on PostgreSQL, settings and escapes included", { skip }, async () => {
    const url = await postgresDatabase(storeServers.postgres!, "subs_subscriber_migration");
    const store = await openNamespaces(url);
    try {
      const keyv = await Subscribers.open(store.subscribers);
      await keyv.subscribe({ chatId: 1, kind: "private", language: "ru" }, ["china", "science"], 5);
      await keyv.subscribe({ chatId: -100, threadId: 7, kind: "supergroup", title: ":) news" }, ["all"], 6);
      await keyv.subscribe({ chatId: -1009, kind: "channel", title: "Home", linkedBy: 42, home: true }, ["world"], 7);
      // A record from before the version field.
      await store.subscribers.set("2", { chatId: 2, kind: "private", topics: ["sport"], since: 8 });
      const database = postgresOf(store)!;
      await migrate(database.pool, silentLogger);
      const table = new PostgresSubscribers(database);
      assert.equal(await table.count(), 4);
      for (const chatId of [1, -1009]) assert.deepEqual(await table.get({ chatId }), await keyv.get({ chatId }));
      assert.deepEqual(await table.get({ chatId: 2 }), { chatId: 2, kind: "private", topics: ["sport"], since: 8 });
      assert.deepEqual(await table.get({ chatId: -100, threadId: 7 }), await keyv.get({ chatId: -100, threadId: 7 }));
      assert.equal((await table.get({ chatId: -100, threadId: 7 }))?.title, ":) news");
      assert.deepEqual(keys(await table.linkedBy(42)), ["-1009"]);
      const [{ version }] = (await database.pool.query("SELECT min(version) AS version FROM newswire_subscriptions")).rows;
      assert.equal(version, 1);
    } finally {
      await closeNamespaces(store);
    }
  });

  test("on a database without Keyv's table, only creates the table", { skip }, async () => {
    const pool = new pg.Pool({ connectionString: await postgresDatabase(storeServers.postgres!, "subs_subscriber_fresh") });
    try {
      await migrate(pool, silentLogger);
      assert.equal(await new PostgresSubscribers(postgres(pool, {})).count(), 0);
    } finally {
      await pool.end();
    }
  });
});
