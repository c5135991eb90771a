/**
 * Broadcast throughput: one item to many private chats through the fake Telegram. The delivery
 * engine is built as main.ts builds it (openNamespaces, then openState: on SQLite SqliteSubscribers
 * and the Keyv outbox, on PostgreSQL PostgresSubscribers and PostgresOutboxStore; Sender,
 * Dispatcher, a bare grammY Api: the sender obeys 429s itself); the fake runs in a child process,
 * so its HTTP work and flood-limit clock do not share the engine's event loop, nor its memory
 * (the peak RSS reported is the engine's alone). Medians of the runs:
 *
 * - limits on: the fake enforces Telegram's 30/s overall and 1/s per chat with 429 + retry_after;
 *   the sender paces at TELEGRAM_LIMITS (29/s), 3,000 chats a run (about 105 s each).
 * - limits on with 120 ms of Telegram latency: what the default 3 sends in flight allow over a
 *   real network (the loopback answers in about a millisecond).
 * - limits off: the engine's own ceiling in sends/s, 3,000 chats a run, 32 (the paid-broadcast
 *   default) and 64 sends in flight.
 *
 * The store: a temporary SQLite file, or with `--store postgres://…` that PostgreSQL database,
 * emptied of newswire's tables first (every `newswire_…` table, Keyv's namespaces and the
 * migrations' record: openState migrates from nothing). The subscriptions are seeded in bulk before
 * each run, the rows PostgresSubscribers / SqliteSubscribers write made by the database itself.
 *
 * Also reported: 429s, progress writes (the coalesced writes behind `outbox.complete`: on SQLite
 * `setMany` of `progress:` pages in the Keyv outbox namespace, on PostgreSQL the upsert of pages
 * into newswire_job_progress) and their mean duration inside a run (event-loop waits included)
 * and alone, how busy the engine's thread
 * was, peak RSS of the engine's process, and the load average (2-core CI machines are
 * shared: the limits-off numbers move with it; the runs go round robin so that load hits all).
 *
 * With `--stories` the item is the first source of a story, as every item is when STORIES is on
 * (the default): the sender records each chat's message of it (story-messages.ts, written behind
 * in batches), so that a later source can edit it.
 *
 * Run: node --expose-gc --import tsx bench/broadcast.ts [scenario name filter, e.g. "limits off"] [--chats N] [--runs N] [--store postgres://…] [--stories]
 * (--chats and --runs replace every chosen scenario's own, e.g. `"limits off, 32" --chats 100000 --runs 3`;
 * e.g. `"limits off, 32" --store postgres://postgres@127.0.0.1:5440/bench --chats 300000 --runs 1`).
 */
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Api } from "grammy";
import Keyv from "keyv";
import { pino } from "pino";
import { Dispatcher } from "../src/delivery/dispatch.js";
import { PROGRESS_PAGE_BYTES } from "../src/delivery/outbox-store.js";
import { PostgresOutboxStore } from "../src/delivery/postgres-outbox.js";
import { TELEGRAM_LIMITS, type PacingLimits } from "../src/delivery/pacing.js";
import { Sender } from "../src/delivery/sender.js";
import { StoryMessages } from "../src/delivery/story-messages.js";
import { PostgresStoryItems } from "../src/stories/postgres-story-items.js";
import { KeyvStoryItems } from "../src/stories/story-items.js";
import { TelegramBudget } from "../src/delivery/budget.js";
import { SUBSCRIBER_VERSION } from "../src/delivery/subscribers.js";
import type { Item } from "../src/items/item.js";
import { openState, type State } from "../src/state.js";
import { DEFAULT_ARCHIVE_DAYS } from "../src/items/archive.js";
import { closeNamespaces, openNamespaces, sqliteOf, type Namespace } from "../src/store/keyv.js";
import type { Postgres } from "../src/store/postgres.js";
import { benchStore } from "./store.js";
import { startFakeTelegram, type FloodLimitOptions } from "../test/support/fake-telegram.js";

const RUNS = 5;
/** Subscriptions seeded by one statement while a run is set up (each well within the store's deadline). */
const SEED_CHUNK = 50_000;
/** The first chat id seeded. */
const FIRST_CHAT = 10_001;
const NO_PACING: PacingLimits = { perSecond: 100_000, privateIntervalMs: 0, groupIntervalMs: 0 };

interface Scenario {
  name: string;
  chats: number;
  runs: number;
  fake: FloodLimitOptions;
  pacing: PacingLimits;
  /** Sends in flight; default the sender's own. */
  concurrency?: number;
  /** Added to every Bot API call, as the network to Telegram would. */
  latencyMs?: number;
}

const scenarios: Scenario[] = [
  { name: "limits on (TELEGRAM_LIMITS, 29/s)", chats: 3_000, runs: RUNS, fake: {}, pacing: TELEGRAM_LIMITS },
  { name: "limits on, 120 ms latency", chats: 300, runs: 3, fake: {}, pacing: TELEGRAM_LIMITS, latencyMs: 120 },
  { name: "limits off, 32 in flight", chats: 3_000, runs: RUNS, fake: false, pacing: NO_PACING, concurrency: 32 },
  { name: "limits off, 64 in flight", chats: 3_000, runs: RUNS, fake: false, pacing: NO_PACING, concurrency: 64 },
];

// ---- the fake Telegram's process ----

/** What the main thread asks the fake's thread. */
type Request = { id: number; op: "reset"; limits: FloodLimitOptions } | { id: number; op: "stats" } | { id: number; op: "close" };
/** The fake's counters since the last reset. */
interface FakeStats {
  sent: number;
  tooManyRequests: number;
}

async function serveFakeTelegram(): Promise<void> {
  const telegram = await startFakeTelegram();
  process.on("message", async (request: Request) => {
    if (request.op === "reset") {
      telegram.reset();
      telegram.setLimits(request.limits);
    }
    if (request.op === "close") await telegram.close();
    const stats: FakeStats = { sent: telegram.sent.length, tooManyRequests: telegram.floodRejections };
    process.send!({ id: request.id, ...stats });
    if (request.op === "close") process.disconnect();
  });
  process.send!({ apiRoot: telegram.apiRoot, token: telegram.token });
}

/** The engine's handle on the fake in its process. */
class RemoteTelegram {
  private nextId = 0;
  private readonly waiting = new Map<number, (stats: FakeStats) => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly apiRoot: string,
    readonly token: string,
  ) {
    child.on("message", (answer: FakeStats & { id: number }) => this.waiting.get(answer.id)?.(answer));
  }

  static async start(): Promise<RemoteTelegram> {
    const child = fork(fileURLToPath(import.meta.url), ["--fake-telegram"], { execArgv: ["--import", "tsx"] });
    const { apiRoot, token } = await new Promise<{ apiRoot: string; token: string }>((resolve, reject) => {
      child.once("message", resolve as (message: unknown) => void);
      child.once("error", reject);
    });
    return new RemoteTelegram(child, apiRoot, token);
  }

  ask(op: "stats" | "close"): Promise<FakeStats>;
  ask(op: "reset", limits: FloodLimitOptions): Promise<FakeStats>;
  ask(op: Request["op"], limits?: FloodLimitOptions): Promise<FakeStats> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, (stats) => {
        this.waiting.delete(id);
        resolve(stats);
      });
      this.child.send({ id, op, limits });
    });
  }
}

// ---- the engine's thread ----

type Store = Record<Namespace, Keyv>;

interface RunResult {
  /** Messages per second from accepting the item until every delivery is done and durable. */
  rate: number;
  delivered: number;
  tooManyRequests: number;
  progressWrites: number;
  progressWriteMs: number;
  /** Share of the run the engine's event loop was busy. */
  busy: number;
  peakRssMb: number;
  peakHeapMb: number;
}

const item: Item = {
  key: "l:bench-item",
  feedId: "bench",
  source: "Bench News",
  title: "The council votes to widen the harbour pier",
  link: "https://news.example/harbour-pier",
  summary: "Members voted to widen the pier and repair the lighthouse before the winter storms.",
  topics: ["all"],
  categories: [],
  publishedAt: Date.UTC(2026, 0, 1),
  seenAt: Date.UTC(2026, 0, 1),
};

const DAY_MS = 24 * 60 * 60_000;

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Counts and times the outbox's progress writes (setMany of its pages) until `restore`. */
function timeProgressWrites(keyv: Keyv): { writes: number; ms: number; restore: () => void } {
  const setMany = keyv.setMany;
  const counter = { writes: 0, ms: 0, restore: () => void (keyv.setMany = setMany) };
  keyv.setMany = (async (...args: Parameters<Keyv["setMany"]>) => {
    if (!args[0].every(({ key }) => String(key).startsWith("progress:"))) return setMany.apply(keyv, args);
    const started = performance.now();
    try {
      return await setMany.apply(keyv, args);
    } finally {
      counter.writes++;
      counter.ms += performance.now() - started;
    }
  }) as Keyv["setMany"];
  return counter;
}

/** The statement PostgresOutboxStore.saveProgress runs (SAVE_PAGES in src/delivery/postgres-outbox.ts). */
const SAVES_PAGES = /INSERT INTO newswire_job_progress\b/;

/** Counts and times PostgresOutboxStore's progress writes (its upserts of pages) until `restore`. */
function timePostgresProgressWrites(database: Postgres): { writes: number; ms: number; restore: () => void } {
  const query = database.query;
  const counter = { writes: 0, ms: 0, restore: () => void (database.query = query) };
  database.query = (async (...args: Parameters<Postgres["query"]>) => {
    if (!SAVES_PAGES.test(args[0])) return query(...args);
    const started = performance.now();
    try {
      return await query(...args);
    } finally {
      counter.writes++;
      counter.ms += performance.now() - started;
    }
  }) as Postgres["query"];
  return counter;
}

/**
 * `chats` private chats subscribed to "all", replacing every subscription: the rows
 * PostgresSubscribers.subscribe / SqliteSubscribers.subscribe write for `{ chatId, kind: "private" }`
 * (key the chat id's text, record `{"kind":"private"}`), made by the database in a few statements.
 * On SQLite the table's triggers fill the topic index (newswire_subscription_topics), as they do for
 * a subscribe; on PostgreSQL the topics column's GIN index is the topic index.
 */
async function seedSubscribers(store: Store, state: State, chats: number): Promise<void> {
  const since = Date.now();
  if (state.database) {
    const { pool } = state.database;
    await pool.query("TRUNCATE newswire_subscriptions");
    for (let from = 0; from < chats; from += SEED_CHUNK) {
      await pool.query(
        `INSERT INTO newswire_subscriptions (key, chat_id, thread_id, topics, record, since, version)
         SELECT i::text, i, NULL, ARRAY['all']::text[], '{"kind":"private"}'::jsonb, $3::bigint, $4::int
         FROM generate_series($1::bigint, $2::bigint) AS i`,
        [FIRST_CHAT + from, FIRST_CHAT + Math.min(chats, from + SEED_CHUNK) - 1, since, SUBSCRIBER_VERSION],
      );
    }
    // As autovacuum would before long: the fan-out's plan should see the table as it is.
    await pool.query("ANALYZE newswire_subscriptions");
  } else {
    const file = sqliteOf(store)!;
    await file.query("DELETE FROM newswire_subscriptions");
    for (let from = 0; from < chats; from += SEED_CHUNK) {
      await file.query(
        `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
         INSERT INTO newswire_subscriptions (key, chat_id, thread_id, topics, record, since, version)
         SELECT CAST(i AS TEXT), i, NULL, '["all"]', '{"kind":"private"}', ?, ? FROM n`,
        [FIRST_CHAT + from, FIRST_CHAT + Math.min(chats, from + SEED_CHUNK), since, SUBSCRIBER_VERSION],
      );
    }
  }
  const count = await state.subscribers.count();
  if (count !== chats) throw new Error(`${count} subscriptions seeded, not ${chats}`);
}

/** One broadcast over `store` (its outbox is empty between runs: every run finishes its job). */
async function run(telegram: RemoteTelegram, store: Store, state: State, scenario: Scenario, stories: boolean): Promise<RunResult> {
  await telegram.ask("reset", scenario.fake);
  await seedSubscribers(store, state, scenario.chats);
  const { subscribers, outbox, held } = state;
  const progress = state.database ? timePostgresProgressWrites(state.database) : timeProgressWrites(store.outbox);
  const api = new Api(telegram.token, { apiRoot: telegram.apiRoot });
  const latency = scenario.latencyMs;
  if (latency) {
    api.config.use(async (prev, method, payload, signal) => {
      await new Promise((resolve) => setTimeout(resolve, latency));
      return prev(method, payload, signal);
    });
  }
  const sender = new Sender({
    api,
    outbox,
    subscribers,
    logger: pino({ level: "silent" }),
    budget: new TelegramBudget(scenario.pacing),
    ...(scenario.concurrency ? { concurrency: scenario.concurrency } : {}),
    ...(stories
      ? {
          stories: {
            items: state.database ? new PostgresStoryItems(state.database, 4 * DAY_MS) : new KeyvStoryItems(store.stories, 4 * DAY_MS),
            messages: new StoryMessages(store.stories, 4 * DAY_MS, pino({ level: "silent" })),
          },
        }
      : {}),
  });
  const dispatcher = new Dispatcher(subscribers, outbox, held);
  await outbox.startSending(() => sender.deliveriesReady());

  // The seeding's garbage is not the engine's (run with --expose-gc to collect it first).
  globalThis.gc?.();
  let peakRss = process.memoryUsage.rss();
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }, 100);
  try {
    const loop = performance.eventLoopUtilization();
    const started = performance.now();
    await dispatcher.accept([{ item: stories ? { ...item, storyId: item.key } : item, identityKeys: [item.key] }]);
    sender.start();
    await sender.idle();
    const seconds = (performance.now() - started) / 1000;
    const busy = performance.eventLoopUtilization(loop).utilization;
    await sender.stop();
    if (outbox.size.deliveries !== 0) throw new Error(`${outbox.size.deliveries} deliveries left in the outbox`);
    const fake = await telegram.ask("stats");
    return {
      rate: fake.sent / seconds,
      delivered: fake.sent,
      tooManyRequests: fake.tooManyRequests,
      progressWrites: progress.writes,
      progressWriteMs: progress.ms / Math.max(1, progress.writes),
      busy,
      peakRssMb: peakRss / 2 ** 20,
      peakHeapMb: peakHeap / 2 ** 20,
    };
  } finally {
    clearInterval(sampler);
    progress.restore();
  }
}

/**
 * One progress write alone, as `outbox.complete` makes it (one page of the bitset): median ms of
 * 5 × 200. On SQLite a `setMany` of the page into the Keyv outbox namespace; on PostgreSQL
 * PostgresOutboxStore.saveProgress of the page, for a probe job row it needs to exist.
 */
async function progressWriteMs(store: Store, database: Postgres | undefined): Promise<number> {
  const page = Buffer.alloc(PROGRESS_PAGE_BYTES, 0x5a).toString("base64");
  const outbox = database && new PostgresOutboxStore(database);
  const probe = "bench-progress-probe";
  if (database) await database.pool.query(`INSERT INTO newswire_jobs (id, seq, position, version, job) VALUES ($1, 0, 0, 0, '{}'::jsonb)`, [probe]);
  const write = () => (outbox ? outbox.saveProgress(probe, new Map([[0, page]])) : store.outbox.setMany([{ key: "progress:probe:0", value: page }]));
  const rounds: number[] = [];
  try {
    for (let round = 0; round < 5; round++) {
      const started = performance.now();
      for (let n = 0; n < 200; n++) await write();
      rounds.push((performance.now() - started) / 200);
    }
  } finally {
    // Its pages go with it (ON DELETE CASCADE).
    if (database) await database.pool.query("DELETE FROM newswire_jobs WHERE id = $1", [probe]);
    else await store.outbox.delete("progress:probe:0");
  }
  return median(rounds);
}

function report(scenario: Scenario, results: readonly RunResult[]): void {
  const m = (pick: (result: RunResult) => number) => median(results.map(pick));
  const list = (pick: (result: RunResult) => number | string) => results.map(pick).join(", ");
  const ofTelegram = scenario.fake === false ? "" : ` = ${((m((r) => r.rate) / 30) * 100).toFixed(1)} % of 30/s`;
  console.log(`${scenario.name}: ${scenario.chats} chats × ${scenario.runs} runs`);
  console.log(`  ${m((r) => r.rate).toFixed(1)} msg/s median${ofTelegram} (runs: ${list((r) => r.rate.toFixed(1))})`);
  console.log(`  delivered ${list((r) => r.delivered)}; 429s ${list((r) => r.tooManyRequests)}`);
  console.log(
    `  progress writes ${m((r) => r.progressWrites)} (${(scenario.chats / m((r) => r.progressWrites)).toFixed(1)} sends per write, ` +
      `${m((r) => r.progressWriteMs).toFixed(2)} ms each); engine thread busy ${(m((r) => r.busy) * 100).toFixed(0)} %; ` +
      `peak RSS ${m((r) => r.peakRssMb).toFixed(0)} MB (heap in use ${m((r) => r.peakHeapMb).toFixed(0)} MB)`,
  );
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { chats: { type: "string" }, runs: { type: "string" }, store: { type: "string" }, stories: { type: "boolean" } },
  });
  const [filter] = positionals;
  const where = await benchStore(values.store, "newswire-bench-");
  console.log(`store: ${where.label}; stories ${values.stories ? "on: each chat's message of the item recorded" : "off"}`);
  const telegram = await RemoteTelegram.start();
  // One store and one state for every run, as main.ts opens them: opening them is not what is measured here.
  const store = await openNamespaces(where.url);
  const state = await openState(store, [], DEFAULT_ARCHIVE_DAYS * 86_400_000, pino({ level: "silent" }));
  const chosen = scenarios
    .filter(({ name }) => !filter || name.includes(filter))
    .map((scenario) => ({
      ...scenario,
      ...(values.chats ? { chats: Number(values.chats) } : {}),
      ...(values.runs ? { runs: Number(values.runs) } : {}),
    }));
  const results = new Map<Scenario, RunResult[]>(chosen.map((scenario) => [scenario, []]));
  console.log(`load average at start: ${loadavg().map((load) => load.toFixed(2)).join(", ")} (${availableParallelism()} cores)`);
  try {
    // Round robin, so a busy spell on the machine slows runs of every scenario, not all of one.
    for (let index = 0; index < Math.max(...chosen.map(({ runs }) => runs)); index++) {
      for (const scenario of chosen.filter(({ runs }) => runs > index)) {
        const result = await run(telegram, store, state, scenario, values.stories === true);
        results.get(scenario)!.push(result);
        process.stderr.write(`run ${index + 1} of "${scenario.name}": ${result.rate.toFixed(1)} msg/s\n`);
      }
    }
    for (const [scenario, runs] of results) report(scenario, runs);
    const writeMs = await progressWriteMs(store, state.database);
    console.log(
      `one ${where.onPostgres ? "PostgreSQL (newswire_job_progress upsert)" : "SQLite (Keyv setMany)"} progress write alone ` +
        `(a ${PROGRESS_PAGE_BYTES}-byte page, sequential): ${writeMs.toFixed(3)} ms`,
    );
    console.log(`load average at end: ${loadavg().map((load) => load.toFixed(2)).join(", ")}; process maxRSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    await telegram.ask("close");
    await closeNamespaces(store);
    where.cleanup();
  }
}

if (process.argv[2] === "--fake-telegram") await serveFakeTelegram();
else await main();
