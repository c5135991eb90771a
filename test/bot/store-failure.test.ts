/**
 * Commands whose store write fails: the user is told nothing was saved, in their language, and is
 * never told "Subscribed"; the chat's subscription is as it was. `/status` shows the outage, in the
 * admin's language.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Update } from "grammy/types";
import { createBot } from "../../src/bot/create-bot.js";
import { Outage } from "../../src/health/outage.js";
import { API_ROOT, BOT_INFO, buildDeps, callbackUpdate, memoryNamespaces, messageUpdate, silentLogger, TOKEN, user, type ApiRequest } from "../support/builders.js";
import { flakyKeyv } from "../support/flaky-store.js";

async function setup() {
  const store = new Outage("store", silentLogger);
  const { keyv, flaky } = flakyKeyv("subscribers", { health: store });
  const deps = await buildDeps({ namespaces: { ...memoryNamespaces(), subscribers: keyv }, adminIds: [100], store });
  const bot = createBot({ token: TOKEN, apiRoot: API_ROOT, botInfo: BOT_INFO, budget: deps.budget, fetch: deps.telegram.fetch as never }, deps);
  const handle = async (update: Update): Promise<ApiRequest[]> => {
    deps.telegram.clear();
    await bot.handleUpdate(update);
    return [...deps.telegram.requests];
  };
  const replies = (requests: ApiRequest[]) => requests.filter((request) => request.method === "sendMessage").map((request) => String(request.params.text));
  return { deps, flaky, handle, replies };
}

describe("bot: a store write that fails", () => {
  test("/subscribe and /unsubscribe say nothing was saved, in English and Russian, and change nothing", async () => {
    const { deps, flaky, handle, replies } = await setup();
    assert.deepEqual(replies(await handle(messageUpdate("/subscribe china"))), ["Subscribed to china."]);
    flaky.writesFail = true;
    const english = replies(await handle(messageUpdate("/subscribe science")));
    assert.equal(english.length, 1);
    assert.match(english[0]!, /could not be saved/);
    assert.doesNotMatch(english[0]!, /Subscribed/);
    const russian = replies(await handle(messageUpdate("/unsubscribe china", { from: user(100, "ru") })));
    assert.match(russian[0]!, /Не удалось сохранить/);
    assert.deepEqual((await deps.subscribers.get({ chatId: 100 }))?.topics, ["china"]);
  });

  test("a topic button answers that nothing was saved and leaves the menu as it was", async () => {
    const { deps, flaky, handle } = await setup();
    flaky.writesFail = true;
    const requests = await handle(callbackUpdate("topic:china"));
    const answer = requests.find((request) => request.method === "answerCallbackQuery");
    assert.match(String(answer?.params.text), /could not be saved/);
    assert.equal(answer?.params.show_alert, true);
    assert.equal(requests.filter((request) => request.method === "editMessageReplyMarkup").length, 0);
    assert.equal(await deps.subscribers.get({ chatId: 100 }), undefined);
  });

  test("/status shows the store failing, and healthy again once a write works", async () => {
    const { flaky, handle, replies } = await setup();
    flaky.writesFail = true;
    await handle(messageUpdate("/subscribe china"));
    const [failing] = replies(await handle(messageUpdate("/status")));
    assert.match(failing!, /<b>Store<\/b>: ❌ failing since \d+s ago \(1 failed calls\): store set failed: SQLITE_FULL/);
    const [russian] = replies(await handle(messageUpdate("/status", { from: user(100, "ru") })));
    assert.match(russian!, /<b>Хранилище<\/b>: ❌ сбоит уже \d+ с \(неудачных обращений: 1\): store set failed: SQLITE_FULL/);
    flaky.writesFail = false;
    await handle(messageUpdate("/subscribe china"));
    const [healthy] = replies(await handle(messageUpdate("/status")));
    assert.match(healthy!, /<b>Store<\/b>: ✅/);
    const [russianHealthy] = replies(await handle(messageUpdate("/status", { from: user(100, "ru") })));
    assert.match(russianHealthy!, /<b>Хранилище<\/b>: ✅/);
  });
});

describe("bot: a store read that fails", () => {
  test("a command that needs no stored state still answers (the stored language is only skipped)", async () => {
    const { deps, handle, replies } = await setup();
    // As PostgresSubscribers fails: every read of a subscription rejects.
    deps.subscribers.get = async () => {
      throw new Error("store query failed: connection terminated");
    };
    const answer = replies(await handle(messageUpdate("/help")));
    assert.equal(answer.length, 1);
    assert.match(answer[0]!, /\/subscribe/);
    assert.doesNotMatch(answer[0]!, /went wrong/);
  });
});
