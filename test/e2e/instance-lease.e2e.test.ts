/**
 * One newswire per store, through the real entry point: a second process on the store of a
 * running one exits 1 with one line naming the store and the first one's pid, and the first
 * keeps answering; after the first is SIGKILLed, a new one starts at once (no lease left to wait
 * out). On SQLite always; on Redis where a server is given, on a store of this file's own. On
 * Redis, a lease taken over while newswire runs stops it, logged, with exit 1. (PostgreSQL takes
 * no lease: several instances share it, test/e2e/cluster.e2e.test.ts.)
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { redisClient } from "../../src/store/keyv.js";
import { rssXml } from "../support/feed-site.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";
import { redisDatabase, skipWithout, storeServers } from "../support/store-servers.js";

const LIMIT = "SQLite and Redis stores serve one instance; several instances share a PostgreSQL store";
const backends = [
  { name: "sqlite", skip: false as const, storeUrl: async (world: World) => world.env().STORE_URL! },
  { name: "redis", skip: skipWithout("redis"), storeUrl: () => redisDatabase(storeServers.redis!, 13) },
];

describe("one instance per store", () => {
  let world: World;
  let chat = 7100;
  /** Whether `bot` answers a new chat's /subscribe. */
  const answers = async (bot: NewswireProcess) => {
    const id = ++chat;
    world.telegram.sendText(id, "/subscribe all");
    await world.telegram.waitFor((message) => message.chat_id === id && /Subscribed to all/.test(message.text));
    assert.equal(bot.child.exitCode, null, "still running");
  };

  before(async () => {
    world = await startWorld("lease");
    world.site.set("/feed.xml", { body: rssXml({ title: "Lease", link: "https://news.example/", items: [] }) });
  });
  after(() => world?.close());

  for (const { name, skip, storeUrl } of backends) {
    test(`on ${name}: a second process is refused with one line; a SIGKILLed one is replaced at once`, { skip }, async (t) => {
      const env = world.env({ FEEDS: world.site.url("/feed.xml"), STORE_URL: await storeUrl(world) });
      let first: NewswireProcess | undefined;
      let replacement: NewswireProcess | undefined;
      try {
        const began = Date.now();
        first = startNewswire(env, world.workdir);
        await first.waitForOutput("newswire started");
        const firstStart = Date.now() - began;

        const second = startNewswire(env, world.workdir);
        assert.equal(await second.exited, 1);
        const lines = second.output().trim().split("\n");
        assert.equal(lines.length, 1, second.output());
        assert.match(lines[0]!, new RegExp(`^newswire: another newswire instance is using this store \\(${name}.*, pid ${first.child.pid}\\): stop it first; ${LIMIT}$`));
        await answers(first);

        first.child.kill("SIGKILL");
        await first.exited;
        const killed = Date.now();
        replacement = startNewswire(env, world.workdir);
        await replacement.waitForOutput("newswire started");
        t.diagnostic(`${name}: start after SIGKILL of the holder ${Date.now() - killed} ms, first start ${firstStart} ms`);
        await answers(replacement);
        assert.equal(await replacement.stop("SIGTERM"), 0);
      } finally {
        await Promise.all([first?.stop("SIGKILL"), replacement?.stop("SIGKILL")]);
      }
    });
  }

  test("on redis: a lease taken over while running stops newswire with an error and exit 1", { skip: skipWithout("redis") }, async () => {
    const storeUrl = await redisDatabase(storeServers.redis!, 13);
    const bot = startNewswire(world.env({ FEEDS: world.site.url("/feed.xml"), STORE_URL: storeUrl }), world.workdir);
    try {
      await bot.waitForOutput("newswire started");
      const client = await redisClient(storeUrl);
      await client.connect();
      await client.set("newswire:instance", "other 4242@elsewhere");
      await client.close();
      assert.equal(await bot.exited, 1);
      assert.match(bot.output(), /another newswire instance took this store's lease/);
      assert.match(bot.output(), /"msg":"stopped"/);
    } finally {
      await bot.stop("SIGKILL");
    }
  });
});
