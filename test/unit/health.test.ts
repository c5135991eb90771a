import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { GrammyError, HttpError } from "grammy";
import { MIN_STALE_POLL_MS, pollCheck, pollStaleAfterMs, readiness, reused, runProbe, storeCheck, storeProbe, type CheckResult } from "../../src/http/health.js";

const MINUTE = 60_000;
const OK: CheckResult = { ok: true };

describe("pollStaleAfterMs", () => {
  test("three times the schedule's longest upcoming gap", () => {
    const everyFive = [0, 5, 10, 15].map((m) => m * MINUTE);
    assert.equal(pollStaleAfterMs(everyFive), 15 * MINUTE);
    assert.equal(pollStaleAfterMs([0, 5, 60, 65].map((m) => m * MINUTE)), 3 * 55 * MINUTE, "the longest gap counts");
  });

  test("at least a minute, so a per-second schedule does not flap", () => {
    assert.equal(pollStaleAfterMs([0, 1000, 2000, 3000]), MIN_STALE_POLL_MS);
    assert.equal(pollStaleAfterMs([]), MIN_STALE_POLL_MS);
  });
});

describe("pollCheck", () => {
  const now = Date.UTC(2026, 0, 1);

  test("fails before the first cycle", () => {
    assert.deepEqual(pollCheck(undefined, now, MINUTE), { ok: false, error: "no poll cycle has completed yet" });
  });

  test("ok up to the bound, stale past it", () => {
    assert.deepEqual(pollCheck(now - MINUTE, now, MINUTE), OK);
    const stale = pollCheck(now - MINUTE - 1000, now, MINUTE);
    assert.equal(stale.ok, false);
    assert.match((stale as { error: string }).error, /61 s ago \(more than 60 s\)/);
  });
});

describe("readiness", () => {
  test("ready when every check is ok, with the role", () => {
    assert.deepEqual(readiness({ role: "webhook", sending: false }, { store: OK, telegram: OK, poll: OK }), {
      ready: true,
      role: "webhook",
      sending: false,
      failed: [],
      checks: { store: OK, telegram: OK, poll: OK },
    });
  });

  test("names every failed check", () => {
    const down: CheckResult = { ok: false, error: "down" };
    const verdict = readiness({ role: "long-polling", sending: true }, { store: down, telegram: OK, poll: down });
    assert.equal(verdict.ready, false);
    assert.deepEqual(verdict.failed, ["store", "poll"]);
  });
});

describe("runProbe", () => {
  test("ok when the probe resolves", async () => {
    assert.deepEqual(await runProbe(async () => "answer"), OK);
  });

  test("Telegram's errors by code only: neither method nor token", async () => {
    const token = "123456:SECRET-token";
    const refused = new GrammyError(`Call to 'getMe' failed! (401: Unauthorized) bot${token}`, { ok: false, error_code: 401, description: "Unauthorized" }, "getMe", {});
    assert.deepEqual(await runProbe(() => Promise.reject(refused)), { ok: false, error: "Telegram answered 401" });
    const network = new HttpError(`Network request for 'getMe' failed! https://api.telegram.org/bot${token}/getMe`, new Error("ECONNREFUSED"));
    const result = await runProbe(() => Promise.reject(network));
    assert.deepEqual(result, { ok: false, error: "Telegram cannot be reached (network error)" });
  });

  test("a system error by its code, never its message (a store URL may carry a password)", async () => {
    const error = Object.assign(new Error("connect ECONNREFUSED postgres://newswire:hunter2@db/newswire"), { code: "ECONNREFUSED" });
    assert.deepEqual(await runProbe(() => Promise.reject(error)), { ok: false, error: "Error (ECONNREFUSED)" });
  });

  test("a probe that does not answer in time fails", async () => {
    const result = await runProbe(() => new Promise(() => undefined), 5);
    assert.deepEqual(result, { ok: false, error: "no answer within 5 ms" });
  });
});

describe("storeProbe and storeCheck", () => {
  test("the probe reads: ok when the read works, failed when it rejects", async () => {
    assert.deepEqual(await runProbe(storeProbe({ get: async () => undefined })), OK);
    assert.equal((await runProbe(storeProbe({ get: async () => Promise.reject(new Error("closed")) }))).ok, false);
  });

  test("an outage of the store fails the check though its read works (a full disk fails writes only)", () => {
    const outage = { since: 10_000, error: "SQLITE_FULL: database or disk is full", failures: 3 };
    assert.deepEqual(storeCheck(OK, undefined, 40_000), OK);
    assert.deepEqual(storeCheck(OK, outage, 40_000), { ok: false, error: "store calls failing for 30 s (3 failed)" });
    const unreachable = { ok: false as const, error: "Error (ECONNREFUSED)" };
    assert.deepEqual(storeCheck(unreachable, outage, 40_000), unreachable, "a failed read says why itself");
  });
});

describe("reused", () => {
  test("one run serves the calls while it runs and within the reuse interval", async () => {
    let now = 0;
    let runs = 0;
    let finish: (result: CheckResult) => void = () => undefined;
    const check = reused(() => {
      runs++;
      return new Promise<CheckResult>((resolve) => (finish = resolve));
    }, 2_000, () => now);
    const first = check();
    now = 5_000;
    const during = check();
    assert.equal(runs, 1, "still running: shared");
    finish(OK);
    assert.deepEqual(await first, OK);
    assert.equal(during, first);
    now = 6_000;
    check();
    assert.equal(runs, 2, "settled and older than the interval: runs again");
    now = 7_000;
    check();
    assert.equal(runs, 2, "the new run is still running");
  });

  test("a settled result is reused within the interval", async () => {
    let now = 0;
    let runs = 0;
    const check = reused(async () => (runs++, OK), 2_000, () => now);
    await check();
    now = 1_999;
    await check();
    assert.equal(runs, 1);
    now = 2_000;
    await check();
    assert.equal(runs, 2);
  });
});
