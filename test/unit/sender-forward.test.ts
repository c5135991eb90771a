/**
 * The sender and outbox with a home channel: the item is posted in the channel once and its
 * topic's readers get that post as a forward, in the right order, after a restart too, and with a
 * message of their own when there is no post to forward.
 */
import { after, afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import type Keyv from "keyv";
import type { Namespace } from "../../src/store/keyv.js";
import { Outbox, type Job, type Target } from "../../src/delivery/outbox.js";
import { Sender } from "../../src/delivery/sender.js";
import { TelegramBudget } from "../../src/delivery/budget.js";
import { Subscribers } from "../../src/delivery/subscribers.js";
import {
  answers,
  FAST_LIMITS,
  makeItem,
  memoryNamespaces,
  privateTarget,
  ScriptedTelegram,
  silentLogger,
  tempStore,
  type ApiAnswer,
  type ApiRequest,
} from "../support/builders.js";

const HOME = -1009;
const HOME_MESSAGE_ID = 555;

const home: Target = { chatId: HOME, kind: "channel" };
const forwardTo = (chatId: number, extra: Partial<Target> = {}): Target => ({ ...privateTarget(chatId), forward: true, ...extra });

/** A job whose first target is the home channel. */
const homeJob = (targets: Target[]): Job => {
  const item = makeItem({ title: "Harbour reopens", topics: ["all", "china"] });
  return { id: item.key, payload: { kind: "item", item }, identityKeys: [item.key], targets: [home, ...targets], homeIndex: 0, createdAt: 0 };
};

const isTo = (method: string, chatId: number) => (request: ApiRequest) => request.method === method && request.params.chat_id === chatId;

/** Telegram's answers: the home post gets a known id; forwards return the new message as Telegram does. */
function scriptedTelegram(): ScriptedTelegram {
  const telegram = new ScriptedTelegram();
  let forwarded = 0;
  telegram.respond = (request): ApiAnswer | undefined => {
    if (isTo("sendMessage", HOME)(request)) {
      return { ok: true, result: { message_id: HOME_MESSAGE_ID, date: 1_700_000_000, chat: { id: HOME, type: "channel", title: "Home" }, text: "x" } };
    }
    if (request.method === "forwardMessage") {
      return { ok: true, result: { message_id: ++forwarded, date: 1_700_000_000, chat: { id: request.params.chat_id, type: "private", first_name: "U" } } };
    }
    return undefined;
  };
  return telegram;
}

const running: Sender[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sender) => sender.stop(100)));
});

/** A sender over `namespaces`, with every target of the jobs subscribed and the jobs recorded. */
async function setup(namespaces: Record<Namespace, Keyv> = memoryNamespaces(), telegram = scriptedTelegram(), queueWindow?: number) {
  const subscribers = await Subscribers.open(namespaces.subscribers);
  const outbox = await Outbox.open(namespaces.outbox);
  const sender = new Sender({ api: telegram.api(), outbox, subscribers, logger: silentLogger, budget: new TelegramBudget(FAST_LIMITS), ...(queueWindow ? { queueWindow } : {}) });
  running.push(sender);
  await outbox.startSending(() => sender.deliveriesReady());
  const deliver = async (jobs: Job[]) => {
    for (const job of jobs) {
      for (const target of job.targets) await subscribers.subscribe(target, ["china"]);
    }
    await outbox.enqueue(jobs);
  };
  return { telegram, subscribers, outbox, sender, deliver };
}

describe("Sender: home channel posts and their forwards", () => {
  test("the home post goes first; its readers get forwards of it, others a message of their own", async () => {
    const { telegram, outbox, sender, deliver } = await setup();
    const job = homeJob([forwardTo(1), forwardTo(-100, { kind: "supergroup", threadId: 7 }), privateTarget(2)]);
    await deliver([job]);
    sender.start();
    await sender.idle();

    const posted = telegram.requests.findIndex(isTo("sendMessage", HOME));
    assert.ok(posted >= 0, "the home channel got the item");
    assert.ok(telegram.calls("sendMessage").find(isTo("sendMessage", HOME))?.params.reply_markup, "the channel post has a share button");
    const forwards = telegram.calls("forwardMessage");
    assert.deepEqual(
      forwards
        .map((request) => [request.params.chat_id, request.params.from_chat_id, request.params.message_id, request.params.message_thread_id])
        .sort((a, b) => Number(a[0]) - Number(b[0])),
      [
        [-100, HOME, HOME_MESSAGE_ID, 7],
        [1, HOME, HOME_MESSAGE_ID, undefined],
      ],
      "forwards of the home post, into the thread where there is one",
    );
    for (const forward of forwards) assert.ok(telegram.requests.indexOf(forward) > posted, "a forward comes after the home post");
    assert.equal(telegram.calls("sendMessage").filter((request) => request.params.chat_id === 1 || request.params.chat_id === -100).length, 0);
    assert.match(telegram.texts(2)[0] ?? "", /Harbour reopens/, "a target without forward gets the message itself");
    assert.equal(telegram.calls("forwardMessage").filter((request) => request.params.chat_id === 2).length, 0);
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });
  });

  test("a forward waits while the home post is held up by a 429", async () => {
    const { telegram, sender, deliver } = await setup();
    telegram.once(isTo("sendMessage", HOME), answers.tooManyRequests(1));
    await deliver([homeJob([forwardTo(1), forwardTo(2)])]);
    sender.start();
    await sender.idle();

    const homeSends = telegram.requests.filter(isTo("sendMessage", HOME));
    assert.equal(homeSends.length, 2, "refused once with 429, then accepted");
    const accepted = telegram.requests.lastIndexOf(homeSends[1]!);
    for (const chatId of [1, 2]) {
      const calls = telegram.requests.filter((request) => request.params.chat_id === chatId);
      assert.deepEqual(calls.map((request) => request.method), ["forwardMessage"], `chat ${chatId}: one forward, no message of its own`);
      assert.ok(telegram.requests.indexOf(calls[0]!) > accepted, `chat ${chatId}: forwarded only once the post existed`);
      assert.equal(calls[0]!.params.message_id, HOME_MESSAGE_ID);
    }
  });

  test("forwards held for a home post do not fill the sender's queues: another job's chat is sent to meanwhile", async () => {
    const { telegram, sender, deliver } = await setup(memoryNamespaces(), scriptedTelegram(), 2);
    telegram.once(isTo("sendMessage", HOME), answers.tooManyRequests(1));
    const forwards = Array.from({ length: 30 }, (_, index) => forwardTo(100 + index));
    const other = makeItem({ key: "other", title: "Other news", topics: ["china"] });
    await deliver([homeJob(forwards), { id: other.key, payload: { kind: "item", item: other }, identityKeys: [other.key], targets: [privateTarget(50)], createdAt: 0 }]);
    sender.start();
    await sender.idle();
    const homeSends = telegram.requests.filter(isTo("sendMessage", HOME));
    assert.equal(homeSends.length, 2, "refused once with 429, then accepted");
    const toOther = telegram.requests.findIndex(isTo("sendMessage", 50));
    assert.ok(toOther >= 0 && toOther < telegram.requests.indexOf(homeSends[1]!), "chat 50 did not wait for the home post");
    assert.equal(telegram.calls("forwardMessage").length, 30);
  });

  for (const [why, answer] of [
    ["refused", { ok: false, error_code: 400, description: "Bad Request: MESSAGE_EMPTY" }],
    ["the bot was removed from the channel", { ok: false, error_code: 403, description: "Forbidden: bot was kicked from the channel chat" }],
  ] as const) {
    test(`when the home post fails for good (${why}), its readers get the message itself`, async () => {
      const { telegram, outbox, sender, deliver } = await setup();
      const respond = telegram.respond;
      telegram.respond = (request) => (isTo("sendMessage", HOME)(request) ? answer : respond(request));
      await deliver([homeJob([forwardTo(1), forwardTo(2)])]);
      sender.start();
      await sender.idle();

      assert.equal(telegram.calls("forwardMessage").length, 0, "nothing to forward");
      for (const chatId of [1, 2]) assert.match(telegram.texts(chatId).join(), /Harbour reopens/, `chat ${chatId}`);
      assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });
    });
  }

  test("a forward Telegram refuses is replaced by the message itself", async () => {
    const { telegram, outbox, sender, deliver } = await setup();
    telegram.once((request) => request.method === "forwardMessage", { ok: false, error_code: 400, description: "Bad Request: message to forward not found" });
    await deliver([homeJob([forwardTo(1)])]);
    sender.start();
    await sender.idle();
    assert.equal(telegram.calls("forwardMessage").length, 1);
    assert.match(telegram.texts(1)[0] ?? "", /Harbour reopens/);
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });
  });
});

describe("Sender: home post across a restart", () => {
  const store = tempStore();
  after(() => store.dispose());

  test("forwards still left after a restart use the home post recorded before it", async () => {
    // First run: the home post goes out, but chat 2's forward is held off by a long flood wait.
    const first = await setup(await store.open());
    first.telegram.once(isTo("forwardMessage", 2), answers.tooManyRequests(600));
    const job = homeJob([forwardTo(1), forwardTo(2)]);
    await first.deliver([job]);
    first.sender.start();
    await waitUntil(() => first.telegram.calls("forwardMessage").length === 2);
    await first.sender.stop(100);
    assert.equal(first.telegram.requests.filter(isTo("sendMessage", HOME)).length, 1);

    // Second run over the same store.
    const telegram = scriptedTelegram();
    const second = await setup(await store.open(), telegram);
    assert.deepEqual(second.outbox.size, { jobs: 1, deliveries: 1 }, "only chat 2's forward is left");
    second.sender.start();
    await second.sender.idle();
    assert.deepEqual(
      telegram.requests.map((request) => [request.method, request.params.chat_id, request.params.from_chat_id, request.params.message_id]),
      [["forwardMessage", 2, HOME, HOME_MESSAGE_ID]],
      "the channel is not posted to again; the recorded post is forwarded",
    );
    assert.deepEqual(second.outbox.size, { jobs: 0, deliveries: 0 });
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
