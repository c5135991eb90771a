/**
 * A full disk under the SQLite store, end to end through the real entry point. The disk is made
 * full by the store layer's test-only fault injection (NEWSWIRE_TEST_DISK_FULL_FLAG: while the
 * flag file exists, every SQLite write statement fails with SQLITE_FULL at the driver boundary),
 * so the adapter, Keyv and newswire take their real error paths; no mount is needed.
 * While full: a /subscribe is answered that it was not saved (never "Subscribed"), the operator
 * gets one log line, one admin alert and a /status line, and a new item waits. After space
 * returns: the item reaches the earlier subscriber once, the refused subscription is not there,
 * and nothing is lost or sent twice across a restart.
 */
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { rssXml } from "../support/feed-site.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";

const EARLY = 5001;
const LATE = 5002;
const ADMIN = 5003;

const story = (n: number) => ({
  title: `Harbour story ${n}`,
  link: `https://news.example/harbour-${n}`,
  guid: `harbour-${n}`,
  description: `<p>The council met on day ${n} about the pier.</p>`,
  pubDate: new Date(Date.UTC(2026, 10, n, 12)),
});

describe("disk full under SQLite", () => {
  let world: World;
  let flag: string;
  const items = [story(1), story(2)];
  const publish = () => world.site.set("/feed.xml", { body: rssXml({ title: "Harbour", link: "https://news.example/", items: [...items].reverse() }) });
  const to = (chat: number, pattern: RegExp) => (message: { chat_id: number; text: string }) => message.chat_id === chat && pattern.test(message.text);
  const pushes = (chat: number, n: number) => world.telegram.sent.filter(to(chat, new RegExp(`Harbour story ${n}\\b`))).filter((message) => !message.text.startsWith("The "));

  before(async () => {
    world = await startWorld("disk-full");
    flag = join(world.workdir, "disk-full");
    publish();
  });
  after(() => world?.close());

  test("a refused write is told, nothing is lost, nothing is sent twice", async () => {
    const env = world.env({ FEEDS: world.site.url("/feed.xml"), ADMIN_IDS: String(ADMIN), NEWSWIRE_TEST_DISK_FULL_FLAG: flag });
    let bot: NewswireProcess = startNewswire(env, world.workdir);
    try {
      await bot.waitForOutput("newswire started");
      world.telegram.sendText(EARLY, "/subscribe all");
      await world.telegram.waitFor(to(EARLY, /Subscribed to all/));
      await bot.waitForOutput("feed baseline recorded");

      writeFileSync(flag, "");
      world.telegram.sendText(LATE, "/subscribe all");
      await world.telegram.waitFor(to(LATE, /could not be saved/));
      world.telegram.sendText(LATE, "/subscriptions", { language_code: "ru" });
      await world.telegram.waitFor(to(LATE, /не подписан|no topics|ни на какие/i));
      items.push(story(3));
      publish();
      await bot.waitForOutput("store is failing");
      await world.telegram.waitFor(to(ADMIN, /The store is failing: .*SQLITE_FULL/));
      world.telegram.sendText(ADMIN, "/status");
      await world.telegram.waitFor(to(ADMIN, /<b>Store<\/b>: ❌ failing since/));
      assert.equal(pushes(EARLY, 3).length, 0, "nothing is sent while the item cannot be recorded");

      rmSync(flag);
      await bot.waitForOutput("store works again");
      await world.telegram.waitFor((message) => pushes(EARLY, 3).includes(message), { timeoutMs: 15_000 });
      assert.equal(world.telegram.sent.filter(to(LATE, /Subscribed to all/)).length, 0, "never told it was subscribed");
      assert.equal(pushes(LATE, 3).length, 0, "the refused subscription was not kept");
      const failing = bot.output().split("\n").filter((line) => line.includes("store is failing"));
      assert.equal(failing.length, 1, "one log line for the outage");

      world.telegram.sendText(LATE, "/subscribe all", { language_code: "en" });
      await world.telegram.waitFor(to(LATE, /Subscribed to all/));
      bot.child.kill("SIGTERM");
      assert.equal(await bot.exited, 0);

      bot = startNewswire(env, world.workdir);
      await bot.waitForOutput("newswire started");
      items.push(story(4));
      publish();
      await world.telegram.waitFor((message) => pushes(LATE, 4).includes(message), { timeoutMs: 15_000 });
      await world.telegram.waitFor((message) => pushes(EARLY, 4).includes(message), { timeoutMs: 15_000 });
      assert.equal(pushes(EARLY, 3).length, 1, "story 3 sent once, also after the restart");
      assert.equal(pushes(EARLY, 4).length, 1);
      assert.equal(pushes(LATE, 4).length, 1);
      for (const n of [1, 2]) assert.equal(pushes(EARLY, n).length, 0, "the baseline is never sent");
      assert.equal(world.telegram.sent.filter(to(ADMIN, /The store is failing/)).length, 1, "one admin alert");
    } finally {
      await bot.stop("SIGKILL");
    }
  });
});
