import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type Keyv from "keyv";
import { NAMESPACES, openNamespaces, type Namespace } from "../../src/store/keyv.js";
import { readAll } from "../../src/store/guard.js";
import { ConfigError } from "../../src/config/errors.js";
import { SeenItems } from "../../src/items/seen.js";
import { RecentItems } from "../../src/items/recent.js";
import { recipientKey, Subscribers } from "../../src/delivery/subscribers.js";
import { FeedStates } from "../../src/feeds/feed-state.js";
import { makeItem, tempStore, type TempStore } from "../support/builders.js";

describe("openNamespaces", () => {
  test("opens every namespace of a SQLite file, creating its folder", async () => {
    const store = tempStore();
    try {
      const nested = `sqlite://${join(store.dir, "deep", "er", "x.sqlite")}`;
      const namespaces = await openNamespaces(nested);
      assert.deepEqual(Object.keys(namespaces).sort(), [...NAMESPACES].sort());
      await namespaces.seen.set("k", 1);
      assert.equal(await namespaces.items.get("k"), undefined, "namespaces do not share keys");
      assert.ok(existsSync(join(store.dir, "deep", "er", "x.sqlite")));
      await Promise.all(Object.values(namespaces).map((keyv) => keyv.disconnect()));
    } finally {
      await store.dispose();
    }
  });

  test("refuses an unknown scheme and an empty path with a ConfigError", async () => {
    await assert.rejects(openNamespaces("mysql://localhost/db"), (error: unknown) => error instanceof ConfigError && /^STORE_URL/.test(error.message));
    await assert.rejects(openNamespaces("sqlite://"), (error: unknown) => error instanceof ConfigError && /^STORE_URL/.test(error.message));
  });
});

describe("state in a SQLite store, across reopening", () => {
  let store: TempStore;
  let first: Record<Namespace, Keyv>;
  before(async () => {
    store = tempStore();
    first = await store.open();
  });
  after(() => store.dispose());

  test("SeenItems remembers keys and answers per entry", async () => {
    const seen = new SeenItems(first.seen);
    assert.deepEqual(await seen.seen([]), []);
    assert.deepEqual(await seen.seen([["a", "b"], ["c"]]), [false, false]);
    await seen.remember(["b", "d"], 1_000);
    assert.deepEqual(await seen.seen([["a", "b"], ["c"], ["d", "e"], []]), [true, false, true, false]);
    await seen.remember([]);

    const reopened = new SeenItems((await store.open()).seen);
    assert.deepEqual(await reopened.seen([["b"], ["c"]]), [true, false]);
  });

  test("SeenItems forgets after its TTL", async () => {
    const seen = new SeenItems(first.seen, 50);
    await seen.remember(["short-lived"]);
    assert.deepEqual(await seen.seen([["short-lived"]]), [true]);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.deepEqual(await seen.seen([["short-lived"]]), [false]);
  });

  test("RecentItems orders by publication time, filters by topic and survives reopening", async () => {
    const recent = await RecentItems.open(first.items, first.recent);
    assert.deepEqual(await recent.latest(5), []);
    const old = makeItem({ title: "old", topics: ["all", "china"], publishedAt: 1_000 });
    const middle = makeItem({ title: "middle", topics: ["all", "science"], publishedAt: 2_000 });
    const newest = makeItem({ title: "newest", topics: ["all", "china"], publishedAt: 3_000 });
    await recent.add([{ item: middle }]);
    await recent.add([{ item: newest }, { item: old }]);
    await recent.add([]);

    const titles = async (source: RecentItems, count: number, topic?: string) => (await source.latest(count, topic)).map((item) => item.title);
    assert.deepEqual(await titles(recent, 5), ["newest", "middle", "old"]);
    assert.deepEqual(await titles(recent, 2), ["newest", "middle"]);
    assert.deepEqual(await titles(recent, 5, "china"), ["newest", "old"]);
    assert.deepEqual(await titles(recent, 5, "science"), ["middle"]);
    assert.deepEqual(await titles(recent, 5, "sport"), []);
    assert.equal(recent.size, 3);

    // Adding an item again (a feed re-dated it) moves it instead of listing it twice.
    await recent.add([{ item: { ...old, publishedAt: 4_000 } }]);
    await recent.flush();
    assert.deepEqual(await titles(recent, 5), ["old", "newest", "middle"]);
    assert.equal(recent.size, 3);

    const namespaces = await store.open();
    const reopened = await RecentItems.open(namespaces.items, namespaces.recent);
    assert.deepEqual(await titles(reopened, 5), ["old", "newest", "middle"]);
    assert.deepEqual(await reopened.latest(1, "science"), [middle]);
  });

  test("RecentItems: concurrent adds all reach the persisted index", async () => {
    const namespaces = await store.open();
    await namespaces.recent.clear();
    const recent = await RecentItems.open(namespaces.items, namespaces.recent);
    const items = Array.from({ length: 20 }, (_, index) => makeItem({ publishedAt: 10_000 + index }));
    await Promise.all(items.map((item) => recent.add([{ item }])));
    // Persisted on its own half a second later (no flush): what a restart after a quiet moment finds.
    await new Promise((resolve) => setTimeout(resolve, 800));
    const again = await store.open();
    const reopened = await RecentItems.open(again.items, again.recent);
    assert.equal(reopened.size, 20);
    assert.deepEqual((await reopened.latest(20)).map((item) => item.key), items.map((item) => item.key).reverse());
  });

  test("Subscribers: subscribe, unsubscribe, following, and reload from the store", async () => {
    const subscribers = await Subscribers.open(first.subscribers);
    assert.equal(subscribers.size, 0);

    assert.deepEqual(await subscribers.subscribe({ chatId: 1, kind: "private", language: "ru" }, ["china", "science"], 5), {
      changed: ["china", "science"],
      unchanged: [],
    });
    assert.deepEqual(await subscribers.subscribe({ chatId: 1, kind: "private" }, ["china", "world"], 9), { changed: ["world"], unchanged: ["china"] });
    assert.deepEqual(await subscribers.get({ chatId: 1 }), { chatId: 1, kind: "private", language: "ru", topics: ["china", "science", "world"], since: 5 });

    await subscribers.subscribe({ chatId: -100, kind: "supergroup", title: "Group" }, ["all"]);
    await subscribers.subscribe({ chatId: -100, threadId: 7, kind: "supergroup" }, ["science"]);
    await subscribers.subscribe({ chatId: 2, kind: "private" }, ["sport"]);
    assert.equal(subscribers.size, 4);
    assert.equal((await subscribers.get({ chatId: -100, threadId: 7 }))?.threadId, 7);
    assert.equal(recipientKey({ chatId: -100, threadId: 7 }), "-100:7");

    const keys = (list: { chatId: number; threadId?: number }[]) => list.map(recipientKey).sort();
    assert.deepEqual(keys(await subscribers.following(["china"])), ["-100", "1"], "all follows every topic");
    assert.deepEqual(keys(await subscribers.following(["science", "china"])), ["-100", "-100:7", "1"], "each subscriber once");
    assert.deepEqual(keys(await subscribers.following(["weather"])), ["-100"]);
    assert.deepEqual(keys(await subscribers.ofChat(-100)), ["-100", "-100:7"]);

    assert.deepEqual(await subscribers.unsubscribe({ chatId: 1 }, ["science", "sport"]), { changed: ["science"], unchanged: ["sport"] });
    assert.deepEqual((await subscribers.get({ chatId: 1 }))?.topics, ["china", "world"]);
    assert.deepEqual(await subscribers.unsubscribe({ chatId: 2 }, ["all"]), { changed: ["sport"], unchanged: [] });
    assert.equal(await subscribers.get({ chatId: 2 }), undefined, "no topics left, no subscriber");
    assert.deepEqual(await subscribers.unsubscribe({ chatId: 3 }, ["china"]), { changed: [], unchanged: ["china"] });

    const reopened = (await store.open()).subscribers;
    assert.deepEqual([...(await readAll(reopened)).keys()].sort(), ["-100", "-100:7", "1"]);
    assert.equal(((await (await reopened.get("1"))) as { version?: number }).version, 1, "records carry their layout version");
    const reloaded = await Subscribers.open(reopened);
    assert.deepEqual(await reloaded.get({ chatId: 1 }), await subscribers.get({ chatId: 1 }));
  });

  test("Subscribers: removeChat and migrateChat persist", async () => {
    const namespaces = await store.open();
    await namespaces.subscribers.clear();
    const subscribers = await Subscribers.open(namespaces.subscribers);
    await subscribers.subscribe({ chatId: -5, kind: "group", title: "Old group" }, ["china"], 1);
    await subscribers.subscribe({ chatId: -5, threadId: 3, kind: "group" }, ["science"], 2);
    await subscribers.subscribe({ chatId: 8, kind: "private" }, ["all"], 3);

    await subscribers.migrateChat(-5, -1005);
    assert.deepEqual(await subscribers.ofChat(-5), []);
    assert.deepEqual(await subscribers.get({ chatId: -1005 }), { chatId: -1005, kind: "supergroup", title: "Old group", topics: ["china"], since: 1 });
    assert.equal((await subscribers.get({ chatId: -1005, threadId: 3 }))?.kind, "supergroup");

    const removed = await subscribers.removeChat(8);
    assert.deepEqual(removed.map((subscriber) => subscriber.chatId), [8]);
    assert.deepEqual(await subscribers.removeChat(8), []);

    const reopened = (await store.open()).subscribers;
    assert.deepEqual([...(await readAll(reopened)).keys()].sort(), ["-1005", "-1005:3"]);
    const reloaded = await Subscribers.open(reopened);
    assert.equal((await reloaded.get({ chatId: -1005 }))?.since, 1);
  });

  test("Subscribers: concurrent changes to one chat are not lost", async () => {
    const namespaces = await store.open();
    const subscribers = await Subscribers.open(namespaces.subscribers);
    await Promise.all([
      subscribers.subscribe({ chatId: 77, kind: "private" }, ["china"]),
      subscribers.subscribe({ chatId: 77, kind: "private" }, ["science"]),
      subscribers.subscribe({ chatId: 77, kind: "private" }, ["world"]),
    ]);
    assert.deepEqual((await subscribers.get({ chatId: 77 }))?.topics, ["china", "science", "world"]);
    const reloaded = await Subscribers.open((await store.open()).subscribers);
    assert.deepEqual((await reloaded.get({ chatId: 77 }))?.topics, ["china", "science", "world"]);
    await subscribers.removeChat(77);
  });

  test("Subscribers.update replaces settings", async () => {
    const namespaces = await store.open();
    const subscribers = await Subscribers.open(namespaces.subscribers);
    const current = (await subscribers.get({ chatId: -1005 }))!;
    await subscribers.update({ ...current, language: "ru" });
    const reloaded = await Subscribers.open((await store.open()).subscribers);
    assert.equal((await reloaded.get({ chatId: -1005 }))?.language, "ru");
  });

  test("FeedStates: new feeds start empty, states survive reopening", async () => {
    const feed = (id: string) => ({ id, url: `https://${id}.example/rss` });
    const states = await FeedStates.open(first.feeds, [feed("a"), feed("b")]);
    assert.deepEqual(await states.get("a"), { baselined: false, failures: 0, itemsSeen: 0, scope: "//a.example/rss" });
    await states.set("a", { ...(await states.get("a")), baselined: true, itemsSeen: 12, etag: '"v1"', lastPollAt: 100 });
    await states.set("b", { ...(await states.get("b")), failures: 2, lastError: "HTTP 500" });
    assert.equal((await states.get("a")).itemsSeen, 12);

    const reopened = await FeedStates.open((await store.open()).feeds, [feed("a"), feed("b"), feed("c")]);
    assert.deepEqual(await (await reopened.get("a")), { baselined: true, failures: 0, itemsSeen: 12, etag: '"v1"', lastPollAt: 100, scope: "//a.example/rss" });
    assert.equal((await (await reopened.get("b"))).lastError, "HTTP 500");
    assert.deepEqual(await (await reopened.get("c")), { baselined: false, failures: 0, itemsSeen: 0, scope: "//c.example/rss" });
  });
});
