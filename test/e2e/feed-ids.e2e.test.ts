/**
 * Feed ids and the state they name, from outside, through the real entry point: reordering the
 * config, adding a second feed of the same site above the first, and upgrading from newswire 0.1
 * (whose ids came from the host numbered in list order) push nothing a subscriber already had and
 * nothing from a new feed's back catalogue, while new items still arrive once.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { Subscribers } from "../../src/delivery/subscribers.js";
import { identityKeys } from "../../src/items/identity.js";
import { SeenItems } from "../../src/items/seen.js";
import { closeNamespaces, openNamespaces } from "../../src/store/keyv.js";
import type { FakeTelegram } from "../support/fake-telegram.js";
import { rssXml, type FeedSite, type RssItem } from "../support/feed-site.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";

const READER = 6161;

/** An item with a guid and no link, so only its guid (scoped to its feed) says it was seen. */
const item = (feed: string, n: number): RssItem => ({
  title: `${feed} report ${n}`,
  guid: `${feed}-${n}`,
  description: `The ${feed} desk files report ${n}.`,
  pubDate: new Date(Date.UTC(2026, 6, n, 9)),
});

describe("feed ids that never depend on the list order", () => {
  let world: World;
  let telegram: FakeTelegram;
  let site: FeedSite;
  let configFile: string;
  const feeds = new Map<string, RssItem[]>();
  /** Serves `feed` at /harbour/<feed>.xml with the items given so far, newest first. */
  const publish = (feed: string, ...items: RssItem[]) => {
    feeds.set(feed, [...items, ...(feeds.get(feed) ?? [])]);
    site.set(`/harbour/${feed}.xml`, { body: rssXml({ title: `Harbour ${feed}`, items: feeds.get(feed)! }) });
  };
  const configure = (...names: string[]) => writeFileSync(configFile, stringify({ feeds: names.map((name) => ({ url: site.url(`/harbour/${name}.xml`) })) }));
  const pushes = (title: string) => telegram.sent.filter((message) => message.chat_id === READER && message.text.includes(title));
  const arrives = (title: string) => telegram.waitFor((message) => pushes(title).includes(message), { timeoutMs: 20_000 });
  /** Every push to the reader that is not a command's reply. */
  const delivered = () => telegram.sent.filter((message) => message.chat_id === READER && / report \d/.test(message.text)).map((message) => message.text.split("\n")[0]!.replace(/<[^>]+>/g, ""));

  before(async () => {
    world = await startWorld("feed-ids");
    ({ telegram, site } = world);
    configFile = join(world.workdir, "newswire.yaml");
  });

  after(() => world?.close());

  test("reordering feeds and adding one of the same site above another send nothing old", async () => {
    publish("news", item("news", 2), item("news", 1));
    configure("news");
    let bot: NewswireProcess = startNewswire(world.env({ CONFIG_FILE: configFile }), world.workdir);
    try {
      await bot.waitForOutput("newswire started");
      telegram.sendText(READER, "/subscribe all");
      await telegram.waitFor((message) => message.chat_id === READER && /Subscribed to all/.test(message.text));
      await bot.waitForOutput("feed baseline recorded");
      publish("news", item("news", 3));
      await arrives("news report 3");
      bot.child.kill("SIGTERM");
      assert.equal(await bot.exited, 0);

      // A second feed of the same site, with a back catalogue, listed above the first; while the
      // bot was down the first feed published one item, which the first poll must deliver.
      publish("sport", item("sport", 2), item("sport", 1));
      publish("news", item("news", 4));
      configure("sport", "news");
      bot = startNewswire(world.env({ CONFIG_FILE: configFile }), world.workdir);
      await arrives("news report 4");
      await bot.waitForOutput("feed baseline recorded");
      assert.match(bot.output(), /"feed":"127-0-0-1-harbour-sport-xml"[^\n]*feed baseline recorded/);
      publish("sport", item("sport", 3));
      await arrives("sport report 3");
      bot.child.kill("SIGTERM");
      assert.equal(await bot.exited, 0);

      // The other order again, after both feeds have news.
      publish("news", item("news", 5));
      publish("sport", item("sport", 4));
      configure("news", "sport");
      bot = startNewswire(world.env({ CONFIG_FILE: configFile }), world.workdir);
      await arrives("news report 5");
      await arrives("sport report 4");
      assert.doesNotMatch(bot.output(), /feed baseline recorded/, "no feed started over");
      // Older items would have been queued before these (oldest first), so they would be here by now.
      assert.deepEqual(delivered().sort(), ["news report 3", "news report 4", "news report 5", "sport report 3", "sport report 4"].sort());
      bot.child.kill("SIGTERM");
      assert.equal(await bot.exited, 0);
    } finally {
      await bot.stop("SIGKILL");
    }
  });

  test("the upgrade from 0.1's list-order ids keeps each feed's state and seen items", async () => {
    // What 0.1 left for feeds listed as [old, older]: states under 127-0-0-1 and 127-0-0-1-2, a
    // subscriber, and the items seen, their guids scoped by those ids.
    const chat = READER + 1;
    const legacy = [
      { name: "old", id: "127-0-0-1" },
      { name: "older", id: "127-0-0-1-2" },
    ];
    const store = await openNamespaces(world.env().STORE_URL!);
    const seen = new SeenItems(store.seen);
    for (const { name, id } of legacy) {
      publish(name, item(name, 2), item(name, 1));
      await store.feeds.set(id, { baselined: true, failures: 0, itemsSeen: 2 });
      await seen.remember(feeds.get(name)!.flatMap((entry) => identityKeys({ title: entry.title, guid: entry.guid }, id)));
    }
    await (await Subscribers.open(store.subscribers)).subscribe({ chatId: chat, kind: "private" }, ["all"]);
    await closeNamespaces(store);
    // Published while the upgrade was under way: the first poll must deliver it (no new baseline).
    publish("older", item("older", 3));
    configure(...legacy.map(({ name }) => name));

    const bot = startNewswire(world.env({ CONFIG_FILE: configFile }), world.workdir);
    try {
      await telegram.waitFor((message) => message.chat_id === chat && message.text.includes("older report 3"), { timeoutMs: 20_000 });
      publish("old", item("old", 3));
      await telegram.waitFor((message) => message.chat_id === chat && message.text.includes("old report 3"), { timeoutMs: 20_000 });
      assert.doesNotMatch(bot.output(), /feed baseline recorded/);
      const titles = telegram.sent.filter((message) => message.chat_id === chat).map((message) => message.text.split("\n")[0]!.replace(/<[^>]+>/g, ""));
      assert.deepEqual(titles.sort(), ["old report 3", "older report 3"]);
      bot.child.kill("SIGTERM");
      assert.equal(await bot.exited, 0);
    } finally {
      await bot.stop("SIGKILL");
    }
  });
});
