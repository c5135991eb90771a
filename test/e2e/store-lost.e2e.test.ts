/**
 * A store that comes back empty while newswire runs, end to end, as a Redis without persistence
 * does after a restart: its database is flushed from outside. newswire must notice (its epoch
 * marker is gone), say so loudly, re-baseline every feed instead of sending its back catalogue,
 * write back the subscribers it holds in memory, and deliver the next new item once. Needs a
 * Redis server: TEST_REDIS_URL.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { rssXml } from "../support/feed-site.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";
import { redisDatabase, skipWithout, storeServers } from "../support/store-servers.js";

/** This file's Redis database (others use their own). */
const DATABASE = 14;

const CHAT = 6001;

const story = (n: number) => ({
  title: `Ferry story ${n}`,
  link: `https://news.example/ferry-${n}`,
  guid: `ferry-${n}`,
  description: `<p>The ferry sailed on day ${n}.</p>`,
  pubDate: new Date(Date.UTC(2026, 10, n, 12)),
});

describe("the store comes back empty", () => {
  let world: World;
  const items = [story(1), story(2), story(3)];
  const publish = () => world.site.set("/feed.xml", { body: rssXml({ title: "Ferry", link: "https://news.example/", items: [...items].reverse() }) });
  const pushes = (n: number) => world.telegram.sent.filter((message) => message.chat_id === CHAT && message.text.includes(`Ferry story ${n}`));

  before(async () => {
    world = await startWorld("store-lost");
    publish();
  });
  after(() => world?.close());

  test("re-baselines instead of re-sending, keeps the subscribers it knows", { skip: skipWithout("redis") }, async () => {
    const storeUrl = await redisDatabase(storeServers.redis!, DATABASE);
    const env = world.env({ FEEDS: world.site.url("/feed.xml"), STORE_URL: storeUrl });
    let bot: NewswireProcess = startNewswire(env, world.workdir);
    try {
      await bot.waitForOutput("newswire started");
      world.telegram.sendText(CHAT, "/subscribe all");
      await world.telegram.waitFor((message) => message.chat_id === CHAT && /Subscribed to all/.test(message.text));
      await bot.waitForOutput("feed baseline recorded");

      await redisDatabase(storeServers.redis!, DATABASE);

      await bot.waitForOutput("the store lost its data");
      await bot.waitForOutput("feed baseline recorded", 15_000, 2);
      items.push(story(4));
      publish();
      await world.telegram.waitFor((message) => pushes(4).includes(message), { timeoutMs: 15_000 });
      for (const n of [1, 2, 3]) assert.equal(pushes(n).length, 0, `story ${n} was not re-sent`);

      bot.child.kill("SIGTERM");
      assert.equal(await bot.exited, 0);
      bot = startNewswire(env, world.workdir);
      await bot.waitForOutput("newswire started");
      assert.match(bot.output(), /"subscribers":1/, "the subscriber was written back");
      items.push(story(5));
      publish();
      await world.telegram.waitFor((message) => pushes(5).includes(message), { timeoutMs: 15_000 });
      assert.equal(pushes(4).length, 1);
      assert.equal(pushes(5).length, 1);
    } finally {
      await bot.stop("SIGKILL");
    }
  });
});
