import { describe, mock, test } from "node:test";
import assert from "node:assert/strict";
import { Api } from "grammy";
import { Metrics, queueReading } from "../../src/metrics/metrics.js";
import { guardAdapter, StoreError } from "../../src/store/guard.js";
import { startFakeTelegram } from "../support/fake-telegram.js";
import { flakyKeyv } from "../support/flaky-store.js";

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
async function sample(metrics: Metrics, line: string): Promise<number | undefined> {
  const { body } = await metrics.exposition();
  const found = body.split("\n").find((text) => text.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe("Metrics", () => {
  test("poll counts, durations, items and cycles, with Node's default metrics, in Prometheus text", async () => {
    const metrics = new Metrics();
    metrics.polled("ok", 0.2);
    metrics.polled("ok", 0.3);
    metrics.polled("failed", 15);
    metrics.accepted(3, true);
    metrics.accepted(0, false);
    metrics.accepted(2, false);
    metrics.cycleCompleted(Date.UTC(2026, 0, 1));
    const { contentType, body } = await metrics.exposition();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    assert.equal(await sample(metrics, 'newswire_feed_polls_total{outcome="ok"}'), 2);
    assert.equal(await sample(metrics, 'newswire_feed_polls_total{outcome="failed"}'), 1);
    assert.equal(await sample(metrics, 'newswire_feed_poll_duration_seconds_bucket{le="0.25",outcome="ok"}'), 1);
    assert.equal(await sample(metrics, 'newswire_feed_poll_duration_seconds_sum{outcome="failed"}'), 15);
    assert.equal(await sample(metrics, 'newswire_items_accepted_total{baseline="true"}'), 3);
    assert.equal(await sample(metrics, 'newswire_items_accepted_total{baseline="false"}'), 2);
    assert.equal(await sample(metrics, "newswire_poll_cycles_total"), 1);
    assert.equal(await sample(metrics, "newswire_last_poll_cycle_timestamp_seconds"), Date.UTC(2026, 0, 1) / 1000);
    assert.match(body, /^process_resident_memory_bytes \d+/m);
  });

  test("two instances keep separate registries", async () => {
    const one = new Metrics();
    const two = new Metrics();
    one.polled("ok", 1);
    assert.equal(await sample(one, 'newswire_feed_polls_total{outcome="ok"}'), 1);
    assert.equal(await sample(two, 'newswire_feed_polls_total{outcome="ok"}'), undefined);
  });

  test("the queue is read at each scrape: depth and the oldest delivery's age", async () => {
    let now = 100_000;
    const metrics = new Metrics(() => now);
    assert.equal(await sample(metrics, "newswire_queued_deliveries"), 0, "nothing observed yet");
    const jobs = [{ createdAt: 40_000 }, { createdAt: 10_000 }, { createdAt: 70_000 }];
    let deliveries = 12;
    metrics.observeQueue(() => queueReading({ size: { jobs: jobs.length, deliveries }, openJobs: () => jobs as never }));
    assert.equal(await sample(metrics, "newswire_queued_deliveries"), 12);
    assert.equal(await sample(metrics, "newswire_oldest_queued_delivery_age_seconds"), 90);
    jobs.length = 0;
    deliveries = 0;
    now = 200_000;
    assert.equal(await sample(metrics, "newswire_queued_deliveries"), 0);
    assert.equal(await sample(metrics, "newswire_oldest_queued_delivery_age_seconds"), 0);
  });

  test("the Telegram budget's 429s and expired waits, read at each scrape", async () => {
    const metrics = new Metrics();
    assert.equal(await sample(metrics, "newswire_budget_429_total"), 0, "nothing observed yet");
    const stats = { granted: { reply: 5, alert: 1, broadcast: 9 }, tooManyRequests: 2, expired: 1 };
    metrics.observeBudget(() => stats);
    assert.equal(await sample(metrics, "newswire_budget_429_total"), 2);
    assert.equal(await sample(metrics, "newswire_budget_expired_total"), 1);
    stats.tooManyRequests = 7;
    assert.equal(await sample(metrics, "newswire_budget_429_total"), 7);
  });

  test("store calls that fail or time out, each counted once by namespace", async (t) => {
    const metrics = new Metrics();
    const reporting = { failed: (namespace: string) => metrics.storeFailed(namespace) };
    const seen = flakyKeyv("seen", reporting);
    const outbox = flakyKeyv("outbox", reporting);
    seen.flaky.readsFail = true;
    for (let read = 0; read < 3; read++) await assert.rejects(seen.keyv.get(`key${read}`), StoreError);
    for (let read = 0; read < 3; read++) await assert.rejects(seen.keyv.getMany([`a${read}`, `b${read}`]), StoreError);
    outbox.flaky.writesFail = true;
    await assert.rejects(outbox.keyv.set("job", 1), StoreError);
    await outbox.keyv.get("job");
    assert.equal(await sample(metrics, 'newswire_store_errors_total{namespace="seen"}'), 6, "six failed reads, none emitted by Keyv");
    assert.equal(await sample(metrics, 'newswire_store_errors_total{namespace="outbox"}'), 1, "one failed write; the read that worked is not counted");

    // A call that never answers counts once its deadline passes.
    mock.timers.enable({ apis: ["setTimeout"] });
    t.after(() => mock.timers.reset());
    const hanging = guardAdapter({ get: () => new Promise(() => undefined) }, "feeds", reporting, 1_000);
    const call = assert.rejects(hanging.get(), /timed out/);
    mock.timers.tick(1_000);
    await call;
    assert.equal(await sample(metrics, 'newswire_store_errors_total{namespace="feeds"}'), 1);
  });

  test("Telegram's answers through the API transformer: sends by outcome and every 429", async () => {
    const fake = await startFakeTelegram({ limits: { globalPerSecond: Infinity, perChatPerSecond: 1, groupPerMinute: Infinity } });
    try {
      const metrics = new Metrics();
      const api = new Api(fake.token, { apiRoot: fake.apiRoot });
      api.config.use(metrics.telegramCalls());
      await api.sendMessage(1, "one");
      await assert.rejects(api.sendMessage(1, "too soon"), /429/);
      fake.blockChat(2);
      await assert.rejects(api.sendMessage(2, "blocked"), /403/);
      await assert.rejects(api.sendMessage(3, "<b>broken", { parse_mode: "HTML" }), /400/);
      fake.failNext("getMe", { error_code: 429, description: "Too Many Requests: retry after 1", parameters: { retry_after: 1 } });
      await assert.rejects(api.getMe(), /429/);
      fake.failNext("sendMessage", { error_code: 502, description: "Bad Gateway" });
      await assert.rejects(api.sendMessage(4, "gateway"), /502/);
      assert.equal(await sample(metrics, 'newswire_telegram_sends_total{outcome="sent"}'), 1);
      assert.equal(await sample(metrics, 'newswire_telegram_sends_total{outcome="flood"}'), 1);
      assert.equal(await sample(metrics, 'newswire_telegram_sends_total{outcome="blocked"}'), 1);
      assert.equal(await sample(metrics, 'newswire_telegram_sends_total{outcome="rejected"}'), 1);
      assert.equal(await sample(metrics, 'newswire_telegram_sends_total{outcome="failed"}'), 1);
      assert.equal(await sample(metrics, "newswire_telegram_429_total"), 2, "getMe's 429 counts too");

      // Telegram unreachable: a network error is a failed send.
      const unreachable = new Api(fake.token, { apiRoot: "http://127.0.0.1:1" });
      unreachable.config.use(metrics.telegramCalls());
      await assert.rejects(unreachable.sendMessage(5, "nowhere"));
      assert.equal(await sample(metrics, 'newswire_telegram_sends_total{outcome="failed"}'), 2);
    } finally {
      await fake.close();
    }
  });
});
