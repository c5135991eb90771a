import { test, describe, beforeEach, after } from "node:test";
import assert from "node:assert/strict";
import { Api, Bot, GrammyError, InputFile } from "grammy";
import type { InlineQueryResult, InputRichMessage } from "grammy/types";
import { startFakeTelegram } from "../support/fake-telegram.js";
import type { FakeTelegram } from "../support/fake-telegram.js";

/** A clock the tests move by hand, so flood limits are deterministic. */
let now = Date.UTC(2025, 0, 1);
const fake: FakeTelegram = await startFakeTelegram({ clock: () => now });
const api = new Api(fake.token, { apiRoot: fake.apiRoot });

after(() => fake.close());
beforeEach(() => {
  fake.reset();
  fake.setLimits({});
  now += 3_600_000;
});

/** Runs `call` and returns the GrammyError it must throw. */
async function rejection(call: Promise<unknown>): Promise<GrammyError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof GrammyError, `expected a GrammyError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

describe("fake Telegram with grammY's Api", () => {
  test("getMe answers the bot", async () => {
    const me = await api.getMe();
    assert.equal(me.username, "newswire_test_bot");
    assert.equal(me.id, 999);
    assert.equal(me.is_bot, true);
  });

  test("a wrong token gets 401", async () => {
    const error = await rejection(new Api("1:WRONG", { apiRoot: fake.apiRoot }).getMe());
    assert.equal(error.error_code, 401);
    assert.equal(error.description, "Unauthorized");
  });

  test("an unknown method gets 404", async () => {
    const error = await rejection(api.raw.sendDice({ chat_id: 1 }));
    assert.equal(error.error_code, 404);
    assert.equal(error.description, "Not Found: method not found");
  });

  test("a long poll is held until an update is pushed, and offset confirms it", async () => {
    const poll = api.getUpdates({ timeout: 30 });
    // Wait until the double holds the request, then push.
    while (!fake.calls.some((c) => c.method === "getUpdates")) await new Promise((r) => setTimeout(r, 5));
    fake.sendText(42, "/start");
    const updates = await poll;
    assert.equal(updates.length, 1);
    const message = updates[0]?.message;
    assert.equal(message?.text, "/start");
    assert.equal(message?.chat.type, "private");
    assert.equal(message?.from?.id, 42);
    assert.deepEqual(message?.entities, [{ type: "bot_command", offset: 0, length: 6 }]);

    const next = (updates[0]?.update_id ?? 0) + 1;
    assert.deepEqual(await api.getUpdates({ offset: next, timeout: 0 }), []);
  });

  test("a second long poll terminates the first with 409, as Telegram does", async () => {
    const first = rejection(api.getUpdates({ timeout: 30 }));
    while (!fake.calls.some((c) => c.method === "getUpdates")) await new Promise((r) => setTimeout(r, 5));
    const second = api.getUpdates({ timeout: 30 });
    assert.equal((await first).error_code, 409);
    fake.sendText(42, "hello");
    assert.equal((await second).length, 1);
  });

  test("sendMessage records the send and returns Telegram's parsed message", async () => {
    const message = await api.sendMessage(7, '<b>Hi</b> <a href="https://e.org/">there</a> &amp; more', {
      parse_mode: "HTML",
      reply_markup: { inline_keyboard: [[{ text: "Subscribe", callback_data: "sub:world" }]] },
    });
    assert.equal(message.message_id, 1);
    assert.equal(message.text, "Hi there & more");
    assert.deepEqual(message.entities, [
      { type: "bold", offset: 0, length: 2 },
      { type: "text_link", offset: 3, length: 5, url: "https://e.org/" },
    ]);
    assert.equal(fake.sent.length, 1);
    assert.equal(fake.sent[0]?.text, '<b>Hi</b> <a href="https://e.org/">there</a> &amp; more');
    assert.equal(fake.sent[0]?.parse_mode, "HTML");
    now += 1000;
    assert.equal((await api.sendMessage(7, "again")).message_id, 2, "message ids count up per chat");
  });

  test("a reply must name an existing message unless sending without it is allowed", async () => {
    const missing = await rejection(api.sendMessage(7, "re", { reply_parameters: { message_id: 41 } }));
    assert.equal(missing.description, "Bad Request: message to be replied not found");
    await api.sendMessage(7, "re", { reply_parameters: { message_id: 41, allow_sending_without_reply: true } });
    now += 1000;
    const asked = fake.sendText(7, "/latest").message;
    const answer = await api.sendMessage(7, "items", { reply_parameters: { message_id: asked?.message_id ?? 0 } });
    assert.equal(answer.reply_to_message?.text, "/latest");
  });

  test("sendText builds group messages and channel posts like Telegram's", () => {
    const group = fake.sendText(-100321, "/subscribe@newswire_test_bot world").message;
    assert.equal(group?.chat.type, "supergroup");
    assert.equal(group?.from?.id, 100);
    assert.deepEqual(group?.entities, [{ type: "bot_command", offset: 0, length: 28 }]);
    const post = fake.sendText(-100999, "news", undefined, "channel").channel_post;
    assert.equal(post?.sender_chat?.id, -100999);
    assert.equal(post?.from, undefined);
    const named = fake.sendText(-100321, "hi", { id: 5, first_name: "Ann" }).message;
    assert.deepEqual([named?.from?.id, named?.from?.first_name, named?.message_id], [5, "Ann", 2]);
  });

  test("sendMessage with markup Telegram refuses gets Telegram's 400", async () => {
    const error = await rejection(api.sendMessage(7, "<p>news</p> AT&T", { parse_mode: "HTML" }));
    assert.equal(error.error_code, 400);
    assert.equal(error.description, `Bad Request: can't parse entities: Unsupported start tag "p" at byte offset 0`);
    assert.equal(fake.sent.length, 0);
  });

  test("form-encoded, query-string and multipart requests work like JSON", async () => {
    const form = new URLSearchParams({
      chat_id: "7",
      text: "<b>form</b>",
      parse_mode: "HTML",
      reply_markup: JSON.stringify({ inline_keyboard: [[{ text: "A", callback_data: "a" }]] }),
    });
    const response = await fetch(`${fake.apiRoot}/bot${fake.token}/sendMessage`, { method: "POST", body: form });
    const body = (await response.json()) as { ok: boolean; result: { text: string } };
    assert.equal(body.ok, true);
    assert.equal(body.result.text, "form");
    assert.deepEqual(fake.sent[0]?.reply_markup, { inline_keyboard: [[{ text: "A", callback_data: "a" }]] });

    const query = await fetch(`${fake.apiRoot}/bot${fake.token}/GETCHAT?chat_id=7`);
    assert.equal(((await query.json()) as { result: { type: string } }).result.type, "private");

    now += 1000;
    const photo = await api.sendPhoto(7, new InputFile(Buffer.from("not really a jpeg"), "p.jpg"), { caption: "pic" });
    assert.equal(photo.caption, "pic");
    assert.match(fake.sent[1]?.photo ?? "", /^attach:\/\//);
  });

  test("texts over 4,096 and captions over 1,024 characters are refused", async () => {
    const long = await rejection(api.sendMessage(7, "x".repeat(4097)));
    assert.equal(long.description, "Bad Request: message is too long");
    const caption = await rejection(api.sendPhoto(7, "https://e.org/p.jpg", { caption: "y".repeat(1025) }));
    assert.equal(caption.description, "Bad Request: message caption is too long");
  });

  test("callback data over 64 bytes is refused", async () => {
    const error = await rejection(
      api.sendMessage(7, "menu", { reply_markup: { inline_keyboard: [[{ text: "x", callback_data: "d".repeat(65) }]] } }),
    );
    assert.equal(error.description, "Bad Request: BUTTON_DATA_INVALID");
  });

  test("a second message to one chat within a second gets 429 with retry_after", async () => {
    await api.sendMessage(7, "one");
    const error = await rejection(api.sendMessage(7, "two"));
    assert.equal(error.error_code, 429);
    assert.equal(error.description, "Too Many Requests: retry after 1");
    assert.equal(error.parameters.retry_after, 1);
    assert.equal(fake.floodRejections, 1);
    // Another chat is not affected, and the first chat is free again a second later.
    await api.sendMessage(8, "other chat");
    now += 1000;
    await api.sendMessage(7, "two");
    assert.deepEqual(fake.sent.map((m) => m.text), ["one", "other chat", "two"]);
  });

  test("a group takes 20 messages per minute; retry_after counts the seconds to the next slot", async () => {
    for (let i = 0; i < 20; i++) {
      await api.sendMessage(-100123, `post ${i}`);
      now += 1000;
    }
    const error = await rejection(api.sendMessage(-100123, "one too many"));
    // The first post was 20 s ago: its slot frees in 40 s.
    assert.equal(error.parameters.retry_after, 40);
  });

  test("the global limit: 30 messages per second over all chats", async () => {
    for (let chat = 1; chat <= 30; chat++) await api.sendMessage(chat, "hello");
    const error = await rejection(api.sendMessage(31, "hello"));
    assert.equal(error.error_code, 429);
    fake.setLimits(false);
    await api.sendMessage(31, "hello");
  });

  test("a blocked chat gets 403; a kicked group gets its own 403", async () => {
    fake.blockChat(7);
    const blocked = await rejection(api.sendMessage(7, "hello"));
    assert.equal(blocked.error_code, 403);
    assert.equal(blocked.description, "Forbidden: bot was blocked by the user");
    fake.blockChat(-100555);
    const kicked = await rejection(api.sendMessage(-100555, "hello"));
    assert.equal(kicked.description, "Forbidden: bot was kicked from the supergroup chat");
  });

  test("a migrated group answers with migrate_to_chat_id; a deleted chat is not found", async () => {
    fake.migrateChat(-555, -100555);
    const migrated = await rejection(api.sendMessage(-555, "hello"));
    assert.equal(migrated.error_code, 400);
    assert.equal(migrated.description, "Bad Request: group chat was upgraded to a supergroup chat");
    assert.equal(migrated.parameters.migrate_to_chat_id, -100555);
    await api.sendMessage(-100555, "hello");

    fake.deleteChat(12);
    assert.equal((await rejection(api.sendMessage(12, "hello"))).description, "Bad Request: chat not found");
  });

  test("failNext injects errors for the next calls only", async () => {
    fake.failNext("sendMessage", { error_code: 500, description: "Internal Server Error" }, 2);
    assert.equal((await rejection(api.sendMessage(7, "a"))).error_code, 500);
    assert.equal((await rejection(api.sendMessage(7, "a"))).error_code, 500);
    await api.sendMessage(7, "a");
    assert.equal(fake.calls.filter((c) => c.error).length, 2);
  });

  test("channels: posting needs admin rights; @username addresses the channel", async () => {
    fake.addChat({ id: -100777, type: "channel", username: "news_channel", title: "News" });
    const outsider = await rejection(api.sendMessage("@news_channel", "post"));
    assert.equal(outsider.description, "Forbidden: bot is not a member of the channel chat");
    fake.setMember(-100777, fake.bot.id, "administrator", { can_post_messages: false });
    const noRight = await rejection(api.sendMessage("@news_channel", "post"));
    assert.equal(noRight.description, "Bad Request: need administrator rights in the channel chat");
    fake.setMember(-100777, fake.bot.id, "administrator", { can_post_messages: true });
    const post = await api.sendMessage("@news_channel", "post");
    assert.equal(post.sender_chat?.id, -100777);
    assert.equal((await api.getChatMember(-100777, fake.bot.id)).status, "administrator");
  });

  test("getChatMember defaults to member; getChatAdministrators lists admins but no bots", async () => {
    fake.setMember(-100888, 5, "creator");
    fake.setMember(-100888, fake.bot.id, "administrator");
    assert.equal((await api.getChatMember(-100888, 6)).status, "member");
    const admins = await api.getChatAdministrators(-100888);
    assert.deepEqual(admins.map((m) => [m.user.id, m.status]), [[5, "creator"]]);
  });

  test("pressButton, answerCallbackQuery and an edit that replaces the keyboard", async () => {
    const menu = await api.sendMessage(7, "Topics", {
      reply_markup: { inline_keyboard: [[{ text: "World", callback_data: "sub:world" }]] },
    });
    assert.throws(() => fake.pressButton(7, menu.message_id, "sub:nope"), /has no button "sub:nope"/);
    const update = fake.pressButton(7, menu.message_id, "sub:world");
    const query = update.callback_query;
    assert.equal(query?.data, "sub:world");
    assert.equal(await api.answerCallbackQuery(query?.id ?? "", { text: "Subscribed" }), true);
    const again = await rejection(api.answerCallbackQuery(query?.id ?? ""));
    assert.match(again.description, /query is too old/);

    const markup = { inline_keyboard: [[{ text: "✓ World", callback_data: "unsub:world" }]] };
    await api.editMessageReplyMarkup(7, menu.message_id, { reply_markup: markup });
    assert.deepEqual(fake.message(7, menu.message_id)?.reply_markup, markup);
    const same = await rejection(api.editMessageReplyMarkup(7, menu.message_id, { reply_markup: markup }));
    assert.match(same.description, /message is not modified/);
    await api.editMessageText(7, menu.message_id, "<i>Topics</i>", { parse_mode: "HTML" });
    assert.equal(fake.message(7, menu.message_id)?.reply_markup, undefined, "an edit without markup drops the keyboard");
  });

  test("forwardMessage and copyMessage need an existing source message", async () => {
    fake.addChat({ id: -100777, type: "channel", username: "news_channel" });
    fake.setMember(-100777, fake.bot.id, "creator");
    const post = await api.sendMessage(-100777, "<b>Big news</b>", { parse_mode: "HTML" });
    const forwarded = await api.forwardMessage(7, -100777, post.message_id);
    assert.equal(forwarded.text, "Big news");
    assert.equal(forwarded.forward_origin?.type, "channel");
    now += 1000;
    const copy = await api.copyMessage(7, -100777, post.message_id);
    assert.equal(typeof copy.message_id, "number");
    const missing = await rejection(api.forwardMessage(8, -100777, 99));
    assert.equal(missing.description, "Bad Request: message to forward not found");
  });

  test("commands are stored per scope and language", async () => {
    await api.setMyCommands([{ command: "start", description: "Start" }]);
    await api.setMyCommands([{ command: "status", description: "Status" }], { scope: { type: "chat", chat_id: 1 } });
    assert.deepEqual(await api.getMyCommands(), [{ command: "start", description: "Start" }]);
    assert.deepEqual(fake.commands({ type: "chat", chat_id: 1 }), [{ command: "status", description: "Status" }]);
    const invalid = await rejection(api.setMyCommands([{ command: "Bad-Name", description: "x" }]));
    assert.equal(invalid.description, "Bad Request: BOT_COMMAND_INVALID");
    await api.deleteMyCommands();
    assert.deepEqual(await api.getMyCommands(), []);
  });

  test("waitFor resolves on matching sends and explains a timeout", async () => {
    const waiting = fake.waitFor((m) => m.chat_id === 9, { count: 2 });
    await api.sendMessage(9, "first");
    now += 1000;
    await api.sendMessage(9, "second");
    assert.deepEqual((await waiting).map((m) => m.text), ["first", "second"]);
    await assert.rejects(
      fake.waitFor((m) => m.chat_id === 10, { timeoutMs: 20 }),
      /expected 1 matching message\(s\) within 20 ms, got 0\.\nSent \(2\)/,
    );
  });

  test("a grammY Bot polls, answers a command and stops cleanly", async () => {
    const bot = new Bot(fake.token, { client: { apiRoot: fake.apiRoot } });
    bot.command("start", (ctx) => ctx.reply("<b>Welcome</b>", { parse_mode: "HTML" }));
    const running = bot.start();
    fake.sendText(42, "/start@newswire_test_bot");
    const [reply] = await fake.waitFor((m) => m.chat_id === 42);
    assert.equal(reply?.message.text, "Welcome");
    await bot.stop();
    await running;
    assert.deepEqual(
      fake.calls.filter((c) => c.error).map((c) => c.error),
      [],
      "grammY's start and stop cause no error answers",
    );
  });

  test("close answers a held long poll at once", async () => {
    const other = await startFakeTelegram();
    const poll = new Api(other.token, { apiRoot: other.apiRoot }).getUpdates({ timeout: 60 });
    while (!other.calls.some((c) => c.method === "getUpdates")) await new Promise((r) => setTimeout(r, 5));
    await other.close();
    assert.deepEqual(await poll, []);
  });
});

/** A rich message of `blocks`, unchecked (the double is to judge them). */
function richMessage(blocks: unknown[]): InputRichMessage {
  return { blocks } as unknown as InputRichMessage;
}

function paragraph(text: unknown): unknown {
  return { type: "paragraph", text };
}

function article(id: string, text: string, extra: Record<string, unknown> = {}): InlineQueryResult {
  return {
    type: "article",
    id,
    title: `Story ${id}`,
    input_message_content: { message_text: text, parse_mode: "HTML" },
    ...extra,
  } as InlineQueryResult;
}

describe("fake Telegram: rich messages, inline mode and callback answers", () => {
  test("sendRichMessage stores the blocks, records their plain text and takes a send slot", async () => {
    const input = richMessage([
      { type: "heading", size: 2, text: "Big news" },
      paragraph(["Read ", { type: "bold", text: { type: "italic", text: "this" } }, " at ", { type: "url", text: "the site", url: "https://e.org/a" }]),
      { type: "photo", photo: { type: "photo", media: "https://e.org/p.jpg" }, caption: { text: "A photo", credit: "AP" } },
      { type: "divider" },
      { type: "blockquote", blocks: [paragraph("Quoted")], credit: "Someone" },
      { type: "footer", text: "via Newswire" },
    ]);
    const markup = { inline_keyboard: [[{ text: "More", callback_data: "more:1" }]] };
    const message = await api.sendRichMessage(7, input, { reply_markup: markup });
    assert.equal(message.message_id, 1);
    const blocks = message.rich_message.blocks;
    assert.deepEqual(blocks.map((b) => b.type), ["heading", "paragraph", "photo", "divider", "blockquote", "footer"]);
    const photo = blocks[2];
    assert.ok(photo?.type === "photo" && typeof photo.photo[0]?.file_id === "string", "a photo block comes back as PhotoSize[]");
    assert.deepEqual(message.reply_markup, markup);

    const [sent] = await fake.waitFor((m) => m.text.includes("Read this at the site"));
    assert.equal(sent?.method, "sendRichMessage");
    assert.equal(sent?.text, "Big news\n\nRead this at the site\n\nA photo\nAP\n\nQuoted\nSomeone\n\nvia Newswire");
    assert.deepEqual(sent?.rich, input);
    assert.deepEqual(fake.message(7, 1)?.rich_message, message.rich_message);

    const flood = await rejection(api.sendRichMessage(7, richMessage([paragraph("again")])));
    assert.equal(flood.error_code, 429);
    fake.blockChat(8);
    assert.equal((await rejection(api.sendRichMessage(8, richMessage([paragraph("hi")])))).error_code, 403);
  });

  test("sendRichMessage takes the rich message as a JSON string in a form, like other parameters", async () => {
    const form = new URLSearchParams({ chat_id: "7", rich_message: JSON.stringify({ blocks: [paragraph("form")] }) });
    const response = await fetch(`${fake.apiRoot}/bot${fake.token}/sendRichMessage`, { method: "POST", body: form });
    const body = (await response.json()) as { ok: boolean; result: { rich_message: { blocks: unknown[] } } };
    assert.equal(body.ok, true);
    assert.deepEqual(body.result.rich_message.blocks, [paragraph("form")]);
    assert.equal(fake.sent[0]?.text, "form");
  });

  test("lists get labels; nested blocks give line-separated plain text", async () => {
    const message = await api.sendRichMessage(
      7,
      richMessage([
        { type: "list", items: [{ blocks: [paragraph("one")] }, { blocks: [paragraph("two")] }] },
        { type: "list", items: [{ type: "i", blocks: [paragraph("first")] }, { type: "i", blocks: [paragraph("second")] }] },
      ]),
    );
    const [bullets, roman] = message.rich_message.blocks;
    assert.ok(bullets?.type === "list" && roman?.type === "list");
    assert.deepEqual(bullets.items.map((i) => i.label), ["•", "•"]);
    assert.deepEqual(roman.items.map((i) => i.label), ["i.", "ii."]);
    assert.equal(fake.sent[0]?.text, "• one\n• two\n\ni. first\nii. second");
  });

  test("sendRichMessage refuses what Telegram refuses, with a 400 that says why", async () => {
    const refused = async (rich: unknown): Promise<string> =>
      (await rejection(api.sendRichMessage(7, rich as InputRichMessage))).description;
    assert.match(await refused({ blocks: [paragraph("x")], html: "<p>x</p>" }), /^Bad Request: RICH_MESSAGE_INVALID/);
    assert.match(await refused({}), /^Bad Request: RICH_MESSAGE_INVALID/);
    assert.match(await refused({ html: "<p>x</p>" }), /not supported by the fake Telegram/);
    assert.equal(
      await refused(richMessage([{ type: "marquee", text: "x" }])),
      `Bad Request: can't parse rich message: blocks[0].type "marquee" is not a supported block type`,
    );
    assert.match(await refused(richMessage([{ type: "heading", text: "x" }])), /blocks\[0\]\.size must be an Integer from 1 to 6/);
    assert.match(await refused(richMessage([{ type: "heading", size: 7, text: "x" }])), /size must be an Integer from 1 to 6/);
    assert.match(await refused(richMessage([paragraph({ type: "blink", text: "x" })])), /blocks\[0\]\.text\.type "blink" is not a supported RichText type/);
    assert.match(await refused(richMessage([paragraph({ type: "url", text: "x", url: "javascript:alert(1)" })])), /url must be an HTTP or HTTPS URL/);
    assert.match(await refused(richMessage([paragraph(42)])), /blocks\[0\]\.text must be a String/);
    const photo = (media: string): unknown => ({ type: "photo", photo: { type: "photo", media } });
    assert.match(await refused(richMessage([photo("ftp://e.org/p.jpg"), paragraph("x")])), /photo\.media must be an HTTP or HTTPS URL/);
    assert.match(await refused(richMessage([{ type: "thinking", text: "hm" }])), /only in sendRichMessageDraft/);
    assert.equal(await refused(richMessage([{ type: "divider" }])), "Bad Request: message text is empty");
    assert.equal(await refused(richMessage([paragraph("  ")])), "Bad Request: message text is empty");
    assert.equal(await refused(richMessage([])), "Bad Request: message text is empty");
    assert.equal(
      (await rejection(api.raw.sendRichMessage({ chat_id: 7 } as never))).description,
      "Bad Request: rich_message is empty",
    );
    assert.equal(fake.sent.length, 0);
    // A photo with no text is a message.
    await api.sendRichMessage(7, richMessage([photo("https://e.org/p.jpg")]));
  });

  test("rich message limits: 32,768 characters, 500 blocks, 16 levels, 50 media", async () => {
    const refused = async (blocks: unknown[]): Promise<string> =>
      (await rejection(api.sendRichMessage(7, richMessage(blocks)))).description;
    const send = async (blocks: unknown[]): Promise<void> => {
      now += 1000;
      await api.sendRichMessage(7, richMessage(blocks));
    };
    // Characters are code points, counted over all text, captions included.
    await send([paragraph("😀".repeat(32_000)), paragraph("x".repeat(760)), { type: "footer", text: "12345678" }]);
    assert.equal(await refused([paragraph("😀".repeat(32_000)), paragraph("x".repeat(769))]), "Bad Request: RICH_MESSAGE_TOO_LONG");
    const photo = { type: "photo", photo: { type: "photo", media: "https://e.org/p.jpg" }, caption: { text: "y".repeat(8) } };
    assert.equal(await refused([paragraph("x".repeat(32_761)), photo]), "Bad Request: RICH_MESSAGE_TOO_LONG");

    const paragraphs = (n: number): unknown[] => Array.from({ length: n }, (_, i) => paragraph(`p${i}`));
    await send(paragraphs(500));
    assert.equal(await refused(paragraphs(501)), "Bad Request: RICH_MESSAGE_TOO_MANY_BLOCKS");
    // Nested blocks and list items count too.
    const list = { type: "list", items: paragraphs(250).map((p) => ({ blocks: [p] })) };
    assert.equal(await refused([list]), "Bad Request: RICH_MESSAGE_TOO_MANY_BLOCKS");

    const quoted = (levels: number): unknown => (levels === 0 ? paragraph("deep") : { type: "blockquote", blocks: [quoted(levels - 1)] });
    await send([quoted(15)]);
    assert.equal(await refused([quoted(16)]), "Bad Request: RICH_MESSAGE_TOO_DEEP");
    const bold = (levels: number): unknown => (levels === 0 ? "deep" : { type: "bold", text: bold(levels - 1) });
    await send([paragraph(bold(15))]);
    assert.equal(await refused([paragraph(bold(16))]), "Bad Request: RICH_MESSAGE_TOO_DEEP");

    await send(Array.from({ length: 50 }, () => photo));
    assert.equal(await refused(Array.from({ length: 51 }, () => photo)), "Bad Request: RICH_MESSAGE_TOO_MANY_MEDIA");
  });

  test("an inline query is answered once; a chosen result is the user's message via the bot", async () => {
    const update = fake.sendInlineQuery("ukraine", { id: 55, first_name: "Ann" });
    const query = update.inline_query;
    assert.ok(query);
    assert.deepEqual([query.query, query.offset, query.chat_type, query.from.id, query.from.first_name], ["ukraine", "", "sender", 55, "Ann"]);
    assert.notEqual(fake.sendInlineQuery("other").inline_query?.id, query.id, "query ids are unique");

    const waiting = fake.waitForInlineAnswer(query.id);
    const markup = { inline_keyboard: [[{ text: "Open", url: "https://e.org/a" }]] };
    const results = [
      article("a1", "<b>Headline</b> and more", { reply_markup: markup, url: "https://e.org/a", thumbnail_url: "https://e.org/t.jpg" }),
      { type: "photo", id: "p1", photo_url: "https://e.org/p.jpg", thumbnail_url: "https://e.org/t.jpg", caption: "pic" } as InlineQueryResult,
    ];
    assert.equal(await api.answerInlineQuery(query.id, results, { cache_time: 0, is_personal: true, next_offset: "20" }), true);
    const answer = await waiting;
    assert.deepEqual(
      [answer.query, answer.from.id, answer.cacheTime, answer.isPersonal, answer.nextOffset, answer.results.length],
      ["ukraine", 55, 0, true, "20", 2],
    );
    assert.equal(fake.inlineAnswers.length, 1);
    assert.match((await rejection(api.answerInlineQuery(query.id, results))).description, /query is too old/);

    const chosen = fake.chooseInlineResult(query.id, "a1", -100321);
    assert.equal(chosen.text, "Headline and more");
    assert.deepEqual(chosen.entities, [{ type: "bold", offset: 0, length: 8 }]);
    assert.equal(chosen.from?.id, 55);
    assert.equal(chosen.via_bot?.id, fake.bot.id);
    assert.deepEqual(chosen.reply_markup, markup);
    assert.deepEqual(fake.message(-100321, chosen.message_id), chosen);
    assert.equal(fake.sent.length, 0, "a chosen result is no send of the bot");
    assert.equal(fake.chooseInlineResult(query.id, "p1", 7).caption, "pic");
    assert.throws(() => fake.chooseInlineResult(query.id, "zz", 7), /has no result "zz"; it has \["a1","p1"\]/);
    const unanswered = fake.sendInlineQuery("x").inline_query?.id ?? "";
    assert.throws(() => fake.chooseInlineResult(unanswered, "a1", 7), /was not answered/);
    // The bot cannot edit the user's message by chat and id.
    const edit = await rejection(api.editMessageText(-100321, chosen.message_id, "changed"));
    assert.equal(edit.description, "Bad Request: message can't be edited");
  });

  test("answerInlineQuery: unknown and late queries are refused", async () => {
    const unknown = await rejection(api.answerInlineQuery("nope", [article("a", "x")]));
    assert.equal(unknown.description, "Bad Request: query is too old and response timeout expired or query ID is invalid");
    const onTime = fake.sendInlineQuery("q").inline_query?.id ?? "";
    const late = fake.sendInlineQuery("q").inline_query?.id ?? "";
    now += 10_000;
    await api.answerInlineQuery(onTime, [article("a", "x")]);
    now += 1;
    assert.match((await rejection(api.answerInlineQuery(late, [article("a", "x")]))).description, /query is too old/);
    assert.deepEqual(fake.inlineAnswers.map((a) => a.queryId), [onTime]);
  });

  test("answerInlineQuery checks results, options and the button; a refused answer leaves the query open", async () => {
    const id = fake.sendInlineQuery("q").inline_query?.id ?? "";
    const refused = async (results: unknown[], other: Record<string, unknown> = {}): Promise<string> =>
      (await rejection(api.answerInlineQuery(id, results as InlineQueryResult[], other))).description;
    const many = Array.from({ length: 51 }, (_, i) => article(`r${i}`, "x"));
    assert.equal(await refused(many), "Bad Request: RESULTS_TOO_MUCH");
    assert.equal(await refused([article("same", "x"), article("same", "y")]), "Bad Request: RESULT_ID_DUPLICATE");
    assert.equal(await refused([article("é".repeat(33), "x")]), "Bad Request: RESULT_ID_INVALID");
    assert.equal(await refused([article("", "x")]), "Bad Request: RESULT_ID_INVALID");
    assert.equal(await refused([{ type: "article", title: "t" }]), `Bad Request: can't parse inline query result: Can't find field "id"`);
    assert.match(await refused([{ type: "article", id: "a", input_message_content: { message_text: "x" } }]), /Can't find field "title"/);
    assert.match(await refused([{ type: "article", id: "a", title: "t" }]), /Can't find field "input_message_content"/);
    assert.match(await refused([{ type: "sticker", id: "a" }]), /unsupported type "sticker"/);
    assert.match(await refused([article("a", "<p>x</p>")]), /^Bad Request: can't parse entities: Unsupported start tag "p"/);
    assert.equal(await refused([article("a", "x".repeat(4097))]), "Bad Request: MESSAGE_TOO_LONG");
    assert.equal(await refused([article("a", "  ")]), "Bad Request: MESSAGE_EMPTY");
    assert.match(await refused([article("a", "x", { thumbnail_url: "ftp://e.org/t.jpg" })]), /"thumbnail_url" must be an HTTP or HTTPS URL/);
    assert.match(await refused([{ type: "photo", id: "p", photo_url: "https://e.org/p.jpg" }]), /Can't find field "thumbnail_url"/);
    const longData = { inline_keyboard: [[{ text: "x", callback_data: "d".repeat(65) }]] };
    assert.equal(await refused([article("a", "x", { reply_markup: longData })]), "Bad Request: BUTTON_DATA_INVALID");
    assert.match(await refused([article("a", "x")], { cache_time: -1 }), /cache_time must be non-negative/);
    assert.equal(await refused([article("a", "x")], { next_offset: "o".repeat(65) }), "Bad Request: NEXT_OFFSET_INVALID");
    assert.equal(await refused([article("a", "x")], { button: { text: "Set up", start_parameter: "bad param" } }), "Bad Request: START_PARAM_INVALID");
    assert.match(await refused([article("a", "x")], { button: { text: "Set up" } }), /exactly one of start_parameter and web_app/);
    assert.equal(await refused([article("a", "x")], { button: { text: "App", web_app: { url: "http://e.org" } } }), "Bad Request: BUTTON_URL_INVALID");
    assert.equal(fake.inlineAnswers.length, 0);

    const button = { text: "Set up topics", start_parameter: "inline-setup_1" };
    await api.answerInlineQuery(id, [article("a", "x")], { next_offset: "o".repeat(64), button });
    assert.deepEqual(fake.inlineAnswers[0]?.button, button);
    assert.equal(fake.inlineAnswers[0]?.cacheTime, 300, "Telegram's default cache time");
    assert.equal(fake.inlineAnswers[0]?.isPersonal, false);
  });

  test("a grammY Bot answers an inline query; waitForInlineAnswer explains a timeout", async () => {
    const bot = new Bot(fake.token, { client: { apiRoot: fake.apiRoot }, botInfo: fake.bot });
    bot.on("inline_query", (ctx) => ctx.answerInlineQuery([article("1", `<i>${ctx.inlineQuery.query}</i>`)], { cache_time: 10 }));
    const running = bot.start();
    const id = fake.sendInlineQuery("world").inline_query?.id ?? "";
    const answer = await fake.waitForInlineAnswer(id);
    assert.equal(answer.cacheTime, 10);
    assert.equal(fake.chooseInlineResult(id, "1", 42).text, "world");
    await bot.stop();
    await running;
    await assert.rejects(fake.waitForInlineAnswer("missing", 20), /no answer to inline query missing within 20 ms; answered: \[".+"\]/);
  });

  test("answerCallbackQuery takes a url only to the bot with a start parameter", async () => {
    const menu = await api.sendMessage(7, "Topics", { reply_markup: { inline_keyboard: [[{ text: "World", callback_data: "w" }]] } });
    const id = fake.pressButton(7, menu.message_id, "w").callback_query?.id ?? "";
    for (const url of [
      "https://e.org/",
      "https://t.me/other_bot?start=abc",
      "https://t.me/newswire_test_bot",
      "https://t.me/newswire_test_bot?start=bad%20param",
      "tg://resolve?domain=newswire_test_bot&start=abc",
    ]) {
      assert.equal((await rejection(api.answerCallbackQuery(id, { url }))).description, "Bad Request: URL_INVALID", url);
    }
    assert.equal((await rejection(api.answerCallbackQuery(id, { text: "x".repeat(201) }))).description, "Bad Request: MESSAGE_TOO_LONG");
    const url = "https://t.me/newswire_test_bot?start=setup_world";
    assert.equal(await api.answerCallbackQuery(id, { url, show_alert: true, text: "Opening…" }), true, "refused answers left the query open");
    assert.match((await rejection(api.answerCallbackQuery(id))).description, /query is too old/);
  });

  test("callback data is limited to 64 bytes of UTF-8, not 64 characters", async () => {
    const keyboard = (data: string) => ({ reply_markup: { inline_keyboard: [[{ text: "x", callback_data: data }]] } });
    await api.sendMessage(7, "menu", keyboard("ж".repeat(32)));
    now += 1000;
    const error = await rejection(api.sendMessage(7, "menu", keyboard("ж".repeat(33))));
    assert.equal(error.description, "Bad Request: BUTTON_DATA_INVALID");
  });
});
