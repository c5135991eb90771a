/**
 * The outbox over both of its stores: Keyv (one instance, the embedded default) and PostgreSQL
 * (shared by instances, one of which sends). On PostgreSQL: a job recorded by any instance is
 * handed to the sender once; a job recorded twice is one job; a sender that stops leaves its jobs,
 * with their progress and home post, to the next one. Needs TEST_POSTGRES_URL for that part.
 */
import type { ItemPayload } from "../../src/delivery/payload.js";
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { Outbox, type Delivery } from "../../src/delivery/outbox.js";
import { KeyvOutboxStore, PROGRESS_PAGE_BYTES } from "../../src/delivery/outbox-store.js";
import { PostgresOutboxStore } from "../../src/delivery/postgres-outbox.js";
import { migrate, postgres } from "../../src/store/postgres.js";
import { makeItem, makeJob, memoryNamespaces, privateTarget, silentLogger } from "../support/builders.js";
import { postgresDatabase, skipWithout, storeServers } from "../support/store-servers.js";

const job = (id: string, chats: number[]) => makeJob(chats.map((chat) => privateTarget(chat)), makeItem({ key: id, title: `Item ${id}` }));

/** An outbox that sends, collecting what it hands on: everything, whenever it says deliveries are ready. */
async function sendingOutbox(outbox: Outbox): Promise<Delivery[]> {
  const handed: Delivery[] = [];
  await outbox.startSending(() => handed.push(...outbox.take(Infinity)));
  return handed;
}

const chatsOf = (deliveries: readonly Delivery[]) => deliveries.map(({ job, index }) => `${job.id}:${job.targets[index]!.chatId}`);

describe("the outbox on Keyv", () => {
  test("jobs recorded before sending starts are handed on once it starts, and after it as they are recorded", async () => {
    const keyv = memoryNamespaces().outbox;
    const outbox = new Outbox(await KeyvOutboxStore.open(keyv));
    assert.equal(outbox.sending, false);
    await outbox.enqueue([job("a", [1, 2])]);
    const handed = await sendingOutbox(outbox);
    assert.deepEqual(chatsOf(handed), ["a:1", "a:2"]);
    await outbox.enqueue([job("b", [3])]);
    assert.deepEqual(chatsOf(handed), ["a:1", "a:2", "b:3"]);
  });

  test("a job stored before payloads (version 1: its item on the job) is read as an item payload", async () => {
    const keyv = memoryNamespaces().outbox;
    const today = job("v1", [1]);
    const { payload, ...rest } = today;
    assert.equal(payload.kind, "item");
    const { item } = payload as ItemPayload;
    await keyv.set("job:v1", { ...rest, item });
    await keyv.set("index", ["v1"]);
    const [stored] = await (await KeyvOutboxStore.open(keyv)).load(new Set());
    assert.deepEqual(stored!.job, today);
    await (await KeyvOutboxStore.open(keyv)).restore([stored!]);
    const written = (await keyv.get<{ version: number; payload: unknown; item: unknown }>("job:v1"))!;
    assert.equal(written.version, 2, "written back in today's layout, with its version");
    assert.deepEqual(written.item, item, "and its item where the release before reads it");
  });
});

describe("the outbox on PostgreSQL", { skip: skipWithout("postgres") }, () => {
  let pool: pg.Pool;
  const store = () => new PostgresOutboxStore(postgres(pool, {}));
  before(async () => {
    pool = new pg.Pool({ connectionString: await postgresDatabase(storeServers.postgres!, "newswire_outbox_store_test"), max: 4 });
    await migrate(pool, silentLogger);
  });
  after(() => pool?.end());

  test("jobs recorded by a standby instance are adopted by the sender once; a job recorded by both is one job", async () => {
    await pool.query("DELETE FROM newswire_jobs");
    const remembered: string[] = [];
    const sender = new Outbox(store(), async (jobs) => void remembered.push(...jobs.map(({ id }) => id)));
    const standby = new Outbox(store());
    const handed = await sendingOutbox(sender);
    assert.deepEqual(handed, []);

    assert.deepEqual((await standby.enqueue([job("s1", [1, 2])])).map(({ id }) => id), ["s1"]);
    assert.equal(standby.sending, false);
    assert.deepEqual(standby.size, { jobs: 0, deliveries: 0 }, "a standby records, it does not track");
    assert.deepEqual(await sender.enqueue([job("s1", [1, 2])]), [], "recorded already (by the standby)");
    assert.equal(await sender.adopt(), 1);
    assert.equal(await sender.adopt(), 0, "adopted once");
    assert.deepEqual(chatsOf(handed), ["s1:1", "s1:2"]);
    assert.deepEqual(remembered, ["s1"], "an adopted job's item is remembered as seen (its poller may have died before it did)");

    await sender.enqueue([job("s2", [3])]);
    assert.equal(await sender.adopt(), 0, "its own jobs are not adopted again");
    assert.deepEqual(chatsOf(handed), ["s1:1", "s1:2", "s2:3"]);

    // Recording at the same time as an adoption: still handed on exactly once.
    await Promise.all([sender.enqueue([job("s3", [4])]), sender.adopt(), standby.enqueue([job("s4", [5])]).then(() => sender.adopt())]);
    await sender.adopt();
    assert.deepEqual(chatsOf(handed).sort(), ["s1:1", "s1:2", "s2:3", "s3:4", "s4:5"]);

    for (const delivery of handed) await sender.complete(delivery);
    assert.deepEqual(sender.size, { jobs: 0, deliveries: 0 });
    assert.equal(Number((await pool.query("SELECT count(*) AS n FROM newswire_jobs")).rows[0].n), 0, "finished jobs leave the table");
    assert.equal(await sender.adopt(), 0, "and are not adopted again");
  });

  test("a sender that stops mid-job leaves the rest, with its progress and home post, to the next sender", async () => {
    await pool.query("DELETE FROM newswire_jobs");
    const first = new Outbox(store());
    const firstHanded = await sendingOutbox(first);
    const homeJob = { ...job("h1", [10, 11, 12]), homeIndex: 0 };
    await first.enqueue([homeJob, job("h2", [13])]);
    await first.recordHomePost(homeJob, 777);
    await first.complete(firstHanded[0]!);
    await first.complete(firstHanded[1]!);

    const next = new Outbox(store());
    const nextHanded = await sendingOutbox(next);
    assert.deepEqual(chatsOf(nextHanded), ["h1:12", "h2:13"], "only what was not done, in the order recorded");
    assert.deepEqual(next.homePost(homeJob), { state: "posted", chatId: 10, messageId: 777 });
  });

  test("progress is written by pages: the next sender ORs them with a restored whole bitset; a job's pages leave with it", async () => {
    await pool.query("DELETE FROM newswire_jobs");
    await pool.query("DELETE FROM newswire_job_progress");
    const wide = job("wide", Array.from({ length: 20_000 }, (_, index) => 100_000 + index));
    const first = new Outbox(store());
    const handed = await sendingOutbox(first);
    await first.enqueue([wide]);
    for (const index of [1, 8_200, 19_999]) await first.complete(handed[index]!);
    const pages = await pool.query("SELECT page, octet_length(bits) AS bytes FROM newswire_job_progress WHERE job = 'wide' ORDER BY page");
    assert.deepEqual(pages.rows.map(({ page, bytes }) => [page, bytes]), [[0, PROGRESS_PAGE_BYTES], [1, PROGRESS_PAGE_BYTES], [2, 20_000 / 8 - 2 * PROGRESS_PAGE_BYTES]]);
    // A restore (the store lost its data meanwhile) wrote a whole bitset with one more delivery done.
    const whole = Buffer.alloc(20_000 / 8);
    whole[0] = 0b1;
    await pool.query("UPDATE newswire_jobs SET progress = $1 WHERE id = 'wide'", [whole.toString("base64")]);

    const next = new Outbox(store());
    const left = await sendingOutbox(next);
    assert.equal(left.length, 20_000 - 4);
    assert.deepEqual([0, 1, 8_200, 19_999].filter((index) => left.some((delivery) => delivery.index === index)), []);
    for (const delivery of left) await next.complete(delivery);
    assert.equal(Number((await pool.query("SELECT count(*) AS n FROM newswire_job_progress")).rows[0].n), 0, "no page outlives its job");
    // A page write that comes after its job's removal writes nothing, and fails nothing.
    await store().saveProgress("wide", new Map([[0, Buffer.from([0xff]).toString("base64")]]));
    assert.equal(Number((await pool.query("SELECT count(*) AS n FROM newswire_job_progress")).rows[0].n), 0);
    // So an id recorded anew starts from nothing.
    await new Outbox(store()).enqueue([wide]);
    assert.equal((await sendingOutbox(new Outbox(store()))).length, 20_000);
    await pool.query("DELETE FROM newswire_jobs");
  });

  test("jobs newswire 0.x queued in Keyv are moved into the table, with their progress and home post, and sent from there", async () => {
    await pool.query("DELETE FROM newswire_jobs");
    const legacy = memoryNamespaces().outbox;
    const old = await Outbox.open(legacy);
    const homeJob = { ...job("old1", [20, 21, 22]), homeIndex: 0 };
    await old.enqueue([homeJob, job("old2", [23])]);
    await old.recordHomePost(homeJob, 555);
    await old.complete(old.pending()[0]!);

    const outboxStore = store();
    assert.equal(await outboxStore.takeOver(legacy), 2);
    assert.equal(await outboxStore.takeOver(legacy), 0, "moved once: the Keyv namespace is empty now");
    const next = new Outbox(outboxStore);
    assert.deepEqual(chatsOf(await sendingOutbox(next)), ["old1:21", "old1:22", "old2:23"]);
    assert.deepEqual(next.homePost(homeJob), { state: "posted", chatId: 20, messageId: 555 });
  });

  test("a job stored before payloads (version 1: its item on the job) is read as an item payload", async () => {
    await pool.query("DELETE FROM newswire_jobs");
    const today = job("v1", [1]);
    const { payload, ...rest } = today;
    await pool.query("INSERT INTO newswire_jobs (id, seq, position, version, job) VALUES ('v1', nextval('newswire_jobs_seq'), 1, 1, $1)", [
      JSON.stringify({ ...rest, item: (payload as ItemPayload).item }),
    ]);
    const [stored] = await store().load(new Set());
    assert.deepEqual(stored!.job, today);
  });

  test("a job whose last delivery was saved but not removed is removed when the next sender starts", async () => {
    await pool.query("DELETE FROM newswire_jobs");
    const outboxStore = store();
    await outboxStore.insert([job("done", [1])]);
    await outboxStore.saveProgress("done", new Map([[0, Buffer.from([1]).toString("base64")]]));
    assert.equal(await new Outbox(store()).isEmpty(), false, "a job recorded is seen by an instance that tracks none");
    const handed = await sendingOutbox(new Outbox(outboxStore));
    assert.deepEqual(handed, []);
    assert.equal(Number((await pool.query("SELECT count(*) AS n FROM newswire_jobs")).rows[0].n), 0);
    assert.equal(await outboxStore.isEmpty(), true);
  });
});
