/**
 * Bot tests for linking news channels: `/channel add|home|remove` and `/channels` from a private
 * chat, the getChatMember checks with exactly what is missing, and the link ending when the bot
 * loses its place in the channel (my_chat_member).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Chat, ChatMember, Update } from "grammy/types";
import { createBot } from "../../src/bot/create-bot.js";
import {
  API_ROOT,
  BOT_INFO,
  buildDeps,
  groupChat,
  messageUpdate,
  TOKEN,
  user,
  type ApiAnswer,
  type ApiRequest,
  type MessageOptions,
} from "../support/builders.js";

const CHANNEL = -100123;
const channelChat: Chat.ChannelChat = { id: CHANNEL, type: "channel", title: "News", username: "newsch" };
const ADMIN = 100;
const READER = 200;

type Status = ChatMember["status"];
type Rights = { can_post_messages?: boolean };

/**
 * A bot over in-memory state whose scripted Telegram knows one channel (@newsch) and one group,
 * and whose members' statuses a test sets.
 */
async function setup() {
  const deps = await buildDeps();
  const { telegram } = deps;
  const members = new Map<string, { status: Status; rights: Rights }>();
  const chats: Chat[] = [channelChat, { id: -100500, type: "supergroup", title: "Chatter", username: "chatter" }];
  telegram.respond = (request): ApiAnswer | undefined => {
    const ref = request.params.chat_id;
    const chat = chats.find((known) => known.id === ref || `@${"username" in known ? known.username : ""}` === ref);
    if (request.method === "getChat") {
      return chat ? { ok: true, result: chat } : { ok: false, error_code: 400, description: "Bad Request: chat not found" };
    }
    if (request.method === "getChatMember" && chat) {
      const userId = Number(request.params.user_id);
      const member = members.get(`${chat.id}:${userId}`) ?? { status: userId === BOT_INFO.id ? "left" : "member", rights: {} };
      return { ok: true, result: { status: member.status, user: { id: userId, is_bot: userId === BOT_INFO.id, first_name: "U" }, ...member.rights } };
    }
    return undefined;
  };
  const setMember = (chatId: number, userId: number, status: Status, rights: Rights = {}) => members.set(`${chatId}:${userId}`, { status, rights });
  const bot = createBot({ token: TOKEN, apiRoot: API_ROOT, botInfo: BOT_INFO, fetch: telegram.fetch as never, budget: deps.budget }, deps);

  /** Handles one update and returns the requests the bot made for it. */
  const handle = async (update: Update): Promise<ApiRequest[]> => {
    telegram.clear();
    await bot.handleUpdate(update);
    return [...telegram.requests];
  };
  /** Sends a text (from the admin's private chat unless told) and returns the bot's replies. */
  const say = async (text: string, options: MessageOptions = { from: user(ADMIN) }): Promise<string[]> =>
    (await handle(messageUpdate(text, options))).filter((request) => request.method === "sendMessage").map((request) => String(request.params.text));
  /** The channel ready to be linked by ADMIN: the user is its creator, the bot an admin who may post. */
  const ready = () => {
    setMember(CHANNEL, ADMIN, "creator");
    setMember(CHANNEL, BOT_INFO.id, "administrator", { can_post_messages: true });
  };
  return { deps, telegram, handle, say, setMember, ready };
}

let statusUpdateId = 5_000_000;

/** The bot's membership in a chat changed (as Telegram reports it in my_chat_member). */
function botStatusUpdate(chat: Chat, newMember: Record<string, unknown>): Update {
  return {
    update_id: ++statusUpdateId,
    my_chat_member: {
      chat,
      from: user(ADMIN),
      date: 1_700_000_000,
      old_chat_member: { status: "administrator", user: BOT_INFO, can_post_messages: true },
      new_chat_member: { user: BOT_INFO, ...newMember },
    },
  } as unknown as Update;
}

describe("bot: /channel add checks who may link a channel", () => {
  test("a user who is not an admin of the channel is told so, and nothing is linked", async () => {
    const { say, setMember, deps, telegram } = await setup();
    setMember(CHANNEL, BOT_INFO.id, "administrator", { can_post_messages: true });
    setMember(CHANNEL, READER, "member");
    const [reply] = await say("/channel add @newsch china", { from: user(READER) });
    assert.equal(reply, "You are not an admin of News, so you can't link or unlink it.");
    assert.equal(await deps.subscribers.get({ chatId: CHANNEL }), undefined);
    assert.deepEqual(
      telegram.calls("getChatMember").map((request) => [request.params.chat_id, request.params.user_id]),
      [[CHANNEL, READER]],
      "the user's status was asked of Telegram, in the channel",
    );
  });

  test("when the bot is not an admin of the channel, the reply says what to do", async () => {
    const { say, setMember, deps } = await setup();
    setMember(CHANNEL, ADMIN, "administrator");
    for (const status of ["left", "member"] as const) {
      setMember(CHANNEL, BOT_INFO.id, status);
      const [reply] = await say("/channel add @newsch china");
      assert.match(reply!, /I am not an admin of News/, status);
      assert.match(reply!, /@newswire_test_bot/, "names the bot to add");
      assert.match(reply!, /right to post messages/, "names the right it needs");
    }
    assert.equal(await deps.subscribers.get({ chatId: CHANNEL }), undefined);
  });

  test("when Telegram won't show the channel's members to the bot, the reply says the bot must be made an admin", async () => {
    // Telegram answers getChatMember about a channel's users only to its admins: the user may well
    // be an admin, and what is missing is the bot's place.
    const { say, telegram, deps } = await setup();
    const respond = telegram.respond;
    telegram.respond = (request) =>
      request.method === "getChatMember"
        ? { ok: false, error_code: 400, description: "Bad Request: member list is inaccessible" }
        : respond(request);
    const [reply] = await say("/channel add @newsch china");
    assert.match(reply!, /I am not an admin of News/);
    assert.match(reply!, /@newswire_test_bot/);
    assert.equal(await deps.subscribers.get({ chatId: CHANNEL }), undefined);
  });

  test("when the bot is an admin without the right to post, the reply names that right", async () => {
    const { say, setMember, deps } = await setup();
    setMember(CHANNEL, ADMIN, "creator");
    setMember(CHANNEL, BOT_INFO.id, "administrator", { can_post_messages: false });
    const [reply] = await say("/channel add @newsch china");
    assert.match(reply!, /admin of News but may not post messages/);
    assert.match(reply!, /"Post messages"/);
    assert.equal(await deps.subscribers.get({ chatId: CHANNEL }), undefined);
  });

  test("an admin links the channel: stored with its topics and who linked it", async () => {
    const { say, ready, deps } = await setup();
    ready();
    assert.deepEqual(await say("/channel add @newsch china"), ["Linked News: it now receives china."]);
    const { chatId, kind, title, linkedBy, topics, home, threadId } = (await deps.subscribers.get({ chatId: CHANNEL }))!;
    assert.deepEqual({ chatId, kind, title, linkedBy, topics, home, threadId }, {
      chatId: CHANNEL,
      kind: "channel",
      title: "News",
      linkedBy: ADMIN,
      topics: ["china"],
      home: false,
      threadId: undefined,
    });
    // More topics add to the link; a numeric id and a t.me link name the channel too.
    assert.deepEqual(await say(`/channel add ${CHANNEL} science`), ["Linked News: it now receives china, science."]);
    assert.deepEqual(await say("/channel add t.me/newsch all"), ["Linked News: it now receives china, science, all."]);
  });

  test("an unknown topic gets a reply naming the valid ones, before anything is asked of Telegram", async () => {
    const { say, ready, deps, telegram } = await setup();
    ready();
    const [reply] = await say("/channel add @newsch china sport");
    assert.equal(reply, "Unknown topic: sport.\nValid topics: china, science, all");
    assert.equal(telegram.calls("getChat").length, 0);
    assert.equal(await deps.subscribers.get({ chatId: CHANNEL }), undefined);
  });

  test("bad input gets the usage or says what is wrong with the channel", async () => {
    const { say, ready } = await setup();
    ready();
    for (const text of ["/channel", "/channel link @newsch china", "/channel add @newsch", "/channel add !! china"]) {
      assert.match((await say(text))[0]!, /Usage: \/channel add @CHANNEL TOPIC/, text);
    }
    assert.match((await say("/channel add @nosuchchannel china"))[0]!, /I can't see @nosuchchannel/);
    assert.equal((await say("/channel add @chatter china"))[0], "@chatter is not a channel.");
  });

  test("a Russian user gets the checks in Russian", async () => {
    const { say, setMember } = await setup();
    setMember(CHANNEL, 300, "member");
    assert.match((await say("/channel add @newsch china", { from: user(300, "ru") }))[0]!, /Вы не администратор News/);
  });
});

describe("bot: /channel home, /channel remove, /channels", () => {
  test("/channel home makes the channel its topics' home", async () => {
    const { say, ready, deps } = await setup();
    ready();
    const [reply] = await say("/channel home @newsch china");
    assert.match(reply!, /Linked News as the home of china/);
    assert.equal((await deps.subscribers.get({ chatId: CHANNEL }))?.home, true);
    assert.equal((await deps.subscribers.get({ chatId: CHANNEL }))?.linkedBy, ADMIN);
  });

  test("/channel home makes the same checks as /channel add", async () => {
    const { say, setMember, deps } = await setup();
    setMember(CHANNEL, ADMIN, "creator");
    setMember(CHANNEL, BOT_INFO.id, "administrator", { can_post_messages: false });
    assert.match((await say("/channel home @newsch china"))[0]!, /may not post messages/);
    assert.equal(await deps.subscribers.get({ chatId: CHANNEL }), undefined);
  });

  test("an admin unlinks the channel; a non-admin cannot; an unlinked channel is said to be so", async () => {
    const { say, ready, setMember, deps } = await setup();
    ready();
    await say("/channel add @newsch china science");
    setMember(CHANNEL, READER, "member");
    assert.match((await say("/channel remove @newsch", { from: user(READER) }))[0]!, /You are not an admin of News/);
    assert.ok(await deps.subscribers.get({ chatId: CHANNEL }), "still linked");

    // Any admin of the channel may unlink it, not only whoever linked it.
    setMember(CHANNEL, READER, "administrator");
    assert.deepEqual(await say("/channel remove @newsch", { from: user(READER) }), ["Unlinked News: nothing more will be posted there."]);
    assert.equal(await deps.subscribers.get({ chatId: CHANNEL }), undefined);
    assert.deepEqual(await say("/channel remove @newsch"), ["News was not linked."]);
  });

  test("/channels lists the channels this user linked, and only those", async () => {
    const { say, ready, deps } = await setup();
    assert.match((await say("/channels"))[0]!, /You have linked no channels/);
    ready();
    await say("/channel add @newsch china science");
    await deps.subscribers.subscribe({ chatId: -100777, kind: "channel", title: "Someone else's", linkedBy: READER }, ["all"]);
    await deps.subscribers.subscribe({ chatId: ADMIN, kind: "private" }, ["china"]);
    assert.deepEqual(await say("/channels"), ["News: china, science"]);
    assert.deepEqual(await say("/channels", { from: user(READER) }), ["Someone else's: all"]);
  });

  test("in a group, /channel and /channels answer that channels are linked in a private chat, and link nothing", async () => {
    const { handle, ready, deps } = await setup();
    ready();
    const chat = groupChat(-100900);
    for (const text of ["/channel add @newsch china", "/channels"]) {
      const requests = await handle(messageUpdate(text, { chat, from: user(ADMIN) }));
      assert.deepEqual(requests.map(({ method }) => method), ["sendMessage"], `${text}: one reply, nothing else asked of Telegram`);
      assert.match(String(requests[0]!.params.text), /in a private chat with me/);
    }
    assert.equal((await deps.subscribers.count()), 0);
  });
});

describe("bot: the bot loses its place in a linked channel", () => {
  for (const [change, newMember] of [
    ["demoted to an admin who may not post", { status: "administrator", can_post_messages: false, can_be_edited: false }],
    ["kicked", { status: "kicked", until_date: 0 }],
    ["removed", { status: "left" }],
  ] as const) {
    test(`${change}: the link ends and whoever linked it is told`, async () => {
      const { handle, say, ready, deps } = await setup();
      ready();
      await say("/channel add @newsch china", { from: user(ADMIN, "ru") });
      const requests = await handle(botStatusUpdate(channelChat, newMember));
      assert.equal(await deps.subscribers.get({ chatId: CHANNEL }), undefined);
      const told = requests.filter((request) => request.method === "sendMessage");
      assert.deepEqual(told.map((request) => request.params.chat_id), [ADMIN]);
      assert.match(String(told[0]!.params.text), /News/);
      assert.match(String(told[0]!.params.text), /привязка/i, "in the linker's language");
    });
  }

  test("the bot being given the right to post keeps the link and tells no one", async () => {
    const { handle, say, ready, deps } = await setup();
    ready();
    await say("/channel add @newsch china");
    const requests = await handle(botStatusUpdate(channelChat, { status: "administrator", can_post_messages: true, can_be_edited: false }));
    assert.deepEqual((await deps.subscribers.get({ chatId: CHANNEL }))?.topics, ["china"]);
    assert.deepEqual(requests, []);
  });

  test("a channel from the config file (no linker) is unlinked quietly", async () => {
    const { handle, deps } = await setup();
    await deps.subscribers.subscribe({ chatId: CHANNEL, kind: "channel", title: "News", home: true }, ["all"]);
    const requests = await handle(botStatusUpdate(channelChat, { status: "kicked", until_date: 0 }));
    assert.equal(await deps.subscribers.get({ chatId: CHANNEL }), undefined);
    assert.deepEqual(requests, []);
  });
});
