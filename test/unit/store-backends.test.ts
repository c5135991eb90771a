/**
 * The same state contract on every store newswire supports: the embedded SQLite file always, and
 * Redis or PostgreSQL where a server is given (TEST_REDIS_URL, TEST_POSTGRES_URL; CI starts a Redis
 * server). Subscribers, seen keys, the outbox with its progress and home posts, and the recent-items
 * index must all come back from a reopened store, and namespaces must not see each other's keys.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type Keyv from "keyv";
import { Outbox } from "../../src/delivery/outbox.js";
import { Subscribers } from "../../src/delivery/subscribers.js";
import { RecentItems } from "../../src/items/recent.js";
import { SeenItems } from "../../src/items/seen.js";
import { closeNamespaces, openNamespaces, type Namespace } from "../../src/store/keyv.js";
import { makeItem, makeJob, privateTarget } from "../support/builders.js";

const sqliteDir = mkdtempSync(join(tmpdir(), "newswire-backends-"));
after(() => rmSync(sqliteDir, { recursive: true, force: true }));

const backends: { name: string; url: string | undefined }[] = [
  { name: "sqlite", url: `sqlite://${join(sqliteDir, "state.sqlite")}` },
  { name: "redis", url: process.env.TEST_REDIS_URL },
  { name: "postgres", url: process.env.TEST_POSTGRES_URL },
];

type Store = Record<Namespace, Keyv>;

async function withStore<T>(url: string, use: (store: Store) => Promise<T>): Promise<T> {
  const store = await openNamespaces(url);
  try {
    return await use(store);
  } finally {
    await closeNamespaces(store);
  }
}

for (const { name, url } of backends) {
  // The skip is on the test, not the suite: node:test counts skipped tests in its totals, not skipped suites.
  describe(`store on ${name}`, () => {
    test("state survives reopening, and namespaces keep to themselves", { skip: url ? false : `set TEST_${name.toUpperCase()}_URL to run against a ${name} server` }, async () => {
      const item = makeItem({ key: `item-${name}`, title: `Stored on ${name}` });
      const job = makeJob([privateTarget(11), privateTarget(12), privateTarget(13)], item);
      await withStore(url!, async (store) => {
        await Promise.all(Object.values(store).map((keyv) => keyv.clear()));
        const subscribers = await Subscribers.open(store.subscribers);
        await subscribers.subscribe({ chatId: 11, kind: "private" }, ["all"]);
        await subscribers.subscribe({ chatId: -100, threadId: 7, kind: "supergroup" }, ["china"]);
        await new SeenItems(store.seen).remember(["seen-key"]);
        const outbox = await Outbox.open(store.outbox);
        await outbox.enqueue([job]);
        await outbox.complete({ job, index: 1 });
        const recent = await RecentItems.open(store.items, store.recent);
        await recent.add([{ item }]);
        await recent.flush();
      });

      await withStore(url!, async (store) => {
        const subscribers = await Subscribers.open(store.subscribers);
        const stored = [...(await subscribers.ofChat(-100)), ...(await subscribers.ofChat(11))];
        assert.deepEqual(
          stored.map(({ chatId, threadId, topics }) => ({ chatId, threadId, topics })),
          [
            { chatId: -100, threadId: 7, topics: ["china"] },
            { chatId: 11, threadId: undefined, topics: ["all"] },
          ],
        );
        assert.deepEqual(await new SeenItems(store.seen).seen([["seen-key"], ["other"]]), [true, false]);
        const outbox = await Outbox.open(store.outbox);
        assert.deepEqual(outbox.pending().map(({ index }) => index), [0, 2]);
        const recent = await RecentItems.open(store.items, store.recent);
        assert.deepEqual((await recent.latest(5)).map(({ title }) => title), [`Stored on ${name}`]);
        // A key written in one namespace is not visible in another.
        assert.equal(await store.outbox.get("seen-key"), undefined);
        assert.equal(await store.subscribers.get("seen-key"), undefined);
      });
    });
  });
}
