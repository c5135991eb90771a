/**
 * The whole product from outside, as the spec describes it: the real entry point against a
 * loopback Bot API double and a loopback feed site. Subscribe, baseline, one new item delivered
 * once, SIGKILL and restart without repeats, the next item delivered, SIGTERM exits 0.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { FakeTelegram } from "../support/fake-telegram.js";
import { rssXml, type FeedSite } from "../support/feed-site.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";

const CHAT = 4242;

interface FeedItem {
  title: string;
  link: string;
  guid: string;
  description: string;
  pubDate: Date;
}

const article = (n: number): FeedItem => ({
  title: `Story number ${n} & <friends>`,
  link: `https://news.example/story-${n}?utm_source=rss`,
  guid: `story-${n}`,
  description: `<p>The <b>council</b> met on day ${n} to discuss the harbour. Members voted to widen the pier &amp; repair the lighthouse.</p><script>alert(1)</script>`,
  pubDate: new Date(Date.UTC(2026, 10, n, 12)),
});

describe("newswire end to end", () => {
  let world: World;
  let telegram: FakeTelegram;
  let site: FeedSite;
  let workdir: string;
  let env: Record<string, string>;
  const items: FeedItem[] = [article(1), article(2), article(3)];
  const publish = () => site.set("/feed.xml", { body: rssXml({ title: "Harbour News", link: "https://news.example/", items: [...items].reverse() }), contentType: "application/rss+xml; charset=utf-8" });
  const pushes = (title: string) => telegram.sent.filter((message) => message.chat_id === CHAT && message.text.includes(title) && !message.text.includes("1. "));

  before(async () => {
    world = await startWorld("e2e");
    ({ telegram, site, workdir } = world);
    publish();
    env = world.env({ FEEDS: site.url("/feed.xml") });
  });

  after(() => world?.close());

  test("subscribe, baseline, deliver once, survive SIGKILL, stop on SIGTERM", async () => {
    let bot: NewswireProcess = startNewswire(env, workdir);
    try {
      await bot.waitForOutput("newswire started");
      telegram.sendText(CHAT, "/subscribe all");
      await telegram.waitFor((message) => message.chat_id === CHAT && /Subscribed to all/.test(message.text));

      // The first poll only records: /latest shows the three items, nothing is pushed.
      await bot.waitForOutput("feed baseline recorded");
      telegram.sendText(CHAT, "/latest 3");
      const [latest] = await telegram.waitFor((message) => message.chat_id === CHAT && message.text.startsWith("The 3 newest"));
      const order = [3, 2, 1].map((n) => latest!.text.indexOf(`Story number ${n}`));
      assert.ok(order.every((position) => position > 0), latest!.text);
      assert.deepEqual([...order].sort((a, b) => a - b), order, "newest first");
      assert.equal(pushes("Story number").length, 0, "the baseline is not pushed");

      items.push(article(4));
      publish();
      const [pushed] = await telegram.waitFor((message) => pushes("Story number 4").includes(message), { timeoutMs: 15_000 });
      assert.equal(pushed!.parse_mode, "HTML");
      assert.match(pushed!.message.text ?? "", /Story number 4 & <friends>/);
      assert.match(pushed!.message.text ?? "", /council met on day 4/);
      assert.doesNotMatch(pushed!.message.text ?? "", /alert\(1\)/);
      const links = (pushed!.message.entities ?? []).filter((entity) => entity.type === "text_link").map((entity) => entity.url);
      assert.ok(links.some((url) => url?.startsWith("https://news.example/story-4")), `link missing: ${JSON.stringify(pushed!.message.entities)}`);

      // Several more polls: still exactly one copy.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      assert.equal(pushes("Story number 4").length, 1);

      bot.child.kill("SIGKILL");
      await bot.exited;
      bot = startNewswire(env, workdir);
      await bot.waitForOutput("newswire started");
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      assert.equal(pushes("Story number 4").length, 1, "no repeat after a restart");

      items.push(article(5));
      publish();
      await telegram.waitFor((message) => pushes("Story number 5").includes(message), { timeoutMs: 15_000 });
      assert.equal(pushes("Story number 4").length, 1);
      assert.equal(pushes("Story number 5").length, 1);
      assert.equal(telegram.calls.filter((call) => call.error && call.error.error_code === 400).length, 0, "Telegram rejected a message");

      const started = Date.now();
      bot.child.kill("SIGTERM");
      assert.equal(await bot.exited, 0);
      assert.ok(Date.now() - started < 10_000, "stops within 10 s");
      assert.ok(!bot.output().includes(telegram.token.split(":")[1]!), "the token never reaches the logs");
    } finally {
      await bot.stop("SIGKILL");
    }
  });

  test("a bad setting stops the process with exit code 1 and one line", async () => {
    const bad = startNewswire({ ...env, POLL_CRON: "every five minutes" }, workdir);
    assert.equal(await bad.exited, 1);
    const lines = bad.output().trim().split("\n");
    assert.equal(lines.length, 1, bad.output());
    assert.match(lines[0]!, /POLL_CRON/);

    const missing = startNewswire({ TELEGRAM_API_ROOT: telegram.apiRoot, FEEDS: env.FEEDS! }, workdir);
    assert.equal(await missing.exited, 1);
    assert.match(missing.output(), /^newswire: BOT_TOKEN is required/);
  });
});
