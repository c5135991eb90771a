/**
 * Article pages never come from the bot's own machine or network, from outside: the real entry
 * point with a `fulltext: true` feed whose items link to a page holding a secret, served on a
 * separate loopback port, under every spelling of a loopback address and through a 302 from the
 * feed's own host. Checked: the secret is in no message the Bot API double received and its server
 * got no request; every item still arrives, summarised from its feed text; one warning per refused
 * link names it and the reason; an article on the feed's own origin still gets its page summary.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FakeTelegram, SentMessage } from "../support/fake-telegram.js";
import { rssXml, type FeedSite, type RssItem } from "../support/feed-site.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";

const CHAT = 5151;
const SECRET = "metadata-credential-7f3a9c";

/** A page Readability would happily read: several paragraphs, far longer than any feed text here. */
function articlePage(title: string, sentence: string): string {
  const paragraphs = Array.from({ length: 6 }, (_, i) => `<p>${sentence} Paragraph ${i + 1} goes on about it at some length, as articles do.</p>`);
  return `<!doctype html><html><head><title>${title}</title></head><body><article><h1>${title}</h1>${paragraphs.join("")}</article></body></html>`;
}

const SECRET_PAGE = articlePage("Internal", `The instance credential is ${SECRET} and must never leave this host.`);
const OWN_PAGE = articlePage("Harbour", "The harbour board approved the new breakwater after a long debate about storms and costs.");

/** Whether this machine has an IPv6 loopback to listen on. */
async function hasIpv6Loopback(): Promise<boolean> {
  const probe = createServer();
  try {
    probe.listen(0, "::1");
    await once(probe, "listening");
    return true;
  } catch {
    return false;
  } finally {
    probe.close();
  }
}

describe("article addresses end to end", () => {
  let world: World;
  let telegram: FakeTelegram;
  let site: FeedSite;
  let bot: NewswireProcess | undefined;
  let secretServer: Server;
  let ipv6 = false;
  const secretRequests: string[] = [];
  /** The refused forms: the item's link, and the feed text it must be summarised from. */
  const refused: { form: string; link: string; text: string }[] = [];

  const itemTitle = (form: string) => `Item linking ${form}`;
  const delivered = (title: string) => (message: SentMessage) => message.chat_id === CHAT && message.text.includes(title);

  before(async () => {
    world = await startWorld("article-addresses");
    ({ telegram, site } = world);
    ipv6 = await hasIpv6Loopback();
    secretServer = createServer((request, response) => {
      secretRequests.push(request.url ?? "");
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(SECRET_PAGE);
    });
    // Dual-stack where there is IPv6, so every form below would reach it if newswire let it.
    secretServer.listen(0, ipv6 ? "::" : "0.0.0.0");
    await once(secretServer, "listening");
    const port = (secretServer.address() as AddressInfo).port;

    // A path of its own for each: links that normalise alike would be one story, delivered once.
    const forms = [
      ["127.0.0.1", `http://127.0.0.1:${port}/a`],
      ["localhost", `http://localhost:${port}/b`],
      ...(ipv6 ? [["[::1]", `http://[::1]:${port}/c`]] : []),
      ["2130706433", `http://2130706433:${port}/d`],
      ["0x7f.1", `http://0x7f.1:${port}/e`],
      ["0.0.0.0", `http://0.0.0.0:${port}/f`],
      ["a redirect", site.url("/go/internal")],
    ];
    site.redirect("/go/internal", `http://127.0.0.1:${port}/g`, 302);
    for (const [form, link] of forms) refused.push({ form: form!, link: link!, text: `The feed's own short text about ${form}.` });
    site.set("/articles/harbour", { body: OWN_PAGE, contentType: "text/html; charset=utf-8" });

    const items: RssItem[] = [
      { title: "Old story", link: site.url("/articles/old"), guid: "old", description: "<p>Old news.</p>", pubDate: new Date(Date.UTC(2026, 0, 1)) },
    ];
    const publish = () => site.set("/feed.xml", { body: rssXml({ title: "Aggregator", link: site.url("/"), items: [...items].reverse() }) });
    publish();
    writeFileSync(join(world.workdir, "newswire.yaml"), `feeds:\n  - url: ${site.url("/feed.xml")}\n    id: aggregator\n    fulltext: true\n`);

    bot = startNewswire(world.env({ CONFIG_FILE: join(world.workdir, "newswire.yaml") }), world.workdir);
    await bot.waitForOutput("newswire started");
    telegram.sendText(CHAT, "/subscribe all");
    await telegram.waitFor((message) => message.chat_id === CHAT && /Subscribed to all/.test(message.text));
    await bot.waitForOutput("feed baseline recorded");

    const at = (minute: number) => new Date(Date.UTC(2026, 1, 1, 12, minute));
    refused.forEach(({ form, link, text }, index) =>
      items.push({ title: itemTitle(form), link, guid: `refused-${index}`, description: `<p>${text}</p>`, pubDate: at(index) }),
    );
    items.push({ title: "Harbour breakwater approved", link: site.url("/articles/harbour"), guid: "own", description: "<p>Teaser.</p>", pubDate: at(59) });
    publish();
    await telegram.waitFor(delivered("Harbour breakwater approved"), { timeoutMs: 30_000 });
    for (const { form } of refused) await telegram.waitFor(delivered(itemTitle(form)), { timeoutMs: 30_000 });
  });

  after(async () => {
    await bot?.stop();
    secretServer?.close();
    await world?.close();
  });

  test("the secret is in no message or call the double received, and its server got no request", () => {
    assert.ok(telegram.sent.length > refused.length, "the items arrived");
    for (const call of telegram.calls) assert.doesNotMatch(JSON.stringify(call.params), new RegExp(SECRET), call.method);
    for (const message of telegram.sent) assert.doesNotMatch(`${message.text}\n${message.message.text ?? ""}`, new RegExp(SECRET));
    assert.deepEqual(secretRequests, []);
    assert.doesNotMatch(bot!.output(), new RegExp(SECRET), "nor in the log");
  });

  test("each refused item arrives once, summarised from its feed text", async (t) => {
    if (!ipv6) await t.test("[::1]", { skip: "this machine has no IPv6 loopback: the [::1] form was not published" }, () => undefined);
    for (const { form, text } of refused) {
      await t.test(form, () => {
        const messages = telegram.sent.filter(delivered(itemTitle(form)));
        assert.equal(messages.length, 1);
        assert.equal((messages[0]!.message.text ?? "").split("\n\n")[1], text);
      });
    }
  });

  test("one warning per refused link names it and why", () => {
    const warnings = bot!
      .output()
      .split("\n")
      .filter((line) => line.includes("full text unavailable"))
      .map((line) => JSON.parse(line) as { level: number; link: string; err: string });
    for (const { form, link } of refused) {
      // The feed parser writes links as WHATWG URL does (2130706433 as 127.0.0.1).
      const mine = warnings.filter((warning) => warning.link === new URL(link).href);
      assert.equal(mine.length, 1, `${form}: ${JSON.stringify(warnings)}`);
      assert.equal(mine[0]!.level, 40, "warn");
      assert.match(mine[0]!.err, /not a public address \((loopback|unspecified)\)/, form);
    }
    assert.equal(warnings.length, refused.length, "no other article was refused");
  });

  test("an article on the feed's own origin still gets its page summary", () => {
    const [message] = telegram.sent.filter(delivered("Harbour breakwater approved"));
    assert.match(message!.message.text ?? "", /approved the new breakwater after a long debate/);
    assert.equal(site.requests("/articles/harbour").length, 1);
  });
});
