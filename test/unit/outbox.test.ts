import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import type Keyv from "keyv";
import { Outbox } from "../../src/delivery/outbox.js";
import { joinProgress, PROGRESS_PAGE_BYTES } from "../../src/delivery/outbox-store.js";
import { makeItem, makeJob, privateTarget, tempStore } from "../support/builders.js";

/** Counts the store writes (set and setMany calls) made through `keyv`. */
function countWrites(keyv: Keyv): { count: () => number; reset: () => void } {
  let writes = 0;
  const set = keyv.set.bind(keyv);
  const setMany = keyv.setMany.bind(keyv);
  keyv.set = ((...args: Parameters<Keyv["set"]>) => {
    writes++;
    return set(...args);
  }) as Keyv["set"];
  keyv.setMany = ((...args: Parameters<Keyv["setMany"]>) => {
    writes++;
    return setMany(...args);
  }) as Keyv["setMany"];
  return { count: () => writes, reset: () => (writes = 0) };
}

const targets = (count: number, from = 1) => Array.from({ length: count }, (_, index) => privateTarget(from + index));

describe("Outbox", () => {
  const store = tempStore();
  after(() => store.dispose());

  test("enqueue records jobs and is idempotent", async () => {
    const { outbox: keyv } = await store.open();
    const outbox = await Outbox.open(keyv);
    const job = makeJob(targets(3));
    assert.deepEqual(await outbox.enqueue([job]), [job]);
    assert.deepEqual(await outbox.enqueue([job]), [], "a job already in the outbox is not new");
    assert.deepEqual(await outbox.enqueue([{ ...job, targets: [] }]), []);
    assert.deepEqual(await outbox.enqueue([makeJob([])]), [], "a job without targets is not recorded");
    assert.deepEqual(outbox.size, { jobs: 1, deliveries: 3 });
    assert.deepEqual(outbox.pending().map((delivery) => delivery.index), [0, 1, 2]);

    const reopened = await Outbox.open((await store.open()).outbox);
    assert.deepEqual(reopened.openJobs(), [job]);
    assert.deepEqual(await reopened.enqueue([job]), [], "still known after a restart");
    await Promise.all(outbox.pending().map((delivery) => outbox.complete(delivery)));
  });

  test("take hands out a limit at a time, job by job, each delivery once, none done before and none before sending starts", async () => {
    const { outbox: keyv } = await store.open();
    const first = await Outbox.open(keyv);
    const broadcast = makeJob(targets(5), makeItem({ key: "take-a" }));
    await first.enqueue([broadcast]);
    await first.complete({ job: broadcast, index: 1 });
    await first.complete({ job: broadcast, index: 3 });
    const outbox = await Outbox.open((await store.open()).outbox);
    const later = makeJob(targets(2, 10), makeItem({ key: "take-b" }));
    await outbox.enqueue([later]);
    assert.deepEqual(outbox.take(10), [], "not before sending starts");
    let ready = 0;
    await outbox.startSending(() => ready++);
    assert.equal(ready, 1);
    const ids = (deliveries: ReturnType<Outbox["take"]>) => deliveries.map(({ job, index }) => `${job.id}#${index}`);
    assert.deepEqual(ids(outbox.take(2)), ["take-a#0", "take-a#2"]);
    assert.equal(outbox.untaken, true);
    assert.deepEqual(ids(outbox.take(2)), ["take-a#4", "take-b#0"]);
    assert.deepEqual(ids(outbox.take(10)), ["take-b#1"]);
    assert.deepEqual(outbox.take(10), []);
    assert.equal(outbox.untaken, false);
    const third = makeJob(targets(1, 20), makeItem({ key: "take-c" }));
    await outbox.enqueue([third]);
    assert.equal(ready, 2, "a job recorded later says so");
    assert.deepEqual(ids(outbox.take(10)), ["take-c#0"]);
    await Promise.all(outbox.pending().map((delivery) => outbox.complete(delivery)));
  });

  test("progress is persisted: pending() after reopening reflects complete()", async () => {
    const { outbox: keyv } = await store.open();
    const outbox = await Outbox.open(keyv);
    const first = makeJob(targets(10));
    const second = makeJob(targets(2, 100));
    await outbox.enqueue([first, second]);
    const deliveries = outbox.pending();
    assert.equal(deliveries.length, 12);
    await Promise.all([0, 3, 4, 9].map((index) => outbox.complete(deliveries[index]!)));
    await outbox.complete(deliveries[10]!);
    await outbox.complete(deliveries[3]!); // twice is harmless

    const reopened = await Outbox.open((await store.open()).outbox);
    const pending = reopened.pending().map((delivery) => `${delivery.job.id}#${delivery.index}`);
    assert.deepEqual(pending, [
      ...[1, 2, 5, 6, 7, 8].map((index) => `${first.id}#${index}`),
      `${second.id}#1`,
    ]);
    assert.deepEqual(reopened.size, { jobs: 2, deliveries: 7 });
    assert.deepEqual(
      reopened.pending()[0]!.job.targets[reopened.pending()[0]!.index],
      privateTarget(2),
      "a delivery addresses its target",
    );
    await Promise.all(outbox.pending().map((delivery) => outbox.complete(delivery)));
  });

  test("a job leaves when all its deliveries are done, also after reopening", async () => {
    const { outbox: keyv } = await store.open();
    const outbox = await Outbox.open(keyv);
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 }, "earlier tests finished their jobs");
    const job = makeJob(targets(3));
    await outbox.enqueue([job]);
    for (const delivery of outbox.pending()) await outbox.complete(delivery);
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });
    assert.deepEqual(outbox.openJobs(), []);
    assert.equal(await keyv.get(`job:${job.id}`), undefined, "the job record is deleted");
    assert.equal(await keyv.get(`progress:${job.id}:0`), undefined, "its progress too");
    const reopened = await Outbox.open((await store.open()).outbox);
    assert.deepEqual(reopened.openJobs(), []);
    assert.deepEqual(reopened.pending(), []);
  });

  test("restore writes the unfinished jobs back into a store that lost its data: a restart still sends them", async () => {
    const { outbox: keyv } = await store.open();
    const outbox = await Outbox.open(keyv);
    const broadcast = { ...makeJob(targets(3)), homeIndex: 0 };
    const other = makeJob(targets(2, 100));
    await outbox.enqueue([broadcast, other]);
    const [home, , third] = outbox.pending();
    await outbox.recordHomePost(broadcast, 77);
    await outbox.complete(home!);
    await outbox.complete(third!);

    await keyv.clear(); // the store is wiped while newswire runs
    await outbox.restore();
    const reopened = await Outbox.open((await store.open()).outbox);
    assert.deepEqual(reopened.openJobs(), [broadcast, other]);
    assert.deepEqual(
      reopened.pending().map((delivery) => `${delivery.job.id}#${delivery.index}`),
      [`${broadcast.id}#1`, `${other.id}#0`, `${other.id}#1`],
    );
    assert.deepEqual(reopened.homePost(broadcast), { state: "posted", chatId: broadcast.targets[0]!.chatId, messageId: 77 });
    await Promise.all(outbox.pending().map((delivery) => outbox.complete(delivery)));
  });

  test("a 10,000-target job is recorded and completed with few store writes", async () => {
    const { outbox: keyv } = await store.open();
    const outbox = await Outbox.open(keyv);
    const writes = countWrites(keyv);
    const job = makeJob(targets(10_000), makeItem({ title: "Broadcast" }));
    await outbox.enqueue([job]);
    assert.ok(writes.count() <= 5, `enqueue made ${writes.count()} writes`);

    writes.reset();
    const deliveries = outbox.pending();
    await Promise.all(deliveries.slice(0, 5_000).map((delivery) => outbox.complete(delivery)));
    assert.ok(writes.count() <= 5, `5,000 concurrent completions made ${writes.count()} writes`);

    const reopened = await Outbox.open((await store.open()).outbox);
    assert.equal(reopened.pending().length, 5_000);
    assert.equal(reopened.pending()[0]!.index, 5_000);

    writes.reset();
    await Promise.all(deliveries.slice(5_000).map((delivery) => outbox.complete(delivery)));
    assert.ok(writes.count() <= 5, `finishing made ${writes.count()} writes`);
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });
    assert.deepEqual((await Outbox.open((await store.open()).outbox)).openJobs(), []);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(await keyv.getMany([`progress:${job.id}`, `progress:${job.id}:0`, `progress:${job.id}:1`]), [undefined, undefined, undefined], "no progress record outlives its job");
  });

  test("a progress write holds only the pages changed, whatever the audience; a failed one is made with the next", async () => {
    const { outbox: keyv } = await store.open();
    const outbox = await Outbox.open(keyv);
    const job = makeJob(targets(20_000), makeItem({ title: "Wide" }));
    await outbox.enqueue([job]);
    const deliveries = outbox.pending();
    const written: string[][] = [];
    const setMany = keyv.setMany.bind(keyv);
    let failNext = false;
    keyv.setMany = (async (entries: { key: string; value: unknown }[]) => {
      if (failNext) {
        failNext = false;
        throw new Error("disk full");
      }
      written.push(entries.map(({ key }) => key));
      for (const { value } of entries) assert.ok(Buffer.from(String(value), "base64").length <= PROGRESS_PAGE_BYTES, "a page at most");
      return setMany(entries);
    }) as Keyv["setMany"];
    try {
      await outbox.complete(deliveries[3]!);
      assert.deepEqual(written, [[`progress:${job.id}:0`]]);
      failNext = true;
      await assert.rejects(outbox.complete(deliveries[19_000]!), /disk full/);
      await outbox.complete(deliveries[8_192]!);
      assert.deepEqual(written[1]!.sort(), [`progress:${job.id}:1`, `progress:${job.id}:2`], "the failed page goes with the next write");
    } finally {
      keyv.setMany = setMany;
    }
    const reopened = await Outbox.open((await store.open()).outbox);
    assert.equal(reopened.pending().length, 20_000 - 3);
    assert.deepEqual(
      [3, 8_192, 19_000].map((index) => reopened.pending().some((delivery) => delivery.index === index)),
      [false, false, false],
    );
    await Promise.all(outbox.pending().map((delivery) => outbox.complete(delivery)));
  });

  test("a job whose progress was all saved before a stop is not left open", async () => {
    // Progress writes are coalesced, so one may save the final bit just before a stop cuts off
    // the index update that would have removed the job.
    const { outbox: keyv } = await store.open();
    const done = makeJob(targets(9));
    const open = makeJob(targets(2));
    await keyv.setMany([
      { key: `job:${done.id}`, value: done },
      { key: `progress:${done.id}`, value: Buffer.from([0xff, 0x01]).toString("base64") },
      { key: `job:${open.id}`, value: open },
    ]);
    await keyv.set("index", [done.id, open.id]);
    const outbox = await Outbox.open(keyv);
    assert.deepEqual(outbox.openJobs().map((job) => job.id), [open.id]);
    assert.deepEqual(outbox.size, { jobs: 1, deliveries: 2 });
    const reopened = await Outbox.open((await store.open()).outbox);
    assert.deepEqual(reopened.openJobs().map((job) => job.id), [open.id]);
    assert.equal(await keyv.get(`job:${done.id}`), undefined);
    for (const delivery of outbox.pending()) await outbox.complete(delivery);
  });

  test("jobs keep the order they were accepted in", async () => {
    const { outbox: keyv } = await store.open();
    const outbox = await Outbox.open(keyv);
    const jobs = [makeJob(targets(1)), makeJob(targets(1)), makeJob(targets(1))];
    await outbox.enqueue([jobs[0]!]);
    await outbox.enqueue([jobs[1]!, jobs[2]!]);
    const reopened = await Outbox.open((await store.open()).outbox);
    assert.deepEqual(reopened.openJobs().map((job) => job.id), jobs.map((job) => job.id));
    for (const delivery of outbox.pending()) await outbox.complete(delivery);
  });
});

describe("joinProgress", () => {
  const bytes = (encoded: string | undefined) => [...Buffer.from(encoded ?? "", "base64")];
  test("ORs a whole bitset with pages, each at its place; nothing stored is no progress", () => {
    const page = (values: number[]) => Buffer.from(values).toString("base64");
    const whole = page([0b0001, 0, 0]);
    const joined = joinProgress(8 * (PROGRESS_PAGE_BYTES + 2), whole, new Map([[0, page([0b0100])], [1, page([0b1000, 1])]]));
    const all = bytes(joined);
    assert.equal(all.length, PROGRESS_PAGE_BYTES + 2);
    assert.deepEqual([all[0], all[PROGRESS_PAGE_BYTES], all[PROGRESS_PAGE_BYTES + 1]], [0b0101, 0b1000, 1]);
    assert.equal(joinProgress(10, undefined, new Map()), undefined);
    assert.deepEqual(bytes(joinProgress(10, undefined, new Map([[0, page([0xff, 0xff, 0xff])]]))), [0xff, 0xff], "bytes past the job's targets are dropped");
  });
});
