/**
 * The sender lease on PostgreSQL: one holder among several asking; a released or crashed holder's
 * lease is taken by a standby within about a second; a holder whose connection is ended is told
 * once that it may have lost the lease. Needs TEST_POSTGRES_URL.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import pg from "pg";
import { takeSenderLease, type SenderLease } from "../../src/store/sender-lease.js";
import { silentLogger } from "../support/builders.js";
import { postgresDatabase, skipWithout, storeServers } from "../support/store-servers.js";

const until = async (condition: () => boolean, what: string, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

/** A lease asked for with fast retries, recording when it was taken and lost. */
function contender(url: string) {
  const events = { acquired: 0, lost: 0 };
  const lease: SenderLease = takeSenderLease(url, {
    logger: silentLogger,
    acquired: () => events.acquired++,
    lost: () => events.lost++,
    retryMs: 100,
    checkMs: 100,
  });
  return { lease, events };
}

describe("the sender lease", { skip: skipWithout("postgres") }, () => {
  test("one of three holds it; when it is released another takes it; ended connections lose it once", async () => {
    const base = await postgresDatabase(storeServers.postgres!, "newswire_sender_lease_test");
    const url = new URL(base);
    url.searchParams.set("application_name", "newswire-sender-lease-test");
    const contenders = [contender(url.href), contender(url.href), contender(url.href)];
    try {
      await until(() => contenders.some(({ lease }) => lease.held), "a holder");
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(contenders.filter(({ lease }) => lease.held).length, 1, "exactly one holder");
      const first = contenders.find(({ lease }) => lease.held)!;

      await first.lease.release();
      const rest = contenders.filter((contender) => contender !== first);
      await until(() => rest.some(({ lease }) => lease.held), "a successor", 2_000);
      assert.equal(rest.filter(({ lease }) => lease.held).length, 1);
      assert.equal(first.events.lost, 0, "a release is no loss");

      // The holder's connection ended from outside (a crash of its side, a server kill): it is told,
      // once, and the last one takes over.
      const second = rest.find(({ lease }) => lease.held)!;
      const admin = new pg.Client({ connectionString: base });
      await admin.connect();
      await admin.query(
        `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'newswire-sender-lease-test'`,
      );
      await admin.end();
      await until(() => second.events.lost === 1, "the loss told");
      const last = rest.find((contender) => contender !== second)!;
      await until(() => last.lease.held, "the last one holds it", 2_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(second.events.lost, 1, "told once");
      assert.equal(second.lease.held, false);
      assert.deepEqual(contenders.map(({ events }) => events.acquired), contenders.map((contender) => (contender === first || contender === second || contender === last ? 1 : 0)));
    } finally {
      await Promise.all(contenders.map(({ lease }) => lease.release()));
    }
  });
});
