/**
 * The instance lease on each store: a second taker is refused with one line naming the store and
 * the holder, a released lease is taken again, and on Redis a lease taken over while running is
 * reported lost (once), while one that merely lapsed is taken again. PostgreSQL takes none (its
 * instances cooperate). Redis and PostgreSQL run where a server is given (TEST_REDIS_URL,
 * TEST_POSTGRES_URL), each on a store of this file's own.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { ConfigError } from "../../src/config/errors.js";
import { here, LEASE_TTL_MS, parseHolder, sharesPids, takeInstanceLease, type InstanceLease } from "../../src/store/instance-lease.js";
import { redisClient } from "../../src/store/keyv.js";
import { postgresDatabase, redisDatabase, skipWithout, storeServers } from "../support/store-servers.js";

const logger = pino({ level: "silent" });
const dir = mkdtempSync(join(tmpdir(), "newswire-lease-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Takes a lease that counts how often it is reported lost. */
async function take(url: string): Promise<{ lease: InstanceLease; losses: () => number }> {
  let losses = 0;
  const lease = await takeInstanceLease(url, { logger, lost: () => losses++ });
  return { lease, losses: () => losses };
}

/** Asserts that taking the lease of `url` is refused with the refusal's one line. */
async function assertRefused(url: string, pattern: RegExp): Promise<void> {
  await assert.rejects(takeInstanceLease(url, { logger, lost: () => assert.fail("a refused lease is never lost") }), (error: Error) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.doesNotMatch(error.message, /\n/);
    assert.match(error.message, pattern);
    return true;
  });
}

/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid!;

describe("a lease holder's identity", () => {
  const place = { host: "node1", pidNamespace: "4026531836", bootId: "6c347737-0e42-4800-91a1-8b2971e7e3cc" };

  test("its name is read back: pid, host, pid namespace and boot id; unknown parts and older names without them", () => {
    assert.deepEqual(parseHolder("ab12cd34 4242@node1 4026531836 6c347737-0e42-4800-91a1-8b2971e7e3cc"), { pid: 4242, ...place });
    assert.deepEqual(parseHolder("ab12cd34 4242@node1 - -"), { pid: 4242, host: "node1" });
    assert.deepEqual(parseHolder("ab12cd34 4242@node1"), { pid: 4242, host: "node1" });
    assert.equal(parseHolder("not a holder"), undefined);
  });

  test("its pid is checked only from the same host, pid namespace and boot, each known", () => {
    assert.equal(sharesPids({ pid: 1, ...place }, place), true);
    assert.equal(sharesPids({ pid: 1, ...place, host: "node2" }, place), false, "another host");
    assert.equal(sharesPids({ pid: 1, ...place, pidNamespace: "4026532200" }, place), false, "another container of the same hostname");
    assert.equal(sharesPids({ pid: 1, ...place, bootId: "00000000-0000-4000-8000-000000000000" }, place), false, "another boot");
    assert.equal(sharesPids({ pid: 1, host: "node1" }, place), false, "a holder that did not say where (an older newswire)");
    assert.equal(sharesPids({ pid: 1, host: "node1" }, { host: "node1" }), false, "neither knows: not checked");
  });

  test("this process's place names its host, and on Linux its pid namespace and boot", { skip: process.platform !== "linux" && "Linux only" }, () => {
    const place = here();
    assert.equal(place.host, hostname());
    assert.match(place.pidNamespace ?? "", /^\d+$/);
    assert.match(place.bootId ?? "", /^[0-9a-f-]{36}$/);
  });
});

describe("instance lease on SQLite", () => {
  test("a second taker is refused while the lease is held, and takes it once released", async () => {
    const url = `sqlite://${join(dir, "one.sqlite")}`;
    const first = await take(url);
    await assertRefused(url, new RegExp(`^another newswire instance is using this store \\(sqlite://.*one\\.sqlite, pid ${process.pid}\\): stop it first; SQLite and Redis stores serve one instance; several instances share a PostgreSQL store$`));
    await first.lease.keep();
    await first.lease.release();
    const second = await take(url);
    await second.lease.release();
    assert.equal(first.losses() + second.losses(), 0);
  });

  test("stores in other files, and in-memory stores, have leases of their own", async () => {
    const leases = [
      await take(`sqlite://${join(dir, "a.sqlite")}`),
      await take(`sqlite://${join(dir, "b.sqlite")}`),
      await take("sqlite://:memory:"),
      await take("sqlite://:memory:"),
    ];
    await Promise.all(leases.map(({ lease }) => lease.release()));
  });
});

describe("instance lease on Redis", () => {
  const key = "newswire:instance";
  let url: string;
  const withClient = async <T>(use: (client: Awaited<ReturnType<typeof redisClient>>) => Promise<T>): Promise<T> => {
    const client = await redisClient(url);
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.close();
    }
  };

  test("refused while held; lapsed is renewed; taken over is lost once; released is free", { skip: skipWithout("redis") }, async () => {
    url = await redisDatabase(storeServers.redis!, 12);
    const first = await take(url);
    const ttl = await withClient((client) => client.pTTL(key));
    assert.ok(ttl > 0 && ttl <= LEASE_TTL_MS, `expires in ${ttl} ms`);
    await assertRefused(url, new RegExp(`^another newswire instance is using this store \\(redis://.*/12, pid ${process.pid}\\): stop it first; SQLite and Redis stores serve one instance; several instances share a PostgreSQL store$`));

    // Gone (a Redis without persistence restarted): nobody holds it, so it is set again.
    await withClient((client) => client.del(key));
    await first.lease.keep();
    assert.ok((await withClient((client) => client.pTTL(key))) > 0);
    assert.equal(first.losses(), 0);

    // Taken by another instance after this one stalled: lost, and reported once.
    await withClient((client) => client.set(key, "other 4242@elsewhere"));
    await first.lease.keep();
    await first.lease.keep();
    assert.equal(first.losses(), 1);
    await first.lease.release();
    assert.equal(await withClient((client) => client.get(key)), "other 4242@elsewhere", "a lost lease is not released");
    await assertRefused(url, /using this store \(redis:.*, pid 4242 on elsewhere\)/);

    await withClient((client) => client.del(key));
    const second = await take(url);
    await second.lease.release();
    assert.equal(await withClient((client) => client.exists(key)), 0, "released on a clean stop");
  });

  test("a lease left by a process of this host that no longer exists is taken over at once", { skip: skipWithout("redis") }, async () => {
    url = await redisDatabase(storeServers.redis!, 12);
    const { pidNamespace = "-", bootId = "-" } = here();
    await withClient((client) => client.set(key, `dead ${deadPid()}@${hostname()} ${pidNamespace} ${bootId}`, { PX: LEASE_TTL_MS }));
    const lease = await take(url);
    await lease.lease.release();
    // The same pid on another host, or in another pid namespace of this hostname, cannot be checked: it is waited out.
    await withClient((client) => client.set(key, `dead ${deadPid()}@elsewhere ${pidNamespace} ${bootId}`, { PX: LEASE_TTL_MS }));
    await assertRefused(url, /on elsewhere\)/);
    await withClient((client) => client.set(key, `dead ${deadPid()}@${hostname()} 1 ${bootId}`, { PX: LEASE_TTL_MS }));
    await assertRefused(url, /using this store \(redis:.*, pid \d+\)/);
  });
});

describe("instance lease on PostgreSQL", () => {
  test("none: several instances share the store, each takes it at once", { skip: skipWithout("postgres") }, async () => {
    const url = await postgresDatabase(storeServers.postgres!, "newswire_lease_unit");
    const [first, second] = [await take(url), await take(url)];
    await Promise.all([first.lease.release(), second.lease.release()]);
  });
});
