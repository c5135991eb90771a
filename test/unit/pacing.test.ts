import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chatInterval, PAID_BROADCAST_LIMITS, TELEGRAM_LIMITS, TokenBucket } from "../../src/delivery/pacing.js";
import { MinHeap } from "../../src/delivery/heap.js";

/**
 * Drives a bucket as the sender does over a simulated clock: take a token, or advance by the
 * wait it names (plus `jitter` ms, as timers fire late). Returns the send times.
 */
function simulate(perSecond: number, durationMs: number, jitter: (step: number) => number = () => 0): number[] {
  let now = 1_000_000;
  const bucket = new TokenBucket(perSecond, now);
  const sends: number[] = [];
  for (let step = 0; now < 1_000_000 + durationMs; step++) {
    const wait = bucket.take(now);
    if (wait === 0) sends.push(now);
    else now += wait + jitter(step);
  }
  return sends;
}

/** The most sends in any window of `windowMs`. */
function busiestWindow(sends: readonly number[], windowMs = 1000): number {
  let most = 0;
  for (let start = 0, end = 0; end < sends.length; end++) {
    while (sends[end]! - sends[start]! >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

describe("TokenBucket", () => {
  for (const perSecond of [1, 5, 28, 30, 900]) {
    test(`at ${perSecond}/s never more than burst + rate in any second`, () => {
      const burst = Math.max(1, Math.floor(perSecond / 14));
      const sends = simulate(perSecond, 10_000);
      assert.ok(busiestWindow(sends) <= burst + perSecond, `${busiestWindow(sends)} sends in one second`);
      // ...and it does not crawl: over 10 s it sends about the rate.
      assert.ok(sends.length >= perSecond * 10 * 0.95, `only ${sends.length} sends in 10 s`);
    });
  }

  test("Telegram's default stays under 30 in any second, also with late timers", () => {
    const sends = simulate(TELEGRAM_LIMITS.perSecond, 20_000, (step) => (step * 7) % 5);
    assert.ok(busiestWindow(sends) <= 30, `${busiestWindow(sends)} sends in one second`);
  });

  test("an idle bucket fills only up to its burst", () => {
    const bucket = new TokenBucket(28, 0);
    const now = 60_000;
    let granted = 0;
    while (bucket.take(now) === 0) granted++;
    assert.equal(granted, 2);
  });

  test("the wait names when the next token is there", () => {
    const bucket = new TokenBucket(10, 0);
    assert.equal(bucket.take(0), 0);
    const wait = bucket.take(0);
    assert.equal(wait, 100);
    assert.ok(bucket.take(wait - 1) > 0);
    assert.equal(bucket.take(wait), 0);
  });
});

describe("chatInterval", () => {
  test("private chats one a second, groups and channels 20 a minute", () => {
    assert.equal(chatInterval(TELEGRAM_LIMITS, "private"), 1000);
    for (const kind of ["group", "supergroup", "channel"] as const) {
      assert.ok(chatInterval(TELEGRAM_LIMITS, kind) >= 3000, kind);
    }
    assert.ok(PAID_BROADCAST_LIMITS.paidPerSecond! <= 1000);
    assert.equal(PAID_BROADCAST_LIMITS.perSecond, TELEGRAM_LIMITS.perSecond, "only paid broadcasts go faster");
  });
});

describe("MinHeap", () => {
  test("pops in order, whatever the push order", () => {
    const heap = new MinHeap<number>((a, b) => a < b);
    assert.equal(heap.pop(), undefined);
    assert.equal(heap.peek(), undefined);
    let seed = 7;
    const values = Array.from({ length: 500 }, () => (seed = (seed * 48271) % 2147483647) % 1000);
    for (const value of values) heap.push(value);
    assert.equal(heap.size, 500);
    assert.equal(heap.peek(), Math.min(...values));
    const popped: number[] = [];
    for (let value = heap.pop(); value !== undefined; value = heap.pop()) popped.push(value);
    assert.deepEqual(popped, [...values].sort((a, b) => a - b));
    assert.equal(heap.size, 0);
  });

  test("interleaved pushes and pops keep the order; ties follow the comparator", () => {
    const heap = new MinHeap<{ at: number; turn: number }>((a, b) => a.at < b.at || (a.at === b.at && a.turn < b.turn));
    heap.push({ at: 5, turn: 1 });
    heap.push({ at: 5, turn: 0 });
    heap.push({ at: 1, turn: 2 });
    assert.deepEqual(heap.pop(), { at: 1, turn: 2 });
    heap.push({ at: 3, turn: 3 });
    assert.deepEqual([heap.pop(), heap.pop(), heap.pop()], [
      { at: 3, turn: 3 },
      { at: 5, turn: 0 },
      { at: 5, turn: 1 },
    ]);
    assert.equal(heap.pop(), undefined);
  });
});
