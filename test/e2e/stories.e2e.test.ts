/**
 * One story, once, from outside: the real entry point against the loopback Bot API double and
 * feed site. Three feeds report one event under three links: a subscriber of all three gets one
 * message, edited to name the other two sources; a subscriber of only one of the feeds gets that
 * feed's item as its message; `/latest` lists the story once. With `STORIES=off` each source is a
 * message of its own. On SQLite, and on PostgreSQL when TEST_POSTGRES_URL is set.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FakeTelegram, SentMessage } from "../support/fake-telegram.js";
import { rssXml, type FeedSite, type RssItem } from "../support/feed-site.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";
import { postgresDatabase, storeServers } from "../support/store-servers.js";

const ALL_CHAT = 8101;
const LENTA_CHAT = 8102;

const FEEDS = ["tass", "ria", "lenta"] as const;
const TITLES = { tass: "ТАСС", ria: "РИА Новости", lenta: "Лента.ру" };

const CONFIG = (url: (feed: string) => string) => `
feeds:
${FEEDS.map((feed) => `  - url: ${url(feed)}\n    id: ${feed}\n    title: ${TITLES[feed]}\n    topics: [${feed}]`).join("\n")}
topics:
${FEEDS.map((feed) => `  - id: ${feed}\n    title: ${feed}\n    keywords: [never-${feed}]`).join("\n")}
`;

const at = (minutes: number) => new Date(Date.now() - 60 * 60_000 + minutes * 60_000);

/** One event, as each outlet words it. */
const EVENT: Record<(typeof FEEDS)[number], RssItem> = {
  tass: {
    title: "Извержение вулкана Шивелуч началось на Камчатке",
    description: "Вулкан Шивелуч выбросил столб пепла на высоту 8 км, сообщили в Камчатской группе реагирования на вулканические извержения. Авиации присвоен оранжевый код.",
    link: "https://tass.example/shiveluch",
    guid: "tass-shiveluch",
    pubDate: at(0),
  },
  ria: {
    title: "Шивелуч выбросил пепел на восемь километров",
    description: "На Камчатке проснулся вулкан Шивелуч: пепловый шлейф протянулся на 60 км к западу, для самолетов объявлен оранжевый авиационный код.",
    link: "https://ria.example/shiveluch",
    guid: "ria-shiveluch",
    pubDate: at(20),
  },
  lenta: {
    title: "Жителей камчатского поселка предупредили о пеплопаде после извержения Шивелуча",
    description: "Жителям поселка Ключи рекомендовали не выходить из домов. Высота выброса пепла над Шивелучем достигла 8 км.",
    link: "https://lenta.example/shiveluch",
    guid: "lenta-shiveluch",
    pubDate: at(45),
  },
};

/** Each feed's first item, its baseline: another story on each. */
const BASELINE: Record<(typeof FEEDS)[number], RssItem> = {
  tass: { title: "В Самаре открылся новый мост через Волгу", description: "Движение по мосту длиной 3,4 км запустили в среду.", link: "https://tass.example/bridge", guid: "tass-bridge", pubDate: at(-30) },
  ria: { title: "Минфин разместил облигации на 50 млрд рублей", description: "Спрос на ОФЗ превысил предложение в два раза.", link: "https://ria.example/ofz", guid: "ria-ofz", pubDate: at(-30) },
  lenta: { title: "В Ярославле отменили занятия в школах из-за морозов", description: "Температура опустилась до минус 32 градусов.", link: "https://lenta.example/frost", guid: "lenta-frost", pubDate: at(-30) },
};

function publish(site: FeedSite, feed: (typeof FEEDS)[number], items: RssItem[]): void {
  site.set(`/${feed}.xml`, { body: rssXml({ title: TITLES[feed], items: [...items].reverse() }), contentType: "application/rss+xml; charset=utf-8" });
}

/** Resolves once `condition` holds, checking every 50 ms; rejects after `timeoutMs` with `describe()`. */
async function until(condition: () => boolean, describe: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const stores: Array<{ name: string; url?: (name: string) => Promise<string> }> = [
  { name: "SQLite" },
  ...(storeServers.postgres ? [{ name: "PostgreSQL", url: (name: string) => postgresDatabase(storeServers.postgres!, `newswire_stories_${name}`) }] : []),
];

for (const store of stores) {
  describe(`stories end to end on ${store.name}`, () => {
    let world: World;
    let fake: FakeTelegram;
    let site: FeedSite;
    let bot: NewswireProcess | undefined;

    before(async () => {
      world = await startWorld("stories");
      ({ telegram: fake, site } = world);
      writeFileSync(join(world.workdir, "newswire.yaml"), CONFIG((feed) => site.url(`/${feed}.xml`)));
    });
    after(async () => {
      await bot?.stop();
      await world?.close();
    });

    /** Starts newswire with `extra` settings, subscribed and past its baselines. */
    const start = async (extra: Record<string, string>, database: string) => {
      for (const feed of FEEDS) publish(site, feed, [BASELINE[feed]]);
      bot = startNewswire(
        world.env({ CONFIG_FILE: join(world.workdir, "newswire.yaml"), ...(store.url ? { STORE_URL: await store.url(database) } : { STORE_URL: `sqlite://${join(world.workdir, database, "newswire.sqlite")}` }), ...extra }),
        world.workdir,
      );
      await bot.waitForOutput("newswire started");
      for (const chat of [ALL_CHAT, LENTA_CHAT]) fake.sendText(chat, chat === ALL_CHAT ? "/subscribe tass ria lenta" : "/subscribe lenta");
      await fake.waitFor((message) => message.chat_id === LENTA_CHAT && message.text.startsWith("Subscribed"), { timeoutMs: 10_000 });
      await fake.waitFor((message) => message.chat_id === ALL_CHAT && message.text.startsWith("Subscribed"), { timeoutMs: 10_000 });
      await until(() => (bot!.output().match(/feed baseline recorded/g) ?? []).length === FEEDS.length, () => bot!.output());
    };
    const eventMessages = (chatId: number): SentMessage[] =>
      fake.sent.filter((message) => message.chat_id === chatId && message.method === "sendMessage" && FEEDS.some((feed) => message.text.includes(EVENT[feed].title)));

    test("three sources of one event: one message, edited to name the other two; a reader of one feed gets its item", async () => {
      await start({}, "on");
      publish(site, "tass", [BASELINE.tass, EVENT.tass]);
      await until(() => eventMessages(ALL_CHAT).length === 1, () => bot!.output());
      publish(site, "ria", [BASELINE.ria, EVENT.ria]);
      publish(site, "lenta", [BASELINE.lenta, EVENT.lenta]);

      await until(() => eventMessages(LENTA_CHAT).length === 1, () => bot!.output());
      const [message] = eventMessages(ALL_CHAT);
      await until(
        () => /Also in: РИА Новости, Лента\.ру$|Also in: Лента\.ру, РИА Новости$/m.test(fake.message(ALL_CHAT, message!.message_id)?.text ?? ""),
        () => `${fake.message(ALL_CHAT, message!.message_id)?.text}\n${bot!.output()}`,
      );
      assert.equal(eventMessages(ALL_CHAT).length, 1, "no second message of the story");
      const edited = fake.message(ALL_CHAT, message!.message_id)!;
      assert.match(edited.text ?? "", new RegExp(EVENT.tass.title), "still the first source's message");
      const links = (edited.entities ?? []).filter((entity) => entity.type === "text_link").map((entity) => (entity as { url: string }).url);
      assert.ok(links.includes(EVENT.ria.link!) && links.includes(EVENT.lenta.link!), `the other sources are linked: ${links.join(", ")}`);
      assert.match(eventMessages(LENTA_CHAT)[0]!.text, new RegExp(EVENT.lenta.title), "the reader of one feed gets that feed's item");
      assert.equal(bot!.output().match(/item joins a story/g)?.length, 2, "each join is logged with why");
      assert.match(bot!.output(), /"shared":\[[^\]]*"шивелуч/i);

      fake.sendText(ALL_CHAT, "/latest 10");
      const [latest] = await fake.waitFor((sent) => sent.chat_id === ALL_CHAT && sent.text.startsWith("The "), { timeoutMs: 10_000 });
      const listed = FEEDS.filter((feed) => latest!.text.includes(EVENT[feed].title));
      assert.equal(listed.length, 1, `the story once in /latest:\n${latest!.text}`);
      assert.match(latest!.text, /ТАСС, РИА Новости, Лента\.ру/, "with every source that has it");
      await bot!.stop();
      bot = undefined;
    });

    test("with STORIES=off each source is a message of its own", async () => {
      fake.reset();
      await start({ STORIES: "off" }, "off");
      for (const feed of FEEDS) publish(site, feed, [BASELINE[feed], EVENT[feed]]);
      await until(() => eventMessages(ALL_CHAT).length === 3, () => bot!.output());
      assert.equal(fake.calls.filter((call) => call.method === "editMessageText").length, 0);
    });
  });
}
