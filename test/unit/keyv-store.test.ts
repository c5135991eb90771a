import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type Keyv from "keyv";
import type KeyvSqlite from "@keyv/sqlite";
import { defaultDeserialize, defaultSerialize } from "@keyv/serialize";
import { pino } from "pino";
import { Subscribers } from "../../src/delivery/subscribers.js";
import { readAll } from "../../src/store/guard.js";
import { deserialize, EXPIRING_NAMESPACES, serialize, sweepExpired, sweepPeriodically, type Namespace } from "../../src/store/keyv.js";
import { memoryNamespaces, tempStore, type TempStore } from "../support/builders.js";

const DAY = 24 * 60 * 60 * 1000;

/** Rows in a namespace's table, expired or not (what Keyv's lazy TTL leaves behind). */
async function rowCount(keyv: Keyv, table: Namespace): Promise<number> {
  const rows = (await (keyv.store as KeyvSqlite).query(`SELECT count(*) AS n FROM ${table}`)) as { n: number }[];
  return rows[0]!.n;
}

describe("sweeping expired entries from SQLite", () => {
  let store: TempStore;
  let namespaces: Record<Namespace, Keyv>;
  before(async () => {
    store = tempStore();
    namespaces = await store.open();
  });
  after(() => store.dispose());

  test("deletes exactly the entries Keyv wrote with a TTL that has passed", async () => {
    const { seen } = namespaces;
    await seen.set("gone", 1, 1);
    await seen.set("fresh", 2, DAY);
    await seen.set("forever", 3);
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await rowCount(seen, "seen"), 3, "Keyv itself leaves the expired row in place");

    assert.equal(await sweepExpired(seen), 1);
    assert.equal(await rowCount(seen, "seen"), 2);
    assert.equal(await seen.get("fresh"), 2);
    assert.equal(await seen.get("forever"), 3);
    assert.equal(await sweepExpired(seen), 0);
    assert.equal(await sweepExpired(seen, Date.now() + 2 * DAY), 1, "the day-long entry, two days on");
    assert.equal(await seen.get("forever"), 3);
  });

  test("walks a large table in batches, leaving alone rows that are not Keyv's JSON", async () => {
    const { items } = namespaces;
    const adapter = items.store as KeyvSqlite;
    // 25,000 rows straight into the table, in Keyv's stored form: even ones expired, odd ones not.
    await adapter.query(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25000)
       INSERT INTO items (key, value)
       SELECT 'items:k' || i, CASE WHEN i % 2 = 0 THEN '{"value":' || i || ',"expires":1000}' ELSE '{"value":' || i || '}' END FROM n`,
    );
    await adapter.query(`INSERT INTO items (key, value) VALUES ('items:odd', 'not json')`);
    assert.equal(await sweepExpired(items, 2000), 12_500);
    assert.equal(await rowCount(items, "items"), 12_501);
    assert.equal(await items.get("k25000"), undefined);
    assert.equal(await items.get("k24999"), 24999);
  });

  test("sweeps the expiring namespaces at start, logging how many", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    // The stop below lets each sweep finish only its batch under way: one batch of rows here, not
    // the previous test's thousands.
    await namespaces.items.clear();
    await namespaces.seen.set("stale", 1, 1);
    await namespaces.items.set("stale", { title: "old" }, 1);
    await namespaces.stories.set("item:stale", { title: "old" }, 1);
    await namespaces.held.set("item:stale", { title: "old" }, 1);
    await namespaces.feeds.set("stale", { failures: 0 }, 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const sweeper = sweepPeriodically(namespaces, logger);
    await sweeper.stop();
    assert.deepEqual(EXPIRING_NAMESPACES, ["seen", "items", "stories", "held"]);
    const swept = lines.map((line) => JSON.parse(line) as { namespace?: string; deleted?: number; msg: string });
    assert.deepEqual(
      swept.map(({ namespace, deleted, msg }) => ({ namespace, deleted, msg })),
      [
        { namespace: "seen", deleted: 1, msg: "expired entries swept" },
        { namespace: "items", deleted: 1, msg: "expired entries swept" },
        { namespace: "stories", deleted: 1, msg: "expired entries swept" },
        { namespace: "held", deleted: 1, msg: "expired entries swept" },
      ],
    );
    assert.equal(await rowCount(namespaces.feeds, "feeds"), 1, "only the expiring namespaces are swept");
  });
});

test("a stop during the start-up sweep of a large table waits only for the batch under way", async () => {
  const store = tempStore();
  try {
    const namespaces = await store.open();
    const adapter = namespaces.items.store as KeyvSqlite;
    // 25,000 expired rows: three batches.
    await adapter.query(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25000)
       INSERT INTO items (key, value) SELECT 'items:k' || i, '{"value":' || i || ',"expires":1000}' FROM n`,
    );
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    // The stop comes as the sweep's first delete is issued.
    const query = adapter.query;
    let stopped: Promise<void> | undefined;
    adapter.query = (sql, ...parameters) => {
      const result = query(sql, ...parameters);
      if (sql.trimStart().startsWith("DELETE")) stopped ??= sweeper.stop();
      return result;
    };
    const sweeper = sweepPeriodically(namespaces, logger);
    await sweeper.stop();
    assert.ok(stopped, "the sweep had begun");
    await stopped;
    adapter.query = query;
    assert.equal(await rowCount(namespaces.items, "items"), 15_000, "one batch of 10,000 deleted, then the sweep ended");
    assert.deepEqual(lines.map((line) => (JSON.parse(line) as { deleted?: number }).deleted), [10_000]);
    assert.equal(await sweepExpired(namespaces.items), 15_000, "the next sweep takes the rest");
  } finally {
    await store.dispose();
  }
});

test("stores that expire by themselves have nothing to sweep", async () => {
  const { seen } = memoryNamespaces();
  await seen.set("gone", 1, 1);
  assert.equal(await sweepExpired(seen, Date.now() + DAY), 0);
});

describe("serialize", () => {
  test("writes exactly what Keyv's own serializer writes", () => {
    const values: unknown[] = [
      { value: 1, expires: 5 },
      { value: "plain", expires: undefined },
      { value: ":leading colon" },
      { value: "::two colons" },
      { value: ["a", ":b", "c:", "[:d", { ":key": ":value", "k,": "v", "k:": ":w" }] },
      { value: { title: 'Quote " and \\ backslash', text: 'a,":b', nested: [[":x"], [], {}], skipped: undefined, empty: "" } },
      { value: { at: new Date(Date.UTC(2026, 0, 1)), n: -0.5, t: true, z: null, emoji: "Привет 👋" } },
    ];
    for (const value of values) {
      assert.equal(serialize(value), defaultSerialize(value as never), JSON.stringify(value));
      assert.deepEqual(defaultDeserialize(serialize(value)), defaultDeserialize(defaultSerialize(value as never)));
    }
  });
});

describe("deserialize", () => {
  test("reads exactly what Keyv's own deserializer reads", () => {
    const texts = [
      '{"value":1,"expires":5}',
      '{"value":"plain"}',
      '{"value":"::leading colon"}',
      '{"value": "::spaced", "expires": 5}',
      '{"value":["a","::b","c:","[:d",{":key":"::value","k,":"v","k:":"::w"}]}',
      '{"value":{"text":"a,\\":b","q":"\\"::not a leading colon","nested":[["::x"],[],{}]}}',
      '{"value":":base64:aGk="}',
      '{"value":null}',
    ];
    for (const text of texts) assert.deepEqual(deserialize(text), defaultDeserialize(text), text);
  });
});

describe("SQLite reads", () => {
  let store: TempStore;
  before(() => {
    store = tempStore();
  });
  after(() => store.dispose());

  test("40,000 subscribers open, in one read of pages, without overflowing the stack", async () => {
    const { subscribers } = await store.open();
    await (subscribers.store as KeyvSqlite).query(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000)
       INSERT INTO subscribers (key, value)
       SELECT 'subscribers:' || (100000 + i), '{"value":{"chatId":' || (100000 + i) || ',"kind":"private","topics":["all"],"since":1}}' FROM n`,
    );
    const opened = await Subscribers.open(subscribers);
    assert.equal(opened.size, 40_000);
    assert.deepEqual(await opened.get({ chatId: 140_000 }), { chatId: 140_000, kind: "private", topics: ["all"], since: 1 });
  });

  test("reads what Keyv's own iterator reads: keys without the prefix, colons kept, other prefixes left out", async () => {
    const { outbox } = await store.open();
    await outbox.set("-100123:7", { thread: true });
    await outbox.set("job:a:b", { title: ":colon-led", list: [":x", "y"] });
    await outbox.set("plain", 5);
    await outbox.set("forever", "text", undefined);
    await (outbox.store as KeyvSqlite).query(`INSERT INTO outbox (key, value) VALUES ('other:1', '{"value":1}')`);
    const iterated = new Map<string, unknown>();
    for await (const [key, value] of outbox.iterator!(undefined)) iterated.set(key as string, value);
    assert.equal(iterated.size, 4);
    assert.deepEqual(await readAll(outbox), iterated);
  });

  test("leaves out and deletes expired entries, across pages, reading every live one", async () => {
    const { seen } = await store.open();
    // 2,500 rows in Keyv's stored form, every third one expired long ago, the rest expiring far ahead.
    await (seen.store as KeyvSqlite).query(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
       INSERT INTO seen (key, value)
       SELECT 'seen:k' || i, '{"value":' || i || ',"expires":' || CASE WHEN i % 3 = 0 THEN 1000 ELSE 99999999999999 END || '}' FROM n`,
    );
    const live = Array.from({ length: 2500 }, (_, n) => n + 1).filter((i) => i % 3 !== 0);
    assert.deepEqual(await readAll(seen), new Map(live.map((i) => [`k${i}`, i])));
    assert.equal(await rowCount(seen, "seen"), live.length, "the expired rows are gone");
  });

  test("getMany answers each key in order, duplicates and missing ones too", async () => {
    const { feeds } = await store.open();
    await feeds.setMany(Array.from({ length: 2500 }, (_, n) => ({ key: `f${n}`, value: { n } })));
    const keys = ["f7", "f7", "missing", ...Array.from({ length: 2500 }, (_, n) => `f${2499 - n}`), "f2500"];
    const expected = keys.map((key) => (/^f\d+$/.test(key) && Number(key.slice(1)) < 2500 ? { n: Number(key.slice(1)) } : undefined));
    assert.deepEqual(await feeds.getMany(keys), expected);
    assert.deepEqual(await feeds.getMany(keys.slice(0, 10)), expected.slice(0, 10));
  });
});

describe("SQLite writes", () => {
  let store: TempStore;
  before(() => {
    store = tempStore();
  });
  after(() => store.dispose());

  test("run in the order they are issued: the last of many quick writes of one key wins", async () => {
    const { subscribers } = await store.open();
    await Promise.all(Array.from({ length: 50 }, (_, n) => subscribers.set("chat", { version: n })));
    const { subscribers: reopened } = await store.open();
    assert.deepEqual(await reopened.get("chat"), { version: 49 });
  });
});

describe("SQLite setMany", () => {
  let store: TempStore;
  before(() => {
    store = tempStore();
  });
  after(() => store.dispose());

  test("writes many entries in one statement, overwriting, with their TTL", async () => {
    const { items } = await store.open();
    const adapter = items.store as KeyvSqlite;
    await items.set("k1", { title: "old" });
    const statements: string[] = [];
    const query = adapter.query.bind(adapter);
    adapter.query = (async (sql: string, ...parameters: unknown[]) => {
      statements.push(sql);
      return query(sql, ...parameters);
    }) as typeof adapter.query;

    const entries = Array.from({ length: 100 }, (_, n) => ({ key: `k${n}`, value: { title: `:title ${n}`, n }, ttl: n === 0 ? 1 : undefined }));
    await items.setMany(entries);
    assert.equal(statements.length, 1);
    assert.match(statements[0]!, /^INSERT INTO items/);

    adapter.query = query;
    assert.equal(await rowCount(items, "items"), 100, "k1 overwritten, not doubled");
    const read = await items.getMany<{ title: string; n: number }>(entries.map(({ key }) => key));
    assert.deepEqual(read[1], { title: ":title 1", n: 1 }, "a colon-led string survives");
    assert.deepEqual(read[99], { title: ":title 99", n: 99 });
    assert.deepEqual(read.slice(2).map((item) => item?.n), entries.slice(2).map(({ value }) => value.n));
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await items.get("k0"), undefined, "expired by its TTL");
  });
});
