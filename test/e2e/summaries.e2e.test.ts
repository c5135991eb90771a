/**
 * Summaries a reader wants, from outside: the real entry point with a config file (a feed with
 * `fulltext: true`), the loopback feed site serving the feed and an article page wrapped in site
 * furniture, and the loopback Bot API double, which refuses what Telegram would refuse.
 * Checked: the subscriber gets the article's title and a 25+-word summary of the article itself
 * with none of the page's boilerplate; a hostile item (script, stray &, unknown tags, broken
 * nesting, javascript: links) is delivered as text and no message is refused; a 15,000-character
 * item arrives within the limit; a Russian item's summary is Russian. Then, with SUMMARIZER_URL
 * pointing at a loopback chat-completions fake: the model's summary is delivered, and when the
 * model fails the extractive one is.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { words } from "../../src/text/words.js";
import type { FakeTelegram, SentMessage } from "../support/fake-telegram.js";
import { rssXml, type FeedSite, type RssItem } from "../support/feed-site.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";
import { validateTelegramHtml } from "../support/telegram-html.js";

const CHAT = 5151;
const ARTICLE_PAGE = readFileSync(new URL("../fixtures/summaries/boilerplate-article.html", import.meta.url), "utf8");

/** Every piece of furniture on the article page: navigation, counters, credits, share and newsletter boxes, comments, sidebar headlines, footer, scripts. */
const PAGE_BOILERPLATE = [
  /\bHome\b/, /\bLocal\b/, /\bBusiness\b/, /\bScience\b/, /\bSport\b/, /\bOpinion\b/, /Sign in/, /Advertisement/,
  /1,284/, /\b37\b/, /\+5\b/, /Image source/, /Jonas Moreno/, /Photo:/, /By Maria Okafor/,
  /Read also/, /Tidal energy pilot/, /Share this article/, /Facebook/, /Who pays and who gains/,
  /morning briefing/, /Subscribe to our newsletter/, /Sign up/, /leave a comment/i, /log in/i, /Comments \(37\)/,
  /Most read/, /Ferry operators warn/, /Local bakery wins/, /Rowing club opens/, /Port authority posts/, /2,410/,
  /©/, /All rights reserved/, /About us/, /Privacy policy/, /Contact/, /dataLayer/, /gtag/, /ads\.push/,
];

const HOSTILE_TITLE = `<script>alert("title")</script> Mayor & council <unknown>clash</unknown> over <b>budget <i>cuts</b></i> & 5 < 6`;

/** Varied sentences (so the summariser has something to choose from), 15,000+ characters in all. */
function longDescription(): string {
  const sentences = Array.from(
    { length: 150 },
    (_, i) => `Berth ${i + 1} of the harbour was surveyed in ${["spring", "summer", "autumn", "winter"][i % 4]}, and its ${["timber piles", "steel ladders", "concrete deck", "rubber fenders", "mooring rings"][i % 5]} will need work within ${(i % 9) + 2} years.`,
  );
  const paragraphs: string[] = [];
  for (let i = 0; i < sentences.length; i += 5) paragraphs.push(`<p>${sentences.slice(i, i + 5).join(" ")}</p>`);
  return paragraphs.join("");
}

const RUSSIAN_TEXT = [
  "<p>В Заречье в субботу открылся новый пешеходный мост через реку Лесную, который соединил старый центр города с жилыми кварталами на правом берегу.</p>",
  "<p>Раньше жителям правобережья приходилось идти до автомобильного моста почти два километра, а зимой тротуар на нём часто не успевали расчищать.</p>",
  "<p>Мост длиной сто сорок метров построили за полтора года. Его пролёты собрали на берегу и установили на опоры с помощью плавучего крана.</p>",
  "<p>На открытии глава города пообещал, что уже летом вдоль реки проложат велосипедную дорожку, а на правом берегу появится сквер с детской площадкой.</p>",
  "<p>Жители встретили новость по-разному: одни радуются, что дорога до работы стала короче, другие опасаются, что в тихих дворах у реки станет шумно.</p>",
].join("");

/** The items published after the baseline, each with the text that finds its message. */
function newItems(site: FeedSite): RssItem[] {
  const at = (hour: number) => new Date(Date.UTC(2026, 1, 1, hour));
  return [
    {
      title: "Harbor council approves floating solar farm on Millbrook reservoir",
      link: site.url("/local/2024/millbrook-solar"),
      guid: "solar",
      description: "<p>Council votes on a solar plan.</p>",
      pubDate: at(1),
    },
    {
      title: HOSTILE_TITLE,
      link: "javascript:alert(document.cookie)",
      guid: "hostile",
      description:
        `<script>alert("body")</script><p>Stray & ampersands && an &bogus; entity, <unknown>odd tags</unknown>, <b><i>broken</b></i> nesting ` +
        `and a <a href="javascript:alert(1)">javascript link</a> sit in this item. The council met on Monday to argue about the budget.</p><p>Unclosed <div>paragraph`,
      pubDate: at(2),
    },
    {
      title: `Harbour board publishes its full berth survey: ${"pile by pile and ladder by ladder, ".repeat(12)}`,
      link: site.url("/harbour/berth-survey"), // no such page: the feed's own 15,000 characters are used
      guid: "long",
      description: longDescription(),
      pubDate: at(3),
    },
    {
      title: "В Заречье открыли пешеходный мост через Лесную",
      link: site.url("/city/most"),
      guid: "russian",
      description: RUSSIAN_TEXT,
      pubDate: at(4),
    },
  ];
}

/** The summary part of a delivered message: the paragraph between the title and the source line. */
function summaryOf(message: SentMessage): string {
  return (message.message.text ?? "").split("\n\n")[1] ?? "";
}

describe("summaries end to end", () => {
  let telegram: FakeTelegram;
  let site: FeedSite;
  let workdir: string;
  let world: World;
  let bot: NewswireProcess | undefined;
  let env: Record<string, string>;
  const items: RssItem[] = [
    { title: "Old story from the back catalogue", link: "https://harbordaily.example/old", guid: "old", description: "<p>Old news.</p>", pubDate: new Date(Date.UTC(2026, 0, 1)) },
  ];
  const publish = () =>
    site.set("/feed.xml", { body: rssXml({ title: "Harbor Daily feed", link: site.url("/"), items: [...items].reverse() }), contentType: "application/rss+xml; charset=utf-8" });
  const delivered = (text: string) => (message: SentMessage) => message.chat_id === CHAT && (message.message.text ?? "").includes(text);

  before(async () => {
    world = await startWorld("summaries");
    ({ telegram, site, workdir } = world);
    site.set("/local/2024/millbrook-solar", { body: ARTICLE_PAGE });
    publish();
    writeFileSync(join(workdir, "newswire.yaml"), `feeds:\n  - url: ${site.url("/feed.xml")}\n    id: harbor\n    title: Harbor Daily\n    fulltext: true\n`);
    env = world.env({ CONFIG_FILE: join(workdir, "newswire.yaml") });
  });

  after(async () => {
    await bot?.stop();
    await world?.close();
  });

  test("full-text summaries, hostile markup, a huge item and a Russian one", async () => {
    bot = startNewswire(env, workdir);
    await bot.waitForOutput("newswire started");
    telegram.sendText(CHAT, "/subscribe all");
    await telegram.waitFor((message) => message.chat_id === CHAT && /Subscribed to all/.test(message.text));
    await bot.waitForOutput("feed baseline recorded");

    items.push(...newItems(site));
    publish();
    const options = { timeoutMs: 30_000 };
    const [solar] = await telegram.waitFor(delivered("floating solar farm"), options);
    const [hostile] = await telegram.waitFor(delivered("Mayor & council"), options);
    const [long] = await telegram.waitFor(delivered("Harbour board publishes"), options);
    const [russian] = await telegram.waitFor(delivered("пешеходный мост"), options);

    // (a) The article behind the link, summarised, without the page's furniture.
    const solarText = solar!.message.text ?? "";
    assert.ok(solarText.startsWith("Harbor council approves floating solar farm on Millbrook reservoir\n\n"), solarText);
    const solarSummary = summaryOf(solar!);
    assert.ok(words(solarSummary).length >= 25, solarSummary);
    assert.ok(solarSummary.length <= 600, `${solarSummary.length} characters`);
    assert.match(solarSummary, /voted seven to two/, "the article page's lead, not the feed's teaser");
    assert.match(solarSummary, /reservoir/);
    for (const boilerplate of PAGE_BOILERPLATE) assert.doesNotMatch(solarText, boilerplate);

    // (b) Shown as text: the markup is escaped, scripts' code and javascript: links never arrive.
    const hostileText = hostile!.message.text ?? "";
    assert.equal(hostile!.parse_mode, "HTML", "sent as HTML, not the plain-text fallback");
    assert.ok(hostileText.startsWith(`<script>alert("title")</script> Mayor & council <unknown>clash</unknown> over budget cuts & 5 < 6`), hostileText);
    assert.match(summaryOf(hostile!), /^Stray & ampersands && an &bogus; entity, odd tags, broken nesting and a javascript link sit in this item\./);
    assert.doesNotMatch(hostileText, /alert\("body"\)|alert\(1\)|document\.cookie/);
    const hostileEntities = hostile!.message.entities ?? [];
    assert.ok(hostileEntities.every((entity) => entity.type === "bold"), JSON.stringify(hostileEntities));

    // (c) Within Telegram's limit, the summary a short one.
    assert.equal(validateTelegramHtml(long!.text), null);
    assert.ok((long!.message.text ?? "").length <= 4096);
    assert.ok(summaryOf(long!).length <= 600, summaryOf(long!));
    assert.match(summaryOf(long!), /^Berth 1 of the harbour was surveyed in spring/);

    // (d) A Russian item's summary is Russian.
    const russianSummary = summaryOf(russian!);
    assert.ok(words(russianSummary).length >= 10, russianSummary);
    assert.doesNotMatch(russianSummary, /[A-Za-z]/, russianSummary);
    assert.match(russianSummary, /^В Заречье в субботу открылся новый пешеходный мост/);

    for (const message of [solar!, hostile!, long!, russian!]) assert.equal(message.parse_mode, "HTML");
    const refused = telegram.calls.filter((call) => call.error?.error_code === 400);
    assert.deepEqual(refused, [], "Telegram refused a message");
    assert.equal(telegram.sent.filter((message) => message.chat_id === CHAT && message.text.includes("Old story")).length, 0, "the baseline is not pushed");
  });

  test("with SUMMARIZER_URL: the model's summary, and the extractive one when the model fails", async () => {
    const LLM_SUMMARY = "Harbor's council approved a floating solar farm on the Millbrook reservoir by seven votes to two.";
    const asked: Array<{ model: string; url: string }> = [];
    const model: Server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", () => {
        const request = JSON.parse(body) as { model: string; messages: Array<{ content: string }> };
        asked.push({ model: request.model, url: req.url ?? "" });
        // The second article makes the model fail: newswire must fall back, not drop the item.
        if (request.messages[1]?.content.startsWith("Model outage")) res.writeHead(500).end("overloaded");
        else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ choices: [{ message: { role: "assistant", content: LLM_SUMMARY } }] }));
      });
    });
    await new Promise<void>((resolve) => model.listen(0, "127.0.0.1", resolve));
    try {
      bot!.child.kill("SIGTERM");
      assert.equal(await bot!.exited, 0);
      const modelUrl = `http://127.0.0.1:${(model.address() as AddressInfo).port}/v1`;
      bot = startNewswire({ ...env, SUMMARIZER_URL: modelUrl, SUMMARIZER_MODEL: "local-test-model" }, workdir);
      await bot.waitForOutput("newswire started");

      // Another address for the article: a link seen before is the same item, never delivered twice.
      site.set("/local/2024/solar-vote", { body: ARTICLE_PAGE });
      const at = (hour: number) => new Date(Date.UTC(2026, 1, 2, hour));
      items.push(
        { title: "Solar farm vote, as the model tells it", link: site.url("/local/2024/solar-vote"), guid: "llm", description: "<p>Teaser.</p>", pubDate: at(1) },
        { title: "Model outage on a long story", link: site.url("/harbour/outage"), guid: "outage", description: longDescription(), pubDate: at(2) },
      );
      publish();
      const [llm] = await telegram.waitFor(delivered("as the model tells it"), { timeoutMs: 30_000 });
      const [fallback] = await telegram.waitFor(delivered("Model outage on a long story"), { timeoutMs: 30_000 });

      assert.equal(summaryOf(llm!), LLM_SUMMARY);
      assert.match(summaryOf(fallback!), /^Berth 1 of the harbour was surveyed in spring/);
      assert.ok(summaryOf(fallback!).length <= 600);
      assert.deepEqual(asked, [
        { model: "local-test-model", url: "/v1/chat/completions" },
        { model: "local-test-model", url: "/v1/chat/completions" },
      ]);
      await bot.waitForOutput("LLM summary failed; using the extractive summary");
      assert.match(bot.output(), /"err":"HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: overloaded"/);
      assert.deepEqual(telegram.calls.filter((call) => call.error?.error_code === 400), []);
    } finally {
      model.closeAllConnections();
      await new Promise((resolve) => model.close(resolve));
    }
  });
});
