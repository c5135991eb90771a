import { describe, mock, test } from "node:test";
import assert from "node:assert/strict";
import { HttpError, type Bot } from "grammy";
import type { InlineKeyboardMarkup, Update } from "grammy/types";
import { createBot, neverSent } from "../../src/bot/create-bot.js";
import type { BotContext } from "../../src/bot/context.js";
import {
  answers,
  API_ROOT,
  BOT_INFO,
  buildDeps,
  callbackUpdate,
  groupChat,
  makeItem,
  messageUpdate,
  myChatMemberUpdate,
  privateChat,
  serviceUpdate,
  tempStore,
  TOKEN,
  user,
  type ApiRequest,
  type DepsOptions,
  type MessageOptions,
  type ScriptedTelegram,
} from "../support/builders.js";
import { validateTelegramHtml } from "../support/telegram-html.js";
import { runClockUntil } from "../support/fake-clock.js";

/** A bot over in-memory state and a scripted Telegram, with helpers to talk to it. */
async function setup(options: DepsOptions = {}) {
  const deps = await buildDeps(options);
  const telegram: ScriptedTelegram = deps.telegram;
  const bot: Bot<BotContext> = createBot({ token: TOKEN, apiRoot: API_ROOT, botInfo: BOT_INFO, fetch: telegram.fetch as never, budget: deps.budget }, deps);
  /** Handles one update and returns the requests the bot made for it. */
  const handle = async (update: Update): Promise<ApiRequest[]> => {
    telegram.clear();
    await bot.handleUpdate(update);
    return [...telegram.requests];
  };
  /** Sends a text and returns the texts of the bot's replies. */
  const say = async (text: string, options?: MessageOptions): Promise<string[]> =>
    (await handle(messageUpdate(text, options))).filter((request) => request.method === "sendMessage").map((request) => String(request.params.text));
  return { deps, telegram, bot, handle, say };
}

/** Every sendMessage text must be one Telegram accepts in its parse mode. */
function assertValidReplies(requests: readonly ApiRequest[]): void {
  for (const request of requests.filter((r) => r.method === "sendMessage")) {
    const text = String(request.params.text);
    if (request.params.parse_mode === "HTML") assert.equal(validateTelegramHtml(text), null, text);
    else assert.ok(text.length > 0 && text.length <= 4096, text);
  }
}

const buttons = (markup: unknown): { text: string; callback_data?: string }[] =>
  (markup as InlineKeyboardMarkup).inline_keyboard.flat() as { text: string; callback_data?: string }[];

/** Answers getChatMember with `status` for every user. */
function memberStatus(telegram: ScriptedTelegram, status: string): void {
  telegram.respond = (request) =>
    request.method === "getChatMember" ? { ok: true, result: { status, user: { id: request.params.user_id, is_bot: false, first_name: "U" } } } : undefined;
}

describe("bot: private chat commands", () => {
  test("/start greets, offers the topic menu and subscribes to nothing", async () => {
    const { handle, deps } = await setup();
    const requests = await handle(messageUpdate("/start", { from: user(100) }));
    assertValidReplies(requests);
    const [reply] = requests.filter((request) => request.method === "sendMessage");
    assert.ok(reply);
    assert.match(String(reply.params.text), /User100/);
    assert.match(String(reply.params.text), /newswire/);
    assert.deepEqual(
      buttons(reply.params.reply_markup).map((button) => button.callback_data),
      ["topic:china", "topic:science", "topic:all"],
    );
    assert.equal((await deps.subscribers.count()), 0);
  });

  test("/start escapes a user's name", async () => {
    const { handle } = await setup();
    const requests = await handle(messageUpdate("/start", { from: { ...user(101), first_name: "<b>&Bob" } }));
    assertValidReplies(requests);
    assert.match(String(requests[0]?.params.text), /&lt;b&gt;&amp;Bob/);
  });

  test("/help lists every command", async () => {
    const { say } = await setup();
    const [help] = await say("/help");
    for (const command of ["/start", "/help", "/topics", "/subscribe", "/unsubscribe", "/subscriptions", "/latest", "/digest", "/timezone", "/quiet", "/status"]) {
      assert.ok(help?.includes(command), `${command} missing from /help`);
    }
  });

  test("/subscribe all, then /subscriptions and /unsubscribe all", async () => {
    const { say, deps } = await setup();
    assert.deepEqual(await say("/subscribe all"), ["Subscribed to all."]);
    assert.deepEqual((await deps.subscribers.get({ chatId: 100 }))?.topics, ["all"]);
    assert.equal((await deps.subscribers.get({ chatId: 100 }))?.kind, "private");
    assert.match((await say("/subscriptions"))[0]!, /follows: all/);
    assert.deepEqual(await say("/unsubscribe all"), ["Unsubscribed from all."]);
    assert.equal(await deps.subscribers.get({ chatId: 100 }), undefined);
    assert.match((await say("/subscriptions"))[0]!, /follows no topics/);
  });

  test("/subscribe several topics, case-free, with repeats reported", async () => {
    const { say, deps } = await setup();
    assert.deepEqual(await say("/subscribe China, science"), ["Subscribed to china, science."]);
    assert.deepEqual(await say("/subscribe china all"), ["Subscribed to all.\nAlready subscribed to china."]);
    assert.deepEqual((await deps.subscribers.get({ chatId: 100 }))?.topics, ["china", "science", "all"]);
    assert.deepEqual(await say("/unsubscribe science sport"), ["Unknown topic: sport.\nValid topics: china, science, all"]);
    assert.deepEqual(await say("/unsubscribe science"), ["Unsubscribed from science."]);
    assert.deepEqual(await say("/unsubscribe science"), ["Not subscribed to science."]);
  });

  test("an unknown topic gets a reply naming the valid ones", async () => {
    const { say, deps } = await setup();
    const [reply] = await say("/subscribe chnia");
    assert.match(reply!, /chnia/);
    assert.match(reply!, /china, science, all/);
    assert.equal((await deps.subscribers.count()), 0);
  });

  test("/subscribe with 500 unknown names: one reply within Telegram's limit, saying what was wrong and what is right", async () => {
    const { say, deps } = await setup();
    const names = Array.from({ length: 500 }, (_, index) => `no-such-topic-number-${index}`);
    const replies = await say(`/subscribe ${names.join(" ")}`);
    assert.equal(replies.length, 1);
    const reply = replies[0]!;
    assert.ok(reply.length <= 4096, `${reply.length} characters`);
    assert.match(reply, /Unknown topic: no-such-topic-number-0, no-such-topic-number-1, /);
    const more = /… and (\d+) more/.exec(reply);
    assert.ok(more, reply);
    assert.equal(reply.match(/no-such-topic-number-\d+/g)!.length + Number(more[1]), 500, "every name is listed or counted");
    assert.match(reply, /Valid topics: china, science, all$/);
    assert.equal((await deps.subscribers.count()), 0);
  });

  test("/subscribe and /unsubscribe without topics explain their usage", async () => {
    const { say } = await setup();
    const [subscribe] = await say("/subscribe");
    assert.match(subscribe!, /\/subscribe TOPIC/);
    assert.match(subscribe!, /china, science, all/);
    assert.match((await say("/unsubscribe"))[0]!, /\/unsubscribe TOPIC/);
  });

  test("commands work with the bot's @username suffix", async () => {
    const { say, deps } = await setup();
    assert.deepEqual(await say("/subscribe@newswire_test_bot china"), ["Subscribed to china."]);
    assert.deepEqual((await deps.subscribers.get({ chatId: 100 }))?.topics, ["china"]);
  });

  test("an unknown command in private gets a pointer to /help", async () => {
    const { say } = await setup();
    assert.match((await say("/frobnicate"))[0]!, /\/help/);
  });

  test("a Russian user gets Russian replies", async () => {
    const { say } = await setup();
    const from = user(200, "ru");
    assert.match((await say("/help", { from }))[0]!, /этот список/);
    assert.deepEqual(await say("/subscribe china", { from }), ["Подписка оформлена: china."]);
    assert.match((await say("/subscribe nope", { from }))[0]!, /Неизвестная тема/);
    assert.match((await say("/latest 99", { from }))[0]!, /Использование/);
  });
});

describe("bot: over a SQLite store", () => {
  test("subscriptions made through the bot are found again after a restart", async () => {
    const store = tempStore();
    try {
      const { say } = await setup({ namespaces: await store.open() });
      await say("/subscribe china science", { from: user(900, "ru") });
      await say("/unsubscribe science", { from: user(900, "ru") });
      const restarted = await setup({ namespaces: await store.open() });
      assert.deepEqual((await restarted.deps.subscribers.get({ chatId: 900 }))?.topics, ["china"]);
      const { language_code: _unknown, ...withoutLanguage } = user(900);
      assert.match((await restarted.say("/subscriptions", { from: withoutLanguage }))[0]!, /Этот чат подписан на: china/, "the chat's language is kept");
      // A user who switched Telegram to English is answered, and sent the news, in English from then on.
      assert.match((await restarted.say("/subscriptions", { from: user(900, "en") }))[0]!, /This chat follows: china\nLanguage: en/);
      assert.equal((await restarted.deps.subscribers.get({ chatId: 900 }))?.language, "en");
    } finally {
      await store.dispose();
    }
  });
});

describe("bot: /latest", () => {
  async function withItems() {
    const context = await setup();
    const items = [
      makeItem({ title: "Oldest <story>", topics: ["all", "science"], publishedAt: Date.UTC(2024, 4, 1) }),
      makeItem({ title: "Middle & story", topics: ["all", "china"], publishedAt: Date.UTC(2024, 4, 2) }),
      makeItem({ title: "Newer story", topics: ["all", "science"], publishedAt: Date.UTC(2024, 4, 3) }),
      makeItem({ title: "Newest story", topics: ["all", "china"], publishedAt: Date.UTC(2024, 4, 4), link: "javascript:alert(1)" }),
    ];
    await context.deps.recent.add(items.map((item) => ({ item })));
    return context;
  }

  test("/latest 3 lists the three newest, newest first, as valid HTML", async () => {
    const { handle } = await withItems();
    const requests = await handle(messageUpdate("/latest 3"));
    assertValidReplies(requests);
    assert.equal(requests.length, 1);
    const text = String(requests[0]!.params.text);
    assert.equal(requests[0]!.params.parse_mode, "HTML");
    const order = ["Newest story", "Newer story", "Middle &amp; story"].map((title) => text.indexOf(title));
    assert.ok(order.every((position) => position >= 0), text);
    assert.deepEqual([...order].sort((a, b) => a - b), order, "newest first");
    assert.ok(!text.includes("Oldest"));
    assert.ok(!text.includes("javascript:"));
  });

  test("/latest TOPIC filters and the default count is 5", async () => {
    const { say } = await withItems();
    const [china] = await say("/latest china");
    assert.match(china!, /Newest story/);
    assert.match(china!, /Middle &amp; story/);
    assert.doesNotMatch(china!, /Newer story|Oldest/);
    const [all] = await say("/latest");
    assert.match(all!, /Oldest &lt;story&gt;/);
  });

  test("a story several feeds reported is listed once, as its first report, with every source; N counts stories", async () => {
    const { say, deps } = await withItems();
    const first = makeItem({ title: "Volcano erupts", source: "TASS", publishedAt: Date.UTC(2024, 4, 5) });
    await deps.recent.add(
      [
        { ...first, storyId: first.key },
        makeItem({ title: "Ash column rises", source: "RIA", publishedAt: Date.UTC(2024, 4, 6), storyId: first.key }),
        makeItem({ title: "Villagers warned of ash", source: "Lenta", publishedAt: Date.UTC(2024, 4, 7), storyId: first.key }),
      ].map((item) => ({ item })),
    );
    const [reply] = await say("/latest 2");
    assert.match(reply!, /^The 2 newest:/);
    assert.match(reply!, /1\. <b><a href="[^"]+">Volcano erupts<\/a><\/b>\n<i>TASS, RIA, Lenta<\/i>/);
    assert.doesNotMatch(reply!, /Ash column|Villagers/);
    assert.match(reply!, /2\. <b><a href="[^"]+">Newest story|2\. <b>Newest story/, "the next story after it");
  });

  test("bad arguments get the usage", async () => {
    const { say } = await withItems();
    for (const text of ["/latest 99", "/latest 0", "/latest bogus", "/latest 3 4"]) {
      const [reply] = await say(text);
      assert.match(reply!, /\/latest \[N\] \[TOPIC\]/, text);
      assert.match(reply!, /1 to 20/, text);
    }
  });

  test("nothing yet is said politely", async () => {
    const { say } = await setup();
    assert.match((await say("/latest"))[0]!, /Nothing has been published/);
  });
});

describe("bot: topic menu", () => {
  test("/topics shows a button per topic; pressing one toggles it and redraws the menu", async () => {
    const { handle, deps } = await setup();
    const [menu] = (await handle(messageUpdate("/topics"))).filter((request) => request.method === "sendMessage");
    assert.deepEqual(buttons(menu!.params.reply_markup).map((button) => button.text), ["➕ China", "➕ Science", "➕ Everything"]);

    let requests = await handle(callbackUpdate("topic:china"));
    assert.deepEqual((await deps.subscribers.get({ chatId: 100 }))?.topics, ["china"]);
    const answer = requests.find((request) => request.method === "answerCallbackQuery");
    assert.match(String(answer?.params.text), /Subscribed to china/);
    const edit = requests.find((request) => request.method === "editMessageReplyMarkup");
    assert.deepEqual(buttons(edit!.params.reply_markup).map((button) => button.text), ["✅ China", "➕ Science", "➕ Everything"]);

    requests = await handle(callbackUpdate("topic:china"));
    assert.equal(await deps.subscribers.get({ chatId: 100 }), undefined);
    assert.match(String(requests.find((request) => request.method === "answerCallbackQuery")?.params.text), /Unsubscribed from china/);
  });

  test("a button under an inline message (no message, no chat) is answered, nothing changes", async () => {
    const { handle, deps } = await setup();
    const update = {
      update_id: 900_001,
      callback_query: { id: "inline1", from: user(100), chat_instance: "ci", inline_message_id: "AAQ", data: "topic:china" },
    } as Update;
    const requests = await handle(update);
    const answer = requests.find((request) => request.method === "answerCallbackQuery");
    assert.equal(answer?.params.callback_query_id, "inline1");
    assert.match(String(answer?.params.text), /out of date/);
    assert.equal((await deps.subscribers.count()), 0);
  });

  test("a button for a topic that no longer exists is answered, nothing changes", async () => {
    const { handle, deps } = await setup();
    const requests = await handle(callbackUpdate("topic:removed-topic"));
    const answer = requests.find((request) => request.method === "answerCallbackQuery");
    assert.match(String(answer?.params.text), /out of date/);
    assert.equal((await deps.subscribers.count()), 0);
    assert.equal(requests.filter((request) => request.method === "editMessageReplyMarkup").length, 0);
  });

  test("in a group, only admins may press the buttons", async () => {
    const { handle, deps, telegram } = await setup();
    const chat = groupChat(-100200);
    memberStatus(telegram, "member");
    let requests = await handle(callbackUpdate("topic:all", { chat, from: user(300) }));
    assert.equal(requests.find((request) => request.method === "answerCallbackQuery")?.params.show_alert, true);
    assert.equal((await deps.subscribers.count()), 0);
    memberStatus(telegram, "administrator");
    requests = await handle(callbackUpdate("topic:all", { chat, from: user(300) }));
    assert.deepEqual((await deps.subscribers.get({ chatId: -100200 }))?.topics, ["all"]);
  });
});

describe("bot: groups", () => {
  test("a member who is not an admin cannot subscribe the group; an admin can", async () => {
    const { say, deps, telegram } = await setup();
    const chat = groupChat(-100300);
    memberStatus(telegram, "member");
    assert.match((await say("/subscribe all", { chat, from: user(301) }))[0]!, /Only this group's admins/);
    assert.equal((await deps.subscribers.count()), 0);
    assert.deepEqual(telegram.calls("getChatMember").map((request) => [request.params.chat_id, request.params.user_id]), [[-100300, 301]]);

    memberStatus(telegram, "administrator");
    assert.deepEqual(await say("/subscribe all", { chat, from: user(302) }), ["Subscribed to all."]);
    const { chatId, threadId, kind, language, title, topics } = (await deps.subscribers.get({ chatId: -100300 }))!;
    assert.deepEqual({ chatId, threadId, kind, language, title, topics }, {
      chatId: -100300,
      threadId: undefined,
      kind: "supergroup",
      language: "en",
      title: "Group -100300",
      topics: ["all"],
    });
    memberStatus(telegram, "creator");
    assert.deepEqual(await say("/unsubscribe all", { chat, from: user(303) }), ["Unsubscribed from all."]);
  });

  test("a subscription from a forum thread is the thread's, and replies go there", async () => {
    const { handle, deps, telegram } = await setup();
    const chat = groupChat(-100400, "supergroup", true);
    memberStatus(telegram, "administrator");
    const requests = await handle(messageUpdate("/subscribe science", { chat, from: user(401), threadId: 42 }));
    assert.equal((await deps.subscribers.get({ chatId: -100400, threadId: 42 }))?.threadId, 42);
    assert.deepEqual((await deps.subscribers.get({ chatId: -100400, threadId: 42 }))?.topics, ["science"]);
    assert.equal(await deps.subscribers.get({ chatId: -100400 }), undefined, "the whole chat is not subscribed");
    const reply = requests.find((request) => request.method === "sendMessage");
    assert.equal(reply?.params.message_thread_id, 42);

    const [subscriptions] = (await handle(messageUpdate("/subscriptions", { chat, from: user(401), threadId: 42 }))).filter(
      (request) => request.method === "sendMessage",
    );
    assert.match(String(subscriptions?.params.text), /follows: science/);
  });

  test("a button pressed in a forum thread toggles that thread's subscription", async () => {
    const { handle, deps, telegram } = await setup();
    const chat = groupChat(-100450, "supergroup", true);
    memberStatus(telegram, "administrator");
    await handle(callbackUpdate("topic:china", { chat, from: user(451), threadId: 7 }));
    assert.deepEqual((await deps.subscribers.get({ chatId: -100450, threadId: 7 }))?.topics, ["china"]);
    assert.equal(await deps.subscribers.get({ chatId: -100450 }), undefined);
  });

  test("commands for another bot are ignored in groups", async () => {
    const { say, deps } = await setup();
    assert.deepEqual(await say("/subscribe@some_other_bot all", { chat: groupChat(-100500), from: user(501) }), []);
    assert.equal((await deps.subscribers.count()), 0);
  });

  test("a group's anonymous admin may subscribe it", async () => {
    const { say, deps, telegram } = await setup();
    const chat = groupChat(-100600);
    memberStatus(telegram, "member");
    const anonymous = { id: 1087968824, is_bot: true, first_name: "Group", username: "GroupAnonymousBot" };
    assert.deepEqual(await say("/subscribe all", { chat, from: anonymous, extra: { sender_chat: chat } }), ["Subscribed to all."]);
    assert.ok(await deps.subscribers.get({ chatId: -100600 }));
  });

  test("when the bot is removed from a chat, its subscriptions end", async () => {
    const { handle, deps } = await setup();
    const chat = groupChat(-100700);
    await deps.subscribers.subscribe({ chatId: -100700, kind: "supergroup" }, ["all"]);
    await deps.subscribers.subscribe({ chatId: -100700, threadId: 5, kind: "supergroup" }, ["china"]);
    await deps.subscribers.subscribe({ chatId: 700, kind: "private" }, ["all"]);
    await handle(myChatMemberUpdate(chat, "kicked"));
    assert.deepEqual(await deps.subscribers.ofChat(-100700), []);
    await handle(myChatMemberUpdate(privateChat(700), "kicked"));
    assert.equal((await deps.subscribers.count()), 0, "a user who blocked the bot is no longer subscribed");
  });

  test("a group that became a supergroup keeps its subscriptions and its held items", async () => {
    const { handle, deps } = await setup();
    const chat = groupChat(-800, "group");
    await deps.subscribers.subscribe({ chatId: -800, kind: "group", title: "Old" }, ["china", "science"]);
    const held = makeItem();
    await deps.held.hold([{ recipient: { chatId: -800 }, item: held, until: 1 }]);
    await handle(serviceUpdate(chat, { migrate_to_chat_id: -100800 }));
    assert.deepEqual((await deps.held.due(1, 10)).map(({ recipient }) => recipient), [{ chatId: -100800 }]);
    assert.equal(await deps.subscribers.get({ chatId: -800 }), undefined);
    assert.deepEqual((await deps.subscribers.get({ chatId: -100800 }))?.topics, ["china", "science"]);
    assert.equal((await deps.subscribers.get({ chatId: -100800 }))?.kind, "supergroup");
  });
});

describe("bot: /status", () => {
  test("denied to everyone but ADMIN_IDS", async () => {
    const { say } = await setup({ adminIds: [42] });
    assert.match((await say("/status", { from: user(43) }))[0]!, /bot's admins/);
  });

  test("shows subscriber, queue and feed counts to an admin, as valid HTML", async () => {
    const { handle, deps } = await setup({ adminIds: [42] });
    await deps.subscribers.subscribe({ chatId: 1, kind: "private" }, ["all"]);
    await deps.subscribers.subscribe({ chatId: 2, kind: "private" }, ["china"]);
    const lastSuccessAt = Date.now() - 3 * 60 * 60_000;
    await deps.feedStates.set("example", { ...(await deps.feedStates.get("example")), baselined: true, failures: 2, itemsSeen: 17, lastError: "HTTP 503 <Service Unavailable>", lastSuccessAt });
    const requests = await handle(messageUpdate("/status", { from: user(42) }));
    assertValidReplies(requests);
    const text = requests.filter((request) => request.method === "sendMessage").map((request) => String(request.params.text)).join("\n");
    assert.match(text, /Subscribers<\/b>: 2/);
    assert.match(text, /Queue<\/b>: 0 messages in 0 items/);
    assert.match(text, /example/);
    assert.match(text, /17 items seen/);
    assert.match(text, /2 failures in a row, last success 3h ago: HTTP 503 &lt;Service Unavailable&gt;/);
  });

  test("with more than 100 feeds lists only the failing ones, most failures first, at most 100", async () => {
    const feeds = Array.from({ length: 2_500 }, (_, index) => ({ id: `feed${index}`, url: `https://many.example/${index}.xml`, topics: [], fulltext: false }));
    const { handle, deps } = await setup({ adminIds: [42], feeds });
    const text = async () => {
      const requests = await handle(messageUpdate("/status", { from: user(42) }));
      assertValidReplies(requests);
      return requests.filter((request) => request.method === "sendMessage").map((request) => String(request.params.text)).join("\n");
    };
    const well = await text();
    assert.match(well, /All 2500 feeds are well/);
    assert.doesNotMatch(well, /feed0\b/);
    // 150 feeds fail, feed2399 most of them (150 failures in a row), feed2250 least; feed10 most of all.
    for (let index = 2_250; index < 2_400; index++) {
      await deps.feedStates.set(`feed${index}`, { ...(await deps.feedStates.get(`feed${index}`)), failures: index - 2_249, lastError: "HTTP 503" });
    }
    await deps.feedStates.set("feed10", { ...(await deps.feedStates.get("feed10")), failures: 500, lastError: "HTTP 404" });
    const failing = await text();
    assert.match(failing, /151 of 2500 feeds are failing; the 100 with the most failures in a row are listed below/);
    const listed = [...failing.matchAll(/<b>(feed\d+)<\/b>/g)].map((match) => match[1]);
    assert.equal(listed.length, 100);
    assert.deepEqual(listed.slice(0, 3), ["feed10", "feed2399", "feed2398"]);
    assert.ok(!listed.includes("feed2250") && !listed.includes("feed0"), "the least failing and the well are left out");
  });

  test("shows the Telegram budget's counters, in the admin's language", async () => {
    const { handle, say, deps } = await setup({ adminIds: [42] });
    await say("/help", { from: user(42) });
    await say("/help", { from: user(42) });
    deps.budget.stats.tooManyRequests = 3;
    deps.budget.stats.expired = 1;
    const text = (requests: ApiRequest[]) => requests.filter((request) => request.method === "sendMessage").map((request) => String(request.params.text)).join("\n");
    const english = text(await handle(messageUpdate("/status", { from: user(42) })));
    assert.match(english, /Telegram budget<\/b>: 2 replies, 0 alerts, 0 broadcasts granted; 429s: 3; replies and alerts dropped unsent: 1/);
    const russian = text(await handle(messageUpdate("/status", { from: user(42, "ru") })));
    assert.match(russian, /Лимит Telegram<\/b>: выдано ответам 3, уведомлениям 0, рассылке 0; ответов 429: 3/, "the English /status reply counted too");
  });
});

describe("bot: errors", () => {
  test("a reply Telegram will not take (429 past the reply's wait) is not answered with an error: the subscription stands", async () => {
    const context = await setup();
    context.telegram.respond = (request) => (request.method === "sendMessage" ? answers.tooManyRequests(24 * 60 * 60) : undefined);
    const requests = await context.handle(messageUpdate("/subscribe china"));
    assert.deepEqual((await context.deps.subscribers.get({ chatId: 100 }))?.topics, ["china"]);
    const sends = requests.filter((request) => request.method === "sendMessage");
    assert.equal(sends.length, 1, "the confirmation was tried once; no 'Something went wrong' after it");
    assert.match(String(sends[0]!.params.text), /Subscribed to china/);
  });

  test("a reply refused with 429 waits in the budget and is sent once the chat's retry_after has passed", async (t) => {
    // A fake clock (from before the budget exists: its bucket starts at the clock's time).
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    t.after(() => mock.timers.reset());
    const context = await setup();
    context.telegram.once((request) => request.method === "sendMessage", answers.tooManyRequests(1));
    const at: number[] = [];
    context.telegram.latency = (request) => (request.method === "sendMessage" && at.push(Date.now()), 0);
    let requests: ApiRequest[] | undefined;
    void context.handle(messageUpdate("/help")).then((done) => (requests = done));
    await runClockUntil(() => requests !== undefined);
    const sends = requests!.filter((request) => request.method === "sendMessage");
    assert.equal(sends.length, 2, "refused, then sent");
    assert.deepEqual(sends[0]!.params, sends[1]!.params);
    assert.ok(at[1]! - at[0]! >= 1000, "not before retry_after (on the fake clock)");
    assert.equal(context.deps.budget.stats.tooManyRequests, 1, "the budget heard the 429");
  });


  test("a reply answered 502 is not sent again: Telegram may have posted it", async () => {
    const context = await setup();
    context.telegram.once((request) => request.method === "sendMessage", { ok: false, error_code: 502, description: "Bad Gateway" });
    const requests = await context.handle(messageUpdate("/help"));
    assert.equal(requests.filter((request) => request.method === "sendMessage").length, 1, "tried once, and no error reply after it");
  });

  test("only a network error from before the request was sent counts as never sent (safe to send again)", () => {
    const wrapped = (cause: unknown) => new HttpError("Network request for 'sendMessage' failed!", cause);
    // node-fetch (grammY's default) puts the code on its error; undici's fetch on the error's cause.
    assert.ok(neverSent(wrapped(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))));
    assert.ok(neverSent(wrapped(new TypeError("fetch failed", { cause: Object.assign(new Error("getaddrinfo"), { code: "ENOTFOUND" }) }))));
    assert.ok(!neverSent(wrapped(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))), "a reset may come after Telegram read it");
    assert.ok(!neverSent(wrapped(new Error("The operation was aborted"))), "nor a timeout");
  });

  test("a failing handler replies politely, without a stack trace", async () => {
    const context = await setup();
    context.deps.recent.latest = async () => {
      throw new Error("store exploded at /src/items/recent.ts:42");
    };
    const [reply] = await context.say("/latest");
    assert.match(reply!, /Something went wrong/);
    assert.doesNotMatch(reply!, /exploded|recent\.ts/);
  });

  test("a failure while an update's context is set up is caught too (a webhook update nobody awaits must not reject), answered in the user's language", async () => {
    const context = await setup();
    context.deps.subscribers.get = () => {
      throw new Error("subscribers index broken");
    };
    const [reply] = await context.say("/help", { from: user(100, "ru") });
    assert.match(reply!, /У меня что-то сломалось/);
  });
});
