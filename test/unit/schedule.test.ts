/**
 * Chats' delivery schedules (src/delivery/schedule.ts): digest times in the chat's time zone
 * (across a DST change too), quiet hours past midnight, and what becomes of an item arriving.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { canonicalTimeZone, formatClock, isQuiet, nextDigest, parseClock, releasedSilently, timing } from "../../src/delivery/schedule.js";

const iso = (instant: number) => new Date(instant).toISOString();

describe("schedule", () => {
  test("clock times and time zone names", () => {
    assert.equal(parseClock("08:00"), 480);
    assert.equal(parseClock("8:05"), 485);
    assert.equal(parseClock("23:59"), 1439);
    for (const bad of ["24:00", "12:60", "8", "08-00", "noon", ""]) assert.equal(parseClock(bad), undefined, bad);
    assert.equal(formatClock(485), "08:05");
    assert.equal(canonicalTimeZone("Europe/Moscow"), "Europe/Moscow");
    assert.equal(canonicalTimeZone("europe/moscow"), "Europe/Moscow");
    assert.equal(canonicalTimeZone("UTC"), "UTC");
    for (const bad of ["Mars/Olympus", "+03:00", "GMT+3 ", "", "Europe/Moscow; DROP"]) assert.equal(canonicalTimeZone(bad), undefined, bad);
  });

  test("a daily digest comes at its local time: later today, or tomorrow once passed", () => {
    const daily = { every: "daily", at: 8 * 60 } as const;
    // 04:30 UTC is 07:30 in Moscow (UTC+3): 08:00 Moscow is 05:00 UTC the same day.
    assert.equal(iso(nextDigest(daily, Date.UTC(2026, 11, 4, 4, 30), "Europe/Moscow")), "2026-12-04T05:00:00.000Z");
    assert.equal(iso(nextDigest(daily, Date.UTC(2026, 11, 4, 5, 0), "Europe/Moscow")), "2026-12-05T05:00:00.000Z", "at 08:00 itself: the next day's");
    assert.equal(iso(nextDigest(daily, Date.UTC(2026, 11, 4, 23, 0), "America/New_York")), "2026-12-05T13:00:00.000Z");
  });

  test("across a DST change the local time holds", () => {
    const daily = { every: "daily", at: 8 * 60 } as const;
    // Berlin moves to summer time on 2026-03-29: 08:00 is 07:00 UTC before, 06:00 UTC after.
    assert.equal(iso(nextDigest(daily, Date.UTC(2026, 2, 28, 12), "Europe/Berlin")), "2026-03-29T06:00:00.000Z");
    assert.equal(iso(nextDigest(daily, Date.UTC(2026, 2, 27, 12), "Europe/Berlin")), "2026-03-28T07:00:00.000Z");
  });

  test("west of UTC too: a time the spring change skips comes after the gap, a repeated one at its first instant after now", () => {
    const daily = (at: string) => ({ every: "daily", at: parseClock(at)! }) as const;
    // New York springs from 02:00 EST to 03:00 EDT on 2024-03-10: 02:30 does not exist, 03:30 EDT is 07:30 UTC.
    assert.equal(iso(nextDigest(daily("02:30"), Date.UTC(2024, 2, 10, 6, 45), "America/New_York")), "2024-03-10T07:30:00.000Z");
    // Quiet hours 22:00–02:30 that night end at the gap, not a day later.
    const spring = { quiet: { from: 22 * 60, to: 150, mode: "hold" }, timeZone: "America/New_York" } as const;
    assert.deepEqual(timing(spring, Date.UTC(2024, 2, 10, 6, 45)), { send: "held", until: Date.UTC(2024, 2, 10, 7, 30) });
    // It falls back from 02:00 EDT to 01:00 EST on 2024-11-03: 01:30 comes twice, 05:30 and 06:30 UTC.
    const fall = { quiet: { from: 22 * 60, to: 90, mode: "hold" }, timeZone: "America/New_York" } as const;
    assert.deepEqual(timing(fall, Date.UTC(2024, 10, 3, 5, 15)), { send: "held", until: Date.UTC(2024, 10, 3, 5, 30) }, "01:15 EDT: the first 01:30");
    assert.deepEqual(timing(fall, Date.UTC(2024, 10, 3, 6, 15)), { send: "held", until: Date.UTC(2024, 10, 3, 6, 30) }, "01:15 EST: the second");
    assert.equal(iso(nextDigest(daily("08:00"), Date.UTC(2024, 10, 3, 4), "America/New_York")), "2024-11-03T13:00:00.000Z");
  });

  test("a zone this Node does not know counts as UTC, rather than failing every delivery", () => {
    assert.deepEqual(timing({ digest: { every: "daily", at: 480 }, timeZone: "Nowhere/Atlantis" }, Date.UTC(2026, 11, 4, 6)), { send: "held", until: Date.UTC(2026, 11, 4, 8) });
  });

  test("hourly at the local full hour; weekly on Mondays", () => {
    assert.equal(iso(nextDigest({ every: "hourly" }, Date.UTC(2026, 11, 4, 10, 20, 5))), "2026-12-04T11:00:00.000Z");
    // India is UTC+5:30: its full hours are at :30 UTC.
    assert.equal(iso(nextDigest({ every: "hourly" }, Date.UTC(2026, 11, 4, 10, 20), "Asia/Kolkata")), "2026-12-04T10:30:00.000Z");
    // 2026-12-04 is a Friday: the next Monday is 2026-12-07.
    assert.equal(iso(nextDigest({ every: "weekly", at: 9 * 60 }, Date.UTC(2026, 11, 4, 10))), "2026-12-07T09:00:00.000Z");
    assert.equal(iso(nextDigest({ every: "weekly", at: 9 * 60 }, Date.UTC(2026, 11, 7, 9))), "2026-12-14T09:00:00.000Z");
  });

  test("quiet hours past midnight hold items until they end, or send them silently", () => {
    const hold = { from: 23 * 60, to: 8 * 60, mode: "hold" } as const;
    const schedule = { quiet: hold, timeZone: "Europe/Moscow" };
    // 21:30 UTC is 00:30 in Moscow: quiet until 08:00 Moscow, 05:00 UTC.
    assert.deepEqual(timing(schedule, Date.UTC(2026, 11, 4, 21, 30)), { send: "held", until: Date.UTC(2026, 11, 5, 5) });
    assert.deepEqual(timing(schedule, Date.UTC(2026, 11, 4, 12)), { send: "now", silent: false });
    assert.equal(isQuiet(hold, Date.UTC(2026, 11, 4, 19, 59), "Europe/Moscow"), false, "22:59 is not quiet");
    assert.equal(isQuiet(hold, Date.UTC(2026, 11, 4, 20), "Europe/Moscow"), true, "23:00 is");
    const silent = { ...schedule, quiet: { ...hold, mode: "silent" } as const };
    assert.deepEqual(timing(silent, Date.UTC(2026, 11, 4, 21, 30)), { send: "now", silent: true });
    assert.equal(releasedSilently(silent, Date.UTC(2026, 11, 4, 21, 30)), true);
  });

  test("a digest that would fall in quiet hours that hold comes when they end", () => {
    const schedule = { digest: { every: "daily", at: 7 * 60 } as const, quiet: { from: 23 * 60, to: 8 * 60, mode: "hold" } as const };
    assert.deepEqual(timing(schedule, Date.UTC(2026, 11, 4, 12)), { send: "held", until: Date.UTC(2026, 11, 5, 8) });
    assert.deepEqual(timing({ digest: { every: "daily", at: 9 * 60 } }, Date.UTC(2026, 11, 4, 12)), { send: "held", until: Date.UTC(2026, 11, 5, 9) });
    assert.deepEqual(timing(undefined, 0), { send: "now", silent: false });
  });
});
