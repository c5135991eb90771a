/**
 * Topics, the topic menu, channels and forum threads from outside: the real entry point with a
 * YAML config file, against a loopback Bot API double and a loopback feed site. Checks what
 * issue 5 is done by: a `china` chat gets the item that mentions "Китаю" and not the one about
 * Brazil, a `navy` chat gets the item of category "Флот", an unknown topic's reply names the valid
 * ones, the menu's buttons change what a chat receives, a channel admin (and only an admin) links
 * a channel that then gets its topics' items until the bot is removed, a topic's home channel
 * posts its items once and the topic's readers get forwards of that post, and a subscription made
 * in a forum thread posts into that thread.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { InlineKeyboardMarkup, Update } from "grammy/types";
import type { FakeTelegram, SentMessage } from "../support/fake-telegram.js";
import { rssXml, type FeedSite, type RssItem } from "../support/feed-site.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";
import { myChatMemberUpdate, user } from "../support/builders.js";

const CHINA_CHAT = 5001;
const NAVY_CHAT = 5002;
const CURIOUS_CHAT = 5003;
const MENU_CHAT = 5004;
const ALL_CHAT = 5005;
const CHANNEL = -100123;
const HOME_CHANNEL = -100124;
const CHANNEL_ADMIN = 6001;
const CHANNEL_READER = 6002;
const FORUM = -100700;
const FORUM_ADMIN = 7001;
const THREAD = 42;

const CONFIG = (feedUrl: string) => `
feeds:
  - url: ${feedUrl}
    id: wire
    title: The Wire
topics:
  - id: china
    title: China
    keywords: [China, Китай]
  - id: navy
    title: Navy
    categories: [Флот]
`;

let itemCounter = 0;
const item = (title: string, description: string, categories: string[] = []): RssItem => {
  itemCounter++;
  return {
    title,
    description,
    categories,
    link: `https://wire.example/${itemCounter}`,
    guid: `wire-${itemCounter}`,
    pubDate: new Date(Date.UTC(2026, 0, 1, 12, itemCounter)),
  };
};

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("topics, the topic menu, channels and forum threads end to end", () => {
  let fake: FakeTelegram;
  let site: FeedSite;
  let workdir: string;
  let world: World;
  let bot: NewswireProcess | undefined;
  const items: RssItem[] = [item("Harbour council meets", "The council met about the pier.")];
  const publish = () =>
    site.set("/wire.xml", { body: rssXml({ title: "The Wire", items: [...items].reverse() }), contentType: "application/rss+xml; charset=utf-8" });

  /** What the bot put into a chat (sent or forwarded), containing `text`. */
  const received = (chatId: number, text: string, thread?: number) =>
    fake.sent.filter((message) => message.chat_id === chatId && message.text.includes(text) && (thread === undefined || message.message_thread_id === thread));
  /** The bot's first message to `chatId` that matches `pattern`, once there is one. */
  const reply = async (chatId: number, pattern: RegExp): Promise<SentMessage> => {
    const [message] = await fake.waitFor((sent) => sent.chat_id === chatId && pattern.test(sent.text), { timeoutMs: 10_000 });
    return message!;
  };
  /** Any attempt (successful or not) to post into a chat. */
  const attemptsTo = (chatId: number) =>
    fake.calls.filter((call) => ["sendMessage", "forwardMessage", "copyMessage", "sendPhoto"].includes(call.method) && call.params.chat_id === chatId);
  const buttonTexts = (markup: unknown) => (markup as InlineKeyboardMarkup | undefined)?.inline_keyboard.flat().map((button) => button.text) ?? [];

  before(async () => {
    world = await startWorld("topics");
    ({ telegram: fake, site, workdir } = world);
    publish();
    writeFileSync(join(workdir, "newswire.yaml"), CONFIG(site.url("/wire.xml")));
  });

  after(async () => {
    await bot?.stop();
    await world?.close();
  });

  test("topics decide who gets what; the menu, channels and forum threads work as users expect", async () => {
    fake.addChat({ id: CHANNEL, type: "channel", username: "newsch", title: "News" });
    fake.setMember(CHANNEL, fake.bot.id, "administrator", { can_post_messages: true });
    fake.setMember(CHANNEL, CHANNEL_ADMIN, "creator");
    fake.addChat({ id: HOME_CHANNEL, type: "channel", username: "navyhome", title: "Navy Home" });
    fake.setMember(HOME_CHANNEL, fake.bot.id, "administrator", { can_post_messages: true });
    fake.setMember(HOME_CHANNEL, CHANNEL_ADMIN, "administrator");
    fake.addChat({ id: FORUM, type: "supergroup", title: "Forum" });
    fake.setMember(FORUM, FORUM_ADMIN, "administrator");

    bot = startNewswire(world.env({ CONFIG_FILE: join(workdir, "newswire.yaml") }), workdir);
    await bot.waitForOutput("newswire started");
    await bot.waitForOutput("feed baseline recorded");

    // Subscriptions by command.
    fake.sendText(CHINA_CHAT, "/subscribe china");
    fake.sendText(NAVY_CHAT, "/subscribe navy");
    fake.sendText(ALL_CHAT, "/subscribe all");
    fake.sendText(CURIOUS_CHAT, "/subscribe nonsense");
    await reply(CHINA_CHAT, /^Subscribed to china\.$/);
    await reply(NAVY_CHAT, /^Subscribed to navy\.$/);
    await reply(ALL_CHAT, /^Subscribed to all\.$/);
    const unknown = await reply(CURIOUS_CHAT, /nonsense/);
    assert.equal(unknown.text, "Unknown topic: nonsense.\nValid topics: china, navy, all");

    // The menu: a button per topic; pressing one subscribes and redraws the menu in place.
    fake.sendText(MENU_CHAT, "/topics");
    const menu = await reply(MENU_CHAT, /^Topics/);
    assert.deepEqual(buttonTexts(menu.reply_markup), ["➕ China", "➕ Navy", "➕ Everything"]);
    const press = async (data: string, expected: string[]) => {
      const answered = fake.calls.filter((call) => call.method === "answerCallbackQuery").length;
      fake.pressButton(MENU_CHAT, menu.message_id, data);
      await waitUntil(() => fake.calls.filter((call) => call.method === "answerCallbackQuery" && !call.error).length > answered);
      await waitUntil(() => buttonTexts(fake.message(MENU_CHAT, menu.message_id)?.reply_markup).join() === expected.join());
    };
    await press("topic:navy", ["➕ China", "✅ Navy", "➕ Everything"]);
    assert.equal(fake.sent.filter((message) => message.chat_id === MENU_CHAT).length, 1, "no new menu message: the old one was edited");

    // A channel: its admin links it; someone who is not its admin cannot.
    fake.sendText(CHANNEL_READER, "/channel add @newsch china");
    assert.equal((await reply(CHANNEL_READER, /News/)).text, "You are not an admin of News, so you can't link or unlink it.");
    fake.sendText(CHANNEL_ADMIN, "/channel add @newsch china");
    await reply(CHANNEL_ADMIN, /^Linked News: it now receives china\.$/);
    // Another channel becomes the home of navy: navy readers will get forwards of its posts.
    fake.sendText(CHANNEL_ADMIN, "/channel home @navyhome navy");
    await reply(CHANNEL_ADMIN, /^Linked Navy Home as the home of navy/);

    // A forum thread subscribes from inside the thread.
    fake.pushUpdate(forumMessage(FORUM, THREAD, FORUM_ADMIN, "/subscribe china"));
    const subscribed = await reply(FORUM, /^Subscribed to china\.$/);
    assert.equal(subscribed.message_thread_id, THREAD, "the reply goes to the thread");

    // New items: one about China (an inflected form), one about Brazil, one of category Флот.
    const china = item("Премьер пообещал Китаю новые поставки зерна", "Соглашение подписано в понедельник.");
    const brazil = item("Brazil wins the regional cup", "Fans celebrated in the streets of Rio.");
    const navy = item("Новый корабль спущен на воду", "Церемония прошла на верфи.", ["Флот"]);
    items.push(china, brazil, navy);
    publish();

    const [pushedToChannel] = await fake.waitFor((message) => received(CHANNEL, "Премьер пообещал Китаю").includes(message), { timeoutMs: 15_000 });
    await fake.waitFor((message) => received(CHINA_CHAT, "Премьер пообещал Китаю").includes(message), { timeoutMs: 15_000 });
    await fake.waitFor((message) => received(FORUM, "Премьер пообещал Китаю", THREAD).includes(message), { timeoutMs: 15_000 });
    await fake.waitFor((message) => received(NAVY_CHAT, "Новый корабль").includes(message), { timeoutMs: 15_000 });
    await fake.waitFor((message) => received(MENU_CHAT, "Новый корабль").includes(message), { timeoutMs: 15_000 });
    await fake.waitFor((message) => received(ALL_CHAT, "Новый корабль").includes(message), { count: 1, timeoutMs: 15_000 });
    await fake.waitFor((message) => received(ALL_CHAT, "Brazil wins").includes(message), { timeoutMs: 15_000 });

    assert.match(received(CHINA_CHAT, "Премьер")[0]!.text, /#china/, "the item's topics are shown as hashtags");
    const share = (pushedToChannel!.reply_markup as InlineKeyboardMarkup | undefined)?.inline_keyboard.flat()[0];
    assert.ok(share && "url" in share && share.url.startsWith("https://t.me/share/url?url="), `share button: ${JSON.stringify(pushedToChannel!.reply_markup)}`);
    assert.match(received(NAVY_CHAT, "Новый корабль")[0]!.text, /#navy/);

    // The navy item was posted once in its home channel, and its readers got that post forwarded.
    const [homePost, ...homeRepeats] = received(HOME_CHANNEL, "Новый корабль");
    assert.equal(homePost?.method, "sendMessage");
    assert.equal(homeRepeats.length, 0);
    for (const chatId of [NAVY_CHAT, MENU_CHAT, ALL_CHAT]) {
      const [forward] = received(chatId, "Новый корабль");
      assert.deepEqual(
        [forward?.method, forward?.from_chat_id, forward?.source_message_id],
        ["forwardMessage", HOME_CHANNEL, homePost!.message_id],
        `${chatId} gets a forward of the home post`,
      );
      assert.equal(forward?.message.forward_origin?.type, "channel", "readers see the channel it came from");
    }
    assert.equal(received(ALL_CHAT, "Brazil")[0]?.method, "sendMessage", "items of other topics are not forwarded");
    assert.equal(received(HOME_CHANNEL, "Премьер").length + received(HOME_CHANNEL, "Brazil").length, 0, "the home channel gets its topic only");

    // Second round: the menu chat drops navy, the bot is kicked from the channel.
    await press("topic:navy", ["➕ China", "➕ Navy", "➕ Everything"]);
    fake.setMember(CHANNEL, fake.bot.id, "kicked");
    fake.pushUpdate(myChatMemberUpdate({ id: CHANNEL, type: "channel", title: "News", username: "newsch" }, "kicked", user(CHANNEL_ADMIN)));
    await reply(CHANNEL_ADMIN, /removed from News/);
    const channelAttempts = attemptsTo(CHANNEL).length;

    const china2 = item("Китай открыл новый порт", "Порт примет первые суда летом.");
    const navy2 = item("Учения завершились", "Корабли вернулись на базу.", ["Флот"]);
    items.push(china2, navy2);
    publish();
    await fake.waitFor((message) => received(CHINA_CHAT, "Китай открыл").includes(message), { timeoutMs: 15_000 });
    const [navy2Forward] = await fake.waitFor((message) => received(NAVY_CHAT, "Учения завершились").includes(message), { timeoutMs: 15_000 });
    assert.equal(navy2Forward!.from_chat_id, HOME_CHANNEL);
    await fake.waitFor((message) => received(FORUM, "Китай открыл", THREAD).includes(message), { timeoutMs: 15_000 });
    await pause(1_500); // room for a wrong delivery to show up

    // Who got what, in the end.
    assert.equal(received(CHINA_CHAT, "Brazil").length, 0, "the china chat never gets the Brazil item");
    assert.equal(received(CHINA_CHAT, "Новый корабль").length, 0);
    assert.equal(received(NAVY_CHAT, "Премьер").length + received(NAVY_CHAT, "Brazil").length, 0, "the navy chat gets navy items only");
    assert.equal(received(MENU_CHAT, "Учения завершились").length, 0, "after unpressing navy, no more navy items");
    assert.equal(received(MENU_CHAT, "Премьер").length, 0);
    assert.equal(received(CURIOUS_CHAT, "").length, 1, "an unknown topic subscribes to nothing");
    assert.equal(attemptsTo(CHANNEL).length, channelAttempts, "nothing more is even tried in the channel");
    assert.equal(received(CHANNEL, "Китай открыл").length, 0);
    assert.equal(received(FORUM, "Премьер").filter((message) => message.message_thread_id !== THREAD).length, 0, "items go to the thread only");
    for (const [chatId, text] of [
      [CHINA_CHAT, "Премьер"],
      [CHANNEL, "Премьер"],
      [FORUM, "Премьер"],
      [NAVY_CHAT, "Новый корабль"],
      [ALL_CHAT, "Brazil"],
    ] as const) {
      assert.equal(received(chatId, text).length, 1, `${chatId} gets "${text}" exactly once`);
    }
    assert.equal(fake.calls.filter((call) => call.error?.error_code === 400).length, 0, "Telegram refused nothing");
  });
});

let forumMessageId = 10_000;

/** A user's message inside a forum thread (the fake's sendText writes outside threads). */
function forumMessage(chatId: number, threadId: number, userId: number, text: string): Omit<Update, "update_id"> {
  const command = /^\/\S+/.exec(text);
  return {
    message: {
      message_id: ++forumMessageId,
      date: Math.floor(Date.now() / 1000),
      chat: { id: chatId, type: "supergroup", title: "Forum", is_forum: true },
      from: { id: userId, is_bot: false, first_name: "Admin", language_code: "en" },
      text,
      message_thread_id: threadId,
      is_topic_message: true,
      ...(command ? { entities: [{ type: "bot_command", offset: 0, length: command[0].length }] } : {}),
    },
  } as Omit<Update, "update_id">;
}

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await pause(25);
  }
}
