/**
 * The bot token's one Telegram budget, from outside: the real entry point against the loopback Bot
 * API double enforcing Telegram's flood limits (30/s overall, 1/s per chat, 20/min per group, 429
 * with retry_after). Bursts of commands are all answered, at the ceiling, with few 429s; a command
 * whose work was done is never answered with an error; a feed's flood sends only the newest
 * MAX_NEW_ITEMS_PER_POLL and does not hold up another feed's item to the same chat. Rates are
 * printed as diagnostics.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { Outbox } from "../../src/delivery/outbox.js";
import { openNamespaces } from "../../src/store/keyv.js";
import type { FakeTelegram, SentMessage } from "../support/fake-telegram.js";
import { rssXml, type FeedSite, type RssItem } from "../support/feed-site.js";
import { storedSubscribers } from "../support/builders.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";

let world: World | undefined;
let bot: NewswireProcess | undefined;
afterEach(async () => {
  await bot?.stop("SIGKILL");
  await world?.close();
  bot = world = undefined;
});

const item = (feed: string, n: number): RssItem => ({
  title: `${feed} story ${n} ends here`,
  link: `https://${feed}.example/story-${n}`,
  guid: `${feed}-${n}`,
  description: `<p>Report ${n} from ${feed}.</p>`,
  pubDate: new Date(Date.UTC(2026, 0, 1) + n * 1000),
});

/** Serves `items` at /NAME.xml, newest first as feeds list them. */
function publish(site: FeedSite, name: string, items: readonly RssItem[]): void {
  const newestFirst = [...items].sort((a, b) => b.pubDate!.getTime() - a.pubDate!.getTime());
  site.set(`/${name}.xml`, { body: rssXml({ title: name, items: newestFirst }), contentType: "application/rss+xml; charset=utf-8" });
}

/** sendMessage requests, answered or refused with 429. */
function sendAttempts(telegram: FakeTelegram): { attempts: number; refused: number } {
  const sends = telegram.calls.filter((call) => call.method === "sendMessage");
  return { attempts: sends.length, refused: sends.filter((call) => call.error?.error_code === 429).length };
}

/** Starts newswire on one small feed and waits until it answers. */
async function startAnswering(name: string): Promise<World> {
  world = await startWorld(name);
  publish(world.site, "feed", [item("feed", 1)]);
  bot = startNewswire(world.env({ FEEDS: world.site.url("/feed.xml") }), world.workdir);
  await bot.waitForOutput("newswire started");
  return world;
}

const users = (count: number, from: number) => Array.from({ length: count }, (_, index) => from + index);

/** Each chat's messages, by chat id. */
function byChat(messages: readonly SentMessage[]): Map<number, SentMessage[]> {
  const chats = new Map<number, SentMessage[]>();
  for (const message of messages) chats.set(message.chat_id, [...(chats.get(message.chat_id) ?? []), message]);
  return chats;
}

describe("a burst of commands through Telegram's flood limits", () => {
  test("2,000 /start at once: 2,000 replies, one per user, 429s under 2 % of sends", { timeout: 120_000 }, async (t) => {
    const { telegram } = await startAnswering("start-burst");
    const chats = users(2_000, 50_001);
    for (const chatId of chats) telegram.sendText(chatId, "/start");
    const replies = await telegram.waitFor((message) => message.text.startsWith("Hi, User"), { count: chats.length, timeoutMs: 100_000 });
    const perChat = byChat(replies);
    assert.deepEqual([...perChat.keys()].sort((a, b) => a - b), chats, "every user answered");
    assert.deepEqual([...perChat.values()].filter((messages) => messages.length !== 1), [], "once each");
    const { attempts, refused } = sendAttempts(telegram);
    const seconds = (replies.at(-1)!.at - replies[0]!.at) / 1000;
    t.diagnostic(`${replies.length} replies in ${seconds.toFixed(1)} s = ${((replies.length - 1) / seconds).toFixed(1)}/s; ${refused} of ${attempts} sends refused with 429`);
    assert.ok(refused < attempts * 0.02, `${refused} of ${attempts} sends refused with 429`);
    assert.doesNotMatch(bot!.output(), /reply dropped/);
  });

  test("600 /subscribe at once: 600 truthful confirmations, no error reply, every subscription stored", { timeout: 90_000 }, async (t) => {
    const { telegram, env } = await startAnswering("subscribe-burst");
    const chats = users(600, 70_001);
    for (const chatId of chats) telegram.sendText(chatId, "/subscribe all");
    const confirmations = await telegram.waitFor((message) => message.text === "Subscribed to all.", { count: chats.length, timeoutMs: 60_000 });
    assert.deepEqual([...byChat(confirmations).keys()].sort((a, b) => a - b), chats, "every user told, once");
    assert.deepEqual(telegram.sent.filter((message) => /Something went wrong/.test(message.text)), [], "no error reply");
    const { attempts, refused } = sendAttempts(telegram);
    t.diagnostic(`${refused} of ${attempts} sends refused with 429`);

    // Truthful: the subscriptions are there after a clean stop.
    assert.equal(await bot!.stop("SIGTERM"), 0);
    const store = await openNamespaces(env().STORE_URL!);
    try {
      const subscribers = await storedSubscribers(store);
      const stored = await Promise.all(chats.map((chatId) => subscribers.get({ chatId })));
      assert.deepEqual(chats.filter((_, index) => !stored[index]?.topics.includes("all")), [], "stored for every user");
    } finally {
      await Promise.all(Object.values(store).map((keyv) => keyv.disconnect()));
    }
  });
});

describe("a feed's flood", () => {
  test("20,000 new items in one poll: only the cap is sent, and another feed's item is not held up", { timeout: 90_000 }, async (t) => {
    world = await startWorld("flood");
    const { telegram, site, workdir } = world;
    const cap = 20;
    const configFile = join(workdir, "newswire.json");
    writeFileSync(configFile, JSON.stringify({ feeds: [{ id: "flood", url: site.url("/flood.xml") }, { id: "quiet", url: site.url("/quiet.xml") }] }));
    publish(site, "flood", [item("flood", 0)]);
    publish(site, "quiet", [item("quiet", 0)]);
    const env = world.env({ CONFIG_FILE: configFile, MAX_NEW_ITEMS_PER_POLL: String(cap) });
    bot = startNewswire(env, workdir);
    await bot.waitForOutput('"feed":"flood"');
    await bot.waitForOutput('"feed":"quiet"');
    const reader = 80_001;
    telegram.sendText(reader, "/subscribe all");
    await telegram.waitFor((message) => message.chat_id === reader && message.text === "Subscribed to all.");

    const flood = Array.from({ length: 20_000 }, (_, index) => item("flood", index + 1));
    publish(site, "flood", [item("flood", 0), ...flood]);
    const isFlood = (message: SentMessage) => message.chat_id === reader && message.text.includes("flood story");
    await telegram.waitFor(isFlood, { timeoutMs: 60_000 });

    // The other feed's news, published while the flood is being sent, comes within a turn or two.
    const floodBefore = telegram.sent.filter(isFlood).length;
    const news = item("quiet", 1);
    publish(site, "quiet", [item("quiet", 0), news]);
    const [arrived] = await telegram.waitFor((message) => message.chat_id === reader && message.text.includes(news.title), { timeoutMs: 30_000 });
    const floodAhead = telegram.sent.filter((message) => isFlood(message) && message.at <= arrived!.at).length - floodBefore;
    t.diagnostic(`flood messages sent between publishing the other feed's item and its arrival: ${floodAhead}`);
    assert.ok(floodAhead <= 3, `${floodAhead} flood messages went ahead of the other feed's item`);

    // Only the newest `cap` of the flood, and nothing of it left queued.
    const sent = await telegram.waitFor(isFlood, { count: cap, timeoutMs: 60_000 });
    assert.equal(await bot.stop("SIGTERM"), 0);
    const store = await openNamespaces(env.STORE_URL!);
    try {
      assert.equal((await Outbox.open(store.outbox)).size.deliveries, 0, "nothing of the flood left to send");
    } finally {
      await Promise.all(Object.values(store).map((keyv) => keyv.disconnect()));
    }
    assert.equal(telegram.sent.filter(isFlood).length, cap);
    const newest = flood.slice(-cap).map(({ title }) => title);
    assert.deepEqual(sent.map((message) => newest.find((title) => message.text.includes(title))).sort(), [...newest].sort(), "the newest ones");
    assert.match(bot.output(), /"skipped":19980/);
  });
});
