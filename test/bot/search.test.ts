/**
 * `/search`, its page buttons, inline mode, "Read here" and the per-user rate limits, through
 * bot.handleUpdate over a SQLite archive (an archive per test) and a scripted Telegram. Then the
 * callback data's own encoding. Rate-limit windows run on node:test's fake setInterval (the
 * ratelimiter's memory store clears on one), enabled before the bot is built.
 */
import { after, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { Bot } from "grammy";
import type { Chat, InlineKeyboardMarkup, Update, User } from "grammy/types";
import { createBot } from "../../src/bot/create-bot.js";
import type { BotContext } from "../../src/bot/context.js";
import { INLINE_CACHE_SECONDS, MAX_QUERY_CHARS, parseQuery } from "../../src/bot/features/search.js";
import { RATE_LIMITS } from "../../src/bot/rate-limits.js";
import { decodeCallback, encodeCallback, MAX_SEARCH_PAGE, readStartParameter, refOfStartParameter } from "../../src/delivery/callback-data.js";
import { renderItem } from "../../src/delivery/render.js";
import { RICH_BLOCK_LIMIT, RICH_TEXT_LIMIT } from "../../src/delivery/rich-article.js";
import { en } from "../../src/i18n/en.js";
import { itemRef, type ArticleText } from "../../src/items/archive.js";
import type { Item } from "../../src/items/item.js";
import { SqliteArchive } from "../../src/items/sqlite-archive.js";
import { sqliteOf } from "../../src/store/keyv.js";
import {
  answers,
  API_ROOT,
  BOT_INFO,
  buildDeps,
  groupChat,
  makeItem,
  messageUpdate,
  privateChat,
  tempStore,
  TOKEN,
  user,
  type ApiRequest,
  type MessageOptions,
  type TempStore,
} from "../support/builders.js";
import { parseTelegramHtml, validateTelegramHtml } from "../support/telegram-html.js";

const DAY_MS = 24 * 60 * 60_000;
const NOW = Date.now();

const stores: TempStore[] = [];
after(async () => {
  await Promise.all(stores.splice(0).map((store) => store.dispose()));
});

/** A fresh, empty SQLite archive (a year's retention). */
async function openArchive(): Promise<SqliteArchive> {
  const store = tempStore();
  stores.push(store);
  return SqliteArchive.open(sqliteOf(await store.open())!, 365 * DAY_MS);
}

let updateId = 700_000;

/** A button press on a bot message with this text (what Telegram holds: the plain text). */
function pressUpdate(data: string, { text = "Topics", chat, from = user(100), messageId = 4242 }: { text?: string; chat?: Chat; from?: User; messageId?: number } = {}): Update {
  const message = { message_id: messageId, date: 1_700_000_000, chat: chat ?? privateChat(from.id), from: BOT_INFO, text };
  return { update_id: ++updateId, callback_query: { id: `cq${updateId}`, from, chat_instance: "ci", data, message } } as Update;
}

/** An inline query (`@bot QUERY`) typed in the user's own chat. */
function inlineUpdate(query: string, { from = user(100), offset = "" }: { from?: User; offset?: string } = {}): Update {
  return { update_id: ++updateId, inline_query: { id: `iq${updateId}`, from, query, offset, chat_type: "sender" } } as Update;
}

/** A bot over `archive` (none: as on Redis). Build it after enabling fake timers, for the rate limits. */
async function setup(archive?: SqliteArchive) {
  const deps = await buildDeps(archive ? { archive } : {});
  const telegram = deps.telegram;
  const bot: Bot<BotContext> = createBot({ token: TOKEN, apiRoot: API_ROOT, botInfo: BOT_INFO, fetch: telegram.fetch as never, budget: deps.budget }, deps);
  const handle = async (update: Update): Promise<ApiRequest[]> => {
    telegram.clear();
    await bot.handleUpdate(update);
    return [...telegram.requests];
  };
  /** The sendMessage requests of one text. */
  const say = async (text: string, options?: MessageOptions): Promise<ApiRequest[]> =>
    (await handle(messageUpdate(text, options))).filter((request) => request.method === "sendMessage");
  const add = (...items: Item[]) => deps.recent.add(items.map((item) => ({ item })));
  return { deps, telegram, bot, handle, say, add };
}

const textOf = (request: ApiRequest | undefined): string => String(request?.params.text);
/** The text Telegram keeps of an HTML message (what a callback's `message.text` then holds). */
function plain(html: string): string {
  const parsed = parseTelegramHtml(html);
  assert.ok(parsed.ok, html);
  return parsed.text;
}
const buttons = (markup: unknown): { text: string; callback_data?: string; url?: string }[] =>
  ((markup as InlineKeyboardMarkup | undefined)?.inline_keyboard ?? []).flat() as { text: string; callback_data?: string; url?: string }[];
const only = (requests: readonly ApiRequest[], method: string): ApiRequest[] => requests.filter((request) => request.method === method);

function assertHtmlReply(request: ApiRequest | undefined): string {
  assert.ok(request, "a reply");
  assert.equal(request.params.parse_mode, "HTML");
  const text = textOf(request);
  assert.equal(validateTelegramHtml(text), null, text);
  return text;
}

describe("bot: /search", () => {
  test("a Russian inflected query finds the Russian item: linked title, source, date, the query in the header", async () => {
    const { say, add } = await setup(await openArchive());
    const item = makeItem({ title: "Китай вводит пошлины", source: "РИА Новости", link: "https://ria.example/china?a=1&b=2", topics: ["all", "china"], publishedAt: Date.UTC(2025, 5, 3, 9, 30) });
    await add(item, makeItem({ title: "Football results", publishedAt: NOW - DAY_MS }));
    const replies = await say("/search Китая");
    assert.equal(replies.length, 1);
    const text = assertHtmlReply(replies[0]);
    assert.match(text, /^🔎 «Китая»: 1–1\n\n/);
    assert.ok(text.includes(`1. <b><a href="https://ria.example/china?a=1&amp;b=2">Китай вводит пошлины</a></b>`), text);
    assert.ok(text.includes("<i>РИА Новости</i> · 2025-06-03 09:30 UTC"), text);
    assert.doesNotMatch(text, /Football/);
    assert.equal((replies[0]!.params.link_preview_options as { is_disabled?: boolean }).is_disabled, true);
    assert.equal(replies[0]!.params.reply_markup, undefined, "one page of an unkept article: no keyboard, not empty rows");
  });

  test("of two equal matches the newer comes first", async () => {
    const { say, add } = await setup(await openArchive());
    const older = makeItem({ title: "Steel sanctions widen in Europe", publishedAt: NOW - 90 * DAY_MS });
    const newer = makeItem({ title: "Steel sanctions widen in Africa", publishedAt: NOW - DAY_MS });
    await add(older, newer);
    const text = assertHtmlReply((await say("/search sanction"))[0]);
    assert.match(text, /: 1–2\n/);
    assert.ok(text.indexOf("Africa") >= 0 && text.indexOf("Africa") < text.indexOf("Europe"), text);
    assert.match(text, /1\. <b><a [^>]+>Steel sanctions widen in Africa/);
  });

  test("#topic keeps to the topic; an unknown #topic is named with the valid ones", async () => {
    const { say, add } = await setup(await openArchive());
    await add(
      makeItem({ title: "Китай вводит пошлины на сталь", topics: ["all", "china"], publishedAt: NOW - DAY_MS }),
      makeItem({ title: "Пошлины на сталь изучили учёные", topics: ["all", "science"], publishedAt: NOW - 2 * DAY_MS }),
    );
    const both = assertHtmlReply((await say("/search пошлины"))[0]);
    assert.match(both, /: 1–2\n/);
    const china = assertHtmlReply((await say("/search пошлины #China"))[0]);
    assert.match(china, /^🔎 «пошлины #China»: 1–1/);
    assert.match(china, /Китай вводит/);
    assert.doesNotMatch(china, /учёные/);
    assert.deepEqual((await say("/search пошлины #sport")).map(textOf), ["Unknown topic: sport.\nValid topics: china, science, all"]);
  });

  test("empty, too long, stop words only: usage, the too-long reply, nothing found", async () => {
    const { say, add } = await setup(await openArchive());
    await add(makeItem({ title: "The one item", publishedAt: NOW - DAY_MS }));
    assert.deepEqual((await say("/search")).map(textOf), [en.searchUsage]);
    assert.deepEqual((await say("/search    ")).map(textOf), [en.searchUsage]);
    assert.deepEqual((await say(`/search ${"x".repeat(MAX_QUERY_CHARS + 1)}`)).map(textOf), [en.searchTooLong(MAX_QUERY_CHARS)]);
    const none = await say("/search the and of");
    assert.equal(assertHtmlReply(none[0]), "Nothing found for «the and of». Try fewer or other words.");
    assert.match(textOf((await say(`/search ${"x".repeat(MAX_QUERY_CHARS)}`))[0]), /^Nothing found/, "at the limit: searched");
  });

  test("hostile input gets a normal, escaped reply", async () => {
    const { say, add } = await setup(await openArchive());
    await add(makeItem({ title: "Китай вводит пошлины", publishedAt: NOW - DAY_MS }));
    for (const query of [`") OR 1=1 --`, `"*:&|!`, "<b>", `'; DROP TABLE newswire_archive; --`, "NEAR(a b)", "title:x*"]) {
      const replies = await say(`/search ${query}`);
      assert.equal(replies.length, 1, query);
      const text = assertHtmlReply(replies[0]);
      assert.equal(plain(text), `Nothing found for «${query}». Try fewer or other words.`, query);
    }
    for (const query of [`Китая") OR 1=1 --`, "<b>Китая</b>", `"Китая"*`]) {
      const text = assertHtmlReply((await say(`/search ${query}`))[0]);
      assert.equal(plain(text).split("\n")[0], `🔎 «${query}»: 1–1`, query);
      assert.match(text, /Китай вводит пошлины/);
    }
  });

  test("pages: Next, then Back and Next, then Back only, edited in place; each press answered", async () => {
    const { say, handle, add } = await setup(await openArchive());
    const items = Array.from({ length: 12 }, (_, index) => makeItem({ title: `Reactor restart ${index + 1}`, publishedAt: NOW - (index + 1) * DAY_MS }));
    await add(...items);
    const first = (await say("/search reactor"))[0];
    const firstText = assertHtmlReply(first);
    assert.match(firstText, /^🔎 «reactor»: 1–5\n/);
    assert.deepEqual(buttons(first!.params.reply_markup).map((button) => [button.text, button.callback_data]), [[en.searchNext, "search:1"]]);
    for (let index = 0; index < 5; index++) assert.match(firstText, new RegExp(`${index + 1}\\. <b><a [^>]+>Reactor restart ${index + 1}</a>`));

    const turn = async (data: string, text: string) => {
      const requests = await handle(pressUpdate(data, { text: plain(text) }));
      const answer = requests.findIndex((request) => request.method === "answerCallbackQuery");
      const edit = requests.findIndex((request) => request.method === "editMessageText");
      assert.ok(answer >= 0, "answered");
      assert.ok(edit > answer, "answered, then edited");
      assert.equal(requests[edit]!.params.chat_id, 100);
      assert.equal(requests[edit]!.params.message_id, 4242);
      assert.equal(only(requests, "sendMessage").length, 0);
      return requests[edit]!;
    };
    const second = await turn("search:1", firstText);
    const secondText = assertHtmlReply(second);
    assert.match(secondText, /^🔎 «reactor»: 6–10\n/);
    assert.match(secondText, /6\. <b><a [^>]+>Reactor restart 6<\/a>/);
    assert.match(secondText, /10\. <b><a [^>]+>Reactor restart 10<\/a>/);
    assert.doesNotMatch(secondText, /Reactor restart (5|11)</);
    assert.deepEqual(buttons(second.params.reply_markup).map((button) => button.callback_data), ["search:0", "search:2"]);

    const third = await turn("search:2", secondText);
    const thirdText = assertHtmlReply(third);
    assert.match(thirdText, /^🔎 «reactor»: 11–12\n/);
    assert.deepEqual(buttons(third.params.reply_markup).map((button) => [button.text, button.callback_data]), [[en.searchPrevious, "search:1"]]);

    const back = await turn("search:0", thirdText);
    assert.equal(back.params.text, firstText, "Back to the first page");
  });

  test("a page button on a message that is no search reply, or past the results, is answered as stale", async () => {
    const { handle, add } = await setup(await openArchive());
    await add(makeItem({ title: "Reactor restart", publishedAt: NOW - DAY_MS }));
    for (const [data, text] of [
      ["search:1", "Topics"],
      ["search:1", "🔎 no quotes here: 1–5"],
      ["search:1", "🔎 «»: 1–5"],
      ["search:3", "🔎 «reactor»: 1–5"],
      ["search:1", `🔎 «reactor #nosuchtopic»: 1–5`],
      ["search:999", "🔎 «reactor»: 1–5"],
      ["search:x", "🔎 «reactor»: 1–5"],
    ] as const) {
      const requests = await handle(pressUpdate(data, { text }));
      const answers = only(requests, "answerCallbackQuery");
      assert.equal(answers.length, 1, `${data} on ${text}`);
      assert.equal(answers[0]!.params.text, en.searchStale, `${data} on ${text}`);
      assert.equal(only(requests, "editMessageText").length, 0);
    }
  });
});

describe("bot: search without an archive (Redis)", () => {
  test("/search says it is unavailable; inline words get no results and the 'Search is off' button; an empty inline query the latest", async () => {
    const { say, handle, add } = await setup();
    await add(makeItem({ title: "Latest one", publishedAt: NOW - DAY_MS }), makeItem({ title: "Latest two", publishedAt: NOW }));
    assert.deepEqual((await say("/search sanctions")).map(textOf), [en.searchUnavailable]);
    assert.deepEqual((await say("/search")).map(textOf), [en.searchUnavailable]);

    const [off] = only(await handle(inlineUpdate("sanctions")), "answerInlineQuery");
    assert.deepEqual(off!.params.results, []);
    assert.deepEqual(off!.params.button, { text: en.inlineUnavailable, start_parameter: "search" });

    const [latest] = only(await handle(inlineUpdate("")), "answerInlineQuery");
    assert.deepEqual((latest!.params.results as { title: string }[]).map((result) => result.title), ["Latest two", "Latest one"]);
    assert.equal(latest!.params.button, undefined);

    const [pressed] = only(await handle(pressUpdate("search:1", { text: "🔎 «sanctions»: 1–5" })), "answerCallbackQuery");
    assert.equal(pressed!.params.text, en.searchStale);
  });
});

interface InlineResult {
  type: string;
  id: string;
  title: string;
  input_message_content: { message_text: string; parse_mode?: string };
  reply_markup?: InlineKeyboardMarkup;
}

describe("bot: inline mode", () => {
  test("matches as article results, paged by offset, cached briefly; an empty query lists the latest", async () => {
    const { handle, add } = await setup(await openArchive());
    const items = Array.from({ length: 25 }, (_, index) =>
      makeItem({ title: `Reactor restart ${index + 1}`, publishedAt: NOW - (index + 1) * DAY_MS, readable: index === 0, image: "https://example.org/lead.jpg" }),
    );
    await add(...items, makeItem({ title: "Unrelated & newest", publishedAt: NOW }));

    const [answer] = only(await handle(inlineUpdate("reactor")), "answerInlineQuery");
    assert.ok(answer);
    assert.equal(answer.params.cache_time, INLINE_CACHE_SECONDS);
    assert.equal(answer.params.is_personal, true, "worded in the asker's language: cached per user");
    assert.equal(answer.params.next_offset, "20");
    const results = answer.params.results as InlineResult[];
    assert.equal(results.length, 20);
    assert.equal(new Set(results.map((result) => result.id)).size, 20, "unique ids");
    for (const result of results) {
      assert.equal(result.type, "article");
      assert.ok(Buffer.byteLength(result.id) <= 64, result.id);
      assert.equal(result.input_message_content.parse_mode, "HTML");
      assert.equal(validateTelegramHtml(result.input_message_content.message_text), null);
    }
    assert.equal(results[0]!.id, itemRef(items[0]!.key));
    assert.equal(results[0]!.input_message_content.message_text, renderItem(items[0]!, { locale: "en" }).text);
    assert.deepEqual(buttons(results[0]!.reply_markup).map((button) => button.callback_data), [`read:${itemRef(items[0]!.key)}`]);
    assert.equal(results[1]!.reply_markup, undefined);

    const [next] = only(await handle(inlineUpdate("reactor", { offset: "20" })), "answerInlineQuery");
    const rest = next!.params.results as InlineResult[];
    assert.deepEqual(rest.map((result) => result.title), ["Reactor restart 21", "Reactor restart 22", "Reactor restart 23", "Reactor restart 24", "Reactor restart 25"]);
    assert.equal(next!.params.next_offset, "");
    assert.equal(new Set([...results, ...rest].map((result) => result.id)).size, 25, "no result on both pages");

    const [typing] = only(await handle(inlineUpdate("reac")), "answerInlineQuery");
    assert.equal((typing!.params.results as InlineResult[]).length, 20, "the last word is a prefix while typed");

    const [latest] = only(await handle(inlineUpdate("  ")), "answerInlineQuery");
    const newest = latest!.params.results as InlineResult[];
    assert.equal(newest.length, 20);
    assert.equal(newest[0]!.title, "Unrelated & newest");
    assert.equal(newest[1]!.title, "Reactor restart 1");
    assert.equal(latest!.params.next_offset, "20");

    const [none] = only(await handle(inlineUpdate(`") OR 1=1 -- <b>`)), "answerInlineQuery");
    assert.deepEqual(none!.params.results, []);
  });
});

describe("bot: rate limits", () => {
  test("the 11th /search in a minute is told once (the 12th and 13th dropped), another user is not affected, the next window searches again", async (t: TestContext) => {
    const archive = await openArchive();
    t.mock.timers.enable({ apis: ["setInterval"] });
    const { say, add } = await setup(archive);
    await add(makeItem({ title: "Reactor restart", publishedAt: NOW - DAY_MS }));
    for (let index = 0; index < RATE_LIMITS.search.limit; index++) assert.match(textOf((await say("/search reactor"))[0]), /^🔎/, `search ${index + 1}`);
    assert.deepEqual((await say("/search reactor")).map(textOf), [en.tooManyRequests]);
    assert.deepEqual((await say("/search reactor")).map(textOf), [], "told once: the 12th is dropped");
    assert.deepEqual((await say("/search reactor")).map(textOf), [], "and the 13th");
    assert.match(textOf((await say("/search reactor", { from: user(101) }))[0]), /^🔎/, "another user");
    t.mock.timers.tick(RATE_LIMITS.search.windowMs - 1);
    assert.deepEqual((await say("/search reactor")).map(textOf).filter((text) => text.startsWith("🔎")), [], "still limited just before the window ends");
    t.mock.timers.tick(1);
    assert.match(textOf((await say("/search reactor"))[0]), /^🔎/, "a new window");
  });

  test("a page button past the limit is still answered", async (t: TestContext) => {
    const archive = await openArchive();
    t.mock.timers.enable({ apis: ["setInterval"] });
    const { say, handle, add } = await setup(archive);
    await add(...Array.from({ length: 7 }, (_, index) => makeItem({ title: `Reactor restart ${index}`, publishedAt: NOW - (index + 1) * DAY_MS })));
    const first = textOf((await say("/search reactor"))[0]);
    for (let index = 1; index < RATE_LIMITS.search.limit; index++) assert.equal(only(await handle(pressUpdate("search:1", { text: plain(first) })), "editMessageText").length, 1);
    for (let index = 0; index < 3; index++) {
      const requests = await handle(pressUpdate("search:1", { text: plain(first) }));
      assert.deepEqual(only(requests, "answerCallbackQuery").map((request) => request.params.text), [en.tooManyRequests]);
      assert.equal(only(requests, "editMessageText").length, 0);
    }
  });

  test("200 inline queries from one user: the limit answered, the first past it told, the rest unanswered; another user gets results", async (t: TestContext) => {
    const archive = await openArchive();
    t.mock.timers.enable({ apis: ["setInterval"] });
    const { handle, add, telegram } = await setup(archive);
    await add(makeItem({ title: "Reactor restart", publishedAt: NOW - DAY_MS }));
    const answered: ApiRequest[] = [];
    for (let index = 0; index < 200; index++) {
      answered.push(...only(await handle(inlineUpdate("reactor")), "answerInlineQuery"));
      if (index === 100) {
        const [other] = only(await handle(inlineUpdate("reactor", { from: user(101) })), "answerInlineQuery");
        assert.equal((other!.params.results as unknown[]).length, 1, "another user");
      }
    }
    const withResults = answered.filter((request) => (request.params.results as unknown[]).length > 0);
    assert.ok(withResults.length <= RATE_LIMITS.inline.limit, `${withResults.length} answered with results`);
    assert.equal(withResults.length, RATE_LIMITS.inline.limit);
    assert.equal(answered.length, RATE_LIMITS.inline.limit + 1, "one more: the one told");
    const told = answered[RATE_LIMITS.inline.limit]!;
    assert.deepEqual(told.params.results, []);
    assert.equal((told.params.button as { text: string }).text, en.inlineTooMany);
    assert.equal(told.params.cache_time, 0, "the refusal is not cached");
    telegram.clear();
    t.mock.timers.tick(RATE_LIMITS.inline.windowMs);
    const [again] = only(await handle(inlineUpdate("reactor")), "answerInlineQuery");
    assert.equal((again!.params.results as unknown[]).length, 1, "a new window");
  });
});

describe("bot: Read here", () => {
  const article: ArticleText = {
    text: "Reactor restarted after review\n\nThe plant's second unit came back online on Tuesday.\n\nInspectors return in <b>May</b> & June.",
    headings: [{ text: "What happens next", before: "Inspectors return" }],
    image: "https://example.org/article-lead.jpg",
  };

  async function withArticle(archiveIt: "article" | "summary" = "article") {
    const context = await setup(await openArchive());
    const item = makeItem({
      title: "Reactor restarted after review",
      source: "Example News",
      link: "https://example.org/reactor",
      image: "https://example.org/feed-image.jpg",
      readable: true,
      publishedAt: Date.UTC(2025, 2, 4, 10, 15),
    });
    await context.deps.recent.add([archiveIt === "article" ? { item, article } : { item }]);
    return { ...context, item, ref: itemRef(item.key) };
  }

  type Block = { type: string; size?: number; text?: unknown; photo?: { type: string; media: string } };
  const blocksOf = (request: ApiRequest | undefined): Block[] => (request?.params.rich_message as { blocks: Block[] }).blocks;
  /** The text of a rich text, for counting as Telegram does (code points). */
  const richText = (text: unknown): string =>
    typeof text === "string" ? text : Array.isArray(text) ? text.map(richText).join("") : text && typeof text === "object" && "text" in text ? richText(text.text) : "";

  test("the item's message has the button, its data within 64 bytes", async () => {
    const { item, ref } = await withArticle();
    const [button, ...others] = buttons(renderItem(item, { locale: "en" }).replyMarkup);
    assert.deepEqual(button, { text: en.readHere, callback_data: `read:${ref}` });
    assert.equal(others.length, 0);
    assert.ok(Buffer.byteLength(button!.callback_data!) <= 64);
    assert.equal(renderItem({ ...item, readable: false }, { locale: "en" }).replyMarkup, undefined);
  });

  test("pressed in a private chat: answered, then the article as one rich message", async () => {
    const { handle, item, ref } = await withArticle();
    const requests = await handle(pressUpdate(`read:${ref}`));
    assert.deepEqual(requests.map((request) => request.method), ["answerCallbackQuery", "sendRichMessage"]);
    assert.equal(requests[0]!.params.text, undefined);
    const send = requests[1]!;
    assert.equal(send.params.chat_id, 100);
    assert.deepEqual(blocksOf(send), [
      { type: "heading", size: 1, text: item.title },
      { type: "photo", photo: { type: "photo", media: article.image } },
      { type: "paragraph", text: "The plant's second unit came back online on Tuesday." },
      { type: "heading", size: 2, text: "What happens next" },
      { type: "paragraph", text: "Inspectors return in <b>May</b> & June." },
      { type: "footer", text: ["Example News · 2025-03-04 10:15 UTC", " · ", { type: "url", text: en.readSource, url: "https://example.org/reactor" }] },
    ]);
  });

  test("pressed in a group: answered with the deep link, nothing sent there; the deep link sends it in private", async () => {
    const { handle, ref } = await withArticle();
    const requests = await handle(pressUpdate(`read:${ref}`, { chat: groupChat(-500) }));
    assert.deepEqual(requests.map((request) => request.method), ["answerCallbackQuery"]);
    assert.equal(requests[0]!.params.url, `https://t.me/${BOT_INFO.username}?start=read_${ref}`);

    const inline = await handle({ update_id: ++updateId, callback_query: { id: "inl", from: user(100), chat_instance: "ci", inline_message_id: "AAQ", data: `read:${ref}` } } as Update);
    assert.deepEqual(inline.map((request) => [request.method, request.params.url]), [["answerCallbackQuery", `https://t.me/${BOT_INFO.username}?start=read_${ref}`]]);

    const started = await handle(messageUpdate(`/start ${readStartParameter(ref)}`));
    assert.deepEqual(started.map((request) => request.method), ["sendRichMessage"]);
    assert.equal(started[0]!.params.chat_id, 100);
    assert.equal(blocksOf(started[0])[0]!.type, "heading");

    const gone = await handle(messageUpdate("/start read_AAAAAAAAAAAAAAAA"));
    assert.deepEqual(gone.map((request) => [request.method, request.params.text]), [["sendMessage", en.readGone]]);
    const greeting = await handle(messageUpdate("/start"));
    assert.match(textOf(only(greeting, "sendMessage")[0]), /newswire/, "a plain /start still greets");
  });

  test("an unknown or expired ref, or malformed data, is answered with an alert; an item without its article says so", async () => {
    const { handle, deps } = await withArticle();
    for (const data of ["read:AAAAAAAAAAAAAAAA", "read:", "read:a:b", "read:bad ref!"]) {
      const requests = await handle(pressUpdate(data));
      assert.deepEqual(requests.map((request) => request.method), ["answerCallbackQuery"], data);
      assert.equal(requests[0]!.params.text, en.readGone, data);
    }
    assert.equal((await handle(pressUpdate("read:AAAAAAAAAAAAAAAA")))[0]!.params.show_alert, true);

    const bare = makeItem({ title: "Summary only", readable: true, publishedAt: NOW });
    await deps.recent.add([{ item: bare }]);
    const requests = await handle(pressUpdate(`read:${itemRef(bare.key)}`));
    assert.deepEqual(requests.map((request) => [request.method, request.params.text, request.params.show_alert]), [["answerCallbackQuery", en.readNoText, true]]);
  });

  test("a lead image Telegram refuses: sent again without it", async () => {
    const { handle, telegram, ref } = await withArticle();
    telegram.once((request) => request.method === "sendRichMessage", answers.badRequest("Bad Request: failed to get HTTP URL content"));
    const sends = only(await handle(pressUpdate(`read:${ref}`)), "sendRichMessage");
    assert.equal(sends.length, 2);
    assert.ok(blocksOf(sends[0]).some((block) => block.type === "photo"));
    assert.deepEqual(blocksOf(sends[1]), blocksOf(sends[0]).filter((block) => block.type !== "photo"));
  });

  test("a refusal without an image is not retried", async () => {
    const { handle, telegram, deps } = await withArticle();
    const item = makeItem({ title: "No image", readable: true, publishedAt: NOW });
    await deps.recent.add([{ item, article: { text: "Only text.", headings: [] } }]);
    telegram.once((request) => request.method === "sendRichMessage", answers.badRequest("Bad Request: RICH_MESSAGE_INVALID"));
    const requests = await handle(pressUpdate(`read:${itemRef(item.key)}`));
    assert.equal(only(requests, "sendRichMessage").length, 1);
    assert.equal(only(requests, "answerCallbackQuery")[0]!.params.text, undefined, "answered before the send");
  });

  test("a send that fails after the press was answered is told in the chat, not by a second answer", async () => {
    const { handle, telegram, deps } = await withArticle();
    const item = makeItem({ title: "No image", readable: true, publishedAt: NOW });
    await deps.recent.add([{ item, article: { text: "Only text.", headings: [] } }]);
    telegram.once((request) => request.method === "sendRichMessage", answers.badRequest("Bad Request: RICH_MESSAGE_INVALID"));
    const requests = await handle(pressUpdate(`read:${itemRef(item.key)}`));
    assert.equal(only(requests, "answerCallbackQuery").length, 1, "one answer per callback");
    assert.deepEqual(only(requests, "sendMessage").map(textOf), [en.internalError]);
  });

  test("a 40,000-character article is one rich message within the limits, cut with a link to the rest", async () => {
    const { handle, deps } = await withArticle();
    const paragraph = (index: number) => `Paragraph ${index}: ${"an article sentence with words ".repeat(13)}`.trim();
    const paragraphs = Array.from({ length: 100 }, (_, index) => paragraph(index));
    const text = paragraphs.join("\n\n");
    assert.ok(text.length >= 40_000, `${text.length}`);
    const item = makeItem({ title: "A very long read", readable: true, link: "https://example.org/long", publishedAt: NOW });
    await deps.recent.add([{ item, article: { text, headings: [] } }]);
    const sends = only(await handle(pressUpdate(`read:${itemRef(item.key)}`)), "sendRichMessage");
    assert.equal(sends.length, 1);
    const blocks = blocksOf(sends[0]);
    assert.ok(blocks.length <= RICH_BLOCK_LIMIT);
    const total = blocks.reduce((sum, block) => sum + [...richText(block.text)].length, 0);
    assert.ok(total <= RICH_TEXT_LIMIT, `${total} characters`);
    assert.ok(total > RICH_TEXT_LIMIT / 2, "most of it is there");
    const [rest, footer] = blocks.slice(-2);
    assert.equal(footer!.type, "footer");
    assert.equal(rest!.type, "paragraph");
    assert.deepEqual(rest!.text, [{ type: "italic", text: "… " }, { type: "url", text: en.readRest, url: "https://example.org/long" }]);
    const kept = blocks.filter((block) => block.type === "paragraph").slice(0, -1).map((block) => block.text);
    assert.deepEqual(kept, paragraphs.slice(0, kept.length), "whole paragraphs, in order");
  });

  test("an article whose paragraphs each follow two headings stays within 500 blocks", async () => {
    const { handle, deps } = await withArticle();
    const item = makeItem({ title: "Sections", readable: true, publishedAt: NOW });
    const count = 1_000;
    const text = Array.from({ length: count }, (_, index) => `Point ${index}.`).join("\n\n");
    const headings = Array.from({ length: count }, (_, index) => [{ text: `Part ${index}`, before: `Point ${index}.` }, { text: `Section ${index}`, before: `Point ${index}.` }]).flat();
    await deps.recent.add([{ item, article: { text, headings } }]);
    const requests = await handle(pressUpdate(`read:${itemRef(item.key)}`));
    const [send] = only(requests, "sendRichMessage");
    assert.ok(send, requests.map((request) => request.method).join());
    const blocks = blocksOf(send);
    assert.ok(blocks.length <= RICH_BLOCK_LIMIT, `${blocks.length} blocks`);
    assert.equal(blocks.at(-1)!.type, "footer");
  });

  test("an article of 2,000 short paragraphs stays within 500 blocks", async () => {
    const { handle, deps } = await withArticle();
    const item = makeItem({ title: "Many points", readable: true, publishedAt: NOW });
    await deps.recent.add([{ item, article: { text: Array.from({ length: 2_000 }, (_, index) => `Point ${index}.`).join("\n\n"), headings: [] } }]);
    const [send] = only(await handle(pressUpdate(`read:${itemRef(item.key)}`)), "sendRichMessage");
    const blocks = blocksOf(send);
    assert.ok(blocks.length <= RICH_BLOCK_LIMIT, `${blocks.length} blocks`);
    assert.ok(blocks.length > RICH_BLOCK_LIMIT - 10);
    assert.equal(blocks.at(-1)!.type, "footer");
    assert.deepEqual((blocks.at(-2)!.text as { type: string }[]).map((part) => part.type), ["italic", "url"]);
  });

  test("the 11th press in a minute is answered with 'too many requests', nothing sent", async (t: TestContext) => {
    const archive = await openArchive();
    t.mock.timers.enable({ apis: ["setInterval"] });
    const { handle, deps } = await setup(archive);
    const item = makeItem({ title: "Reactor", readable: true, publishedAt: NOW });
    await deps.recent.add([{ item, article: { text: "Text.", headings: [] } }]);
    const ref = itemRef(item.key);
    for (let index = 0; index < RATE_LIMITS.read.limit; index++) assert.equal(only(await handle(pressUpdate(`read:${ref}`)), "sendRichMessage").length, 1);
    for (let index = 0; index < 2; index++) {
      const requests = await handle(pressUpdate(`read:${ref}`));
      assert.deepEqual(requests.map((request) => [request.method, request.params.text]), [["answerCallbackQuery", en.tooManyRequests]]);
    }
    assert.equal(only(await handle(pressUpdate(`read:${ref}`, { from: user(101) })), "sendRichMessage").length, 1, "another user");
    t.mock.timers.tick(RATE_LIMITS.read.windowMs);
    assert.equal(only(await handle(pressUpdate(`read:${ref}`)), "sendRichMessage").length, 1, "a new window");
  });
});

describe("callback data", () => {
  test("encodes and decodes each kind, within 64 bytes", () => {
    const ref = itemRef("l:some-item");
    for (const data of [{ kind: "read", ref }, { kind: "read", ref: "a" }, { kind: "read", ref: "A-_".repeat(13) + "z" }, { kind: "search", page: 0 }, { kind: "search", page: MAX_SEARCH_PAGE }] as const) {
      const encoded = encodeCallback(data);
      assert.ok(Buffer.byteLength(encoded) <= 64, encoded);
      assert.deepEqual(decodeCallback(encoded), data);
    }
    assert.equal(encodeCallback({ kind: "read", ref }), `read:${ref}`);
    assert.equal(encodeCallback({ kind: "search", page: 3 }), "search:3");
  });

  test("rejects malformed data and unknown kinds", () => {
    for (const data of [
      "", "read", "read:", "read:a:b", `read:${"a".repeat(41)}`, "read:a b", "read:é", "read:a/b",
      "search", "search:", "search:x", "search:-1", "search:1.5", "search:999", "search:1000", `search:${MAX_SEARCH_PAGE + 1}`, "search:1:2",
      "topic:china", "READ:abc", "other:1", ":", "read::",
    ]) {
      assert.equal(decodeCallback(data), undefined, JSON.stringify(data));
    }
  });

  test("the deep link's start parameter", () => {
    const ref = itemRef("l:x");
    assert.equal(readStartParameter(ref), `read_${ref}`);
    assert.equal(refOfStartParameter(readStartParameter(ref)), ref);
    assert.ok(readStartParameter(ref).length <= 64, "Telegram's start parameter limit");
    for (const parameter of ["", "read_", "read", "limited", "search", "read_a b", `read_${"a".repeat(41)}`]) assert.equal(refOfStartParameter(parameter), undefined, parameter);
  });

  test("parseQuery", () => {
    assert.deepEqual(parseQuery("  steel   sanctions #China ", ["china"]), { query: { shown: "steel sanctions #China", words: "steel sanctions", topic: "china" } });
    assert.deepEqual(parseQuery("#all", ["china"]), { problem: "empty" });
    assert.deepEqual(parseQuery("# steel", ["china"]), { query: { shown: "# steel", words: "# steel", topic: "all" } });
    assert.deepEqual(parseQuery("steel #moon", ["china"]), { problem: { unknownTopic: "moon" } });
    assert.deepEqual(parseQuery("x".repeat(MAX_QUERY_CHARS + 1), []), { problem: "too-long" });
  });
});
