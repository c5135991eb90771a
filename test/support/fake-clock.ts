/** Driving node:test's fake clock (`mock.timers`) through code that also does real I/O. */
import assert from "node:assert/strict";
import { mock } from "node:test";

/**
 * Runs the fake clock in 10 ms steps, letting the I/O callbacks of each step run (setImmediate is
 * not faked), until `done` or `maxMs` of fake time.
 */
export async function runClockUntil(done: () => boolean, maxMs = 60_000): Promise<void> {
  for (let ms = 0; ms <= maxMs; ms += 10) {
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    if (done()) return;
    mock.timers.tick(10);
  }
  assert.fail(`not done within ${maxMs} ms of fake time`);
}
