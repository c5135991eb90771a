/**
 * Digests: the HeldItemStore contract on both sides (Keyv over a SQLite file, and PostgreSQL where
 * TEST_POSTGRES_URL is set); a digest's sections and parts; the dispatcher holding items for the
 * chats that take them later; the releaser recording each due digest once, with every held item,
 * when a release failed after it was recorded and when an item is held late, and dropping those
 * of a chat that no longer subscribes.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import pg from "pg";
import { digestParts, digestSections, renderDigest } from "../../src/delivery/digest.js";
import { Digests } from "../../src/delivery/digests.js";
import { Dispatcher } from "../../src/delivery/dispatch.js";
import { KeyvHeldItems, type HeldItemStore } from "../../src/delivery/held-items.js";
import { Outbox, readJob, type Job, type StoredJobRecord } from "../../src/delivery/outbox.js";
import { PostgresHeldItems } from "../../src/delivery/postgres-held-items.js";
import { Subscribers } from "../../src/delivery/subscribers.js";
import { MESSAGE_LIMIT } from "../../src/delivery/render.js";
import { migrate, postgres } from "../../src/store/postgres.js";
import { makeItem, memoryNamespaces, silentLogger, tempStore } from "../support/builders.js";
import { postgresDatabase, skipWithout, storeServers } from "../support/store-servers.js";
import { validateTelegramHtml } from "../support/telegram-html.js";

const T0 = Date.UTC(2026, 11, 4, 6);
const HOUR = 3_600_000;

const pools: pg.Pool[] = [];
after(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
});

const sides: Array<{ name: string; skip: string | false; open: () => Promise<{ store: HeldItemStore; reopen: () => Promise<HeldItemStore> }> }> = [
  {
    name: "Keyv (SQLite)",
    skip: false,
    open: async () => {
      const file = tempStore();
      const namespaces = await file.open();
      return { store: await KeyvHeldItems.open(namespaces.held), reopen: () => KeyvHeldItems.open(namespaces.held) };
    },
  },
  {
    name: "PostgreSQL",
    skip: skipWithout("postgres"),
    open: async () => {
      const url = await postgresDatabase(storeServers.postgres!, `held_items_${Math.random().toString(36).slice(2, 8)}`);
      const pool = new pg.Pool({ connectionString: url });
      pools.push(pool);
      await migrate(pool, silentLogger);
      const store = new PostgresHeldItems(postgres(pool, {}), () => T0);
      return { store, reopen: async () => new PostgresHeldItems(postgres(pool, {}), () => T0) };
    },
  },
];

for (const side of sides) {
  describe(`HeldItemStore contract: ${side.name}`, { skip: side.skip }, () => {
    test("items are held per recipient once, due by their time (the longest due first), and released", async () => {
      const { store, reopen } = await side.open();
      const [a, b, c] = [makeItem({ publishedAt: T0 + 2 }), makeItem({ publishedAt: T0 + 1 }), makeItem({ publishedAt: T0 + 3 })];
      const chat = { chatId: 1 };
      const thread = { chatId: -100, threadId: 7 };
      await store.hold([
        { recipient: chat, item: a, until: T0 + HOUR },
        { recipient: chat, item: b, until: T0 + HOUR },
        { recipient: thread, item: a, until: T0 + 30 * 60_000 },
      ]);
      await store.hold([{ recipient: chat, item: a, until: T0 + 5 * HOUR }, { recipient: chat, item: c, until: T0 + 2 * HOUR }]);
      assert.deepEqual(await store.due(T0, 10), []);
      const due = await (await reopen()).due(T0 + HOUR, 10);
      assert.deepEqual(
        due.map(({ recipient, until, items, missing }) => ({ recipient, until, keys: items.map((item) => item.key), missing })),
        [
          { recipient: thread, until: T0 + 30 * 60_000, keys: [a.key], missing: [] },
          { recipient: chat, until: T0 + HOUR, keys: [b.key, a.key], missing: [] },
        ],
        "each once, oldest first; an item held again kept its first time; c is not due yet",
      );
      assert.deepEqual(due[1]!.items[0], b, "the item itself");
      await store.release(chat, [a.key, b.key]);
      await store.release(thread, [a.key]);
      const reopened = await reopen();
      assert.deepEqual(await reopened.due(T0 + HOUR, 10), []);
      assert.deepEqual((await reopened.due(T0 + 2 * HOUR, 10)).map(({ items }) => items.map((item) => item.key)), [[c.key]]);
    });

    test("a changed schedule makes a recipient's items due at its new time; a group's move takes them along", async () => {
      const { store, reopen } = await side.open();
      const [a, b] = [makeItem(), makeItem()];
      await store.hold([
        { recipient: { chatId: -5 }, item: a, until: T0 + 7 * 24 * HOUR },
        { recipient: { chatId: -5, threadId: 3 }, item: b, until: T0 + HOUR },
        { recipient: { chatId: 9 }, item: b, until: T0 + 7 * 24 * HOUR },
      ]);
      await store.reschedule({ chatId: -5 }, T0);
      assert.deepEqual((await store.due(T0, 10)).map(({ recipient }) => recipient), [{ chatId: -5 }], "the chat's own, not its thread's or others'");
      await store.migrateChat(-5, -1005);
      const moved = await (await reopen()).due(T0 + HOUR, 10);
      assert.deepEqual(
        moved.map(({ recipient, items }) => ({ recipient, keys: items.map((item) => item.key) })),
        [
          { recipient: { chatId: -1005 }, keys: [a.key] },
          { recipient: { chatId: -1005, threadId: 3 }, keys: [b.key] },
        ],
      );
      await store.release({ chatId: -1005 }, [a.key]);
      assert.deepEqual((await (await reopen()).due(T0, 10)), []);
      // A supergroup holding items of its own when more move in keeps both, an item in both at its earlier time.
      const [c, d] = [makeItem(), makeItem()];
      await store.hold([
        { recipient: { chatId: -6 }, item: c, until: T0 + HOUR },
        { recipient: { chatId: -6 }, item: d, until: T0 + 3 * HOUR },
        { recipient: { chatId: -1006 }, item: d, until: T0 + 2 * HOUR },
      ]);
      await store.migrateChat(-6, -1006);
      const merged = (await (await reopen()).due(T0 + 2 * HOUR, 10)).filter(({ recipient }) => recipient.chatId === -1006);
      assert.deepEqual(merged.map(({ recipient, items }) => ({ recipient, keys: items.map((item) => item.key).sort() })), [{ recipient: { chatId: -1006 }, keys: [c.key, d.key].sort() }]);
    });
  });
}

describe("digest building", () => {
  const titles = new Map([
    ["china", "China"],
    ["science", "Science"],
  ]);

  test("one entry per story with its source count, by topic the chat follows, most covered first", () => {
    const first = makeItem({ title: "Volcano erupts", source: "TASS", topics: ["all", "science"] });
    const items = [
      first,
      makeItem({ title: "Trade talks", source: "RIA", topics: ["all", "china"] }),
      makeItem({ title: "Ash column", source: "RIA", topics: ["all", "science"], storyId: first.key }),
      makeItem({ title: "Ash warning", source: "Lenta", topics: ["all", "science"], storyId: first.key }),
      makeItem({ title: "Local fair", source: "Lenta", topics: ["all"] }),
    ].map((item, index) => (index === 0 ? { ...item, storyId: first.key } : item));
    const content = digestSections(items, ["all"], titles);
    assert.equal(content.omitted, 0);
    assert.deepEqual(
      content.sections.map(({ topic, entries }) => ({ topic, entries: entries.map(({ title, sources }) => `${title} ${sources}`) })),
      [
        { topic: "Science", entries: ["Volcano erupts 3"] },
        { topic: "China", entries: ["Trade talks 1"] },
        { topic: undefined, entries: ["Local fair 1"] },
      ],
    );
    const [part] = digestParts(content, "en");
    const message = renderDigest(part!, "html", { locale: "en" });
    assert.match(message.text, /^<b>Digest: 3 stories<\/b>\n\n<b>Science<\/b>\n• <a href="[^"]+">Volcano erupts<\/a> <i>\(TASS, 3 sources\)<\/i>/);
    assert.match(message.text, /<b>Other<\/b>\n• <a href="[^"]+">Local fair<\/a> <i>\(Lenta\)<\/i>$/);
    assert.equal(validateTelegramHtml(message.text), null);
    assert.match(renderDigest(part!, "plain", { locale: "ru" }).text, /^Дайджест: 3 сюжета\n\nScience\n• Volcano erupts \(TASS, 3 источника\) https:/);
    assert.deepEqual(digestSections(items, ["china"], titles).sections.map(({ topic }) => topic), ["China", undefined], "topics the chat does not follow are not sections");
    const capped = digestSections(items, ["all"], titles, 2);
    assert.deepEqual(capped.sections.flatMap(({ entries }) => entries.map(({ title }) => title)), ["Volcano erupts", "Local fair"], "the most covered, then the newest");
    assert.equal(capped.omitted, 1);
    const parts = digestParts(capped, "en");
    assert.match(renderDigest(parts.at(-1)!, "html", { locale: "en" }).text, /… and 1 less covered story; \/latest lists the newest\.$/);
  });

  test("a long digest is split into parts that each fit a message, a section continued", () => {
    const items = Array.from({ length: 150 }, (_, index) => makeItem({ title: `Story ${index} ${"word ".repeat(30)}`, topics: ["all", "science"], link: `https://example.org/${"x".repeat(80)}/${index}` }));
    const parts = digestParts(digestSections(items, ["all"], new Map([["science", "Science"]]), 150), "en");
    assert.ok(parts.length > 2, String(parts.length));
    assert.deepEqual(parts.map(({ part, parts: count }) => `${part}/${count}`), parts.map((_, index) => `${index + 1}/${parts.length}`));
    for (const part of parts) {
      for (const form of ["html", "plain"] as const) assert.ok(renderDigest(part, form, { locale: "en" }).text.length <= MESSAGE_LIMIT);
      assert.equal(part.sections[0]!.topic, "Science");
    }
    assert.equal(parts.reduce((count, part) => count + part.sections[0]!.entries.length, 0), 150, "every story once");
  });
});

describe("holding and releasing", () => {
  async function setup() {
    const namespaces = memoryNamespaces();
    const subscribers = await Subscribers.open(namespaces.subscribers);
    const outbox = await Outbox.open(namespaces.outbox);
    const held = await KeyvHeldItems.open(namespaces.held);
    let now = T0;
    const digests = () => new Digests({ held, subscribers, outbox, topics: [], logger: silentLogger, now: () => now });
    /** The jobs the outbox recorded, as its Keyv store keeps them. */
    const jobs = async (): Promise<Job[]> => {
      const ids = (await namespaces.outbox.get<string[]>("index")) ?? [];
      return (await namespaces.outbox.getMany<StoredJobRecord>(ids.map((id) => `job:${id}`))).map((record) => readJob(record!));
    };
    return { subscribers, outbox, held, jobs, dispatcher: new Dispatcher(subscribers, outbox, held), digests, setNow: (at: number) => (now = at) };
  }

  test("a digest chat's items are held, a quiet chat's silent; at the digest's time one digest with every item, once", async () => {
    const { subscribers, jobs, dispatcher, digests, setNow } = await setup();
    await subscribers.subscribe({ chatId: 1, kind: "private" }, ["all"], 0);
    await subscribers.subscribe({ chatId: 2, kind: "private" }, ["all"], 0);
    await subscribers.subscribe({ chatId: 3, kind: "private" }, ["all"], 0);
    await subscribers.setSchedule({ chatId: 1 }, { digest: { every: "daily", at: 8 * 60 } });
    await subscribers.setSchedule({ chatId: 3 }, { quiet: { from: 0, to: 12 * 60, mode: "silent" } });
    const items = [makeItem(), makeItem()];
    await dispatcher.accept(items.map((item) => ({ item, identityKeys: [item.key] })), T0);
    assert.deepEqual((await jobs()).map((job) => job.targets.map(({ chatId, silent }) => `${chatId}${silent ? " silent" : ""}`)), [["2", "3 silent"], ["2", "3 silent"]]);

    assert.equal(await digests().releaseDue(), 0, "06:00: not yet");
    setNow(Date.UTC(2026, 11, 4, 8));
    assert.equal(await digests().releaseDue(), 1);
    assert.equal(await digests().releaseDue(), 0, "once");
    const digest = (await jobs()).find((job) => job.payload.kind === "digest")!;
    assert.deepEqual(digest.targets.map(({ chatId }) => chatId), [1]);
    assert.equal(digest.payload.kind === "digest" && digest.payload.stories, 2);
  });

  test("a digest built again after a crash before its items were released is the same job, taken once", async () => {
    const { subscribers, jobs, held, dispatcher, digests, setNow } = await setup();
    await subscribers.subscribe({ chatId: 1, kind: "private" }, ["all"], 0);
    await subscribers.setSchedule({ chatId: 1 }, { digest: { every: "hourly" } });
    const item = makeItem();
    await dispatcher.accept([{ item, identityKeys: [item.key] }], T0);
    setNow(T0 + HOUR);
    const failingRelease = held.release.bind(held);
    held.release = async () => {
      throw new Error("crash");
    };
    await assert.rejects(digests().releaseDue());
    held.release = failingRelease;
    assert.equal(await digests().releaseDue(), 0, "recorded already");
    assert.deepEqual(await held.due(T0 + HOUR, 10), [], "and released now");
    assert.equal((await jobs()).filter((job) => job.payload.kind === "digest").length, 1);
  });

  test("an item held late for a time already served (its poll began before it) makes a digest of its own, not lost", async () => {
    const { subscribers, jobs, held, dispatcher, digests, setNow } = await setup();
    await subscribers.subscribe({ chatId: 1, kind: "private" }, ["all"], 0);
    await subscribers.setSchedule({ chatId: 1 }, { digest: { every: "hourly" } });
    const [early, late] = [makeItem(), makeItem()];
    await dispatcher.accept([{ item: early, identityKeys: [early.key] }], T0 + 10 * 60_000);
    setNow(T0 + HOUR);
    assert.equal(await digests().releaseDue(), 1);
    // Accepted after the hour by a poll that began before it: held for the hour just served.
    await dispatcher.accept([{ item: late, identityKeys: [late.key] }], T0 + HOUR - 1);
    setNow(T0 + HOUR + 5_000);
    assert.equal(await digests().releaseDue(), 1);
    assert.deepEqual(await held.due(T0 + 2 * HOUR, 10), []);
    const digested = (await jobs()).filter((job) => job.payload.kind === "digest");
    assert.equal(digested.length, 2, "the first digest is still queued, the late item has its own");
  });

  test("the items of a chat that no longer subscribes are released unsent", async () => {
    const { subscribers, outbox, held, dispatcher, digests, setNow } = await setup();
    await subscribers.subscribe({ chatId: 1, kind: "private" }, ["all"], 0);
    await subscribers.setSchedule({ chatId: 1 }, { digest: { every: "hourly" } });
    const item = makeItem();
    await dispatcher.accept([{ item, identityKeys: [item.key] }], T0);
    await subscribers.unsubscribe({ chatId: 1 }, ["all"]);
    setNow(T0 + HOUR);
    assert.equal(await digests().releaseDue(), 0);
    assert.deepEqual(await held.due(T0 + HOUR, 10), []);
    assert.equal(outbox.size.jobs, 0);
  });
});

describe("KeyvHeldItems when the store fails", () => {
  test("a hold whose index write failed is written whole by its retry: nothing is lost at the next start", async () => {
    const namespaces = memoryNamespaces();
    const held = await KeyvHeldItems.open(namespaces.held);
    const item = makeItem();
    const entry = { recipient: { chatId: 1 }, item, until: T0 };
    const set = namespaces.held.set.bind(namespaces.held);
    namespaces.held.set = async () => {
      throw new Error("disk full");
    };
    await assert.rejects(held.hold([entry]));
    namespaces.held.set = set;
    await held.hold([entry]);
    const reopened = await KeyvHeldItems.open(namespaces.held);
    assert.deepEqual((await reopened.due(T0, 10)).map(({ items }) => items.map(({ key }) => key)), [[item.key]]);
  });
});
