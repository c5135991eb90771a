/**
 * Delivery at Telegram's ceiling, from outside: the real entry point against the loopback Bot API
 * double with its Telegram-like flood limits (30/s overall, 1/s per chat, 20/min per group) and the
 * loopback feed site. Subscribers are written into the store before the process starts, so hundreds
 * of chats cost no Telegram round trips. Checked: one item reaches 600 chats exactly once; a second
 * survives a SIGKILL a third of the way through with at most 3 duplicates in all; blocked chats are
 * tried once and unsubscribed; a migrated group gets items at its new id; two items published
 * together arrive in order in every chat. Rates are printed as diagnostics, never asserted.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Outbox } from "../../src/delivery/outbox.js";
import type { Subscriber, SubscriberStore } from "../../src/delivery/subscribers.js";
import { closeNamespaces, openNamespaces } from "../../src/store/keyv.js";
import type { FakeTelegram, SentMessage } from "../support/fake-telegram.js";
import { rssXml, type FeedSite, type RssItem } from "../support/feed-site.js";
import { storedSubscribers } from "../support/builders.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";

type NewSubscriber = Omit<Subscriber, "topics" | "since">;

/** Private chats 10001, 10002, … */
const privateChats = (count: number, from = 10_001): NewSubscriber[] =>
  Array.from({ length: count }, (_, index) => ({ chatId: from + index, kind: "private" }));

/** Writes subscriptions to `all` straight into the store, as /subscribe would have. */
async function seedSubscribers(storeUrl: string, chats: readonly NewSubscriber[]): Promise<void> {
  const store = await openNamespaces(storeUrl);
  try {
    const subscribers = await storedSubscribers(store);
    await Promise.all(chats.map((chat) => subscribers.subscribe(chat, ["all"])));
  } finally {
    await Promise.all(Object.values(store).map((keyv) => keyv.disconnect()));
  }
}

/** The subscribers and outbox as a stopped process left them, open until `close`. */
async function readStore(storeUrl: string): Promise<{ subscribers: SubscriberStore; outbox: Outbox; close: () => Promise<void> }> {
  const store = await openNamespaces(storeUrl);
  return { subscribers: await storedSubscribers(store), outbox: await Outbox.open(store.outbox), close: () => closeNamespaces(store) };
}

/** A story whose title no other story's contains. */
const story = (n: number): RssItem => ({
  title: `Broadcast story ${n} ends here`,
  link: `https://news.example/broadcast-${n}`,
  guid: `broadcast-${n}`,
  description: `<p>Report number ${n} on the harbour works.</p>`,
  pubDate: new Date(Date.UTC(2026, 0, 1, n)),
});

/** Serves `items` (newest first, as feeds list them) at /feed.xml. */
function publish(site: FeedSite, items: readonly RssItem[]): void {
  const newestFirst = [...items].sort((a, b) => b.pubDate!.getTime() - a.pubDate!.getTime());
  site.set("/feed.xml", { body: rssXml({ title: "Harbour News", items: newestFirst }), contentType: "application/rss+xml; charset=utf-8" });
}

/** How many copies of `item` each chat received. */
function copiesByChat(telegram: FakeTelegram, item: RssItem): Map<number, number> {
  const copies = new Map<number, number>();
  for (const message of messagesOf(telegram, item)) copies.set(message.chat_id, (copies.get(message.chat_id) ?? 0) + 1);
  return copies;
}

function messagesOf(telegram: FakeTelegram, item: RssItem): SentMessage[] {
  return telegram.sent.filter((message) => message.method === "sendMessage" && message.text.includes(item.title));
}

/** sendMessage requests (answered or refused) addressed to `chatId`. */
const attemptsTo = (telegram: FakeTelegram, chatId: number): number =>
  telegram.calls.filter((call) => call.method === "sendMessage" && Number(call.params["chat_id"]) === chatId).length;

/** Messages per second between the first and the last message of `item`. */
function rate(telegram: FakeTelegram, item: RssItem): string {
  const times = messagesOf(telegram, item).map((message) => message.at);
  const seconds = (Math.max(...times) - Math.min(...times)) / 1000;
  return `${times.length} messages in ${seconds.toFixed(1)} s = ${((times.length - 1) / seconds).toFixed(1)} msg/s`;
}

/** Resolves once `condition` holds, checking every 100 ms; rejects after `timeoutMs` with `describe()`. */
async function until(condition: () => boolean, describe: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every chat in `chatIds` has at least one copy of `item`. */
const reachedAll = (telegram: FakeTelegram, item: RssItem, chatIds: readonly number[]) => () => {
  const copies = copiesByChat(telegram, item);
  return chatIds.every((chatId) => copies.has(chatId));
};

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the process and waits for its first poll to record the feed's baseline. */
async function startBaselined(env: Record<string, string>, cwd: string): Promise<NewswireProcess> {
  const bot = startNewswire(env, cwd);
  await bot.waitForOutput("feed baseline recorded");
  return bot;
}

async function stopGracefully(bot: NewswireProcess): Promise<void> {
  bot.child.kill("SIGTERM");
  assert.equal(await bot.exited, 0, bot.output().slice(-2_000));
}

/** A fake Telegram (Telegram's flood limits on), a feed site, a work folder and the process settings. */
/** A world per describe block, started before its tests and closed after them. */
function harness(): {
  telegram: () => FakeTelegram;
  site: () => FeedSite;
  env: () => Record<string, string>;
  workdir: () => string;
} {
  let world: World;
  before(async () => {
    world = await startWorld("broadcast");
  });
  after(() => world?.close());
  return {
    telegram: () => world.telegram,
    site: () => world.site,
    env: () => world.env({ FEEDS: world.site.url("/feed.xml") }),
    workdir: () => world.workdir,
  };
}

describe("broadcast to 600 chats through Telegram's flood limits", () => {
  const h = harness();
  const live = privateChats(600);
  const blocked = privateChats(4, 20_001);
  const oldGroup = -4_001;
  const newGroup = -1_000_000_004_001;

  test("exactly once, blocked chats dropped, a migrated group followed; a SIGKILL mid-broadcast costs ≤ 3 duplicates", async (t) => {
    const telegram = h.telegram();
    const site = h.site();
    const items = [story(1)];
    publish(site, items);
    telegram.addChat({ id: oldGroup, type: "group", title: "Harbour watchers" });
    telegram.migrateChat(oldGroup, newGroup);
    for (const { chatId } of blocked) telegram.blockChat(chatId);
    await seedSubscribers(h.env().STORE_URL!, [...live, ...blocked, { chatId: oldGroup, kind: "group", title: "Harbour watchers" }]);
    const reachable = [...live.map(({ chatId }) => chatId), newGroup];

    let bot: NewswireProcess | undefined;
    try {
      bot = await startBaselined(h.env(), h.workdir());
      assert.equal(telegram.sent.filter((message) => message.text.includes("Broadcast story")).length, 0, "the baseline is not pushed");

      // One item to every chat, exactly once.
      const first = story(2);
      items.push(first);
      publish(site, items);
      await until(reachedAll(telegram, first, reachable), () => `${copiesByChat(telegram, first).size} chats reached`, 60_000);
      t.diagnostic(`first item: ${rate(telegram, first)}; 429s so far: ${telegram.floodRejections}`);
      await pause(2_000); // a few more polls and sender turns: nothing more may arrive
      const firstCopies = copiesByChat(telegram, first);
      assert.deepEqual([...firstCopies.keys()].sort((a, b) => a - b), [...reachable].sort((a, b) => a - b), "exactly the reachable chats");
      assert.deepEqual([...firstCopies.entries()].filter(([, copies]) => copies !== 1), [], "one copy per chat");
      for (const { chatId } of blocked) assert.equal(attemptsTo(telegram, chatId), 1, `blocked chat ${chatId}: one attempt`);
      assert.equal(attemptsTo(telegram, oldGroup), 1, "the old group id is tried once");

      // A second item; SIGKILL when about a third of it is out, restart, and it completes.
      const second = story(3);
      items.push(second);
      publish(site, items);
      await telegram.waitFor((message) => message.text.includes(second.title), { count: 200, timeoutMs: 30_000 });
      bot.child.kill("SIGKILL");
      await bot.exited;
      const beforeRestart = messagesOf(telegram, second).length;
      bot = startNewswire(h.env(), h.workdir());
      await until(reachedAll(telegram, second, reachable), () => `${copiesByChat(telegram, second).size} chats reached`, 60_000);
      await pause(2_000);
      const secondCopies = copiesByChat(telegram, second);
      const duplicates = [...secondCopies.values()].reduce((sum, copies) => sum + copies - 1, 0);
      t.diagnostic(`second item: ${beforeRestart} sent before the SIGKILL; ${duplicates} duplicate(s) after the restart; ${rate(telegram, second)}; 429s in all: ${telegram.floodRejections}`);
      assert.deepEqual([...secondCopies.keys()].sort((a, b) => a - b), [...reachable].sort((a, b) => a - b), "exactly the reachable chats");
      assert.ok(duplicates <= 3, `${duplicates} duplicates after the SIGKILL`);
      assert.deepEqual([...copiesByChat(telegram, first).values()].filter((copies) => copies !== 1), [], "the first item is not repeated");

      // Blocked chats were never tried again, the old group id neither.
      for (const { chatId } of blocked) assert.equal(attemptsTo(telegram, chatId), 1, `blocked chat ${chatId}: still one attempt`);
      assert.equal(attemptsTo(telegram, oldGroup), 1, "the old group id is not tried again");
      assert.equal(telegram.calls.filter((call) => call.error && call.error.error_code === 400 && call.params["chat_id"] !== oldGroup).length, 0, "Telegram rejected a message");

      await stopGracefully(bot);
      const { subscribers, outbox, close } = await readStore(h.env().STORE_URL!);
      t.after(close);
      for (const { chatId } of blocked) assert.equal(await subscribers.get({ chatId }), undefined, `blocked chat ${chatId} is unsubscribed`);
      assert.equal(await subscribers.get({ chatId: oldGroup }), undefined, "nothing is left at the old group id");
      assert.equal((await subscribers.get({ chatId: newGroup }))?.kind, "supergroup", "the group's subscription moved");
      assert.equal(await subscribers.count(), live.length + 1);
      assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 }, "the outbox is empty");
    } finally {
      await bot?.stop("SIGKILL");
    }
  });
});

describe("two items published together", () => {
  const h = harness();
  const chats = privateChats(150);

  test("arrive complete, once each, in order of publication in every chat", async (t) => {
    const telegram = h.telegram();
    const site = h.site();
    const items = [story(10)];
    publish(site, items);
    await seedSubscribers(h.env().STORE_URL!, chats);
    const chatIds = chats.map(({ chatId }) => chatId);

    let bot: NewswireProcess | undefined;
    try {
      bot = await startBaselined(h.env(), h.workdir());
      const [older, newer] = [story(11), story(12)];
      items.push(newer, older);
      publish(site, items);
      await until(reachedAll(telegram, newer, chatIds), () => `${copiesByChat(telegram, newer).size} chats reached`, 60_000);
      await pause(1_500);
      t.diagnostic(`both items: ${telegram.sent.length} messages; 429s: ${telegram.floodRejections}`);

      for (const item of [older, newer]) {
        const copies = copiesByChat(telegram, item);
        assert.deepEqual([...copies.keys()].sort((a, b) => a - b), chatIds, `${item.title}: every chat`);
        assert.deepEqual([...copies.values()].filter((count) => count !== 1), [], `${item.title}: once each`);
      }
      const outOfOrder = chatIds.filter((chatId) => {
        const inChat = telegram.sent.filter((message) => message.chat_id === chatId).map((message) => message.text);
        return !(inChat.length === 2 && inChat[0]!.includes(older.title) && inChat[1]!.includes(newer.title));
      });
      assert.deepEqual(outOfOrder, [], "chats that got the newer item first");
      await stopGracefully(bot);
    } finally {
      await bot?.stop("SIGKILL");
    }
  });
});
