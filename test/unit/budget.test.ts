import { afterEach, beforeEach, describe, mock, test } from "node:test";
import assert from "node:assert/strict";
import { SlotExpired, TelegramBudget, type Permit, type SlotRequest } from "../../src/delivery/budget.js";
import { PAID_BROADCAST_LIMITS, TELEGRAM_LIMITS, type PacingLimits } from "../../src/delivery/pacing.js";

/** Lets granted promises run their callbacks (setImmediate is not faked). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Advances the fake clock by `ms`, running the budget's timers on the way. */
async function advance(ms: number): Promise<void> {
  mock.timers.tick(ms);
  await settle();
}

/** Records when each request got its slot (and what it was told). */
function recorder(budget: TelegramBudget) {
  const grants: { name: string; at: number; permit: Permit }[] = [];
  const failures: { name: string; error: unknown }[] = [];
  const ask = (name: string, request: SlotRequest) =>
    budget.acquire(request).then(
      (permit) => void grants.push({ name, at: Date.now(), permit }),
      (error: unknown) => void failures.push({ name, error }),
    );
  const names = () => grants.map(({ name }) => name);
  const permit = (name: string) => grants.find((grant) => grant.name === name)!.permit;
  return { grants, failures, ask, names, permit };
}

const privateChat = (id: number) => ({ id, kind: "private" as const });

/** The most grants within any one second (a window shorter than 1,000 ms). */
function busiestSecond(times: readonly number[]): number {
  let busiest = 0;
  for (let start = 0, end = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= 1_000) start++;
    busiest = Math.max(busiest, end - start + 1);
  }
  return busiest;
}
const ONE_A_SECOND: PacingLimits = { perSecond: 1, privateIntervalMs: 1_000, groupIntervalMs: 3_000 };

describe("TelegramBudget", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  test("replies first, then alerts, then broadcasts, each in the order asked", async () => {
    const budget = new TelegramBudget(ONE_A_SECOND, () => Date.now());
    const { ask, names } = recorder(budget);
    void ask("first", { priority: "broadcast", chat: privateChat(1) });
    await settle();
    // The bucket is spent: the rest queue, and go out one a second by priority.
    void ask("broadcast", { priority: "broadcast", chat: privateChat(2) });
    void ask("alert", { priority: "alert", chat: privateChat(3) });
    void ask("reply A", { priority: "reply", chat: privateChat(4) });
    void ask("reply B", { priority: "reply", chat: privateChat(5) });
    await settle();
    assert.deepEqual(names(), ["first"]);
    for (let second = 0; second < 4; second++) await advance(1_000);
    assert.deepEqual(names(), ["first", "reply A", "reply B", "alert", "broadcast"]);
  });

  test("a chat's next slot comes its interval after its previous call ended; other chats go meanwhile", async () => {
    const budget = new TelegramBudget({ ...TELEGRAM_LIMITS, perSecond: 1_000 }, () => Date.now());
    const { ask, names, permit, grants } = recorder(budget);
    void ask("to 1", { priority: "broadcast", chat: privateChat(1) });
    await settle();
    void ask("reply to 1", { priority: "reply", chat: privateChat(1) });
    void ask("broadcast to 2", { priority: "broadcast", chat: privateChat(2) });
    await settle();
    assert.deepEqual(names(), ["to 1", "broadcast to 2"], "chat 1 is in flight: the lower priority to a free chat goes");
    await advance(300);
    permit("to 1").release();
    await advance(999);
    assert.deepEqual(names(), ["to 1", "broadcast to 2"]);
    await advance(1);
    assert.equal(grants.at(-1)!.name, "reply to 1");
    assert.equal(grants.at(-1)!.at - grants[0]!.at, 1_300, "1 s after the call that took 300 ms ended");
    assert.equal(budget.chatReadyAt(1), Date.now(), "in flight: no pace of its own yet");

    // A group's pace is 20 a minute.
    void ask("group", { priority: "reply", chat: { id: -100, kind: "supergroup" } });
    await settle();
    permit("group").release();
    assert.equal(budget.chatReadyAt(-100), Date.now() + 3_000);
  });

  test("the overall rate holds under a burst: never more than 30 in any second, about 29 a second", async () => {
    const budget = new TelegramBudget(TELEGRAM_LIMITS, () => Date.now());
    const { ask, grants } = recorder(budget);
    for (let chat = 1; chat <= 300; chat++) void ask(`reply ${chat}`, { priority: "reply", chat: privateChat(chat) });
    await settle();
    for (let ms = 0; ms < 12_000 && grants.length < 300; ms += 5) await advance(5);
    assert.equal(grants.length, 300);
    const times = grants.map(({ at }) => at);
    const busiest = busiestSecond(times);
    assert.ok(busiest <= 30, `${busiest} slots in one second`);
    const seconds = (times.at(-1)! - times[0]!) / 1000;
    assert.ok(299 / seconds > 28 && 299 / seconds <= 29.5, `${(299 / seconds).toFixed(1)} a second`);
  });

  test("with PAID_BROADCAST only the paid broadcasts go past 29 a second: replies and alerts keep the free limit", async () => {
    const budget = new TelegramBudget(PAID_BROADCAST_LIMITS, () => Date.now());
    const { ask, grants } = recorder(budget);
    for (let chat = 1; chat <= 100; chat++) {
      void ask(`reply ${chat}`, { priority: "reply", chat: privateChat(chat) });
      void ask(`alert ${chat}`, { priority: "alert", chat: privateChat(1_000 + chat) });
    }
    for (let chat = 1; chat <= 2_000; chat++) void ask(`broadcast ${chat}`, { priority: "broadcast", paid: true, chat: privateChat(10_000 + chat) });
    await settle();
    for (let ms = 0; ms < 2_000; ms += 5) await advance(5);
    const timesOf = (prefix: string) => grants.filter(({ name }) => name.startsWith(prefix)).map(({ at }) => at);
    const free = grants.filter(({ name }) => !name.startsWith("broadcast")).map(({ at }) => at);
    assert.ok(busiestSecond(free) <= 30, `${busiestSecond(free)} replies and alerts in one second`);
    assert.ok(timesOf("reply").length >= 50, "replies still go, at the free rate");
    assert.ok(timesOf("alert").length < timesOf("reply").length, "replies before alerts");
    assert.ok(busiestSecond(timesOf("broadcast")) > 800, `paid broadcasts at the paid rate: ${busiestSecond(timesOf("broadcast"))} in one second`);
    assert.ok(busiestSecond(grants.map(({ at }) => at)) <= 900 + 64, "all together under the paid ceiling");
    assert.equal(budget.stats.granted.reply + budget.stats.granted.alert, free.length);
    assert.equal(budget.stats.granted.broadcast, timesOf("broadcast").length);
  });

  test("a 429 holds its chat for retry_after while the others go on", async () => {
    const budget = new TelegramBudget({ ...TELEGRAM_LIMITS, perSecond: 1_000 }, () => Date.now());
    const { ask, names, permit } = recorder(budget);
    void ask("try", { priority: "reply", chat: privateChat(1) });
    await settle();
    permit("try").release(5_000);
    void ask("again", { priority: "reply", chat: privateChat(1) });
    void ask("other", { priority: "broadcast", chat: privateChat(2) });
    await settle();
    assert.deepEqual(names(), ["try", "other"]);
    await advance(4_999);
    assert.deepEqual(names(), ["try", "other"]);
    await advance(1);
    assert.deepEqual(names(), ["try", "other", "again"]);
    assert.equal(budget.stats.tooManyRequests, 1);
  });

  test("429s from two chats within a second are theirs alone: the other chats go on", async () => {
    // After a restart, two groups' backlogs may both hear their per-chat limit at once.
    const budget = new TelegramBudget({ ...TELEGRAM_LIMITS, perSecond: 1_000 }, () => Date.now());
    const { ask, names, permit } = recorder(budget);
    void ask("a", { priority: "broadcast", chat: { id: -1, kind: "supergroup" } });
    void ask("b", { priority: "broadcast", chat: { id: -2, kind: "supergroup" } });
    await settle();
    permit("a").release(40_000);
    permit("b").release(40_000);
    void ask("c", { priority: "reply", chat: privateChat(3) });
    await settle();
    assert.deepEqual(names(), ["a", "b", "c"]);
    assert.equal(budget.chatReadyAt(-1), Date.now() + 40_000);
  });

  test("429s from three chats within a second are the bot's own limit: every chat waits the shortest retry_after", async () => {
    const budget = new TelegramBudget({ ...TELEGRAM_LIMITS, perSecond: 1_000 }, () => Date.now());
    const { ask, names, permit } = recorder(budget);
    void ask("a", { priority: "broadcast", chat: privateChat(1) });
    void ask("b", { priority: "broadcast", chat: privateChat(2) });
    void ask("c", { priority: "broadcast", chat: privateChat(3) });
    await settle();
    permit("a").release(30_000);
    await advance(400);
    permit("b").release(3_000);
    permit("c").release(5_000);
    void ask("d", { priority: "reply", chat: privateChat(4) });
    await settle();
    assert.deepEqual(names(), ["a", "b", "c"], "chat 4 never heard a 429, yet waits");
    assert.equal(budget.chatReadyAt(4), Date.now() + 3_000);
    assert.equal(budget.chatReadyAt(1), Date.now() - 400 + 30_000, "chat 1 keeps its own, longer wait");
    await advance(3_000);
    assert.deepEqual(names(), ["a", "b", "c", "d"]);
  });

  test("a wait past its deadline rejects with SlotExpired; an aborted one with the abort", async () => {
    const budget = new TelegramBudget(ONE_A_SECOND, () => Date.now());
    const { ask, names, failures } = recorder(budget);
    void ask("first", { priority: "broadcast", chat: privateChat(1) });
    await settle();
    const abort = new AbortController();
    void ask("late", { priority: "reply", chat: privateChat(1), deadline: Date.now() + 500 });
    void ask("aborted", { priority: "reply", chat: privateChat(2), signal: abort.signal });
    abort.abort(new Error("stopping"));
    await advance(500);
    assert.deepEqual(names(), ["first"]);
    assert.deepEqual(failures.map(({ name }) => name).sort(), ["aborted", "late"]);
    assert.ok(failures.find(({ name }) => name === "late")!.error instanceof SlotExpired);
    assert.equal(budget.stats.expired, 1);
    await advance(500);
    assert.deepEqual(names(), ["first"], "neither took a slot once gone");
  });
});
