import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FairQueue } from "../../src/delivery/fair-queue.js";

const lane = (item: string) => item[0]!;

describe("FairQueue", () => {
  test("lanes take turns, each in its own order; a lane that empties leaves the turns", () => {
    const queue = new FairQueue(lane);
    for (const item of ["a1", "a2", "a3", "a4", "b1", "c1", "b2"]) queue.push(item);
    assert.equal(queue.length, 7);
    assert.equal(queue.peek(), "a1");
    const taken: string[] = [];
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) taken.push(item);
    assert.deepEqual(taken, ["a1", "b1", "c1", "a2", "b2", "a3", "a4"]);
    assert.equal(queue.length, 0);
    assert.equal(queue.peek(), undefined);
  });

  test("the head stays the head until taken (a send that will be retried)", () => {
    const queue = new FairQueue(lane);
    queue.push("a1");
    queue.push("b1");
    assert.equal(queue.peek(), "a1");
    assert.equal(queue.peek(), "a1");
    assert.equal(queue.shift(), "a1");
    assert.equal(queue.peek(), "b1");
  });

  test("remove takes items out in order and keep the count", () => {
    const queue = new FairQueue(lane);
    for (const item of ["a1", "b1", "a2", "b2", "a3"]) queue.push(item);
    assert.deepEqual(queue.remove((item) => item.endsWith("2")), ["a2", "b2"]);
    assert.equal(queue.length, 3);
    assert.deepEqual(queue.remove(() => true), ["a1", "a3", "b1"]);
    assert.equal(queue.length, 0);
  });
});
