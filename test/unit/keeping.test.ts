/**
 * How an archive keeps its items (Keeping, src/items/archive.ts): an item is kept `retentionMs`
 * from when it was stored; a sweep starts at the first add, then at most every SWEEP_EVERY_MS (or
 * when the clock was set back), runs behind the add, and a failing one is reported, not thrown.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Keeping, SWEEP_EVERY_MS } from "../../src/items/archive.js";

test("since: the store time before which an item is no longer kept", () => {
  let now = 1_000_000;
  const keeping = new Keeping(600, () => now, () => assert.fail("no sweep failed"));
  assert.equal(keeping.since(), 1_000_000 - 600);
  now += 50;
  assert.equal(keeping.since(), 1_000_000 - 550);
});

test("a sweep at the first add, then once SWEEP_EVERY_MS has passed, or when the clock went back", async () => {
  let now = 10 * SWEEP_EVERY_MS;
  let sweeps = 0;
  const keeping = new Keeping(1, () => now, () => assert.fail("no sweep failed"));
  const sweep = async () => ++sweeps;
  keeping.added(sweep);
  assert.equal(sweeps, 1);
  now += SWEEP_EVERY_MS - 1;
  keeping.added(sweep);
  assert.equal(sweeps, 1, "not within SWEEP_EVERY_MS");
  now += 1;
  keeping.added(sweep);
  assert.equal(sweeps, 2);
  now -= 60_000;
  keeping.added(sweep);
  assert.equal(sweeps, 3, "a clock set back sweeps");
  await keeping.stop();
});

test("the add does not wait for the sweep; one that fails is reported; stop waits for it and ends the loop", async () => {
  const reported: unknown[] = [];
  const keeping = new Keeping(1, () => 0, (error) => reported.push(error));
  let release!: () => void;
  const slow = new Promise<void>((resolve) => (release = resolve));
  keeping.added(async () => {
    await slow;
    throw new Error("disk full");
  });
  assert.equal(keeping.stopped, false);
  const stopped = keeping.stop();
  assert.equal(keeping.stopped, true, "a loop checking between batches ends");
  release();
  await stopped;
  assert.deepEqual(reported.map((error) => (error as Error).message), ["disk full"]);
});
