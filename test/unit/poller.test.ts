import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import type { FeedDefinition } from "../../src/config/catalog.js";
import { parseSettings } from "../../src/config/settings.js";
import type { Dispatcher } from "../../src/delivery/dispatch.js";
import { addressPolicy } from "../../src/feeds/address-policy.js";
import { FeedStates } from "../../src/feeds/feed-state.js";
import { RecentItems } from "../../src/items/recent.js";
import { SeenItems } from "../../src/items/seen.js";
import { AdminNotifier, alertMessages } from "../../src/poller/admin-alerts.js";
import type { PollDeps } from "../../src/poller/poll-feed.js";
import { Poller } from "../../src/poller/poller.js";
import { cycleEnd, type PollSchedule } from "../../src/poller/poll-schedule.js";
import { StoreError } from "../../src/store/guard.js";
import { compileTopics } from "../../src/topics/topics.js";
import { memoryNamespaces, silentLogger, TOKEN } from "../support/builders.js";
import { rssXml, startFeedSite, type FeedSite } from "../support/feed-site.js";

const START = Date.UTC(2026, 0, 1);

/** Poll dependencies over memory namespaces, with a settable clock and the log lines kept. */
async function pollDeps(feeds: readonly FeedDefinition[], clock = { now: START }): Promise<PollDeps & { lines: string[]; namespaces: ReturnType<typeof memoryNamespaces> }> {
  const namespaces = memoryNamespaces();
  const lines: string[] = [];
  return {
    lines,
    namespaces,
    feedStates: await FeedStates.open(namespaces.feeds, feeds),
    seen: new SeenItems(namespaces.seen),
    recent: await RecentItems.open(namespaces.items, namespaces.recent),
    dispatcher: { accept: async () => 0 } as unknown as Dispatcher,
    topics: compileTopics([]),
    logger: pino({ level: "info" }, { write: (line: string) => void lines.push(line) }),
    fetch: { timeoutMs: 5_000, maxBytes: 1024 * 1024 },
    addressPolicy: addressPolicy(feeds.map((feed) => feed.url), false),
    alerts: { afterFailures: 5, notify: async () => undefined },
    now: () => clock.now,
  };
}

/** A shared schedule in memory, as its PostgreSQL table keeps it: the cycle each feed was last claimed for. */
function tableSchedule(): { schedule: PollSchedule; claimedFor: Map<string, number> } {
  const claimedFor = new Map<string, number>();
  const schedule: PollSchedule = {
    shared: true,
    claim: async (ids, cycle, limit) => {
      const taken = ids.filter((id) => (claimedFor.get(id) ?? 0) < cycle).slice(0, limit);
      for (const id of taken) claimedFor.set(id, cycle);
      return taken;
    },
  };
  return { schedule, claimedFor };
}

const until = async (condition: () => boolean): Promise<void> => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe("Poller", () => {
  let site: FeedSite;
  before(async () => {
    site = await startFeedSite();
  });
  after(() => site.close());

  const feed = (id: string): FeedDefinition => ({ id, url: site.url(`/${id}.xml`), topics: [], fulltext: false });
  /** A feed whose site takes 100 ms to answer. */
  const slowSite = (id: string) => site.set(`/${id}.xml`, { body: rssXml({ title: id, items: [{ title: `${id} story`, link: `https://${id}.example/1` }] }), delayMs: 100 });
  const good = (id: string) => site.set(`/${id}.xml`, { body: rssXml({ title: id, items: [{ title: `${id} story`, link: `https://${id}.example/1` }] }) });

  test("on a shared schedule two instances poll each due feed once per cycle between them, re-reading each claimed feed's state", async () => {
    const feeds = Array.from({ length: 12 }, (_, index) => feed(`shared${index}`));
    for (const { id } of feeds) good(id);
    // One schedule table in memory, as PostgreSQL keeps it; the namespaces are shared as a database's are.
    const claimedFor = new Map<string, number>();
    const claims: string[][] = [];
    const schedule: PollSchedule = {
      shared: true,
      claim: async (ids, cycle, limit) => {
        const taken = ids.filter((id) => (claimedFor.get(id) ?? 0) < cycle).slice(0, limit);
        for (const id of taken) claimedFor.set(id, cycle);
        claims.push(taken);
        return taken;
      },
    };
    const first = await pollDeps(feeds);
    const second = { ...(await pollDeps(feeds)), feedStates: await FeedStates.open(first.namespaces.feeds, feeds), seen: new SeenItems(first.namespaces.seen) };
    const pollers = [new Poller(feeds, first, 3, { schedule }), new Poller(feeds, second, 3, { schedule })];
    await Promise.all(pollers.map((poller) => poller.pollDue(1_000)));
    assert.deepEqual(feeds.map(({ id }) => site.requests(`/${id}.xml`).length), feeds.map(() => 1), "each feed once in the cycle");
    assert.ok(claims.every((batch) => batch.length <= 3), "no batch beyond the free slots");
    // The next cycle the other instance comes first, and takes feeds the first one polled.
    await pollers[1]!.pollDue(2_000);
    await pollers[0]!.pollDue(2_000);
    assert.deepEqual(feeds.map(({ id }) => site.requests(`/${id}.xml`).length), feeds.map(() => 2), "and once more in the next");
    // A feed the other instance polled is read again when claimed: its request is conditional, with the other's validators.
    const unconditional = feeds.filter(({ id }) => {
      const { headers } = site.requests(`/${id}.xml`)[1]!;
      return headers["if-none-match"] === undefined && headers["if-modified-since"] === undefined;
    });
    assert.deepEqual(unconditional.map(({ id }) => id), []);
    await pollers[0]!.pollDue(2_000);
    assert.deepEqual(feeds.map(({ id }) => site.requests(`/${id}.xml`).length), feeds.map(() => 2), "a cycle claimed already polls nothing");
  });

  test("a claim is offered the next few of the feeds left, not all of them; feeds other instances took are passed over", async () => {
    const feeds = Array.from({ length: 700 }, (_, index) => feed(`many${index}`));
    for (const { id } of feeds) good(id);
    const { schedule, claimedFor } = tableSchedule();
    // Another instance has claimed the first 400 for this cycle already.
    for (const { id } of feeds.slice(0, 400)) claimedFor.set(id, 1_000);
    const offered: number[] = [];
    const claim = schedule.claim.bind(schedule);
    const counting: PollSchedule = { shared: true, claim: (ids, cycle, limit) => (offered.push(ids.length), claim(ids, cycle, limit)) };
    await new Poller(feeds, await pollDeps(feeds), 4, { schedule: counting }).pollDue(1_000);
    assert.deepEqual(feeds.map(({ id }) => site.requests(`/${id}.xml`).length), feeds.map((_, index) => (index < 400 ? 0 : 1)), "the 300 left, once each");
    assert.ok(Math.max(...offered) <= 256, `at most 256 candidates a claim, offered ${Math.max(...offered)}`);
  });

  test("a cycle that ends before every due feed is polled leaves the rest first in line for the next", async () => {
    const clock = { now: START };
    const feeds = Array.from({ length: 6 }, (_, index) => feed(`rotate${index}`));
    for (const { id } of feeds) slowSite(id);
    const poller = new Poller(feeds, await pollDeps(feeds, clock), 2);
    for (const [cycle, endsAt] of [[1_000, START + 1_000], [2_000, START + 2_000]] as const) {
      const polled = poller.pollDue(cycle, endsAt);
      await until(() => poller.polling === 2);
      // The cycle's end comes while its first two feeds are fetched: it starts no more.
      clock.now = endsAt;
      await polled;
      assert.equal(poller.lastCycleAt, endsAt, "a cycle that polled until its time was up counts as completed");
    }
    assert.deepEqual(feeds.map(({ id }) => site.requests(`/${id}.xml`).length), [1, 1, 1, 1, 0, 0]);
  });

  test("on a shared schedule the next cycle starts after the furthest feed started, whatever order a claim returns", async () => {
    const clock = { now: START };
    const feeds = Array.from({ length: 6 }, (_, index) => feed(`reversed${index}`));
    for (const { id } of feeds) slowSite(id);
    const { schedule: table } = tableSchedule();
    const schedule: PollSchedule = { shared: true, claim: async (ids, cycle, limit) => (await table.claim(ids, cycle, limit)).reverse() };
    const poller = new Poller(feeds, await pollDeps(feeds, clock), 2, { schedule });
    for (const [cycle, endsAt] of [[1_000, START + 1_000], [2_000, START + 2_000]] as const) {
      const polled = poller.pollDue(cycle, endsAt);
      await until(() => poller.polling === 2);
      clock.now = endsAt;
      await polled;
    }
    assert.deepEqual(feeds.map(({ id }) => site.requests(`/${id}.xml`).length), [1, 1, 1, 1, 0, 0]);
  });

  test("a cycle whose tick fires after its end polls nothing and is not counted as completed", async () => {
    const clock = { now: START + 2_000 };
    const feeds = [feed("latetick")];
    good("latetick");
    const poller = new Poller(feeds, await pollDeps(feeds, clock), 2);
    await poller.pollDue(1_000, START + 1_000);
    assert.equal(site.requests("/latetick.xml").length, 0);
    assert.equal(poller.lastCycleAt, undefined);
    await poller.pollDue(2_000, Number.POSITIVE_INFINITY);
    assert.equal(site.requests("/latetick.xml").length, 1);
    assert.equal(poller.lastCycleAt, START + 2_000);
  });

  test("on a shared schedule a cycle that overruns stops claiming at the next tick, which takes the feeds left", async () => {
    const feeds = Array.from({ length: 6 }, (_, index) => feed(`overrun${index}`));
    for (const { id } of feeds) slowSite(id);
    const { schedule, claimedFor } = tableSchedule();
    const slow = new Poller(feeds, await pollDeps(feeds), 2, { schedule });
    const late = slow.pollDue(1_000);
    await until(() => slow.polling === 2);
    // The next tick comes while the first two feeds are still being fetched for the first cycle.
    await slow.pollDue(2_000);
    await late;
    assert.deepEqual(feeds.map(({ id }) => site.requests(`/${id}.xml`).length), feeds.map(() => 1), "each feed fetched once across both cycles");
    assert.deepEqual(feeds.map(({ id }) => claimedFor.get(id)), [1_000, 1_000, 2_000, 2_000, 2_000, 2_000]);
  });

  test("on a shared schedule a cycle claims only feeds it has a free slot for, and none after its end", async () => {
    const feeds = Array.from({ length: 4 }, (_, index) => feed(`ends${index}`));
    for (const { id } of feeds) slowSite(id);
    const { schedule, claimedFor } = tableSchedule();
    const clock = { now: START };
    const poller = new Poller(feeds, await pollDeps(feeds, clock), 2, { schedule });
    // The cycle before still fetches two feeds, in both slots: this one waits for a slot, claiming nothing.
    const before = poller.pollDue(START - 60_000, Number.POSITIVE_INFINITY);
    await until(() => poller.polling === 2);
    const cycle = poller.pollDue(START, START + 50);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(feeds.map(({ id }) => claimedFor.get(id)), [START - 60_000, START - 60_000, undefined, undefined], "no claim without a free slot");
    // Its end passes before a slot frees (this instance's timer for the next tick has not fired yet).
    clock.now = START + 50;
    await Promise.all([before, cycle]);
    assert.deepEqual(feeds.map(({ id }) => site.requests(`/${id}.xml`).length), [1, 1, 0, 0]);
    assert.deepEqual(feeds.map(({ id }) => claimedFor.get(id)), [START - 60_000, START - 60_000, undefined, undefined], "left for other instances");
    // The next cycle takes them.
    await poller.pollDue(START + 60_000, Number.POSITIVE_INFINITY);
    assert.deepEqual(feeds.slice(2).map(({ id }) => site.requests(`/${id}.xml`).length), [1, 1]);
  });

  test("on a shared schedule a cycle whose claimed feeds could not be polled (the store failed) is not counted as completed", async () => {
    const feeds = [feed("storefail")];
    good("storefail");
    const { schedule } = tableSchedule();
    const deps = await pollDeps(feeds);
    const refresh = deps.feedStates.refresh.bind(deps.feedStates);
    deps.feedStates.refresh = async () => {
      throw new StoreError("feeds: connection lost");
    };
    const poller = new Poller(feeds, deps, 2, { schedule });
    await poller.pollDue(1_000, Number.POSITIVE_INFINITY);
    assert.equal(site.requests("/storefail.xml").length, 0);
    assert.equal(poller.lastCycleAt, undefined);
    deps.feedStates.refresh = refresh;
    await poller.pollDue(2_000, Number.POSITIVE_INFINITY);
    assert.equal(site.requests("/storefail.xml").length, 1);
    assert.notEqual(poller.lastCycleAt, undefined);
  });

  test("cycleEnd: a tenth of the interval before the next tick, at most 5 s; none where the ticks are unknown", () => {
    assert.equal(cycleEnd(0, [4_000, 8_000]), 3_600);
    assert.equal(cycleEnd(300_000, [600_000, 900_000]), 595_000);
    // A timer that fired late still finds the tick after its own.
    assert.equal(cycleEnd(4_000, [4_000, 8_000]), 7_600);
    assert.equal(cycleEnd(0, []), Number.POSITIVE_INFINITY);
  });

  test("never fetches one feed twice at once: a cycle skips a feed still being polled", async () => {
    const slow = feed("slow");
    site.set("/slow.xml", { body: rssXml({ title: "slow", items: [{ title: "one", link: "https://slow.example/1" }] }), delayMs: 300 });
    const deps = await pollDeps([slow]);
    const poller = new Poller([slow], deps, 4);
    const first = poller.pollDue();
    await until(() => poller.polling === 1);
    await poller.pollDue();
    await poller.pollDue();
    await first;
    assert.equal(site.requests("/slow.xml").length, 1);
    assert.equal(poller.polling, 0);
    assert.equal((await deps.feedStates.get("slow")).baselined, true);
  });

  test("keeps at most `concurrency` feeds in flight; stop aborts them quietly", async () => {
    const feeds = ["h1", "h2", "h3", "h4", "h5"].map(feed);
    for (const { id } of feeds) site.hang(`/${id}.xml`);
    const deps = await pollDeps(feeds);
    const poller = new Poller(feeds, deps, 2);
    const cycle = poller.pollDue();
    const arrived = () => feeds.reduce((sum, { id }) => sum + site.requests(`/${id}.xml`).length, 0);
    await until(() => arrived() === 2);
    // The two in flight hang until the 5 s timeout: nothing more may start before then.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(arrived(), 2);
    assert.equal(poller.polling, 2, "the other three wait for a slot, not as queued polls");

    await poller.stop();
    await cycle;
    assert.equal(arrived(), 2, "the queued ones never start");
    assert.equal(poller.polling, 0);
    assert.deepEqual(deps.lines.filter((line) => /"level":50/.test(line)), [], "no error logged for the aborted polls");
    for (const { id } of feeds) assert.equal((await deps.feedStates.get(id)).failures, 0);
  });

  test("polls only due feeds: a failed feed waits out its backoff while the others go on", async () => {
    const clock = { now: START };
    const broken = feed("broken");
    const fine = feed("fine");
    site.set("/broken.xml", { body: "not a feed at all" });
    good("fine");
    const deps = await pollDeps([broken, fine], clock);
    const poller = new Poller([broken, fine], deps, 2);
    await poller.pollDue();
    assert.equal((await deps.feedStates.get("broken")).failures, 1);
    assert.match((await deps.feedStates.get("broken")).lastError ?? "", /neither XML nor JSON/);
    assert.equal((await deps.feedStates.get("fine")).failures, 0);
    assert.equal((await deps.feedStates.get("fine")).baselined, true);
    assert.equal(deps.lines.filter((line) => line.includes('"feed":"broken"') && line.includes("feed poll failed")).length, 1, "logged once, with its reason");

    clock.now = START + 30_000;
    await poller.pollDue();
    assert.equal(site.requests("/broken.xml").length, 1, "backing off");
    assert.equal(site.requests("/fine.xml").length, 2);

    clock.now = START + 60_000;
    await poller.pollDue();
    assert.equal(site.requests("/broken.xml").length, 2, "due again after a minute");
    assert.equal((await deps.feedStates.get("broken")).failures, 2);
  });

  test("counts polls by outcome, items accepted and completed cycles, when given metrics", async () => {
    const broken = feed("m-broken");
    const fine = feed("m-fine");
    site.set("/m-broken.xml", { body: "not a feed at all" });
    site.set("/m-fine.xml", { body: rssXml({ title: "fine", items: [1, 2, 3].map((n) => ({ title: `story ${n}`, link: `https://fine.example/${n}` })) }) });
    const clock = { now: START };
    const deps = await pollDeps([broken, fine], clock);
    const polled: string[] = [];
    const accepted: [number, boolean][] = [];
    const cycles: number[] = [];
    const poller = new Poller([broken, fine], deps, 2, {
      metrics: {
        polled: (outcome, seconds) => {
          assert.ok(seconds >= 0);
          polled.push(outcome);
        },
        accepted: (items, baseline) => accepted.push([items, baseline]),
        cycleCompleted: (at) => cycles.push(at),
      },
    });
    assert.equal(poller.lastCycleAt, undefined);
    await poller.pollDue();
    assert.deepEqual(polled.sort(), ["failed", "ok"]);
    assert.deepEqual(accepted, [[3, true]]);
    assert.deepEqual(cycles, [START]);
    assert.equal(poller.lastCycleAt, START);

    clock.now = START + 1_000;
    site.set("/m-fine.xml", { body: rssXml({ title: "fine", items: [1, 2, 3, 4].map((n) => ({ title: `story ${n}`, link: `https://fine.example/${n}` })) }) });
    await poller.pollDue();
    assert.deepEqual(accepted, [[3, true], [1, false]], "the broken feed backs off; the fine one brings one new item");
    assert.deepEqual(cycles, [START, START + 1_000]);
  });
});

describe("FEED_FAILURE_ALERT", () => {
  test("defaults to 5 and takes a positive whole number", () => {
    assert.equal(parseSettings({ BOT_TOKEN: TOKEN, FEEDS: "https://a.example/rss" }).feedFailureAlert, 5);
    assert.equal(parseSettings({ BOT_TOKEN: TOKEN, FEEDS: "https://a.example/rss", FEED_FAILURE_ALERT: "2" }).feedFailureAlert, 2);
    assert.throws(() => parseSettings({ BOT_TOKEN: TOKEN, FEED_FAILURE_ALERT: "0" }), /FEED_FAILURE_ALERT must be a positive whole number/);
  });
});

describe("AdminNotifier", () => {
  test("sends each alert to every admin, one message at a time, coalescing those raised meanwhile", async () => {
    const sent: { chatId: number; text: string }[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    const send = async (chatId: number, text: string) => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inFlight--;
      sent.push({ chatId, text });
    };
    const notifier = new AdminNotifier(5, [1, 2], send, silentLogger);
    assert.equal(notifier.afterFailures, 5);
    await notifier.notify("Feed a has failed 5 times in a row.");
    await notifier.notify("Feed b has failed 5 times in a row.");
    await notifier.notify("Feed c has failed 5 times in a row.");
    await until(() => sent.length === 4);
    assert.deepEqual(sent, [
      { chatId: 1, text: "Feed a has failed 5 times in a row." },
      { chatId: 2, text: "Feed a has failed 5 times in a row." },
      { chatId: 1, text: "Feed b has failed 5 times in a row.\n\nFeed c has failed 5 times in a row." },
      { chatId: 2, text: "Feed b has failed 5 times in a row.\n\nFeed c has failed 5 times in a row." },
    ]);
    assert.equal(mostInFlight, 1);
  });

  test("drain waits for queued alerts at a stop, but no longer than it is given", async () => {
    const sent: string[] = [];
    const slow = (ms: number) => async (_chatId: number, text: string) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      sent.push(text);
    };
    const notifier = new AdminNotifier(5, [1], slow(30), silentLogger);
    await notifier.notify("first");
    await notifier.notify("second");
    await notifier.drain(5_000);
    assert.deepEqual(sent, ["first", "second"]);

    sent.length = 0;
    const stuck = new AdminNotifier(5, [1], slow(1_000), silentLogger);
    await stuck.notify("answered late");
    await stuck.drain(50);
    assert.deepEqual(sent, [], "drain gave up at its deadline, before the send ended");
  });

  test("a failed send is logged and the other admins still get theirs", async () => {
    const lines: string[] = [];
    const sent: number[] = [];
    const send = async (chatId: number) => {
      if (chatId === 1) throw new Error("Forbidden: bot can't initiate conversation with a user");
      sent.push(chatId);
    };
    const notifier = new AdminNotifier(5, [1, 2], send, pino({ level: "info" }, { write: (line: string) => void lines.push(line) }));
    await notifier.notify("Feed a works again after 6 failed polls.");
    await until(() => sent.length === 1);
    assert.deepEqual(sent, [2]);
    assert.equal(lines.filter((line) => line.includes("admin alert not delivered") && line.includes('"admin":1')).length, 1);
  });

  test("without admins nothing is sent", async () => {
    let calls = 0;
    const notifier = new AdminNotifier(5, [], async () => void calls++, silentLogger);
    await notifier.notify("Feed a has failed 5 times in a row.");
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(calls, 0);
  });

  test("a burst lists the first alerts and counts the rest; long alerts fit a message", () => {
    const burst = Array.from({ length: 2_000 }, (_, n) => `Feed f${n} has failed 5 times in a row.`);
    const messages = alertMessages(burst);
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.split("\n\n").length, 10);
    assert.match(messages[0]!, /^Feed f0 has failed/);
    assert.match(messages[0]!, /…and 1991 more feed alerts; \/status shows every feed\.$/);
    assert.deepEqual(alertMessages(burst.slice(0, 10)), [burst.slice(0, 10).join("\n\n")]);

    const long = alertMessages(Array.from({ length: 6 }, (_, n) => `Feed f${n} failed.\nLast error: ${"x".repeat(5_000)}`));
    assert.equal(long.length, 2, "six clipped alerts in two messages");
    assert.ok(long.every((text) => text.length <= 4096));
    assert.equal(long.join("\n\n").split("\n\n").length, 6);
  });
});
