/**
 * PostgreSQL going away under a running newswire (a server restart, an administrator ending its
 * connections): the pool's idle connections die, which is an outage told once, never a crash;
 * the next store call connects anew. Also the sweep of expired entries. Needs a server: TEST_POSTGRES_URL.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import pg from "pg";
import { Outage } from "../../src/health/outage.js";
import { closeNamespaces, openNamespaces, sweepExpired } from "../../src/store/keyv.js";
import { silentLogger } from "../support/builders.js";

const url = process.env.TEST_POSTGRES_URL;
const skip = url ? false : "set TEST_POSTGRES_URL to run against a postgres server";

/**
 * The server's URL with the store's connections named, so that only they are ended: other test
 * files may use the same database at the same time.
 */
const APPLICATION = "newswire-store-postgres-test";
function namedUrl(): string {
  const named = new URL(url!);
  named.searchParams.set("application_name", APPLICATION);
  return named.href;
}

/** An Outage that tells the test each failure it hears of. */
class WatchedOutage extends Outage {
  onFailure: (() => void) | undefined;

  override failed(kind: string, error: unknown): void {
    super.failed(kind, error);
    this.onFailure?.();
  }
}

describe("the PostgreSQL store on its own pool", () => {
  // The skip is on the test, not the suite: node:test counts skipped tests in its totals, not skipped suites.
  test("its connections ended from outside: one outage, no crash, and the next call reconnects", { skip }, async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", onUncaught);
    const health = new WatchedOutage("store", silentLogger);
    const store = await openNamespaces(namedUrl(), { health });
    const admin = new pg.Client({ connectionString: url });
    try {
      await store.meta.set("restart-probe", 1);
      await admin.connect();
      // The store's connections, idle now: all are ended.
      let heard = 0;
      let allHeard = () => {};
      health.onFailure = () => (++heard, allHeard());
      const { rowCount: ended } = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [APPLICATION]);
      assert.ok(ended !== null && ended > 0, "the store had connections to end");
      // The store hears of each loss when its socket closes, which may be before or after the query's answer.
      await new Promise<void>((resolve) => {
        allHeard = () => {
          if (heard >= ended) resolve();
        };
        allHeard();
      });
      assert.equal(health.state?.failures, ended, "one outage, every lost connection counted in it");

      await store.meta.set("restart-probe", 2);
      assert.equal(await store.meta.get("restart-probe"), 2);
      assert.equal(health.state, undefined, "a new connection ends the outage");
      assert.deepEqual(uncaught, []);
    } finally {
      process.off("uncaughtException", onUncaught);
      await store.meta.delete("restart-probe");
      await admin.end();
      await closeNamespaces(store);
    }
  });

  test("the sweep deletes the entries expired before the given time, and only those", { skip }, async () => {
    const store = await openNamespaces(url!);
    try {
      // Whatever had expired already goes first; other files' entries outlast the times swept here.
      await sweepExpired(store.seen);
      await store.seen.set("sweep-lasting", 1);
      await store.seen.set("sweep-expiring", 1, 60_000);
      assert.equal(await sweepExpired(store.seen), 0);
      assert.equal(await sweepExpired(store.seen, Date.now() + 120_000), 1);
      assert.deepEqual([await store.seen.get("sweep-lasting"), await store.seen.has("sweep-expiring")], [1, false]);
    } finally {
      await store.seen.delete("sweep-lasting");
      await closeNamespaces(store);
    }
  });
});
