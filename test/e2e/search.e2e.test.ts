/**
 * The archive from outside: the real entry point against the loopback Bot API double and feed
 * site, on SQLite and on PostgreSQL (when TEST_POSTGRES_URL is set). A feed's items published a
 * month ago (their dates set here) are taken in by its first poll; `/search` with a Russian
 * inflected query finds them, newest-relevant first, and turns to its next page; inline queries
 * are answered with results the double accepts, and one chosen posts the item into a chat; a new
 * item whose page was read has "Read here", which sends the article as a rich message the double
 * accepts. A flood of 200 inline queries from one user is limited while another user is answered.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FakeTelegram } from "../support/fake-telegram.js";
import { rssXml, type FeedSite, type RssItem } from "../support/feed-site.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";
import { postgresDatabase, storeServers } from "../support/store-servers.js";

const READER = 9101;
const OTHER = 9102;
const DAY_MS = 24 * 60 * 60_000;
const monthAgo = (hours: number) => new Date(Date.now() - 30 * DAY_MS + hours * 60 * 60_000);

/** The feed's back catalogue, a month old: seven items on China's tariffs, one on the weather. */
const ARCHIVED: RssItem[] = [
  ...Array.from({ length: 7 }, (_, index) => ({
    title: `Китай ввёл пошлины на сталь, выпуск ${index + 1}`,
    description: `Пекин объявил новые пошлины: ставка ${index + 10}% для поставщиков из ЕС. Министерство торговли Китая назвало меру ответной.`,
    link: `https://news.example/china-${index + 1}`,
    guid: `china-${index + 1}`,
    pubDate: monthAgo(index),
  })),
  { title: "В Москве ожидается снег", description: "Синоптики обещают до 10 см осадков к выходным.", link: "https://news.example/snow", guid: "snow", pubDate: monthAgo(10) },
];

const ARTICLE_TITLE = "Китай и ЕС начали переговоры о пошлинах";
const ARTICLE_PARAGRAPHS = [
  "Переговоры о пошлинах на сталь начались в Брюсселе в понедельник: делегации Китая и Евросоюза обсуждают ставки и квоты на ближайшие три года.",
  "Как сообщили в министерстве торговли КНР, китайская сторона готова снизить ставки, если Брюссель отменит ответные меры против производителей алюминия.",
  "Европейские производители, со своей стороны, требуют сохранить защиту рынка до конца десятилетия и ссылаются на избыток мощностей в Китае.",
];
const ARTICLE_PAGE = `<!doctype html><html lang="ru"><head><title>${ARTICLE_TITLE} — Новости</title>
<meta property="og:image" content="https://news.example/images/talks.jpg"></head><body>
<nav><a href="/">Главная</a> <a href="/world">Мир</a> <a href="/economy">Экономика</a></nav>
<article><h1>${ARTICLE_TITLE}</h1>
<p>${ARTICLE_PARAGRAPHS[0]}</p>
<h2>Что предлагает Пекин</h2>
<p>${ARTICLE_PARAGRAPHS[1]}</p>
<p>${ARTICLE_PARAGRAPHS[2]}</p>
</article><footer>© Новости, 2026. Все права защищены.</footer></body></html>`;

const stores: Array<{ name: string; url?: () => Promise<string> }> = [
  { name: "SQLite" },
  ...(storeServers.postgres ? [{ name: "PostgreSQL", url: () => postgresDatabase(storeServers.postgres!, "newswire_search_e2e") }] : []),
];

/** Resolves once `condition` holds, checking every 50 ms; rejects after `timeoutMs` with `describe()`. */
async function until(condition: () => boolean, describe: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const store of stores) {
  describe(`the archive end to end on ${store.name}`, () => {
    let world: World;
    let fake: FakeTelegram;
    let site: FeedSite;
    let bot: NewswireProcess;
    const publish = (items: RssItem[]) =>
      site.set("/news.xml", { body: rssXml({ title: "Новости", link: site.url("/"), items: [...items].reverse() }), contentType: "application/rss+xml; charset=utf-8" });

    before(async () => {
      world = await startWorld("search");
      ({ telegram: fake, site } = world);
      writeFileSync(join(world.workdir, "newswire.yaml"), `feeds:\n  - url: ${site.url("/news.xml")}\n    id: news\n    title: Новости\n    fulltext: true\n`);
      publish(ARCHIVED);
      bot = startNewswire(world.env({ CONFIG_FILE: join(world.workdir, "newswire.yaml"), ...(store.url ? { STORE_URL: await store.url() } : {}) }), world.workdir);
      await bot.waitForOutput("feed baseline recorded");
    });
    after(async () => {
      await bot?.stop();
      await world?.close();
    });

    test("/search finds month-old items by an inflected Russian word, newest-relevant first, a page at a time", async () => {
      fake.sendText(READER, "/search пошлинами Китая");
      const [reply] = await fake.waitFor((sent) => sent.chat_id === READER && sent.text.startsWith("🔎"), { timeoutMs: 10_000 });
      const lines = reply!.text.replace(/<[^>]+>/g, "").split("\n").filter((line) => /^\d+\. /.test(line));
      assert.deepEqual(
        lines.map((line) => line.replace(/^\d+\. /, "")),
        [7, 6, 5, 4, 3].map((issue) => `Китай ввёл пошлины на сталь, выпуск ${issue}`),
        reply!.text,
      );
      assert.doesNotMatch(reply!.text, /снег/);
      assert.match(reply!.text, new RegExp(`${monthAgo(6).toISOString().slice(0, 10)}`), "with the items' own dates");

      fake.pressButton(READER, reply!.message_id, "search:1");
      await until(() => /выпуск 2/.test(fake.message(READER, reply!.message_id)?.text ?? ""), () => fake.message(READER, reply!.message_id)?.text ?? "");
      const second = fake.message(READER, reply!.message_id)!.text!;
      assert.match(second, /6–7/);
      assert.match(second, /выпуск 2[\s\S]*выпуск 1/);

      fake.sendText(READER, "/search метеорит");
      await fake.waitFor((sent) => sent.chat_id === READER && sent.text.startsWith("Nothing found for «метеорит»"), { timeoutMs: 10_000 });
    });

    test("inline queries are answered with results the double accepts; one chosen posts the item", async () => {
      const update = fake.sendInlineQuery("Китаю пошл", { id: READER });
      const answer = await fake.waitForInlineAnswer(update.inline_query!.id, 10_000);
      assert.equal(answer.results.length, 7, "a prefix of the word still being typed matches");
      assert.ok(answer.cacheTime > 0 && answer.cacheTime <= 60, `cached briefly: ${answer.cacheTime}`);
      const posted = fake.chooseInlineResult(update.inline_query!.id, answer.results[0]!.id, OTHER);
      assert.match(posted.text ?? "", /Китай ввёл пошлины на сталь, выпуск 7/);
      assert.equal(posted.via_bot?.id, fake.bot.id);

      const latest = fake.sendInlineQuery("", { id: READER });
      assert.equal((await fake.waitForInlineAnswer(latest.inline_query!.id, 10_000)).results.length, ARCHIVED.length, "an empty query lists the latest items");
    });

    test("an item whose page was read has Read here, which sends the whole article as a rich message", async () => {
      fake.sendText(READER, "/subscribe all");
      await fake.waitFor((sent) => sent.chat_id === READER && sent.text.startsWith("Subscribed"), { timeoutMs: 10_000 });
      site.set("/talks", { body: ARTICLE_PAGE });
      publish([...ARCHIVED, { title: ARTICLE_TITLE, description: "Переговоры начались.", link: site.url("/talks"), guid: "talks", pubDate: new Date() }]);
      const [item] = await fake.waitFor((sent) => sent.chat_id === READER && sent.text.includes(ARTICLE_TITLE) && sent.method === "sendMessage", { timeoutMs: 15_000 });
      const markup = item!.reply_markup;
      const buttons = markup && "inline_keyboard" in markup ? markup.inline_keyboard.flat() : [];
      const button = buttons.find((candidate) => "callback_data" in candidate && candidate.callback_data.startsWith("read:"));
      assert.ok(button && "callback_data" in button, `a Read here button: ${JSON.stringify(item!.reply_markup)}`);

      fake.pressButton(READER, item!.message_id, button.callback_data);
      const [rich] = await fake.waitFor((sent) => sent.chat_id === READER && sent.method === "sendRichMessage", { timeoutMs: 10_000 });
      const blocks = rich!.rich!.blocks!;
      assert.deepEqual(blocks[0], { type: "heading", size: 1, text: ARTICLE_TITLE });
      assert.equal(blocks[1]!.type, "photo");
      assert.ok(blocks.some((block) => block.type === "heading" && block.size === 2 && block.text === "Что предлагает Пекин"), "the page's heading");
      for (const paragraph of ARTICLE_PARAGRAPHS) assert.ok(rich!.text.includes(paragraph), `the paragraph «${paragraph.slice(0, 30)}…»`);
      assert.doesNotMatch(rich!.text, /Главная|Все права защищены/, "no site furniture");
      assert.equal(blocks.at(-1)!.type, "footer");
    });

    test("200 inline queries from one user in a burst are limited; another user is still answered", async () => {
      const flooder = 9201;
      const queries = Array.from({ length: 200 }, (_, index) => fake.sendInlineQuery(`пошлины ${"к".repeat(index % 5)}`, { id: flooder }).inline_query!.id);
      const other = fake.sendInlineQuery("пошлины", { id: OTHER });
      const answer = await fake.waitForInlineAnswer(other.inline_query!.id, 10_000);
      assert.ok(answer.results.length > 0, "the other user gets results");
      const ofFlood = () => fake.inlineAnswers.filter((given) => queries.includes(given.queryId));
      await until(() => ofFlood().filter((given) => !given.button).length >= 20 && ofFlood().some((given) => given.button), () => `${ofFlood().length} answers`);
      // The limit counts in fixed windows: a burst across a window's end gets two windows' worth.
      const answered = ofFlood();
      const searched = answered.filter((given) => !given.button).length;
      const told = answered.filter((given) => given.button).length;
      assert.ok(searched >= 20 && searched <= 40, `20 searched (40 across a window's end), got ${searched}`);
      assert.ok(told >= 1 && told <= 2, `told once a window, got ${told}`);
      assert.equal(answered.length, searched + told, "the rest not answered at all");
    });
  });
}
