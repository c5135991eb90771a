/**
 * Start-up cost against a large store: N subscribers and F feeds' states, written straight into
 * the tables in their stored form, in big batches. Each measurement runs in a fresh process
 * (a cold heap, its own peak RSS), 3 times, and is reported as the median:
 * - `open`: openNamespaces alone, the least any start costs: the baseline the others are a ratio of;
 * - `feeds`: FeedStates.open for the F feeds of the catalog;
 * - `start`: what main.ts does before the bot starts: openNamespaces, then openState (on
 *   PostgreSQL the migrations first), with the epoch. The subscribers live in a table on both
 *   stores and are queried, never read whole, so their count should not move it.
 * Beside the time: the CPU time, the longest the event loop was blocked, and the process's peak RSS.
 * The store grows from one size to the next (subscribers are added), so seeding is paid once.
 *
 * Run: node --import tsx bench/startup.ts [SUBSCRIBERS, default 10000,100000,1000000] [FEEDS, default 100000] [TIMEOUT_S, default 120]
 * On PostgreSQL: STORE=postgres with TEST_POSTGRES_URL (as the tests), e.g.
 * `STORE=postgres TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5440/postgres node --import tsx bench/startup.ts 1000000`.
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type KeyvSqlite from "@keyv/sqlite";
import { pino } from "pino";
import { feedUrlKey, type FeedDefinition } from "../src/config/catalog.js";
import { SqliteSubscribers } from "../src/delivery/sqlite-subscribers.js";
import { FeedStates, type FeedState } from "../src/feeds/feed-state.js";
import { DEFAULT_ARCHIVE_DAYS } from "../src/items/archive.js";
import { openState } from "../src/state.js";
import { closeNamespaces, openNamespaces, postgresOf, serialize, sqliteOf } from "../src/store/keyv.js";
import { migrate } from "../src/store/postgres.js";
import { postgresDatabase } from "../test/support/store-servers.js";

const RUNS = 3;
const SEED_BATCH = 20_000;
const MODES = ["open", "feeds", "start"] as const;
type Mode = (typeof MODES)[number];

interface Measured {
  ms: number;
  /** CPU seconds of the process meanwhile, every thread (SQLite's pool too): less at the mercy of a busy machine. */
  cpuS: number;
  blockMs: number;
  rssMb: number;
  count: number;
}
type Outcome = Measured | { failed: string };

const feedsOf = (count: number) =>
  Array.from({ length: count }, (_, i): FeedDefinition => ({ id: `feed-${i}`, url: `https://site${i}.example/rss.xml`, topics: [], fulltext: false }));

// ---- one measurement, in its own process ----

async function measure(mode: Mode, url: string, feedCount: number): Promise<Measured> {
  const feeds = feedsOf(feedCount);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const store = await openNamespaces(url);
  let count = 0;
  if (mode === "feeds") {
    const states = await FeedStates.open(store.feeds, feeds);
    count = feeds.filter((feed) => states.nextPollAt(feed.id) !== undefined).length;
  } else if (mode === "start") {
    const state = await openState(store, feeds, DEFAULT_ARCHIVE_DAYS * 86_400_000, pino({ level: "silent" }));
    count = await state.subscribers.count();
  }
  const ms = performance.now() - started;
  const { user, system } = process.cpuUsage(cpu);
  loop.disable();
  await closeNamespaces(store);
  return { ms, cpuS: (user + system) / 1e6, blockMs: loop.max / 1e6, rssMb: process.resourceUsage().maxRSS / 1024, count };
}

// ---- the parent: seed, then measure each mode in fresh processes ----

const feedState = (i: number): FeedState => ({
  title: `Site ${i}`,
  etag: `"${i.toString(16)}-abc"`,
  lastModified: "Tue, 01 Dec 2026 10:00:00 GMT",
  baselined: true,
  lastPollAt: 1_764_000_000_000 + i,
  lastSuccessAt: 1_764_000_000_000 + i,
  scope: feedUrlKey(`https://site${i}.example/rss.xml`),
  failures: 0,
  itemsSeen: i % 500,
  nextPollAt: 1_764_000_300_000 + i,
  lastReadAt: 1_764_000_000_000 + i,
});

/** Writes entries [from, to) of a namespace straight through its adapter, in Keyv's stored form. */
async function seed(adapter: KeyvSqlite, namespace: string, from: number, to: number, entry: (i: number) => [string, unknown]): Promise<void> {
  for (let start = from; start < to; start += SEED_BATCH) {
    const batch = [];
    for (let i = start; i < Math.min(to, start + SEED_BATCH); i++) {
      const [key, value] = entry(i);
      batch.push({ key: `${namespace}:${key}`, value: serialize({ value }) });
    }
    await (adapter as unknown as { setMany(entries: { key: string; value: string }[]): Promise<unknown> }).setMany(batch);
  }
}

function runChild(mode: Mode, url: string, feedCount: number, timeoutS: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = fork(fileURLToPath(import.meta.url), ["--measure", mode, url, String(feedCount)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    let outcome: Outcome | undefined;
    const timer = setTimeout(() => {
      outcome = { failed: `over ${timeoutS} s` };
      child.kill("SIGKILL");
    }, timeoutS * 1000);
    child.on("message", (message: Measured) => (outcome ??= message));
    child.on("exit", (code) => {
      clearTimeout(timer);
      const lastLine = stderr.trim().split("\n").find((line) => /Error/.test(line)) ?? `exit ${code}`;
      resolve(outcome ?? { failed: lastLine.trim().slice(0, 80) });
    });
  });
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const sizes = (process.argv[2] ?? "10000,100000,1000000").split(",").map(Number);
  const feedCount = Number(process.argv[3] ?? 100_000);
  const timeoutS = Number(process.argv[4] ?? 120);
  const onPostgres = process.env.STORE === "postgres";
  if (onPostgres && !process.env.TEST_POSTGRES_URL) {
    console.log("bench/startup: STORE=postgres needs TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5440/postgres); skipped");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "newswire-startup-"));
  const url = onPostgres ? await postgresDatabase(process.env.TEST_POSTGRES_URL!, "newswire_bench_startup") : `sqlite://${dir}/store.sqlite`;
  try {
    const store = await openNamespaces(url);
    const database = postgresOf(store);
    const file = sqliteOf(store);
    if (database) await migrate(database.pool, pino({ level: "silent" }));
    if (file) await SqliteSubscribers.open(file);
    let seeded = performance.now();
    await seed(store.feeds.store as KeyvSqlite, "feeds", 0, feedCount, (i) => [`url:${feedUrlKey(`https://site${i}.example/rss.xml`)}`, feedState(i)]);
    console.log(`${onPostgres ? "PostgreSQL" : "SQLite"}: ${feedCount} feed states seeded in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
    let have = 0;
    for (const size of sizes) {
      seeded = performance.now();
      if (database) {
        // The rows PostgresSubscribers writes, made by the database itself, in statements the pool's
        // query timeout allows.
        for (let from = have; from < size; from += 100_000) await database.pool.query(
          `INSERT INTO newswire_subscriptions (key, chat_id, topics, record, since)
           SELECT (100000000 + i)::text, 100000000 + i,
                  CASE WHEN i % 3 = 0 THEN ARRAY['all'] ELSE ARRAY['harbour', 'weather'] END,
                  jsonb_build_object('kind', 'private', 'language', CASE WHEN i % 2 = 0 THEN 'en' ELSE 'ru' END),
                  1760000000000 + i
           FROM generate_series($1::int, $2::int - 1) AS i`,
          [from, Math.min(size, from + 100_000)],
        );
      } else {
        // The rows SqliteSubscribers writes (its triggers fill the topic index), made by SQLite itself.
        for (let from = have; from < size; from += 50_000) await file!.query(
          `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
           INSERT INTO newswire_subscriptions (key, chat_id, thread_id, topics, record, since, version)
           SELECT CAST(100000000 + i AS TEXT), 100000000 + i, NULL,
                  CASE WHEN i % 3 = 0 THEN '["all"]' ELSE '["harbour","weather"]' END,
                  json_object('kind', 'private', 'language', CASE WHEN i % 2 = 0 THEN 'en' ELSE 'ru' END),
                  1760000000000 + i, 1
           FROM n`,
          [from, Math.min(size, from + 50_000)],
        );
      }
      have = size;
      console.log(`\n${size} subscribers, ${feedCount} feeds (seeded in ${((performance.now() - seeded) / 1000).toFixed(1)} s); medians of ${RUNS} fresh processes:`);
      let baseline: number | undefined;
      for (const mode of MODES) {
        const outcomes: Outcome[] = [];
        for (let run = 0; run < RUNS; run++) {
          const outcome = await runChild(mode, url, feedCount, timeoutS);
          outcomes.push(outcome);
          if ("failed" in outcome) break;
        }
        const failed = outcomes.find((outcome): outcome is { failed: string } => "failed" in outcome);
        if (failed) {
          console.log(`  ${mode.padEnd(12)} FAILED: ${failed.failed}`);
          continue;
        }
        const done = outcomes as Measured[];
        const ms = median(done.map((m) => m.ms));
        if (mode === "open") baseline = ms;
        const ratio = baseline === undefined ? "" : ` (${(ms / baseline).toFixed(2)} × open)`;
        console.log(
          `  ${mode.padEnd(12)} ${(ms / 1000).toFixed(2).padStart(7)} s${ratio}, ${median(done.map((m) => m.cpuS)).toFixed(2)} CPU s, longest block ${median(done.map((m) => m.blockMs)).toFixed(0)} ms, ` +
            `peak RSS ${median(done.map((m) => m.rssMb)).toFixed(0)} MB, ${done[0]!.count} loaded (runs: ${done.map((m) => (m.ms / 1000).toFixed(2)).join(", ")} s)`,
        );
      }
    }
    await closeNamespaces(store);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--measure") {
  const result = await measure(process.argv[3] as Mode, process.argv[4]!, Number(process.argv[5]));
  if (process.send) {
    process.send(result);
    process.disconnect();
  } else console.log(result);
} else {
  await main();
}
