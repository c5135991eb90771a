/**
 * Several instances on one PostgreSQL, from outside: real entry points against the loopback Bot API
 * double (Telegram's flood limits on) and feed site, each with an HTTP server of its own. Checked:
 * three instances send an item to 600 chats exactly once at ≤ 30 messages a second; a change of
 * subscription through any instance (webhook mode, updates round-robin) holds for all of them
 * within 2 s; a SIGKILL of the sending instance mid-broadcast is taken over within 10 s with no
 * chat missed and duplicates ≤ the sends in flight; 300 feeds are each fetched once per cycle,
 * spread over the instances, and a killed instance's share is polled by the others next cycle;
 * two instances behind round-robin webhooks answer every update once. Needs TEST_POSTGRES_URL.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import pg from "pg";
import { PostgresSubscribers } from "../../src/delivery/postgres-subscribers.js";
import { migrate, postgres } from "../../src/store/postgres.js";
import { silentLogger } from "../support/builders.js";
import type { FakeTelegram, SentMessage } from "../support/fake-telegram.js";
import { rssXml, type FeedSite, type RssItem } from "../support/feed-site.js";
import { freePort, get, getJson } from "../support/http.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";
import { postgresDatabase, skipWithout, storeServers } from "../support/store-servers.js";

const skip = skipWithout("postgres");
const SECRET = "cluster-secret_42";
const SEND_CONCURRENCY = 4;

/** Resolves once `condition` holds, checking every 50 ms; rejects after `timeoutMs` with `describe()`. */
async function until(condition: () => boolean | Promise<boolean>, describe: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `text` with each instance's last log lines, so a failure in CI shows what the instances did. */
function withLogs(text: string, instances: readonly Instance[]): string {
  const tails = instances.map(({ process, port }) => `--- instance on port ${port}:\n${process.output().trimEnd().split("\n").slice(-12).join("\n")}`);
  return [text, ...tails].join("\n");
}

const story = (n: number): RssItem => ({
  title: `Cluster story ${n} ends here`,
  link: `https://news.example/cluster-${n}`,
  guid: `cluster-${n}`,
  description: `<p>Report number ${n} on the harbour works.</p>`,
  pubDate: new Date(Date.UTC(2026, 0, 1, n)),
});

function publish(site: FeedSite, path: string, items: readonly RssItem[]): void {
  const newestFirst = [...items].sort((a, b) => b.pubDate!.getTime() - a.pubDate!.getTime());
  site.set(path, { body: rssXml({ title: "Harbour News", items: newestFirst }), contentType: "application/rss+xml; charset=utf-8" });
}

const messagesOf = (telegram: FakeTelegram, item: RssItem): SentMessage[] =>
  telegram.sent.filter((message) => message.method === "sendMessage" && message.text.includes(item.title));

function copiesByChat(telegram: FakeTelegram, item: RssItem): Map<number, number> {
  const copies = new Map<number, number>();
  for (const message of messagesOf(telegram, item)) copies.set(message.chat_id, (copies.get(message.chat_id) ?? 0) + 1);
  return copies;
}

/** The most messages of `item` sent within any one second. */
function peakPerSecond(telegram: FakeTelegram, item: RssItem): number {
  const times = messagesOf(telegram, item).map((message) => message.at).sort((a, b) => a - b);
  let peak = 0;
  for (let start = 0, end = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= 1000) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}

/** Subscriptions to `all` for private chats `from`, `from + 1`, …, written as /subscribe would. */
async function seedSubscribers(storeUrl: string, from: number, count: number): Promise<number[]> {
  const pool = new pg.Pool({ connectionString: storeUrl });
  try {
    await migrate(pool, silentLogger);
    const subscribers = new PostgresSubscribers(postgres(pool, {}));
    const chats = Array.from({ length: count }, (_, index) => from + index);
    for (let index = 0; index < chats.length; index += 50) {
      await Promise.all(chats.slice(index, index + 50).map((chatId) => subscribers.subscribe({ chatId, kind: "private" }, ["all"])));
    }
    return chats;
  } finally {
    await pool.end();
  }
}

interface Instance {
  process: NewswireProcess;
  port: number;
}

/** A cluster of newswire processes on one PostgreSQL database, in one loopback world. */
function cluster(name: string) {
  let world: World;
  let running: Instance[] = [];
  before(async () => {
    world = await startWorld(`cluster-${name}`);
  });
  afterEach(async () => {
    await Promise.all(running.map(({ process }) => process.stop("SIGKILL")));
    running = [];
    world.telegram.balance([]);
  });
  after(() => world?.close());

  return {
    world: () => world,
    /** A fresh database for one test. */
    database: (suffix: string) => postgresDatabase(storeServers.postgres!, `newswire_cluster_${name}_${suffix}`),
    /** Starts `count` instances with `env` and waits until each has started. */
    async start(count: number, env: Record<string, string>): Promise<Instance[]> {
      const started = await Promise.all(
        Array.from({ length: count }, async () => {
          const port = await freePort();
          const process = startNewswire(world.env({ PORT: String(port), SEND_CONCURRENCY: String(SEND_CONCURRENCY), ...env }), world.workdir);
          running.push({ process, port });
          return { process, port };
        }),
      );
      await Promise.all(started.map(({ process }) => process.waitForOutput("newswire started", 60_000)));
      return started;
    },
    /** The instances whose /readyz says they send. */
    async senders(instances: readonly Instance[]): Promise<Instance[]> {
      const parts = await Promise.all(
        instances.map(async (instance) => {
          if (instance.process.child.exitCode !== null || instance.process.child.signalCode !== null) return false;
          const { body } = await getJson(instance.port, "/readyz").catch(() => ({ body: {} }));
          return (body as { sending?: boolean }).sending === true;
        }),
      );
      return instances.filter((_, index) => parts[index]);
    },
  };
}

/** How many polls of feeds this instance counts in /metrics (every outcome). */
async function pollsOf(instance: Instance): Promise<number> {
  const { body } = await get(instance.port, "/metrics");
  let total = 0;
  for (const line of body.split("\n")) {
    const match = /^newswire_feed_polls_total\{[^}]*\} (\d+)/.exec(line);
    if (match) total += Number(match[1]);
  }
  return total;
}

describe("three instances on one PostgreSQL", { skip }, () => {
  const c = cluster("three");

  test("an item reaches each of 600 chats exactly once, at ≤ 30 messages a second, with no 429 storm; exactly one instance sends", async (t) => {
    const { telegram, site } = c.world();
    const storeUrl = await c.database("once");
    const chats = await seedSubscribers(storeUrl, 30_001, 600);
    const items = [story(1)];
    publish(site, "/once.xml", items);
    const instances = await c.start(3, { STORE_URL: storeUrl, FEEDS: site.url("/once.xml") });
    await until(async () => (await c.senders(instances)).length === 1, () => "no single sender", 10_000);

    const item = story(2);
    items.push(item);
    publish(site, "/once.xml", items);
    const rejectionsBefore = telegram.floodRejections;
    await until(() => copiesByChat(telegram, item).size === chats.length, () => withLogs(`${copiesByChat(telegram, item).size} of ${chats.length} chats reached`, instances), 90_000);
    await pause(2_000);
    const copies = copiesByChat(telegram, item);
    assert.deepEqual([...copies.entries()].filter(([, count]) => count !== 1), [], "one copy per chat");
    const peak = peakPerSecond(telegram, item);
    const rejections = telegram.floodRejections - rejectionsBefore;
    t.diagnostic(`peak ${peak} messages in one second; ${rejections} 429s`);
    assert.ok(peak <= 30, `peak ${peak}/s`);
    assert.ok(rejections <= 6, `${rejections} 429s`);
    assert.equal((await c.senders(instances)).length, 1, "one sender");
  });

  test("SIGKILL of the sending instance mid-broadcast: another sends within 10 s, every chat gets the item, duplicates ≤ sends in flight", async (t) => {
    const { telegram, site } = c.world();
    const storeUrl = await c.database("failover");
    const chats = await seedSubscribers(storeUrl, 40_001, 600);
    const items = [story(10)];
    publish(site, "/failover.xml", items);
    const instances = await c.start(3, { STORE_URL: storeUrl, FEEDS: site.url("/failover.xml") });
    await until(async () => (await c.senders(instances)).length === 1, () => "no single sender", 10_000);
    const [sender] = await c.senders(instances);

    const item = story(11);
    items.push(item);
    publish(site, "/failover.xml", items);
    await telegram.waitFor((message) => message.text.includes(item.title), { count: 150, timeoutMs: 30_000 });
    sender!.process.child.kill("SIGKILL");
    await sender!.process.exited;
    const killedAt = Date.now();
    const sentBefore = messagesOf(telegram, item).length;
    await until(() => messagesOf(telegram, item).some((message) => message.at > killedAt), () => "nothing sent after the SIGKILL", 10_000);
    const takeover = Math.min(...messagesOf(telegram, item).filter((message) => message.at > killedAt).map((message) => message.at)) - killedAt;
    await until(() => copiesByChat(telegram, item).size === chats.length, () => `${copiesByChat(telegram, item).size} of ${chats.length} chats reached`, 90_000);
    await pause(2_000);
    const duplicates = [...copiesByChat(telegram, item).values()].reduce((sum, count) => sum + count - 1, 0);
    t.diagnostic(`${sentBefore} sent before the SIGKILL; first send after it ${takeover} ms later; ${duplicates} duplicate(s)`);
    assert.ok(takeover <= 10_000, `took over after ${takeover} ms`);
    assert.ok(duplicates <= SEND_CONCURRENCY, `${duplicates} duplicates`);
    const survivors = instances.filter((instance) => instance !== sender);
    assert.equal((await c.senders(survivors)).length, 1, "one of the others sends now");
  });

  test("300 feeds: each fetched once per cycle, spread over the instances; a killed instance's share is polled by the others the next cycle", async (t) => {
    const { site, workdir } = c.world();
    const storeUrl = await c.database("feeds");
    const paths = Array.from({ length: 300 }, (_, index) => `/spread-${index}.xml`);
    for (const path of paths) publish(site, path, []);
    const config = join(workdir, "cluster-feeds.yaml");
    writeFileSync(config, `feeds:\n${paths.map((path) => `  - url: ${site.url(path)}\n`).join("")}`);
    const cron = 4_000;
    const instances = await c.start(3, { STORE_URL: storeUrl, CONFIG_FILE: config, POLL_CRON: "*/4 * * * * *" });

    /** Fetches of each feed within [from, to). */
    const fetches = (from: number, to: number) => paths.map((path) => site.requests(path).filter((request) => request.at >= from && request.at < to).length);
    /** The start of the cycle after now, as the cron schedules it. */
    const nextTick = () => Math.ceil((Date.now() + 1) / cron) * cron;

    // Two whole cycles after every instance is up: each feed once per cycle.
    let tick = nextTick();
    await pause(tick - Date.now() + 3 * cron);
    for (const cycle of [tick, tick + cron]) {
      const counts = fetches(cycle, cycle + cron);
      assert.deepEqual(counts.filter((count) => count !== 1).length, 0, `feeds not fetched exactly once in the cycle of ${new Date(cycle).toISOString()}: ${JSON.stringify(counts)}`);
    }
    const shares = await Promise.all(instances.map(pollsOf));
    t.diagnostic(`polls per instance: ${shares.join(", ")}`);
    assert.ok(shares.every((share) => share > 0), `every instance polls: ${shares.join(", ")}`);

    // One is killed; from the next cycle on the other two poll every feed once.
    instances[0]!.process.child.kill("SIGKILL");
    await instances[0]!.process.exited;
    tick = nextTick();
    await pause(tick - Date.now() + 2 * cron);
    const counts = fetches(tick, tick + cron);
    assert.deepEqual(counts.filter((count) => count !== 1).length, 0, `after the kill: ${JSON.stringify(counts)}`);
  });
});

describe("webhook mode with several instances on one PostgreSQL", { skip }, () => {
  const c = cluster("webhook");

  /** Instances in webhook mode, the double's webhook posting to each in turn. */
  async function webhookInstances(count: number, env: Record<string, string>): Promise<Instance[]> {
    const { telegram } = c.world();
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    const urls = ports.map((port) => `http://127.0.0.1:${port}/telegram`);
    telegram.balance(urls);
    // WEBHOOK_URL is the public address every instance shares (a load balancer's); each serves its path.
    const started = await Promise.all(
      ports.map(async (port) => {
        const process = startNewswire(c.world().env({ PORT: String(port), WEBHOOK_URL: urls[0]!, WEBHOOK_SECRET: SECRET, ...env }), c.world().workdir);
        return { process, port };
      }),
    );
    await Promise.all(started.map(({ process }) => process.waitForOutput("newswire started", 60_000)));
    return started;
  }

  test("/unsubscribe through any instance stops deliveries from all within 2 s; /subscribe starts them", async () => {
    const { telegram, site } = c.world();
    const storeUrl = await c.database("changes");
    const items = [story(20)];
    publish(site, "/changes.xml", items);
    const instances = await webhookInstances(3, { STORE_URL: storeUrl, FEEDS: site.url("/changes.xml") });
    try {
      const reader = 50_001;
      const control = 50_002;
      for (const chat of [reader, control]) {
        telegram.sendText(chat, "/subscribe all");
        await telegram.waitFor((message) => message.chat_id === chat && /Subscribed to all/.test(message.text), { timeoutMs: 10_000 });
      }
      const first = story(21);
      items.push(first);
      publish(site, "/changes.xml", items);
      await until(() => copiesByChat(telegram, first).size === 2, () => withLogs("both chats get the first item", instances), 20_000);

      telegram.sendText(reader, "/unsubscribe all");
      await telegram.waitFor((message) => message.chat_id === reader && /nsubscribed/.test(message.text), { timeoutMs: 10_000 });
      await pause(2_000);
      const second = story(22);
      items.push(second);
      publish(site, "/changes.xml", items);
      await until(() => copiesByChat(telegram, second).has(control), () => withLogs("the control chat gets the second item", instances), 20_000);
      await pause(1_500);
      assert.equal(copiesByChat(telegram, second).has(reader), false, "the unsubscribed chat got nothing");

      telegram.sendText(reader, "/subscribe all");
      await telegram.waitFor((message) => message.chat_id === reader && /Subscribed to all/.test(message.text), { count: 2, timeoutMs: 10_000 });
      await pause(2_000);
      const third = story(23);
      items.push(third);
      publish(site, "/changes.xml", items);
      await until(() => copiesByChat(telegram, third).size === 2, () => withLogs("both chats get the third item", instances), 20_000);
      const answeredBy = new Set(telegram.webhookDeliveries.filter((delivery) => delivery.status === 200).map((delivery) => delivery.url));
      assert.equal(answeredBy.size, 3, `updates went to every instance: ${[...answeredBy].join(", ")}`);
    } finally {
      await Promise.all(instances.map(({ process }) => process.stop("SIGKILL")));
    }
  });

  test("two instances behind round-robin answer every update once; a wrong secret gets 401", async () => {
    const { telegram, site } = c.world();
    const storeUrl = await c.database("roundrobin");
    publish(site, "/rr.xml", []);
    const instances = await webhookInstances(2, { STORE_URL: storeUrl, FEEDS: site.url("/rr.xml") });
    try {
      const users = Array.from({ length: 20 }, (_, index) => 60_001 + index);
      for (const chat of users) telegram.sendText(chat, "/help");
      await until(() => users.every((chat) => telegram.sent.some((message) => message.chat_id === chat)), () => "every /help answered", 20_000);
      await pause(1_000);
      for (const chat of users) assert.equal(telegram.sent.filter((message) => message.chat_id === chat).length, 1, `chat ${chat}: one answer`);
      const byInstance = instances.map(({ port }) => telegram.webhookDeliveries.filter((delivery) => delivery.url.includes(`:${port}/`) && delivery.status === 200).length);
      assert.deepEqual(byInstance, [10, 10], "round-robin: each instance answered half");

      const update = { update_id: 999_999, message: { message_id: 1, date: 0, chat: { id: 60_999, type: "private" as const, first_name: "Mallory" }, from: { id: 60_999, is_bot: false, first_name: "Mallory" }, text: "/help" } };
      assert.equal(await telegram.postToWebhook(update, "wrong-secret"), 401);
      assert.equal(await telegram.postToWebhook(update, undefined), 401);
    } finally {
      await Promise.all(instances.map(({ process }) => process.stop("SIGKILL")));
    }
  });
});
