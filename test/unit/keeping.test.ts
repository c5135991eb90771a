/**
 * How an archive keeps its items (Keeping, src/items/archive.ts): an item is kept `retentionMs`
 * from when it was stored; a sweep starts at the first add, then at most every SWEEP_EVERY_MS (or
 * when the clock was set back), runs behind the add, and a failing one is reported, not thrown.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Keeping, SWEEP_BATCH, SWEEP_EVERY_MS } from "../../src/items/archive.js";

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

test("the add does not wait for the sweep; one that fails is reported; stop waits for it", async () => {
  const reported: unknown[] = [];
  const keeping = new Keeping(1, () => 0, (error) => reported.push(error));
  let release!: () => void;
  const slow = new Promise<void>((resolve) => (release = resolve));
  keeping.added(async () => {
    await slow;
    throw new Error("disk full");
  });
  const stopped = keeping.stop();
  release();
  await stopped;
  assert.deepEqual(reported.map((error) => (error as Error).message), ["disk full"]);
});

test("a sweep deletes in batches until one is short, and ends after its batch once stopping", async () => {
  const keeping = new Keeping(1_000, () => 5_000, () => assert.fail("no sweep failed"));
  const sizes = [SWEEP_BATCH, SWEEP_BATCH, 7];
  const asked: number[] = [];
  assert.equal(await keeping.inBatches(async (since) => (asked.push(since), sizes.shift()!)), 2 * SWEEP_BATCH + 7);
  assert.deepEqual(asked, [4_000, 4_000, 4_000], "every batch deletes what was stored before the sweep's `since`");

  let batches = 0;
  const sweep = keeping.inBatches(async () => {
    batches++;
    await Promise.resolve();
    return SWEEP_BATCH;
  });
  await keeping.stop();
  assert.equal(await sweep, SWEEP_BATCH, "the batch under way when the stop came is the last");
  assert.equal(batches, 1);
});
