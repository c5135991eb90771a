import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { coalesce } from "../../src/store/coalesce.js";

/** One call of the controlled write. */
interface WriteCall {
  /** The state when the write started. */
  value: number;
  done: boolean;
  finish(): void;
  fail(error: Error): void;
}

/** A write whose completions the test controls, recording concurrency and the state it persisted. */
function controlledWrite(state: { value: number }) {
  const started: WriteCall[] = [];
  let running = 0;
  let maxRunning = 0;
  const end = (call: WriteCall) => {
    call.done = true;
    running--;
  };
  const write = () =>
    new Promise<void>((resolve, reject) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      const call: WriteCall = {
        value: state.value,
        done: false,
        finish: () => {
          end(call);
          resolve();
        },
        fail: (error) => {
          end(call);
          reject(error);
        },
      };
      started.push(call);
    });
  /** Finishes every write, including those the finished ones let start. */
  const finishAll = async () => {
    for (let open = started.filter((entry) => !entry.done); open.length > 0; open = started.filter((entry) => !entry.done)) {
      for (const entry of open) entry.finish();
      await settle();
    }
  };
  return { write, started, finishAll, maxRunning: () => maxRunning };
}

/** Lets every pending promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("coalesce", () => {
  test("a request when idle starts a write at once", async () => {
    const state = { value: 1 };
    const writes = controlledWrite(state);
    const persist = coalesce(writes.write);
    const done = persist();
    assert.equal(writes.started.length, 1);
    writes.started[0]!.finish();
    await done;
  });

  test("requests during a write are served by exactly one following write", async () => {
    const state = { value: 0 };
    const writes = controlledWrite(state);
    const persist = coalesce(writes.write);
    const resolved: string[] = [];
    const first = persist().then(() => resolved.push("first"));
    state.value = 1;
    const second = persist().then(() => resolved.push("second"));
    state.value = 2;
    const third = persist().then(() => resolved.push("third"));
    await settle();
    assert.equal(writes.started.length, 1, "no second write while the first runs");

    writes.started[0]!.finish();
    await settle();
    assert.deepEqual(resolved, ["first"]);
    assert.equal(writes.started.length, 2, "one following write for both waiting callers");
    assert.equal(writes.started[1]!.value, 2, "the following write persists the state as it is when it starts");

    writes.started[1]!.finish();
    await Promise.all([first, second, third]);
    assert.deepEqual(resolved.sort(), ["first", "second", "third"]);
    assert.equal(writes.started.length, 2);
    assert.equal(writes.maxRunning(), 1);
  });

  test("each caller resolves only after a write that started after its call", async () => {
    const state = { value: 0 };
    const writes = controlledWrite(state);
    const persist = coalesce(writes.write);
    void persist();
    let secondDone = false;
    const second = persist().then(() => {
      secondDone = true;
    });
    writes.started[0]!.finish();
    await settle();
    assert.equal(secondDone, false, "the write that was running when it asked does not count");
    writes.started[1]!.finish();
    await second;
    assert.equal(secondDone, true);
  });

  test("never two writes at once, whenever callers arrive", async () => {
    // Callers arriving a few microtasks after a write ends must not start a write beside the queued one.
    for (let delay = 0; delay < 12; delay++) {
      const state = { value: 0 };
      const writes = controlledWrite(state);
      const persist = coalesce(writes.write);
      const calls = [persist(), persist()];
      writes.started[0]!.finish();
      let late = Promise.resolve();
      for (let tick = 0; tick < delay; tick++) late = late.then(() => undefined);
      calls.push(late.then(() => persist()));
      await settle();
      assert.equal(writes.maxRunning(), 1, `a caller ${delay} microtasks after a write ended started a concurrent write`);
      await writes.finishAll();
      await Promise.all(calls);
    }
  });

  test("a failed write rejects its callers; the next request writes again", async () => {
    const state = { value: 0 };
    const writes = controlledWrite(state);
    const persist = coalesce(writes.write);
    const first = persist();
    const queued = persist();
    writes.started[0]!.fail(new Error("disk full"));
    await assert.rejects(first, /disk full/);
    await settle();
    assert.equal(writes.started.length, 2, "the queued write still runs after a failure");
    writes.started[1]!.finish();
    await queued;
    const later = persist();
    assert.equal(writes.started.length, 3);
    writes.started[2]!.finish();
    await later;
  });

  test("a write that throws synchronously rejects without wedging the writer", async () => {
    let calls = 0;
    const persist = coalesce(() => {
      calls++;
      if (calls === 1) throw new Error("boom");
      return Promise.resolve();
    });
    await assert.rejects(async () => persist(), /boom/);
    await persist();
    assert.equal(calls, 2);
  });
});
