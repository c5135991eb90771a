/**
 * What a failing store does to newswire's state: every failure reaches the caller as a
 * StoreError (Keyv would swallow it), is told to the operator once per outage, and leaves memory
 * and store agreeing, so that nothing is lost and nothing is taken in twice once it works again.
 */
import assert from "node:assert/strict";
import { describe, mock, test } from "node:test";
import { pino } from "pino";
import { Writable } from "node:stream";
import { Outbox } from "../../src/delivery/outbox.js";
import { TelegramBudget } from "../../src/delivery/budget.js";
import { Sender } from "../../src/delivery/sender.js";
import { Subscribers } from "../../src/delivery/subscribers.js";
import { errorLine, Outage } from "../../src/health/outage.js";
import { SeenItems } from "../../src/items/seen.js";
import { StoreEpoch } from "../../src/store/epoch.js";
import { readAll, StoreError, withDeadline } from "../../src/store/guard.js";
import { answers, FAST_LIMITS, makeItem, makeJob, memoryNamespaces, privateTarget, ScriptedTelegram, silentLogger } from "../support/builders.js";
import { flakyKeyv } from "../support/flaky-store.js";

/** A logger whose lines the test can read. */
function capturingLogger() {
  const lines: { msg: string; level: number }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).trim().split("\n")) lines.push(JSON.parse(line) as { msg: string; level: number });
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}

/** Sends the outbox's deliveries until none is left, then stops the sender. */
async function sendPending(sender: Sender, outbox: Outbox): Promise<void> {
  await outbox.startSending(() => sender.deliveriesReady());
  sender.start();
  await sender.idle();
  await sender.stop(100);
}

/** Lets the logger's stream write what was logged. */
const flushed = () => new Promise((resolve) => setImmediate(resolve));

describe("Outage", () => {
  test("one line when it starts, one when it ends, whatever number of calls fail", async () => {
    const { logger, lines } = capturingLogger();
    const heard: string[] = [];
    const outage = new Outage("store", logger, { down: (state) => heard.push(`down: ${state.error}`), up: (state) => heard.push(`up after ${state.failures}`) });
    for (let call = 0; call < 50; call++) outage.failed("write", new Error("SQLITE_FULL: database or disk is full"));
    assert.equal(outage.state?.failures, 50);
    outage.succeeded("write");
    assert.equal(outage.state, undefined);
    await flushed();
    assert.deepEqual(lines.map(({ msg }) => msg), ["store is failing", "store works again"]);
    assert.deepEqual(heard, ["down: SQLITE_FULL: database or disk is full", "up after 50"]);
  });

  test("a full disk (writes fail, reads work) is one outage: a read does not end it", () => {
    const outage = new Outage("store", silentLogger);
    outage.failed("write", new Error("full"));
    outage.succeeded("read");
    assert.ok(outage.state, "still failing");
    outage.failed("read", new Error("away"));
    outage.succeeded("write");
    assert.ok(outage.state, "reads still fail");
    outage.succeeded("read");
    assert.equal(outage.state, undefined);
  });

  test("errorLine: the first line, and the cause of a messageless AggregateError", () => {
    assert.equal(errorLine(new Error("first\n    at stack")), "first");
    assert.equal(errorLine(new AggregateError([new Error("connect ECONNREFUSED ::1:5432")], "")), "connect ECONNREFUSED ::1:5432");
  });
});

describe("store guard", () => {
  test("a failed adapter write rejects with a StoreError and is counted (Keyv alone would return false)", async () => {
    const health = new Outage("store", silentLogger);
    const { keyv, flaky } = flakyKeyv("outbox", { health });
    flaky.writesFail = true;
    await assert.rejects(keyv.set("a", 1), (error: Error) => error instanceof StoreError && /set failed: SQLITE_FULL/.test(error.message));
    await assert.rejects(keyv.setMany([{ key: "b", value: 2 }]), StoreError);
    await assert.rejects(keyv.delete("a"), StoreError);
    assert.equal(health.state?.failures, 3);
    flaky.writesFail = false;
    await keyv.set("a", 1);
    assert.equal(health.state, undefined);
  });

  test("a failed read rejects instead of reading as not found", async () => {
    const { keyv, flaky } = flakyKeyv("outbox");
    await keyv.set("index", ["job"]);
    flaky.readsFail = true;
    await assert.rejects(keyv.get("index"), StoreError);
    await assert.rejects(readAll(keyv), StoreError);
  });

  test("readAll rejects when the adapter only emits its error and ends the listing early", async () => {
    const { keyv } = flakyKeyv("subscribers");
    await keyv.set("1", { chatId: 1 });
    const store = keyv.store as { iterator: (prefix?: string) => AsyncGenerator<[string, unknown]> };
    const original = store.iterator;
    // As @keyv/postgres does: emit, then return as if the table had ended.
    (keyv.store as { iterator: unknown }).iterator = async function* () {
      keyv.emit("error", new Error("Iterator failed at cursor start: connection terminated"));
    };
    keyv.iterator = keyv.generateIterator((keyv.store as { iterator: typeof original }).iterator);
    await assert.rejects(readAll(keyv), /connection terminated/);
  });

  test("a call that never answers fails at its deadline", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const never = new Promise<never>(() => undefined);
      const call = withDeadline(never, "get", 10_000);
      mock.timers.tick(10_000);
      await assert.rejects(call, /store get timed out after 10000 ms/);
    } finally {
      mock.timers.reset();
    }
  });
});

describe("state over a failing store", () => {
  test("a subscription whose write failed is undone in memory: nobody receives what was not saved", async () => {
    const { keyv, flaky, data } = flakyKeyv("subscribers");
    const subscribers = await Subscribers.open(keyv);
    await subscribers.subscribe({ chatId: 1, kind: "private" }, ["china"]);
    flaky.writesFail = true;
    await assert.rejects(subscribers.subscribe({ chatId: 1, kind: "private" }, ["science"]), StoreError);
    await assert.rejects(subscribers.subscribe({ chatId: 2, kind: "private" }, ["all"]), StoreError);
    await assert.rejects(subscribers.unsubscribe({ chatId: 1 }, ["china"]), StoreError);
    assert.deepEqual((await subscribers.get({ chatId: 1 }))?.topics, ["china"]);
    assert.equal(await subscribers.get({ chatId: 2 }), undefined);
    assert.deepEqual((await subscribers.following(["science"])).map(({ chatId }) => chatId), []);
    assert.equal(data.size, 1);
  });

  test("restore writes the subscribers in memory back to a store that lost them", async () => {
    const { keyv, data } = flakyKeyv("subscribers");
    const subscribers = await Subscribers.open(keyv);
    await subscribers.subscribe({ chatId: 1, kind: "private" }, ["china"]);
    await subscribers.subscribe({ chatId: -5, threadId: 3, kind: "supergroup" }, ["all"]);
    data.clear();
    await subscribers.restore();
    assert.deepEqual([...data.keys()].sort(), ["subscribers:-5:3", "subscribers:1"]);
    const reopened = await Subscribers.open(keyv);
    assert.deepEqual((await reopened.get({ chatId: -5, threadId: 3 }))?.topics, ["all"]);
  });

  test("seen keys whose write failed still count as seen, and are written with the next remember", async () => {
    const { keyv, flaky, data } = flakyKeyv("seen");
    const seen = new SeenItems(keyv);
    flaky.failNextWrites = 1;
    await assert.rejects(seen.remember(["a"], 1_000), StoreError);
    assert.deepEqual(await seen.seen([["a"], ["b"]], 2_000), [true, false], "an item already queued is not taken in again");
    await seen.remember(["b"], 3_000);
    assert.deepEqual([...data.keys()].sort(), ["seen:a", "seen:b"]);
  });

  test("a job whose index write failed is not taken as accepted: the next try enqueues it", async () => {
    const { keyv, flaky } = flakyKeyv("outbox");
    const outbox = await Outbox.open(keyv);
    const job = makeJob([privateTarget(1)]);
    flaky.writesFail = true;
    await assert.rejects(outbox.enqueue([job]), StoreError);
    flaky.writesFail = false;
    assert.deepEqual((await outbox.enqueue([job])).map(({ id }) => id), [job.id]);
    assert.equal((await Outbox.open(keyv)).pending().length, 1);
  });

  test("completing again after a failed write retries it, down to removing the finished job", async () => {
    const { keyv, flaky } = flakyKeyv("outbox");
    const outbox = await Outbox.open(keyv);
    const job = makeJob([privateTarget(1), privateTarget(2)]);
    await outbox.enqueue([job]);
    flaky.writesFail = true;
    await assert.rejects(outbox.complete({ job, index: 0 }), StoreError);
    flaky.writesFail = false;
    await outbox.complete({ job, index: 0 });
    assert.deepEqual((await Outbox.open(keyv)).pending().map(({ index }) => index), [1], "the first delivery's progress was saved");
    flaky.writesFail = true;
    await assert.rejects(outbox.complete({ job, index: 1 }), StoreError);
    flaky.writesFail = false;
    await outbox.complete({ job, index: 1 });
    assert.deepEqual((await Outbox.open(keyv)).size, { jobs: 0, deliveries: 0 }, "the finished job left the store");
  });

  test("the sender retries a completion the store refused, instead of crashing; sent once", async () => {
    const { keyv, flaky } = flakyKeyv("outbox");
    const outbox = await Outbox.open(keyv);
    const subscribers = await Subscribers.open(memoryNamespaces().subscribers);
    const telegram = new ScriptedTelegram();
    const sender = new Sender({ api: telegram.api(), outbox, subscribers, logger: silentLogger, budget: new TelegramBudget(FAST_LIMITS) });
    const job = makeJob([privateTarget(1)], makeItem({ key: "retried" }));
    await outbox.enqueue([job]);
    flaky.failNextWrites = 2;
    await sendPending(sender, outbox);
    assert.equal(telegram.calls("sendMessage").length, 1);
    assert.equal(flaky.failNextWrites, 0, "both failures were met");
    assert.deepEqual((await Outbox.open(keyv)).size, { jobs: 0, deliveries: 0 });
  });
});

describe("the sender's subscriber changes over a failing store", () => {
  /**
   * A sender whose subscribers live on a store whose next write fails; `spy` is the Subscribers
   * method the outcome calls, wrapped to note, after each try, whether the delivery it is about
   * was still in the (stored) outbox then.
   */
  async function setup(subscribed: Parameters<Subscribers["subscribe"]>[0], spy: "removeChat" | "unsubscribe" | "migrateChat") {
    const { outbox: outboxStore } = memoryNamespaces();
    const outbox = await Outbox.open(outboxStore);
    const { keyv, flaky } = flakyKeyv("subscribers");
    const subscribers = await Subscribers.open(keyv);
    await subscribers.subscribe(subscribed, ["all"]);
    const pendingAfterTries: number[] = [];
    const method = subscribers[spy].bind(subscribers) as (...args: unknown[]) => Promise<unknown>;
    mock.method(subscribers, spy, async (...args: unknown[]) => {
      try {
        return await method(...args);
      } finally {
        pendingAfterTries.push((await Outbox.open(outboxStore)).pending().length);
      }
    });
    const telegram = new ScriptedTelegram();
    const sender = new Sender({ api: telegram.api(), outbox, subscribers, logger: silentLogger, budget: new TelegramBudget(FAST_LIMITS) });
    const run = async (job: ReturnType<typeof makeJob>) => {
      await outbox.enqueue([job]);
      flaky.failNextWrites = 1;
      await sendPending(sender, outbox);
      assert.equal(flaky.failNextWrites, 0, "the failure was met");
      assert.deepEqual(pendingAfterTries, [1, 1], "tried again, and the delivery was still to do when the change was saved");
      assert.deepEqual((await Outbox.open(outboxStore)).size, { jobs: 0, deliveries: 0 }, "then it was done");
    };
    return { keyv, telegram, run };
  }

  test("a chat that left is removed once the store takes it, then its delivery is done", async () => {
    const { keyv, telegram, run } = await setup({ chatId: 5, kind: "private" }, "removeChat");
    telegram.respond = () => answers.blocked();
    await run(makeJob([privateTarget(5)]));
    assert.equal(await (await Subscribers.open(keyv)).get({ chatId: 5 }), undefined);
  });

  test("a deleted forum topic's subscription ends once the store takes it, then its delivery is done", async () => {
    const { keyv, telegram, run } = await setup({ chatId: -100, threadId: 7, kind: "supergroup" }, "unsubscribe");
    telegram.respond = () => ({ ok: false, error_code: 400, description: "Bad Request: message thread not found" });
    await run(makeJob([{ chatId: -100, threadId: 7, kind: "supergroup" }]));
    assert.equal(await (await Subscribers.open(keyv)).get({ chatId: -100, threadId: 7 }), undefined);
  });

  test("a migrated group's subscription moves once the store takes it, then the message goes to the new id", async () => {
    const { keyv, telegram, run } = await setup({ chatId: -5, kind: "group" }, "migrateChat");
    telegram.respond = (request) => (request.params.chat_id === -5 ? answers.migrated(-1005) : undefined);
    await run(makeJob([{ chatId: -5, kind: "group" }]));
    assert.deepEqual(telegram.calls("sendMessage").map((request) => request.params.chat_id), [-5, -1005]);
    const stored = await Subscribers.open(keyv);
    assert.equal(await stored.get({ chatId: -5 }), undefined);
    assert.deepEqual((await stored.get({ chatId: -1005 }))?.topics, ["all"]);
  });
});

describe("StoreEpoch", () => {
  test("a new store is marked; a store that lost its marker is found out once it is renewed", async () => {
    const { meta } = memoryNamespaces();
    const first = await StoreEpoch.open(meta, false);
    assert.equal(first.start, "empty");
    assert.equal(await first.epoch.intact(), true);
    assert.equal((await StoreEpoch.open(meta, true)).start, "intact");
    await meta.clear();
    assert.equal(await first.epoch.intact(), false);
    assert.equal(await first.epoch.intact(), false, "still lost until dealt with");
    await first.epoch.renew();
    assert.equal(await first.epoch.intact(), true);
  });

  test("a marker another instance wrote (a first start at the same time, a loss it dealt with) is adopted, not taken for a loss", async () => {
    const { meta } = memoryNamespaces();
    const [one, other] = await Promise.all([StoreEpoch.open(meta, false), StoreEpoch.open(meta, false)]);
    assert.deepEqual([await one.epoch.intact(), await other.epoch.intact()], [true, true], "whichever marker was written last");
    await meta.clear();
    assert.equal(await one.epoch.intact(), false);
    await one.epoch.renew();
    assert.equal(await other.epoch.intact(), true, "the other instance adopts the renewed marker");
    assert.deepEqual([await one.epoch.intact(), await other.epoch.intact()], [true, true], "and neither renews again");
    await meta.clear();
    assert.deepEqual([await one.epoch.intact(), await other.epoch.intact()], [false, false], "a marker gone is a loss to every instance");
  });

  test("data without a marker is an upgrade, not a loss", async () => {
    const { meta } = memoryNamespaces();
    assert.equal((await StoreEpoch.open(meta, true)).start, "unmarked");
  });
});

describe("home posts over a failing store", () => {
  test("a home post whose id could not be written is written by its delivery's completion, before it counts as done", async () => {
    const { keyv, flaky } = flakyKeyv("outbox");
    const outbox = await Outbox.open(keyv);
    const job = { ...makeJob([{ chatId: -100, kind: "channel" }, { ...privateTarget(1), forward: true }]), homeIndex: 0 };
    await outbox.enqueue([job]);
    flaky.writesFail = true;
    await outbox.recordHomePost(job, 77);
    assert.deepEqual(outbox.homePost(job), { state: "posted", chatId: -100, messageId: 77 }, "the forwards may go on");
    await assert.rejects(outbox.complete({ job, index: 0 }), StoreError);
    flaky.writesFail = false;
    await outbox.complete({ job, index: 0 });
    const reopened = await Outbox.open(keyv);
    assert.deepEqual(reopened.homePost(job), { state: "posted", chatId: -100, messageId: 77 }, "known after a restart");
    assert.deepEqual(reopened.pending().map(({ index }) => index), [1]);
  });
});
