/**
 * One hostile item, from outside: the real entry point, the loopback feed site and Bot API
 * double. A feed publishes one new item of 25,000 sentences (about 3 MB of text, under the feed
 * size cap). Checked: `/latest` is answered while the item is processed (the delay is logged,
 * not asserted: a loaded CI machine makes any bound flaky), the bot's peak resident memory
 * (VmHWM) stays under 400 MB, and the item is delivered with a summary of at most 600
 * characters that opens with the article's first sentence.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FakeTelegram, SentMessage } from "../support/fake-telegram.js";
import { rssXml, type FeedSite, type RssItem } from "../support/feed-site.js";
import { longArticleText } from "../support/long-article.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";

const READER = 7101;
const ASKER = 7102;
const SENTENCES = 25_000;
const MB = 1024 * 1024;
const PEAK_CEILING_BYTES = 400 * MB;

/** Peak resident set size of a process (VmHWM), from /proc. */
function peakResidentBytes(pid: number): number | undefined {
  const kilobytes = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return kilobytes === undefined ? undefined : Number(kilobytes) * 1024;
}

/** The summary part of a delivered message: the paragraph between the title and the source line. */
function summaryOf(message: SentMessage): string {
  return (message.message.text ?? "").split("\n\n")[1] ?? "";
}

describe("a 25,000-sentence item", () => {
  let telegram: FakeTelegram;
  let site: FeedSite;
  let workdir: string;
  let world: World;
  let bot: NewswireProcess | undefined;
  const items: RssItem[] = [
    { title: "Old story", link: "https://harbour.example/old", guid: "old", description: "<p>Old news.</p>", pubDate: new Date(Date.UTC(2026, 0, 1)) },
  ];
  const publish = () =>
    site.set("/feed.xml", { body: rssXml({ title: "Harbour Gazette", link: site.url("/"), items: [...items].reverse() }), contentType: "application/rss+xml; charset=utf-8" });

  before(async () => {
    world = await startWorld("long-item");
    ({ telegram, site, workdir } = world);
    publish();
    writeFileSync(join(workdir, "newswire.yaml"), `feeds:\n  - url: ${site.url("/feed.xml")}\n    id: gazette\n`);
  });

  after(async () => {
    await bot?.stop("SIGKILL");
    await world?.close();
  });

  test("is summarised within limits while the bot keeps answering, in bounded memory", async (t) => {
    bot = startNewswire(world.env({ CONFIG_FILE: join(workdir, "newswire.yaml") }), workdir);
    await bot.waitForOutput("newswire started");
    telegram.sendText(READER, "/subscribe all");
    await telegram.waitFor((message) => message.chat_id === READER && /Subscribed to all/.test(message.text));
    await bot.waitForOutput("feed baseline recorded");

    const text = longArticleText(SENTENCES);
    const paragraphs = text.split("\n\n");
    items.push({
      title: "Port authority publishes every record it ever kept",
      link: site.url("/records"),
      guid: "records",
      description: paragraphs.map((paragraph) => `<p>${paragraph}</p>`).join("\n"),
      pubDate: new Date(Date.UTC(2026, 1, 1)),
    });
    const servedBefore = site.requests("/feed.xml").length;
    publish();
    // Ask once the bot has fetched the new document, i.e. while it parses and summarises it.
    await new Promise<void>((resolve) => {
      const check = () => (site.requests("/feed.xml").slice(servedBefore).some((request) => request.status === 200) ? resolve() : setTimeout(check, 20));
      check();
    });
    const asked = Date.now();
    telegram.sendText(ASKER, "/latest");
    const [reply] = await telegram.waitFor((message) => message.chat_id === ASKER && /newest/.test(message.text), { timeoutMs: 30_000 });
    t.diagnostic(`/latest answered ${reply!.at - asked} ms after it was sent, while the item was processed`);

    const [delivered] = await telegram.waitFor((message) => message.chat_id === READER && message.text.includes("Port authority publishes"), { timeoutMs: 60_000 });
    const summary = summaryOf(delivered!);
    assert.ok(summary.length > 0 && summary.length <= 600, `${summary.length} characters: ${summary}`);
    assert.ok(summary.startsWith(text.slice(0, text.indexOf(".") + 1)), `opens with the lead sentence: ${summary}`);
    assert.doesNotMatch(summary, /…$/u, "whole sentences, not a cut one");

    if (!existsSync(`/proc/${bot.child.pid}/status`)) t.diagnostic("no /proc: peak resident memory not measured");
    else {
      const peak = peakResidentBytes(bot.child.pid!);
      assert.ok(peak !== undefined && peak > 0);
      t.diagnostic(`peak resident memory (VmHWM) ${(peak / MB).toFixed(0)} MB`);
      assert.ok(peak < PEAK_CEILING_BYTES, `peak resident memory ${(peak / MB).toFixed(0)} MB`);
    }
    assert.equal(bot.child.exitCode, null, "still running");
    bot.child.kill("SIGTERM");
    assert.equal(await bot.exited, 0);
  });
});
