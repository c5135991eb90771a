/**
 * A SQLite store that an older newswire ran (its recent items in Keyv's `items` and `recent`
 * namespaces) gets them moved into the archive when openState opens it, once: the old index is
 * cleared, so a later start, even on an archive emptied since, brings nothing back.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { RecentItems } from "../../src/items/recent.js";
import { openState } from "../../src/state.js";
import { makeItem, silentLogger, tempStore } from "../support/builders.js";

const store = tempStore();
after(() => store.dispose());
const DAY_MS = 24 * 60 * 60_000;

test("openState moves the recent items of a pre-archive SQLite store into the archive, once", async () => {
  const items = [makeItem({ title: "older", publishedAt: Date.now() - 2 * DAY_MS }), makeItem({ title: "newer", publishedAt: Date.now() - DAY_MS })];
  const before = await store.open();
  const recent = await RecentItems.open(before.items, before.recent);
  await recent.add(items.map((item) => ({ item })));
  await recent.flush();

  const first = await store.open();
  const state = await openState(first, [], 365 * DAY_MS, silentLogger);
  assert.ok(state.archive, "SQLite keeps an archive");
  assert.deepEqual((await state.archive.latest(10)).map((item) => item.title), ["newer", "older"]);
  assert.equal((await RecentItems.open(first.items, first.recent)).size, 0, "the old index is cleared");
  assert.equal(await state.archive.sweep(), 0);
  await state.recent.flush();

  // A start on an archive emptied since (a short ARCHIVE_DAYS) brings nothing back.
  const second = await store.open();
  const short = await openState(second, [], 1, silentLogger);
  assert.equal(await short.archive!.sweep(), 2);
  await short.recent.flush();
  const third = await store.open();
  const again = await openState(third, [], 365 * DAY_MS, silentLogger);
  assert.deepEqual(await again.archive!.latest(10), []);
  await again.recent.flush();
});
