/**
 * Polling throughput of 1, 2 and 3 instances on one PostgreSQL: real entry points (src/main.ts as
 * child processes) against 3,000 loopback feeds of 20 items each, all on one database, the Bot API
 * double answering. Measured per run: the baseline cycle (every feed read in full, parsed and
 * recorded; it starts as the instances start) and then one steady cycle (a tick of POLL_CRON;
 * every feed answered 304 to its conditional GET): the time from its first feed request to the
 * last, and feeds per second. Also: how the feeds were spread (polls per instance from /metrics)
 * and whether any feed was fetched twice in one cycle. Runs go round robin (1, 2, 3, 1, 2, 3, …)
 * so that the machine's load hits all; medians are reported with their ratio to one instance.
 * The machine's cores are shared by the instances, PostgreSQL and this process (the feed site):
 * on 2 cores the ratio shows how much the claims cost and spread, not what more machines give.
 *
 * Needs a PostgreSQL: TEST_POSTGRES_URL (as the tests). Run: node --import tsx bench/instances.ts [--runs N] [--feeds N]
 */
import { writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { rssXml, type RssItem } from "../test/support/feed-site.js";
import { freePort, get } from "../test/support/http.js";
import { startNewswire, startWorld, type NewswireProcess } from "../test/support/newswire-process.js";
import { postgresDatabase } from "../test/support/store-servers.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, feeds: { type: "string", default: "3000" } } });
const RUNS = Number(values.runs);
const FEEDS = Number(values.feeds);
const ITEMS_PER_FEED = 20;
const COUNTS = [1, 2, 3];
/** Steady cycles start on these ticks; long enough for one instance to poll every feed answered 304. */
const CRON_SECONDS = 15;

const base = process.env.TEST_POSTGRES_URL;
if (!base) {
  console.log("bench/instances: set TEST_POSTGRES_URL to a PostgreSQL server (e.g. postgres://postgres@127.0.0.1:5440/postgres); skipped");
  process.exit(0);
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function pollsOf(port: number): Promise<number> {
  const { body } = await get(port, "/metrics");
  let total = 0;
  for (const line of body.split("\n")) {
    const match = /^newswire_feed_polls_total\{[^}]*\} (\d+)/.exec(line);
    if (match) total += Number(match[1]);
  }
  return total;
}

interface Run {
  instances: number;
  baselineSeconds: number;
  steadySeconds: number;
  shares: number[];
  doubleFetches: number;
  /** When the run's phases came, for whoever wonders where its time goes. */
  phases: string;
}

async function run(instances: number, index: number): Promise<Run> {
  const world = await startWorld(`bench-instances-${instances}`);
  const running: NewswireProcess[] = [];
  try {
    const paths = Array.from({ length: FEEDS }, (_, feed) => `/feed-${feed}.xml`);
    paths.forEach((path, feed) => {
      const items: RssItem[] = Array.from({ length: ITEMS_PER_FEED }, (_, item) => ({
        title: `Feed ${feed} story ${item} on the harbour works`,
        link: `https://news.example/${feed}/${item}`,
        guid: `${feed}-${item}`,
        description: `<p>Report ${item} of feed ${feed}: the harbour works go on.</p>`,
        pubDate: new Date(Date.UTC(2026, 0, 1, item)),
      }));
      world.site.set(path, { body: rssXml({ title: `Feed ${feed}`, items }), contentType: "application/rss+xml; charset=utf-8" });
    });
    const config = join(world.workdir, "newswire.yaml");
    writeFileSync(config, `feeds:\n${paths.map((path) => `  - url: ${world.site.url(path)}\n`).join("")}`);
    const began = Date.now();
    const storeUrl = await postgresDatabase(base!, `newswire_bench_instances_${index}`);
    const ports = await Promise.all(Array.from({ length: instances }, () => freePort()));
    const started = Date.now();
    for (const port of ports) {
      running.push(
        startNewswire(world.env({ STORE_URL: storeUrl, CONFIG_FILE: config, PORT: String(port), POLL_CRON: `*/${CRON_SECONDS} * * * * *`, LOG_LEVEL: "warn" }), world.workdir),
      );
    }
    const requestsIn = (from: number, to: number) => paths.map((path) => world.site.requests(path).filter(({ at }) => at >= from && at < to));
    const fetchedAll = (from: number, to: number) => requestsIn(from, to).every((requests) => requests.length > 0);

    // The baseline: the polls at start.
    await until(() => fetchedAll(started, Number.POSITIVE_INFINITY), "the baseline cycle", 600_000);
    const baseline = requestsIn(started, Number.POSITIVE_INFINITY).map((requests) => requests[0]!.at);
    const baselineSeconds = (Math.max(...baseline) - Math.min(...baseline)) / 1000;

    // A steady cycle: ticks during the baseline polled the feeds it had done, so the backlog is
    // gone two ticks after it.
    const cron = CRON_SECONDS * 1000;
    const tick = Math.ceil((Math.max(...baseline) + 1) / cron) * cron + 2 * cron;
    await until(() => Date.now() > tick && fetchedAll(tick, tick + cron), "a steady cycle", cron + 600_000);
    const steady = requestsIn(tick, tick + cron);
    const steadyTimes = steady.map((requests) => requests[0]!.at);
    const steadySeconds = (Math.max(...steadyTimes) - tick) / 1000;
    const doubleFetches = steady.filter((requests) => requests.length > 1).length;
    const shares = await Promise.all(ports.map(pollsOf));
    const phases = `first fetch ${((Math.min(...baseline) - began) / 1000).toFixed(0)} s after the run began, steady cycle done ${((Date.now() - began) / 1000).toFixed(0)} s after`;
    return { instances, baselineSeconds, steadySeconds, shares, doubleFetches, phases };
  } finally {
    await Promise.all(running.map((process) => process.stop("SIGTERM")));
    await world.close();
  }
}

console.log(`bench/instances: ${FEEDS} feeds × ${ITEMS_PER_FEED} items, ${RUNS} runs per count; ${availableParallelism()} cores, load ${loadavg().map((load) => load.toFixed(2)).join(", ")}`);
const results: Run[] = [];
let index = 0;
for (let round = 0; round < RUNS; round++) {
  for (const instances of COUNTS) {
    const result = await run(instances, index++);
    results.push(result);
    console.log(
      `  ${instances} instance(s): baseline ${result.baselineSeconds.toFixed(1)} s, steady cycle ${result.steadySeconds.toFixed(1)} s, polls per instance ${result.shares.join("/")}, feeds fetched twice in the steady cycle: ${result.doubleFetches} (${result.phases})`,
    );
  }
}
const medians = COUNTS.map((instances) => {
  const of = results.filter((result) => result.instances === instances);
  return { instances, baseline: median(of.map((result) => result.baselineSeconds)), steady: median(of.map((result) => result.steadySeconds)) };
});
const [one] = medians;
console.log("\nmedians (feeds/s; ratio to one instance):");
for (const { instances, baseline, steady } of medians) {
  console.log(
    `  ${instances}: baseline ${(FEEDS / baseline).toFixed(0)} feeds/s (×${(one!.baseline / baseline).toFixed(2)}), steady ${(FEEDS / steady).toFixed(0)} feeds/s (×${(one!.steady / steady).toFixed(2)})`,
  );
}
