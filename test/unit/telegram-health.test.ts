/**
 * Telegram watched while running: network failures and 5xx answers start one outage, however many
 * calls fail; the first answer ends it. An answer about one chat (403, 400) is not an outage.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Api } from "grammy";
import { watchTelegram } from "../../src/bot/telegram-health.js";
import { Outage } from "../../src/health/outage.js";
import { API_ROOT, silentLogger, TOKEN } from "../support/builders.js";

test("network failures and 5xx are one outage; the next answer ends it", async () => {
  let mode: "down" | "502" | "403" | "ok" = "down";
  const fetch = async (): Promise<Response> => {
    if (mode === "down") throw new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:443") });
    if (mode === "502") return new Response(JSON.stringify({ ok: false, error_code: 502, description: "Bad Gateway" }), { status: 502 });
    if (mode === "403") return new Response(JSON.stringify({ ok: false, error_code: 403, description: "Forbidden: bot was blocked by the user" }), { status: 403 });
    return new Response(JSON.stringify({ ok: true, result: true }));
  };
  const events: string[] = [];
  const health = new Outage("Telegram", silentLogger, { down: ({ error }) => events.push(`down: ${error}`), up: ({ failures }) => events.push(`up after ${failures}`) });
  const api = new Api(TOKEN, { apiRoot: API_ROOT, fetch: fetch as never });
  watchTelegram(api, health);

  for (let call = 0; call < 3; call++) await assert.rejects(api.sendMessage(1, "hi"));
  mode = "502";
  await assert.rejects(api.sendMessage(1, "hi"));
  assert.equal(health.state?.failures, 4);
  mode = "403";
  await assert.rejects(api.sendMessage(1, "hi"));
  assert.equal(health.state, undefined, "Telegram answered");
  mode = "ok";
  await api.sendMessage(1, "hi");
  assert.deepEqual(events, ["down: connect ECONNREFUSED 127.0.0.1:443", "up after 4"]);
});
