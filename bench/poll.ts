/**
 * Poll cycle cost: 2,000 loopback feeds of 50 items each, 90 % unchanged (answered 304 to the
 * conditional GET) and 10 % changed (5 new items each) per cycle, polled by the real Poller and
 * pollFeed over a temporary SQLite store, or the PostgreSQL database BENCH_STORE_URL names, as
 * main.ts builds them: openNamespaces, then openState (on PostgreSQL the schema migrated,
 * PostgresRecent, PostgresItemClaims behind the seen items, and the Poller on the shared
 * PostgresPollSchedule, claiming its feeds per cycle; on SQLite RecentItems in memory and the sole
 * schedule), the store's epoch checked before each cycle. Delivery is a no-op dispatcher
 * (what is measured is ingestion: fetch, decode, parse, identity, seen memory, summaries, topics,
 * recent items, feed state).
 *
 * The feed site runs in a child process, so `process.cpuUsage()` counts the poller's work only
 * (its thread, libuv's pool with the SQLite work, and the garbage collector). One baseline cycle
 * (every feed read in full and recorded) comes first; then 5 measured cycles, reported as medians:
 * feeds/s, CPU seconds per cycle, and the process's peak RSS with the heap in use beside it (run
 * with --expose-gc for the live heap after a full GC too). The CPU a cycle of 10,000 feeds
 * would take is extrapolated linearly.
 *
 * BENCH_STORIES=1 gives new items their stories as main.ts does with STORIES on (the default):
 * the story index in memory, the items stored for the sender.
 *
 * Run: node --expose-gc --import tsx bench/poll.ts [FEED_CONCURRENCY, default 8]
 * Larger: BENCH_FEEDS, BENCH_ITEMS (per feed) and BENCH_CYCLES replace 2,000, 50 and 5, e.g.
 * `BENCH_FEEDS=100000 BENCH_ITEMS=10 BENCH_CYCLES=3` for 100,000 feeds against the 5-minute cycle.
 * On PostgreSQL: BENCH_STORE_URL=postgres://… (that database emptied of newswire's tables first:
 * every `newswire_…` table, Keyv's namespaces and the migrations' record), e.g.
 * `BENCH_STORE_URL=postgres://postgres@127.0.0.1:5440/bench BENCH_FEEDS=5000 node --expose-gc --import tsx bench/poll.ts`.
 */
import { fork } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import type { FeedDefinition } from "../src/config/catalog.js";
import type { Dispatcher } from "../src/delivery/dispatch.js";
import { addressPolicy } from "../src/feeds/address-policy.js";
import { cycleOf } from "../src/poller/poll-schedule.js";
import { Poller } from "../src/poller/poller.js";
import { PostgresPollSchedule } from "../src/poller/postgres-poll-schedule.js";
import { openState } from "../src/state.js";
import { DEFAULT_ARCHIVE_DAYS } from "../src/items/archive.js";
import { PostgresStoryItems } from "../src/stories/postgres-story-items.js";
import { Stories } from "../src/stories/stories.js";
import { KeyvStoryItems } from "../src/stories/story-items.js";
import { closeNamespaces, openNamespaces } from "../src/store/keyv.js";
import { compileTopics } from "../src/topics/topics.js";
import { rssXml, startFeedSite, type RssItem } from "../test/support/feed-site.js";
import { benchStore } from "./store.js";

const FEEDS = Number(process.env.BENCH_FEEDS ?? 2_000);
const ITEMS_PER_FEED = Number(process.env.BENCH_ITEMS ?? 50);
/** Every cycle, one feed in this many changes. */
const CHANGED_ONE_IN = 10;
const NEW_ITEMS_PER_CHANGE = 5;
const MEASURED_CYCLES = Number(process.env.BENCH_CYCLES ?? 5);
const TARGET_FEEDS = 10_000;
const TARGET_CPU_SECONDS = 300;

/** Messages between the bench and its site process. */
type ToSite = { op: "change"; cycle: number } | { op: "close" };
type FromSite = { op: "ready"; origin: string } | { op: "changed"; feeds: number };

const TOPICS = [
  { id: "harbour", title: "Harbour", keywords: ["harbour", "ferry", "pier"], categories: ["Port"], exclude: [] },
  { id: "weather", title: "Weather", keywords: ["storm", "rain", "wind"], categories: [], exclude: ["forecast model"] },
  { id: "council", title: "Council", keywords: ["council", "vote", "mayor"], categories: ["Politics"], exclude: [] },
];

// ---- the site's process ----

function story(feed: number, n: number): RssItem {
  return {
    title: `Feed ${feed} story ${n}: the council votes on the harbour ferry timetable`,
    link: `https://site${feed}.example/news/${n}?utm_source=rss`,
    guid: `feed-${feed}-story-${n}`,
    description:
      `<p>The <b>council</b> met on day ${n} to discuss the harbour. Members voted to widen the pier and repair the lighthouse, ` +
      `after a storm in the spring left the old ferry landing unsafe. The mayor said the work would start in the autumn.</p>` +
      `<p>Residents asked about the cost; the harbour master said the port would cover half of it from fees.</p>`,
    pubDate: new Date(Date.UTC(2026, 0, 1) + n * 60_000),
    categories: ["Port", "Politics"],
  };
}

async function serveSite(): Promise<void> {
  const site = await startFeedSite();
  const newest = new Array<number>(FEEDS).fill(ITEMS_PER_FEED);
  const publish = (feed: number) => {
    const items = Array.from({ length: ITEMS_PER_FEED }, (_, k) => story(feed, newest[feed]! - k));
    site.set(`/feed/${feed}.xml`, { body: rssXml({ title: `Site ${feed}`, items }) });
  };
  for (let feed = 0; feed < FEEDS; feed++) publish(feed);
  const send = (message: FromSite) => process.send!(message);
  process.on("message", async (message: ToSite) => {
    if (message.op === "close") {
      await site.close();
      process.exit(0);
    }
    let changed = 0;
    for (let feed = message.cycle % CHANGED_ONE_IN; feed < FEEDS; feed += CHANGED_ONE_IN) {
      newest[feed]! += NEW_ITEMS_PER_CHANGE;
      publish(feed);
      changed++;
    }
    send({ op: "changed", feeds: changed });
  });
  send({ op: "ready", origin: site.origin });
}

// ---- the bench ----

interface Cycle {
  seconds: number;
  cpuSeconds: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function bench(concurrency: number): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ["site"], { execArgv: ["--import", "tsx"] });
  const next = () => new Promise<FromSite>((resolve) => child.once("message", (message: FromSite) => resolve(message)));
  const ready = await next();
  if (ready.op !== "ready") throw new Error("the site did not start");

  const where = await benchStore(process.env.BENCH_STORE_URL || undefined, "newswire-bench-poll-");
  const store = await openNamespaces(where.url);
  const feeds: FeedDefinition[] = Array.from({ length: FEEDS }, (_, feed) => ({
    id: `feed-${feed}`,
    url: `${ready.origin}/feed/${feed}.xml`,
    topics: [],
    fulltext: false,
  }));
  const logger = pino({ level: "silent" });
  const state = await openState(store, feeds, DEFAULT_ARCHIVE_DAYS * 86_400_000, logger);
  const { database, epoch } = state;
  const keptMs = 4 * 24 * 60 * 60_000;
  const stories =
    process.env.BENCH_STORIES === "1"
      ? await Stories.open({
          recent: state.recent,
          items: database ? new PostgresStoryItems(database, keptMs) : new KeyvStoryItems(store.stories, keptMs),
          logger,
          windowMs: keptMs / 2,
        })
      : undefined;
  let accepted = 0;
  let epochLost = 0;
  const poller = new Poller(
    feeds,
    {
      feedStates: state.feedStates,
      seen: state.seen,
      recent: state.recent,
      dispatcher: {
        async accept(items: readonly unknown[]) {
          accepted += items.length;
          return 0;
        },
      } as unknown as Dispatcher,
      topics: compileTopics(TOPICS),
      logger,
      fetch: { timeoutMs: 15_000, maxBytes: 10 * 1024 * 1024 },
      addressPolicy: addressPolicy(feeds.map((feed) => feed.url), false),
      alerts: { afterFailures: 5, notify: async () => undefined },
      ...(stories ? { stories } : {}),
    },
    concurrency,
    {
      // main.ts's epochCheck as long as the store is intact (one read of the marker a cycle); a
      // lost store would be rebaselined there: here it is counted, and the cycle skipped.
      beforeCycle: async () => (await epoch.intact()) || (epochLost++, false),
      ...(database ? { schedule: new PostgresPollSchedule(database) } : {}),
    },
  );

  // A cycle is named by its tick to the second; the shared schedule claims a feed once per cycle,
  // so back-to-back cycles (no cron here) each get a later one.
  let lastCycle = 0;
  const cycle = async (): Promise<Cycle> => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    lastCycle = Math.max(cycleOf(new Date()), lastCycle + 1000);
    await poller.pollDue(lastCycle);
    if (epochLost > 0) throw new Error("the store's epoch marker is gone: the cycle was skipped");
    const used = process.cpuUsage(cpu);
    return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
  };

  console.log(`store: ${where.label}; stories ${stories ? "on" : "off"}`);
  console.log(`load average at start: ${loadavg().map((load) => load.toFixed(2)).join(", ")} (${availableParallelism()} cores)`);
  console.log(`${FEEDS} feeds × ${ITEMS_PER_FEED} items, ${100 / CHANGED_ONE_IN} % changed per cycle (${NEW_ITEMS_PER_CHANGE} new items each), FEED_CONCURRENCY ${concurrency}`);
  const baseline = await cycle();
  console.log(`baseline cycle (every feed read in full, ${FEEDS * ITEMS_PER_FEED} items recorded): ${baseline.seconds.toFixed(1)} s, ${baseline.cpuSeconds.toFixed(1)} CPU s`);

  // The steady cycles' own peak: the baseline's is the lifetime peak's.
  let steadyRss = 0;
  let steadyHeap = 0;
  const sampler = setInterval(() => {
    steadyRss = Math.max(steadyRss, process.memoryUsage.rss());
    steadyHeap = Math.max(steadyHeap, process.memoryUsage().heapUsed);
  }, 250);
  const cycles: Cycle[] = [];
  for (let n = 1; n <= MEASURED_CYCLES; n++) {
    child.send({ op: "change", cycle: n } satisfies ToSite);
    const changed = await next();
    const before = accepted;
    const result = await cycle();
    cycles.push(result);
    const changedFeeds = changed.op === "changed" ? changed.feeds : 0;
    // On the shared schedule, that every feed was claimed (and so polled) this cycle: outside the cycle's time.
    const claimed = database
      ? `, ${(await database.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM newswire_poll_schedule WHERE cycle = $1", [lastCycle])).rows[0]!.n} feeds claimed`
      : "";
    console.log(
      `cycle ${n}: ${result.seconds.toFixed(2)} s, ${(FEEDS / result.seconds).toFixed(0)} feeds/s, ${result.cpuSeconds.toFixed(2)} CPU s, ` +
        `${changedFeeds} feeds changed, ${accepted - before} new items${claimed}`,
    );
  }

  clearInterval(sampler);
  const seconds = median(cycles.map((c) => c.seconds));
  const cpuSeconds = median(cycles.map((c) => c.cpuSeconds));
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const projectedCpu = (cpuSeconds * TARGET_FEEDS) / FEEDS;
  console.log(`\nmedian of ${MEASURED_CYCLES} cycles: ${(FEEDS / seconds).toFixed(0)} feeds/s, ${seconds.toFixed(2)} s wall, ${cpuSeconds.toFixed(2)} CPU s per cycle`);
  // With --expose-gc: what stays alive between cycles, against what the heap grew to in them.
  globalThis.gc?.();
  const live = globalThis.gc ? `, live heap after a full GC ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MB` : "";
  console.log(
    `CPU per feed: ${((cpuSeconds / FEEDS) * 1000).toFixed(2)} ms; peak RSS ${peakRssMb.toFixed(0)} MB ` +
      `(in the steady cycles: ${(steadyRss / 2 ** 20).toFixed(0)} MB, heap in use up to ${(steadyHeap / 2 ** 20).toFixed(0)} MB${live})`,
  );
  console.log(
    `${TARGET_FEEDS} feeds: about ${projectedCpu.toFixed(1)} CPU s per cycle (target under ${TARGET_CPU_SECONDS} s of one core): ` +
      (projectedCpu < TARGET_CPU_SECONDS ? "holds" : "does NOT hold"),
  );

  console.log(`load average at end: ${loadavg().map((load) => load.toFixed(2)).join(", ")}`);

  child.send({ op: "close" } satisfies ToSite);
  await state.recent.flush();
  await closeNamespaces(store).catch(() => undefined);
  where.cleanup();
}

if (process.argv[2] === "site") await serveSite();
else await bench(Number(process.argv[2] ?? 8));
