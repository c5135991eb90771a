/**
 * Digests and quiet hours from outside: the real entry point against the loopback Bot API double
 * and feed site, on SQLite and (when TEST_POSTGRES_URL is set) PostgreSQL. A chat on a daily
 * digest in Moscow time gets exactly one digest at its local time with every item since it set
 * it; a chat in quiet hours that hold gets its items as one digest when they end; one in silent
 * quiet hours gets them at once without a sound; a chat with neither gets them at once. The
 * process is SIGKILLed after the items were taken in and before the digests are due: nothing is
 * lost. The digest's time is the next minute at least 25 s away, so the test takes under a minute and a half.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FakeTelegram, SentMessage } from "../support/fake-telegram.js";
import { rssXml, type FeedSite, type RssItem } from "../support/feed-site.js";
import { startNewswire, startWorld, type NewswireProcess, type World } from "../support/newswire-process.js";
import { postgresDatabase, storeServers } from "../support/store-servers.js";

const DIGEST_CHAT = 8201;
const QUIET_CHAT = 8202;
const SILENT_CHAT = 8203;
const NOW_CHAT = 8204;
const MINUTE = 60_000;

/** HH:MM of `instant` in `timeZone`. */
const clock = (instant: number, timeZone: string) => new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(instant);

const item = (n: number, minutesAgo: number): RssItem => ({
  title: `Harbour report number ${n}`,
  description: `The harbour works reached stage ${n} on schedule, the port authority said.`,
  link: `https://wire.example/harbour-${n}`,
  guid: `harbour-${n}`,
  pubDate: new Date(Date.now() - minutesAgo * MINUTE),
});

async function until(condition: () => boolean, describe: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const stores: Array<{ name: string; url?: () => Promise<string> }> = [
  { name: "SQLite" },
  ...(storeServers.postgres ? [{ name: "PostgreSQL", url: () => postgresDatabase(storeServers.postgres!, "newswire_digests_e2e") }] : []),
];

for (const store of stores) {
  describe(`digests and quiet hours end to end on ${store.name}`, () => {
    let world: World;
    let fake: FakeTelegram;
    let site: FeedSite;
    let bot: NewswireProcess | undefined;
    let env: Record<string, string>;
    const publish = (items: RssItem[]) => site.set("/wire.xml", { body: rssXml({ title: "The Wire", items: [...items].reverse() }), contentType: "application/rss+xml; charset=utf-8" });

    before(async () => {
      world = await startWorld("digests");
      ({ telegram: fake, site } = world);
      writeFileSync(join(world.workdir, "newswire.yaml"), `feeds:\n  - url: ${site.url("/wire.xml")}\n    id: wire\n    title: The Wire\n`);
      env = world.env({ CONFIG_FILE: join(world.workdir, "newswire.yaml"), ...(store.url ? { STORE_URL: await store.url() } : {}) });
    });
    after(async () => {
      await bot?.stop();
      await world?.close();
    });

    const to = (chatId: number): SentMessage[] => fake.sent.filter((message) => message.chat_id === chatId && message.method === "sendMessage");
    const digestsTo = (chatId: number) => to(chatId).filter((message) => message.text.includes("Digest: "));
    const singleItems = (chatId: number) => to(chatId).filter((message) => message.text.includes("Harbour report") && !message.text.includes("Digest: "));
    const ask = async (chatId: number, text: string, reply: RegExp) => {
      const before = to(chatId).length;
      fake.sendText(chatId, text);
      await until(() => to(chatId).length > before, () => `no reply to ${text}`, 10_000);
      assert.match(to(chatId).at(-1)!.text, reply, text);
    };

    test("one digest at the chat's local time, quiet hours held and released, silent ones silent; a SIGKILL loses nothing", async () => {
      const baseline = item(0, 120);
      publish([baseline]);
      bot = startNewswire(env, world.workdir);
      await bot.waitForOutput("feed baseline recorded", 15_000);

      // The digest's time: the next full minute at least 25 s away.
      const due = Math.ceil((Date.now() + 25_000) / MINUTE) * MINUTE;
      for (const chat of [DIGEST_CHAT, QUIET_CHAT, SILENT_CHAT, NOW_CHAT]) await ask(chat, "/subscribe all", /^Subscribed to all/);
      await ask(DIGEST_CHAT, "/timezone Europe/Moscow", /^Time zone: Europe\/Moscow/);
      await ask(DIGEST_CHAT, `/digest daily ${clock(due, "Europe/Moscow")}`, /^Digest daily at/);
      // Quiet hours (UTC) that began a while ago and end at the digest's time; silent ones that cover now.
      await ask(QUIET_CHAT, `/quiet ${clock(Date.now() - 10 * MINUTE, "UTC")}-${clock(due, "UTC")}`, /^Quiet hours/);
      await ask(SILENT_CHAT, `/quiet ${clock(Date.now() - 10 * MINUTE, "UTC")}-${clock(Date.now() + 30 * MINUTE, "UTC")} silent`, /sent silently/);

      const news = [item(1, 3), item(2, 2)];
      publish([baseline, ...news]);
      await until(() => to(NOW_CHAT).filter((message) => message.text.includes("Harbour report")).length === 2, () => bot!.output(), 15_000);
      await until(() => to(SILENT_CHAT).filter((message) => message.text.includes("Harbour report")).length === 2, () => bot!.output(), 15_000);
      const silentSends = fake.calls.filter((call) => call.method === "sendMessage" && call.params.chat_id === SILENT_CHAT && String(call.params.text).includes("Harbour"));
      assert.ok(silentSends.every((call) => call.params.disable_notification === true), "sent without a sound");
      assert.ok(Date.now() < due - 5_000, "the digest is not due yet");
      assert.equal(singleItems(DIGEST_CHAT).length, 0, "held, not sent");
      assert.equal(singleItems(QUIET_CHAT).length, 0, "held in quiet hours");

      // Killed before the digests are due, and started again.
      bot.child.kill("SIGKILL");
      await bot.exited;
      bot = startNewswire(env, world.workdir);
      await bot.waitForOutput("newswire started", 15_000);

      await until(() => digestsTo(DIGEST_CHAT).length > 0 && digestsTo(QUIET_CHAT).length > 0, () => bot!.output(), due - Date.now() + 20_000);
      const [digest] = digestsTo(DIGEST_CHAT);
      assert.ok(digest!.at >= due - 1_000, `sent at its time: ${new Date(digest!.at).toISOString()} for ${new Date(due).toISOString()}`);
      for (const sent of [digest!, digestsTo(QUIET_CHAT)[0]!]) {
        assert.match(sent.text, /^<b>Digest: 2 stories<\/b>/);
        assert.ok(news.every((entry) => sent.text.includes(entry.title)), sent.text);
        assert.ok(!sent.text.includes(baseline.title), "nothing from before");
      }
      // Later looks send nothing more.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      assert.equal(digestsTo(DIGEST_CHAT).length, 1, "exactly one digest");
      assert.equal(digestsTo(QUIET_CHAT).length, 1);
      assert.equal(singleItems(DIGEST_CHAT).length, 0, "no single items");
      assert.equal(singleItems(QUIET_CHAT).length, 0);
    });
  });
}
