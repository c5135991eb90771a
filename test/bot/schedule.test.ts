/**
 * `/digest`, `/timezone`, `/quiet` through bot.handleUpdate: each shows the current choice, sets
 * its own part of the chat's schedule, answers bad input with its usage (an unknown time zone by
 * name), needs a subscription first, and in a group an admin; in both languages.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Bot } from "grammy";
import { createBot } from "../../src/bot/create-bot.js";
import type { BotContext } from "../../src/bot/context.js";
import { parseDigest, parseQuiet } from "../../src/bot/features/schedule.js";
import { API_ROOT, BOT_INFO, buildDeps, groupChat, makeItem, messageUpdate, user, TOKEN, type MessageOptions } from "../support/builders.js";

async function setup() {
  const deps = await buildDeps();
  const bot: Bot<BotContext> = createBot({ token: TOKEN, apiRoot: API_ROOT, botInfo: BOT_INFO, fetch: deps.telegram.fetch as never, budget: deps.budget }, deps);
  const say = async (text: string, options?: MessageOptions): Promise<string> => {
    deps.telegram.clear();
    await bot.handleUpdate(messageUpdate(text, options));
    return deps.telegram.texts().join("\n");
  };
  return { deps, say };
}

describe("bot: /digest, /timezone, /quiet", () => {
  test("a chat sets a daily digest in its time zone and quiet hours, each part on its own, and turns them off", async () => {
    const { deps, say } = await setup();
    assert.match(await say("/digest daily 08:00"), /subscribe first/);
    await say("/subscribe all");
    assert.match(await say("/digest"), /Now: no digest/);
    assert.match(await say("/timezone Europe/Moscow"), /^Time zone: Europe\/Moscow \(it is \d\d:\d\d there now\)/);
    assert.match(await say("/digest daily 8:30"), /^Digest daily at 08:30 \(Europe\/Moscow\)/);
    assert.match(await say("/quiet 23:00-07:00 silent"), /^Quiet hours 23:00–07:00, sent silently \(Europe\/Moscow\)\./);
    assert.deepEqual((await deps.subscribers.get({ chatId: 100 }))?.schedule, {
      timeZone: "Europe/Moscow",
      digest: { every: "daily", at: 510 },
      quiet: { from: 1380, to: 420, mode: "silent" },
    });
    assert.match(await say("/subscriptions"), /Digest: daily at 08:30\nTime zone: Europe\/Moscow\nQuiet hours: 23:00–07:00, sent silently$/);
    assert.match(await say("/digest weekly"), /on Mondays at 08:00/);
    assert.match(await say("/digest hourly"), /every hour/);
    assert.match(await say("/digest off"), /^Digest off/);
    assert.match(await say("/quiet off"), /^Quiet hours off/);
    assert.match(await say("/timezone UTC"), /^Time zone: UTC/);
    assert.equal((await deps.subscribers.get({ chatId: 100 }))?.schedule, undefined, "nothing left of it");
    assert.deepEqual((await deps.subscribers.get({ chatId: 100 }))?.topics, ["all"], "the subscription itself untouched");
  });

  test("what is held keeps to a changed schedule: /digest off makes it due now, a new time moves it", async () => {
    const { deps, say } = await setup();
    await say("/subscribe all");
    await say("/digest weekly");
    const item = makeItem();
    await deps.held.hold([{ recipient: { chatId: 100 }, item, until: Date.now() + 7 * 24 * 3_600_000 }]);
    await say("/digest hourly");
    assert.deepEqual(await deps.held.due(Date.now(), 10), []);
    assert.equal((await deps.held.due(Date.now() + 3_600_000, 10)).length, 1, "due within the hour");
    await say("/digest off");
    assert.deepEqual((await deps.held.due(Date.now(), 10)).map(({ items }) => items.map(({ key }) => key)), [[item.key]], "due now: the next look sends it");
  });

  test("bad input gets the usage; an unknown time zone is named", async () => {
    const { say } = await setup();
    await say("/subscribe all");
    for (const text of ["/digest daily", "/digest daily 25:00", "/digest sometimes", "/digest off now"]) assert.match(await say(text), /^Usage: \/digest off/, text);
    for (const text of ["/quiet 23:00", "/quiet 23:00-23:00", "/quiet 23:00-08:00 loud", "/quiet later"]) assert.match(await say(text), /^Usage: \/quiet/, text);
    assert.match(await say("/timezone Mars/Olympus"), /^Unknown time zone: mars\/olympus\. Use an IANA name/i);
    assert.match(await say("/timezone Europe Moscow"), /^Usage: \/timezone/);
  });

  test("in Russian, and in a group only its admins change it", async () => {
    const { deps, say } = await setup();
    const from = user(300, "ru");
    await say("/subscribe all", { from });
    assert.match(await say("/digest daily 09:00", { from }), /^Дайджест ежедневно в 09:00 \(UTC\)/);
    assert.match(await say("/quiet 22:00-07:00", { from }), /новости ждут до конца/);

    const group = groupChat(-500);
    deps.telegram.respond = (request) =>
      request.method === "getChatMember" ? { ok: true, result: { status: request.params.user_id === 1 ? "administrator" : "member", user: { id: request.params.user_id, is_bot: false, first_name: "U" } } } : undefined;
    await say("/subscribe all", { chat: group, from: user(1) });
    assert.match(await say("/digest hourly", { chat: group, from: user(2) }), /Only this group's admins/);
    assert.match(await say("/digest hourly", { chat: group, from: user(1) }), /every hour/);
  });

  test("parsing", () => {
    assert.deepEqual(parseDigest(["DAILY", "07:05"]), { every: "daily", at: 425 });
    assert.equal(parseDigest(["off"]), null);
    assert.equal(parseDigest(["weekly", "7"]), undefined);
    assert.deepEqual(parseQuiet(["23:00–08:00"]), { from: 1380, to: 480, mode: "hold" });
    assert.equal(parseQuiet(["off"]), null);
  });
});
