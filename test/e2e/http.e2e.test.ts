/**
 * The HTTP server from outside (PORT): /healthz, /readyz (ready after the first poll cycle, not
 * ready with the failing check named when Telegram fails), /metrics after a poll, 404 elsewhere;
 * and webhook mode (WEBHOOK_URL, WEBHOOK_SECRET): the double posts updates with the secret and
 * they are answered, a wrong or missing secret gets 401, nothing polls. SIGTERM still exits 0.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Update } from "grammy/types";
import type { FakeTelegram } from "../support/fake-telegram.js";
import { rssXml } from "../support/feed-site.js";
import { freePort, get, type Answer } from "../support/http.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";

const CHAT = 5151;
const INTRUDER_CHAT = 6262;
const POLLING_CHAT = 7373;
const SECRET = "e2e-Webhook_secret-42";

/** Asks `path` until its status is `status` (the server's state changes with the process's work). */
async function until(port: number, path: string, status: number, timeoutMs = 20_000): Promise<Answer> {
  const deadline = Date.now() + timeoutMs;
  let last: Answer | undefined;
  while (Date.now() < deadline) {
    last = await get(port, path);
    if (last.status === status) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${path} did not answer ${status} within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

/** Stops with SIGTERM: exit 0 within 10 s, and the port no longer answers. */
async function stopCleanly(bot: NewswireProcess, port: number, telegram: FakeTelegram): Promise<void> {
  const started = Date.now();
  bot.child.kill("SIGTERM");
  assert.equal(await bot.exited, 0, bot.output());
  assert.ok(Date.now() - started < 10_000, "stops within 10 s");
  await assert.rejects(get(port, "/healthz"), "the server is closed");
  assert.ok(!bot.output().includes(telegram.token.split(":")[1]!), "the token never reaches the logs");
}

describe("HTTP server end to end", () => {
  let world: World;
  let telegram: FakeTelegram;

  before(async () => {
    world = await startWorld("http");
    telegram = world.telegram;
    world.site.set("/feed.xml", {
      body: rssXml({
        title: "Harbour News",
        link: "https://news.example/",
        items: [1, 2].map((n) => ({ title: `Story ${n}`, link: `https://news.example/${n}`, guid: `s${n}`, description: `Story ${n} text.`, pubDate: new Date(Date.UTC(2026, 10, n)) })),
      }),
      contentType: "application/rss+xml",
    });
  });

  after(() => world?.close());

  test("long polling with PORT: healthz, readyz, metrics, 404; not ready when Telegram fails", async () => {
    const port = await freePort();
    const bot = startNewswire(world.env({ FEEDS: world.site.url("/feed.xml"), PORT: String(port) }), world.workdir);
    try {
      await bot.waitForOutput("newswire started");
      assert.deepEqual(await get(port, "/healthz"), { status: 200, type: "text/plain; charset=utf-8", body: "ok\n" });

      const ready = await until(port, "/readyz", 200);
      assert.equal(ready.type, "application/json");
      const readiness = JSON.parse(ready.body) as { ready: boolean; role: string; failed: string[] };
      assert.deepEqual([readiness.ready, readiness.role, readiness.failed], [true, "long-polling", []]);

      const metrics = await get(port, "/metrics");
      assert.equal(metrics.status, 200);
      assert.match(metrics.type, /^text\/plain; version=0\.0\.4/);
      assert.match(metrics.body, /^newswire_feed_polls_total\{outcome="ok"\} [1-9]/m);
      assert.match(metrics.body, /^newswire_feed_poll_duration_seconds_count\{outcome="ok"\} [1-9]/m);
      assert.match(metrics.body, /^newswire_items_accepted_total\{baseline="true"\} 2$/m);
      assert.match(metrics.body, /^newswire_poll_cycles_total [1-9]/m);
      assert.match(metrics.body, /^newswire_queued_deliveries 0$/m);
      assert.match(metrics.body, /^newswire_oldest_queued_delivery_age_seconds 0$/m);
      assert.match(metrics.body, /^process_cpu_user_seconds_total /m, "prom-client's default metrics");

      for (const [path, method] of [["/", "GET"], ["/metrics/x", "GET"], ["/readyz", "POST"], ["/telegram", "POST"]] as const) {
        assert.equal((await get(port, path, method)).status, 404, `${method} ${path}`);
      }

      // Telegram stops answering (every getMe fails from now on): not ready, and the body says why.
      telegram.failNext("getMe", { error_code: 502, description: "Bad Gateway" }, 1_000_000);
      const failing = await until(port, "/readyz", 503);
      const verdict = JSON.parse(failing.body) as { ready: boolean; role: string; failed: string[]; checks: Record<string, { ok: boolean; error?: string }> };
      assert.equal(verdict.ready, false);
      assert.equal(verdict.role, "long-polling");
      assert.deepEqual(verdict.failed, ["telegram"]);
      assert.deepEqual(verdict.checks.telegram, { ok: false, error: "Telegram answered 502" });
      assert.deepEqual(verdict.checks.store, { ok: true });
      for (const body of [ready.body, failing.body, metrics.body]) assert.ok(!body.includes(telegram.token), "the token is never served");

      await stopCleanly(bot, port, telegram);
    } finally {
      await bot.stop("SIGKILL");
      telegram.reset();
    }
  });

  test("webhook mode: updates posted with the secret are answered, a wrong or missing secret gets 401", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/telegram/${SECRET.slice(0, 6)}`;
    const env = world.env({ FEEDS: world.site.url("/feed.xml"), PORT: String(port), WEBHOOK_URL: url, WEBHOOK_SECRET: SECRET });
    const bot = startNewswire(env, world.workdir);
    try {
      await bot.waitForOutput("newswire started");
      assert.deepEqual(telegram.webhook, { url, secretToken: SECRET });

      const subscribe = telegram.sendText(CHAT, "/subscribe all");
      await telegram.waitFor((message) => message.chat_id === CHAT && /Subscribed to all/.test(message.text));
      assert.equal((await telegram.waitForDelivery((delivery) => delivery.update_id === subscribe.update_id)).status, 200);
      // One chat's updates are handled in order, as with long polling.
      telegram.sendText(CHAT, "/subscriptions");
      telegram.sendText(CHAT, "/help");
      const [first, second] = await telegram.waitFor((message) => message.chat_id === CHAT && /This chat follows|\/help: this list/.test(message.text), { count: 2 });
      assert.match(first!.text, /This chat follows/);
      assert.match(second!.text, /\/help: this list/);

      // Someone who learned the URL but not the secret.
      const forged: Update = { update_id: 900_001, message: { message_id: 1, date: 0, chat: { id: INTRUDER_CHAT, type: "private", first_name: "Mallory" }, from: { id: INTRUDER_CHAT, is_bot: false, first_name: "Mallory" }, text: "/subscribe all", entities: [{ type: "bot_command", offset: 0, length: 10 }] } };
      assert.equal(await telegram.postToWebhook(forged, "wrong-secret"), 401);
      assert.equal(await telegram.postToWebhook({ ...forged, update_id: 900_002 }, undefined), 401);
      // A real update from that chat afterwards is answered, and is the only thing answered there.
      telegram.sendText(INTRUDER_CHAT, "/subscriptions");
      await telegram.waitFor((message) => message.chat_id === INTRUDER_CHAT);
      assert.deepEqual(telegram.sent.filter((message) => message.chat_id === INTRUDER_CHAT).map((message) => /Subscribed/.test(message.text)), [false]);

      assert.equal(telegram.calls.filter((call) => call.method === "getUpdates").length, 0, "nothing polls in webhook mode");
      const ready = JSON.parse((await until(port, "/readyz", 200)).body) as { role: string };
      assert.equal(ready.role, "webhook");

      await stopCleanly(bot, port, telegram);
      assert.deepEqual(telegram.webhook, { url, secretToken: SECRET }, "a stop leaves the webhook set (Telegram keeps the updates until the next start)");
    } finally {
      await bot.stop("SIGKILL");
    }
  });

  test("the default, no PORT: long polling and no HTTP server (the previous test's webhook is removed)", async () => {
    assert.ok(telegram.webhook, "the previous test left its webhook set");
    const bot = startNewswire(world.env({ FEEDS: world.site.url("/feed.xml") }), world.workdir);
    try {
      await bot.waitForOutput("newswire started");
      telegram.sendText(POLLING_CHAT, "/subscriptions");
      await telegram.waitFor((message) => message.chat_id === POLLING_CHAT);
      assert.ok(telegram.calls.some((call) => call.method === "getUpdates"));
      assert.equal(telegram.webhook, undefined, "the webhook of the previous run was removed");
      assert.doesNotMatch(bot.output(), /HTTP server listening/);
      bot.child.kill("SIGTERM");
      assert.equal(await bot.exited, 0);
    } finally {
      await bot.stop("SIGKILL");
    }
  });
});
