/**
 * What instances on one PostgreSQL coordinate in single statements: the poll schedule (each feed
 * claimed once per cycle, however many instances claim at once) and item claims (a story held by
 * one poll at a time; a dead instance's claim lapses). Needs TEST_POSTGRES_URL.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { CLAIM_STALE_MS, PostgresItemClaims } from "../../src/items/postgres-item-claims.js";
import { PostgresPollSchedule, SCHEDULE_ABANDONED_MS } from "../../src/poller/postgres-poll-schedule.js";
import { migrate, postgres } from "../../src/store/postgres.js";
import { silentLogger } from "../support/builders.js";
import { postgresDatabase, skipWithout, storeServers } from "../support/store-servers.js";

describe("coordination on PostgreSQL", { skip: skipWithout("postgres") }, () => {
  let pool: pg.Pool;
  const database = () => postgres(pool, {});
  before(async () => {
    pool = new pg.Pool({ connectionString: await postgresDatabase(storeServers.postgres!, "newswire_coordination_test"), max: 6 });
    await migrate(pool, silentLogger);
  });
  after(() => pool?.end());

  test("three instances claiming 300 feeds at once, in batches, take each once per cycle; the next cycle all are claimable again", async () => {
    const feeds = Array.from({ length: 300 }, (_, index) => `feed-${index}`);
    const instances = [new PostgresPollSchedule(database()), new PostgresPollSchedule(database()), new PostgresPollSchedule(database())];
    const claimAll = async (schedule: PostgresPollSchedule, cycle: number) => {
      const mine: string[] = [];
      for (;;) {
        const batch = await schedule.claim(feeds, cycle, 8);
        if (batch.length === 0) return mine;
        assert.ok(batch.length <= 8);
        mine.push(...batch);
      }
    };
    for (const cycle of [60_000, 120_000]) {
      const shares = await Promise.all(instances.map((schedule) => claimAll(schedule, cycle)));
      const all = shares.flat();
      assert.equal(all.length, 300, `cycle ${cycle}: ${shares.map((share) => share.length).join("/")}`);
      assert.equal(new Set(all).size, 300, "no feed claimed twice");
      assert.ok(shares.every((share) => share.length > 0), `spread: ${shares.map((share) => share.length).join("/")}`);
    }
    assert.deepEqual(await instances[0]!.claim(feeds, 120_000, 8), [], "a cycle claimed already");
    assert.deepEqual(await instances[0]!.claim(feeds, 60_000, 8), [], "an older cycle claims nothing");
  });

  test("a claim takes the first unclaimed candidates in the order given (the poller's rotation), not the table's", async () => {
    const schedule = new PostgresPollSchedule(database());
    const feeds = ["order-z", "order-a", "order-m", "order-b"];
    assert.deepEqual(new Set(await schedule.claim(feeds, 1_000, 2)), new Set(["order-z", "order-a"]));
    assert.deepEqual(new Set(await schedule.claim(feeds, 1_000, 2)), new Set(["order-m", "order-b"]));
  });

  test("item claims: a key held by one instance is not held by another until released or stale", async () => {
    let now = 1_000_000;
    const first = new PostgresItemClaims(database(), () => now);
    const second = new PostgresItemClaims(database(), () => now);
    const hold = await first.hold([["g:a", "l:x"], ["g:b"], ["l:x"]]);
    assert.deepEqual(hold.held, [true, true, false], "an entry sharing a key with an earlier one is not held");
    const other = await second.hold([["g:c", "l:x"], ["g:d"]]);
    assert.deepEqual(other.held, [false, true], "l:x is held by the first");
    await other.release();

    now += CLAIM_STALE_MS + 1;
    const late = await second.hold([["g:b"]]);
    assert.deepEqual(late.held, [true], "a claim older than the stale time is taken over (its instance died)");
    await hold.release();
    // The first's release leaves the key the second took over.
    assert.deepEqual((await first.hold([["g:b"]])).held, [false]);
    await late.release();
    assert.deepEqual((await first.hold([["g:b"], ["g:a"]])).held, [true, true], "released keys are free");
  });

  test("left-overs go: claims of a dead instance that no poll meets again, and schedule rows of feeds no catalog has", async () => {
    await pool.query("DELETE FROM newswire_item_claims");
    let now = 5_000_000;
    const dead = new PostgresItemClaims(database(), () => now);
    await dead.hold([["g:forgotten"]]);
    now += CLAIM_STALE_MS + 1;
    await new PostgresItemClaims(database(), () => now).hold([["g:other"]]);
    const keys = (await pool.query("SELECT key FROM newswire_item_claims ORDER BY key")).rows.map(({ key }) => key);
    assert.deepEqual(keys, ["g:other"]);

    await pool.query("DELETE FROM newswire_poll_schedule");
    let clock = 1_000_000_000;
    await new PostgresPollSchedule(database(), () => clock).claim(["kept", "removed"], 1_000, 10);
    clock += SCHEDULE_ABANDONED_MS + 1;
    // An instance whose catalog has only "kept" now; it claimed "kept" in between too.
    const running = new PostgresPollSchedule(database(), () => clock);
    assert.deepEqual(await running.claim(["kept"], 2_000, 10), ["kept"]);
    const feeds = (await pool.query("SELECT feed FROM newswire_poll_schedule ORDER BY feed")).rows.map(({ feed }) => feed);
    assert.deepEqual(feeds, ["kept"]);
  });
});
