/**
 * Feed ingestion from outside, through the real entry point: one config file with good feeds and
 * every kind of broken one (garbage, an HTML page, a 500, a server that never answers, a 190 MB
 * stream, a redirect loop). The good feeds keep delivering, the bot stays up and small, /status
 * names each failure, the admins are alerted once per feed; windows-1251 feeds, declared or not,
 * reach subscribers in correct Cyrillic; unchanged feeds are revalidated with 304; the same article
 * in two feeds reaches a chat once.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import type { FakeTelegram, SentMessage } from "../support/fake-telegram.js";
import { rssXml, type FeedSite, type RssFeed, type RssItem } from "../support/feed-site.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";

const READER = 5151;
const ADMIN = 7070;
const MB = 1024 * 1024;
/** The resident memory the bot must stay under, whatever its feeds do. */
const RSS_CEILING_BYTES = 300 * MB;

/** Every byte value as windows-1251 decodes it, to encode text back into it. */
const CP1251 = new TextDecoder("windows-1251").decode(Uint8Array.from({ length: 256 }, (_, byte) => byte));

function windows1251(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => {
    const byte = CP1251.indexOf(char);
    if (byte < 0) throw new RangeError(`windows-1251 has no ${char}`);
    return byte;
  });
}

/** `feed` as RSS in windows-1251 bytes, with the encoding declared in the XML declaration or not at all. */
function cyrillicRss(feed: RssFeed, declared: boolean): Uint8Array {
  const declaration = declared ? '<?xml version="1.0" encoding="windows-1251"?>' : '<?xml version="1.0"?>';
  return windows1251(rssXml(feed).replace('<?xml version="1.0" encoding="UTF-8"?>', declaration));
}

const russian = (n: number, tag: string): RssItem => ({
  title: `Паром «Заря» вернулся в гавань: рейс ${n} (${tag})`,
  link: `https://gavan.example/${tag}/${n}`,
  guid: `${tag}-${n}`,
  description: `Жители встречали паром на причале ${n}. Ремонт занял всё лето, сообщили в администрации порта.`,
  pubDate: new Date(Date.UTC(2026, 5, n, 9)),
});

const english = (n: number): RssItem => ({
  title: `Harbour bulletin ${n}`,
  link: `https://harbour.example/bulletin/${n}`,
  guid: `bulletin-${n}`,
  description: `The harbour master reports calm water on day ${n}.`,
  pubDate: new Date(Date.UTC(2026, 5, n, 9)),
});

/** The article both good feeds will carry; the second links it with tracking parameters. */
const SHARED = { title: "Lighthouse keeper retires after forty years", description: "A ceremony was held at the pier.", pubDate: new Date(Date.UTC(2026, 5, 20, 9)) };

/** Resident set size of a process, from /proc. */
function residentBytes(pid: number): number | undefined {
  try {
    const kilobytes = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kilobytes === undefined ? undefined : Number(kilobytes) * 1024;
  } catch {
    return undefined; // the process has just exited
  }
}

describe("feed ingestion that survives the real web", () => {
  let telegram: FakeTelegram;
  let site: FeedSite;
  let workdir: string;
  let world: World;

  before(async () => {
    world = await startWorld("feeds");
    ({ telegram, site, workdir } = world);
  });

  after(() => world?.close());

  test("good feeds deliver beside broken ones; the bot stays up, small, and says what is wrong", async (t) => {
    const good: RssItem[] = [english(2), english(1)];
    const twin: RssItem[] = [english(12), english(11)];
    const declared: RssItem[] = [russian(2, "d"), russian(1, "d")];
    const undeclared: RssItem[] = [russian(2, "u"), russian(1, "u")];
    const publish = () => {
      site.set("/good.xml", { body: rssXml({ title: "Harbour News", items: good }) });
      site.set("/twin.xml", { body: rssXml({ title: "Coast Daily", items: twin }) });
      const rss = "application/rss+xml"; // no charset: the bytes and the declaration must tell
      site.set("/declared.xml", { body: cyrillicRss({ title: "Вести гавани", items: declared }, true), contentType: rss });
      site.set("/undeclared.xml", { body: cyrillicRss({ title: "Портовые новости", items: undeclared }, false), contentType: rss });
    };
    publish();
    site.set("/garbage.xml", { body: "This is not a feed, only words and } braces {", contentType: "application/rss+xml" });
    site.set("/page.xml", { body: "<!DOCTYPE html><html><head><title>Welcome</title></head><body>Our new site!</body></html>" });
    site.set("/error.xml", { body: "Internal Server Error", status: 500, contentType: "text/plain" });
    site.hang("/silent.xml");
    site.stream("/huge.xml", 190 * MB, { chunkBytes: 256 * 1024, intervalMs: 1 });
    site.redirect("/loop-a.xml", "/loop-b.xml");
    site.redirect("/loop-b.xml", "/loop-a.xml");

    const broken = {
      garbage: "neither XML nor JSON",
      page: "HTML page, not a feed",
      error: "HTTP 500",
      silent: "timeout after 1500 ms",
      huge: `body over ${10 * MB} bytes`,
      "loop-a": "redirect loop",
    };
    const feeds = [
      { id: "good", url: site.url("/good.xml") },
      { id: "twin", url: site.url("/twin.xml") },
      { id: "declared", url: site.url("/declared.xml") },
      { id: "undeclared", url: site.url("/undeclared.xml") },
      ...Object.keys(broken).map((id) => ({ id, url: site.url(`/${id}.xml`) })),
    ];
    const configFile = join(workdir, "newswire.yaml");
    writeFileSync(configFile, stringify({ feeds }));

    const bot: NewswireProcess = startNewswire(
      {
        ...world.env({ CONFIG_FILE: configFile }),
        ADMIN_IDS: String(ADMIN),
        // Failed feeds back off a minute before their second poll, so a test sees only the first
        // failure; the threshold arithmetic is unit-tested (test/unit/poll-feed.test.ts).
        FEED_FAILURE_ALERT: "1",
        FETCH_TIMEOUT_MS: "1500",
      },
      workdir,
    );
    let peakResident = 0;
    const sampler = setInterval(() => {
      peakResident = Math.max(peakResident, residentBytes(bot.child.pid!) ?? 0);
    }, 100);
    const logged = (feed: string, message: string) =>
      bot
        .output()
        .split("\n")
        .some((line) => line.includes(`"feed":"${feed}"`) && line.includes(`"msg":"${message}"`));
    const pushes = (text: string) => telegram.sent.filter((message) => message.chat_id === READER && message.text.includes(text));
    const alertMessages = () => telegram.sent.filter((message) => message.chat_id === ADMIN && message.text.startsWith("Feed "));
    // Alerts raised together are sent together, a blank line apart.
    const alerts = () => alertMessages().flatMap((message) => message.text.split("\n\n"));
    const until = async (condition: () => boolean, what: string, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!condition()) {
        assert.ok(Date.now() < deadline, `${what}:\n${bot.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    try {
      await bot.waitForOutput("newswire started");
      telegram.sendText(READER, "/subscribe all");
      await telegram.waitFor((message) => message.chat_id === READER && /Subscribed to all/.test(message.text));
      const healthy = ["good", "twin", "declared", "undeclared"];
      await until(() => healthy.every((feed) => logged(feed, "feed baseline recorded")), "baselines not all recorded");

      // One alert per broken feed, naming it, the count and the error, as plain text.
      const failing = Object.keys(broken);
      await until(() => alerts().length >= failing.length, `alerts for ${failing.join(", ")}: ${JSON.stringify(alerts())}`);
      for (const [id, reason] of Object.entries(broken)) {
        const about = alerts().filter((text) => text.startsWith(`Feed ${id} `));
        assert.equal(about.length, 1, `one alert for ${id}: ${JSON.stringify(alerts())}`);
        assert.match(about[0]!, /has failed 1 time in a row/);
        assert.ok(about[0]!.includes(reason), about[0]);
      }
      assert.ok(alertMessages().every((message) => message.parse_mode === undefined), "plain text");

      // The good feeds' second polls were conditional and answered 304.
      const revalidated = site.requests("/good.xml").slice(1).filter((request) => request.status !== undefined);
      assert.ok(revalidated.length > 0);
      assert.ok(
        revalidated.every((request) => request.headers["if-none-match"] !== undefined && request.status === 304),
        JSON.stringify(revalidated.map(({ headers, status }) => ({ etag: headers["if-none-match"], status }))),
      );

      // New items everywhere: the shared article in both English feeds, once with tracking parameters.
      good.unshift({ ...SHARED, link: "https://harbour.example/news/lighthouse", guid: "good-lighthouse" }, english(3));
      twin.unshift({ ...SHARED, link: "https://www.harbour.example/news/lighthouse/?utm_source=x&utm_medium=rss", guid: "twin-77" });
      declared.unshift(russian(3, "d"));
      undeclared.unshift(russian(3, "u"));
      publish();

      const delivered = await telegram.waitFor((message: SentMessage) => message.chat_id === READER && !/Subscribed/.test(message.text), {
        count: 4,
        timeoutMs: 20_000,
      });
      assert.equal(pushes("Harbour bulletin 3").length, 1);
      assert.equal(pushes(russian(3, "d").title).length, 1, `Cyrillic garbled: ${JSON.stringify(delivered.map((message) => message.text))}`);
      assert.equal(pushes(russian(3, "u").title).length, 1, `Cyrillic garbled: ${JSON.stringify(delivered.map((message) => message.text))}`);
      assert.match(pushes(russian(3, "u").title)[0]!.text, /Ремонт занял всё лето/);
      // Several more polls of both feeds: the shared article still arrived once.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.equal(pushes(SHARED.title).length, 1);

      // /status from an admin names each failing feed's error.
      const asked = Date.now();
      telegram.sendText(ADMIN, "/status");
      const [status] = await telegram.waitFor((message) => message.chat_id === ADMIN && message.at >= asked && message.text.includes("<b>Feeds</b>"), {
        timeoutMs: 10_000,
      });
      const report = telegram.sent
        .filter((message) => message.chat_id === ADMIN && message.at >= status!.at && !message.text.startsWith("Feed "))
        .map((message) => message.text)
        .join("\n");
      for (const [id, reason] of Object.entries(broken)) {
        assert.match(report, new RegExp(`<b>${id}</b> ❌ 1 failure in a row, last success never: [^\\n]*${reason.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`), report);
      }
      for (const id of healthy) assert.match(report, new RegExp(`<b>${id}</b> ✅`), report);

      assert.equal(alerts().length, failing.length, "no alert repeated, none for good feeds");
      assert.equal(bot.child.exitCode, null, "still running");
      assert.equal(telegram.calls.filter((call) => call.error?.error_code === 400).length, 0, "Telegram rejected a message");
      if (!existsSync(`/proc/${bot.child.pid}/status`)) t.diagnostic("no /proc: resident memory not measured");
      else {
        assert.ok(peakResident > 0);
        assert.ok(peakResident < RSS_CEILING_BYTES, `resident memory peaked at ${(peakResident / MB).toFixed(0)} MB`);
        t.diagnostic(`peak resident memory ${(peakResident / MB).toFixed(0)} MB`);
      }

      bot.child.kill("SIGTERM");
      assert.equal(await bot.exited, 0);
    } finally {
      clearInterval(sampler);
      await bot.stop("SIGKILL");
    }
  });
});
