import { afterEach, describe, mock, test } from "node:test";
import assert from "node:assert/strict";
import { GrammyError } from "grammy";
import { Outbox, type Job, type Target } from "../../src/delivery/outbox.js";
import { classifyError } from "../../src/delivery/send-outcome.js";
import { Sender } from "../../src/delivery/sender.js";
import { Subscribers } from "../../src/delivery/subscribers.js";
import { TelegramBudget } from "../../src/delivery/budget.js";
import { PAID_BROADCAST_LIMITS, type PacingLimits } from "../../src/delivery/pacing.js";
import {
  answers,
  FAST_LIMITS,
  itemOf,
  makeItem,
  makeJob,
  memoryNamespaces,
  privateTarget,
  ScriptedTelegram,
  silentLogger,
  type ApiAnswer,
  type ApiRequest,
} from "../support/builders.js";
import { runClockUntil } from "../support/fake-clock.js";

/** A sender over in-memory state and a scripted Telegram, with its subscribers and outbox. */
async function setup(options: { concurrency?: number; paidBroadcast?: boolean; limits?: PacingLimits; queueWindow?: number } = {}) {
  const namespaces = memoryNamespaces();
  const telegram = new ScriptedTelegram();
  const subscribers = await Subscribers.open(namespaces.subscribers);
  const outbox = await Outbox.open(namespaces.outbox);
  const budget = new TelegramBudget(options.limits ?? FAST_LIMITS);
  const sender = new Sender({
    api: telegram.api(),
    outbox,
    subscribers,
    logger: silentLogger,
    budget,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.paidBroadcast ? { paidBroadcast: true } : {}),
    ...(options.queueWindow ? { queueWindow: options.queueWindow } : {}),
  });
  running.push(sender);
  await outbox.startSending(() => sender.deliveriesReady());
  /** Subscribes the targets and records the jobs: the outbox hands their deliveries to the sender. */
  const deliver = async (jobs: Job[]) => {
    for (const job of jobs) {
      for (const target of job.targets) await subscribers.subscribe(target, ["all"]);
    }
    await outbox.enqueue(jobs);
  };
  return { telegram, subscribers, outbox, sender, deliver, namespaces, budget };
}

const running: Sender[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sender) => sender.stop(100)));
});

const chatOf = (request: ApiRequest) => request.params.chat_id;
const isSendTo = (chatId: number) => (request: ApiRequest) => request.method === "sendMessage" && request.params.chat_id === chatId;

describe("Sender", () => {
  test("sends each delivery once, in HTML, and empties the outbox", async () => {
    const { telegram, outbox, sender, deliver } = await setup();
    const item = makeItem({ title: "Hello <world>", link: "https://example.org/hello" });
    await deliver([makeJob([privateTarget(1), privateTarget(2, "ru"), { chatId: -100, threadId: 9, kind: "supergroup" }], item)]);
    sender.start();
    await sender.idle();

    const sends = telegram.calls("sendMessage");
    assert.deepEqual(sends.map(chatOf).sort(), [-100, 1, 2]);
    for (const send of sends) {
      assert.equal(send.params.parse_mode, "HTML");
      assert.match(String(send.params.text), /Hello &lt;world&gt;/);
    }
    assert.match(String(sends.find((send) => send.params.chat_id === 2)?.params.text), /Читать/, "worded in the chat's language");
    assert.equal(sends.find((send) => send.params.chat_id === -100)?.params.message_thread_id, 9, "sent into the forum thread");
    assert.equal(sender.stats.sent, 3);
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });
  });

  test("a channel post carries a share button", async () => {
    const { telegram, sender, deliver } = await setup();
    await deliver([makeJob([{ chatId: -1001, kind: "channel" }, privateTarget(3)])]);
    sender.start();
    await sender.idle();
    const [channel] = telegram.calls("sendMessage").filter((request) => request.params.chat_id === -1001);
    assert.ok(channel?.params.reply_markup, "channel post has a button");
    assert.equal(telegram.calls("sendMessage").find((request) => request.params.chat_id === 3)?.params.reply_markup, undefined);
  });

  test("a 429 is the sender's own to handle: the chat waits retry_after, the others go on, the message is delivered once", async (t) => {
    // A fake clock (from before the budget exists: its bucket starts at the clock's time).
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    t.after(() => mock.timers.reset());
    const { telegram, outbox, sender, deliver, budget } = await setup();
    // The sender's Api is bare (as in main.ts): nothing below it retries, so the sender sees the 429.
    const at = new Map<ApiRequest, number>();
    telegram.latency = (request) => (at.set(request, Date.now()), 0);
    telegram.once(isSendTo(1), answers.tooManyRequests(1));
    await deliver([makeJob([privateTarget(1), privateTarget(2)]), makeJob([privateTarget(2)])]);
    sender.start();
    await runClockUntil(() => outbox.size.deliveries === 0 && sender.queued === 0);
    const sends = telegram.calls("sendMessage");
    const toOne = sends.filter(isSendTo(1));
    assert.equal(toOne.length, 2, "one refused with 429, one accepted");
    assert.deepEqual(toOne[0]!.params, toOne[1]!.params, "the same message again");
    assert.equal(sender.stats.tooManyRequests, 1, "counted by the sender, not swallowed below it");
    assert.equal(budget.stats.tooManyRequests, 1, "and told to the budget, which held the chat");
    assert.ok(at.get(toOne[1]!)! - at.get(toOne[0]!)! >= 1_000, "not retried before retry_after (on the fake clock)");
    assert.ok(sends.indexOf(sends.filter(isSendTo(2))[1]!) < sends.indexOf(toOne[1]!), "chat 2 was not held up meanwhile");
    assert.equal(sender.stats.sent, 3);
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });
  });

  test("with PAID_BROADCAST the broadcasts carry allow_paid_broadcast and go past the free 29 a second", async (t) => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    t.after(() => mock.timers.reset());
    const { telegram, outbox, sender, deliver, budget } = await setup({ paidBroadcast: true, limits: PAID_BROADCAST_LIMITS });
    await deliver([makeJob(Array.from({ length: 100 }, (_, index) => privateTarget(index + 1)))]);
    const started = Date.now();
    sender.start();
    await runClockUntil(() => outbox.size.deliveries === 0);
    assert.ok(Date.now() - started < 1_000, `100 sent within ${Date.now() - started} ms of fake time, not 29 a second`);
    assert.ok(telegram.calls("sendMessage").every((request) => request.params.allow_paid_broadcast === true));
    assert.equal(budget.stats.granted.broadcast, 100);
  });

  test("one feed's burst does not hold up another feed's item to the same chat; each feed keeps its order", async () => {
    const { telegram, sender, deliver } = await setup({ concurrency: 1 });
    const burst = Array.from({ length: 10 }, (_, index) => makeJob([privateTarget(1)], makeItem({ feedId: "busy", title: `Busy ${index}` })));
    const other = makeJob([privateTarget(1)], makeItem({ feedId: "quiet", title: "Quiet news" }));
    await deliver([...burst, other]);
    sender.start();
    await sender.idle();
    const titles = telegram.texts(1).map((text) => /^(?:<b>)?(Busy \d|Quiet news)/.exec(text)?.[1] ?? text.slice(0, 20));
    assert.equal(titles.indexOf("Quiet news"), 1, titles.join(" | "));
    assert.deepEqual(titles.filter((title) => title.startsWith("Busy")), burst.map((job) => itemOf(job).title));
  });

  for (const [where, queueWindow] of [["queued", undefined], ["still in the outbox", 1]] as const) {
    test(`a chat that blocked the bot loses its subscription and its deliveries ${where}`, async () => {
      const { telegram, subscribers, outbox, sender, deliver } = await setup({ ...(queueWindow ? { queueWindow } : {}) });
      telegram.respond = (request) => (isSendTo(5)(request) ? answers.blocked() : undefined);
      // Beyond what the sender takes in at once with a window of 1 (10 windows while none is ready).
      const jobs = Array.from({ length: 30 }, () => makeJob([privateTarget(5), privateTarget(6)]));
      await deliver(jobs);
      sender.start();
      await sender.idle();

      assert.equal(telegram.calls("sendMessage").filter(isSendTo(5)).length, 1, "no more sends after the first 403");
      assert.equal(telegram.calls("sendMessage").filter(isSendTo(6)).length, 30);
      assert.equal(await subscribers.get({ chatId: 5 }), undefined);
      assert.ok(await subscribers.get({ chatId: 6 }));
      assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 }, "the dropped deliveries are completed");
      assert.equal(sender.stats.failures.gone, 1);
    });
  }

  test("a group that became a supergroup keeps its subscription and gets the message at the new id", async () => {
    const { telegram, subscribers, outbox, sender, deliver } = await setup();
    telegram.respond = (request) => (isSendTo(-5)(request) ? answers.migrated(-1005) : undefined);
    const group: Target = { chatId: -5, kind: "group" };
    const first = makeJob([group]);
    const second = makeJob([group]);
    await deliver([first, second]);
    sender.start();
    await sender.idle();

    assert.equal(telegram.calls("sendMessage").filter(isSendTo(-5)).length, 1);
    const moved = telegram.calls("sendMessage").filter(isSendTo(-1005));
    assert.equal(moved.length, 2, "both messages re-sent to the new id");
    assert.match(String(moved[0]!.params.text), new RegExp(itemOf(first).title));
    assert.match(String(moved[1]!.params.text), new RegExp(itemOf(second).title));
    assert.equal(await subscribers.get({ chatId: -5 }), undefined);
    assert.deepEqual((await subscribers.get({ chatId: -1005 }))?.topics, ["all"]);
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });

    // Later deliveries addressed to the old id (e.g. recovered from the outbox) go to the new one.
    telegram.clear();
    const late = makeJob([group]);
    await outbox.enqueue([late]);
    await sender.idle();
    assert.deepEqual(telegram.calls("sendMessage").map(chatOf), [-1005]);
  });

  test("HTML refused for its entities is sent again as plain text", async () => {
    const { telegram, outbox, sender, deliver } = await setup();
    telegram.once(isSendTo(1), answers.cantParse());
    const item = makeItem({ title: "A & B", link: "https://example.org/ab" });
    await deliver([makeJob([privateTarget(1)], item)]);
    sender.start();
    await sender.idle();
    const sends = telegram.calls("sendMessage");
    assert.equal(sends.length, 2);
    assert.equal(sends[0]!.params.parse_mode, "HTML");
    assert.equal(sends[1]!.params.parse_mode, undefined, "the fallback has no parse mode");
    assert.match(String(sends[1]!.params.text), /^A & B/);
    assert.match(String(sends[1]!.params.text), /https:\/\/example\.org\/ab/);
    assert.equal(sender.stats.sent, 1);
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });
  });

  test("a message refused for other reasons is given up on, not retried forever", async () => {
    const { telegram, outbox, sender, deliver } = await setup();
    telegram.respond = (request): ApiAnswer | undefined =>
      isSendTo(1)(request) ? { ok: false, error_code: 400, description: "Bad Request: message thread not found" } : undefined;
    await deliver([makeJob([privateTarget(1)])]);
    sender.start();
    await sender.idle();
    assert.equal(telegram.calls("sendMessage").length, 1);
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });
  });

  test("a deleted forum topic ends that topic's subscription, not the group's others", async () => {
    const { telegram, subscribers, sender, deliver } = await setup();
    telegram.respond = (request): ApiAnswer | undefined =>
      isSendTo(-100)(request) && request.params.message_thread_id === 7
        ? { ok: false, error_code: 400, description: "Bad Request: message thread not found" }
        : undefined;
    const threads = [{ chatId: -100, threadId: 7, kind: "supergroup" as const }, { chatId: -100, threadId: 8, kind: "supergroup" as const }];
    await deliver([makeJob(threads, makeItem({ key: "first" })), makeJob(threads, makeItem({ key: "second" }))]);
    sender.start();
    await sender.idle();
    assert.equal(await subscribers.get({ chatId: -100, threadId: 7 }), undefined);
    assert.deepEqual((await subscribers.get({ chatId: -100, threadId: 8 }))?.topics, ["all"]);
    const toThread = (threadId: number) => telegram.calls("sendMessage").filter((request) => request.params.message_thread_id === threadId).length;
    assert.equal(toThread(7), 1, "the topic's second message is dropped, not tried again");
    assert.equal(toThread(8), 2);
  });

  test("each chat receives its items in order, however slow Telegram answers", async () => {
    const { telegram, sender, deliver } = await setup({ concurrency: 8 });
    let seed = 3;
    telegram.latency = () => (seed = (seed * 16807) % 2147483647) % 15;
    const chats = [1, 2, 3, 4];
    const jobs = Array.from({ length: 6 }, (_, index) =>
      makeJob(chats.map((chatId) => privateTarget(chatId)), makeItem({ title: `Item ${index}` })),
    );
    await deliver(jobs);
    sender.start();
    await sender.idle();
    for (const chatId of chats) {
      const titles = telegram.texts(chatId).map((text) => /Item \d/.exec(text)?.[0]);
      assert.deepEqual(titles, jobs.map((job) => itemOf(job).title), `chat ${chatId}`);
    }
  });

  test("a broadcast to 200 chats reaches each exactly once", async () => {
    const { telegram, outbox, sender, deliver } = await setup();
    const job = makeJob(Array.from({ length: 200 }, (_, index) => privateTarget(1_000 + index)));
    await deliver([job]);
    sender.start();
    await sender.idle();
    const chats = telegram.calls("sendMessage").map(chatOf);
    assert.equal(chats.length, 200);
    assert.equal(new Set(chats).size, 200);
    assert.equal(sender.stats.sent, 200);
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });
    assert.equal(sender.queued, 0);
  });

  test("a broadcast larger than the queue window is taken from the outbox a window at a time, each chat once", async () => {
    const { telegram, outbox, sender, deliver } = await setup({ queueWindow: 20 });
    const job = makeJob(Array.from({ length: 200 }, (_, index) => privateTarget(1_000 + index)));
    await deliver([job, makeJob([privateTarget(1_000)])]);
    let mostQueued = 0;
    telegram.latency = () => ((mostQueued = Math.max(mostQueued, sender.queued)), 0);
    sender.start();
    await sender.idle();
    const chats = telegram.calls("sendMessage").map(chatOf);
    assert.equal(chats.length, 201);
    assert.equal(new Set(chats).size, 200);
    assert.ok(mostQueued <= 20, `${mostQueued} queued at most`);
    assert.equal(chats.lastIndexOf(1_000), 200, "the second job's delivery after the first job's");
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });
  });

  test("a chat further on in the outbox is not held behind a window of chats waiting for their pace", async (t) => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    t.after(() => mock.timers.reset());
    const { telegram, outbox, sender, deliver } = await setup({ queueWindow: 3, concurrency: 1, limits: { ...FAST_LIMITS, groupIntervalMs: 3_000 } });
    const group = { chatId: -5, kind: "group" as const };
    await deliver([...Array.from({ length: 6 }, () => makeJob([group])), makeJob([privateTarget(9)])]);
    sender.start();
    await runClockUntil(() => outbox.size.deliveries === 0);
    const chats = telegram.calls("sendMessage").map(chatOf);
    assert.deepEqual(chats.slice(0, 2), [-5, 9], "chat 9 went right after the group's first, not after its six");
    assert.equal(chats.filter((chat) => chat === -5).length, 6);
  });

  test("after a restart, only what was not sent is sent", async () => {
    const { telegram, namespaces, subscribers, outbox, deliver } = await setup();
    const job = makeJob([1, 2, 3, 4].map((chatId) => privateTarget(chatId)));
    await deliver([job]);
    // The first run sent to chats 1 and 2 before it stopped.
    await outbox.complete({ job, index: 0 });
    await outbox.complete({ job, index: 1 });

    const recovered = await Outbox.open(namespaces.outbox);
    const sender = new Sender({ api: telegram.api(), outbox: recovered, subscribers, logger: silentLogger, budget: new TelegramBudget(FAST_LIMITS) });
    running.push(sender);
    await recovered.startSending(() => sender.deliveriesReady());
    sender.start();
    await sender.idle();
    assert.deepEqual(telegram.calls("sendMessage").map(chatOf).sort(), [3, 4]);
    assert.deepEqual(recovered.size, { jobs: 0, deliveries: 0 });
  });

  test("stop lets the send in flight finish and leaves the rest in the outbox", async () => {
    const { telegram, outbox, sender, deliver } = await setup({ concurrency: 1 });
    telegram.latency = () => 50;
    await deliver([makeJob([1, 2, 3].map((chatId) => privateTarget(chatId)))]);
    sender.start();
    while (telegram.calls("sendMessage").length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await sender.stop(5_000);
    assert.equal(telegram.calls("sendMessage").length, 1);
    assert.equal(sender.stats.sent, 1, "the send in flight completed");
    assert.equal(outbox.size.deliveries, 2);
  });
});

describe("classifyError", () => {
  const error = (answer: Extract<ApiAnswer, { ok: false }>) => new GrammyError("call failed", answer, "sendMessage", {});

  test("maps Telegram's answers to outcomes", () => {
    assert.deepEqual(classifyError(error({ ok: false, error_code: 429, description: "Too Many Requests", parameters: { retry_after: 90 } }), 0), {
      kind: "retry",
      afterMs: 90_000,
      reason: "429",
    });
    assert.deepEqual(classifyError(error(answers.migrated(-100) as Extract<ApiAnswer, { ok: false }>), 0), { kind: "migrated", toChatId: -100 });
    assert.equal(classifyError(error(answers.blocked() as Extract<ApiAnswer, { ok: false }>), 0).kind, "gone");
    assert.equal(classifyError(error({ ok: false, error_code: 400, description: "Bad Request: chat not found" }), 0).kind, "gone");
    assert.equal(classifyError(error({ ok: false, error_code: 400, description: "Bad Request: can't parse entities" }), 0).kind, "refused");
    const serverError = classifyError(error({ ok: false, error_code: 502, description: "Bad Gateway" }), 3);
    assert.equal(serverError.kind, "retry");
    assert.ok(serverError.kind === "retry" && serverError.afterMs === 8_000);
    const capped = classifyError(new Error("socket hang up"), 40);
    assert.ok(capped.kind === "retry" && capped.afterMs === 5 * 60_000, "backoff is capped");
  });
});
