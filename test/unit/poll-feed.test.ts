import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import type { FeedDefinition } from "../../src/config/catalog.js";
import type { AcceptedItem, Dispatcher } from "../../src/delivery/dispatch.js";
import { addressPolicy } from "../../src/feeds/address-policy.js";
import { FeedStates } from "../../src/feeds/feed-state.js";
import { RecentItems } from "../../src/items/recent.js";
import { SEEN_REFRESH_MS, SeenItems } from "../../src/items/seen.js";
import {
  failureBackoffMs,
  healthAlert,
  MAX_BACKOFF_MS,
  MAX_REQUESTED_WAIT_MS,
  nextPollAfterSuccess,
  oldestFirst,
  pollFeed,
  retryAt,
  type PollDeps,
} from "../../src/poller/poll-feed.js";
import { compileTopics } from "../../src/topics/topics.js";
import { memoryNamespaces, silentLogger } from "../support/builders.js";
import { rssXml, startFeedSite, type FeedSite, type RssItem } from "../support/feed-site.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 0, 1);

/** Everything one test's polls go through, with what they handed on. */
interface Harness {
  deps: PollDeps;
  /** Each `dispatcher.accept` call's items, in order. */
  dispatched: AcceptedItem[][];
  alerts: string[];
  clock: { now: number };
  seenStore: ReturnType<typeof memoryNamespaces>["seen"];
}

async function harness(feeds: FeedDefinition[], afterFailures = 3): Promise<Harness> {
  const namespaces = memoryNamespaces();
  const dispatched: AcceptedItem[][] = [];
  const alerts: string[] = [];
  const clock = { now: START };
  const dispatcher = {
    async accept(accepted: readonly AcceptedItem[]) {
      dispatched.push([...accepted]);
      return accepted.length;
    },
  } as unknown as Dispatcher;
  const deps: PollDeps = {
    feedStates: await FeedStates.open(namespaces.feeds, feeds),
    seen: new SeenItems(namespaces.seen),
    recent: await RecentItems.open(namespaces.items, namespaces.recent),
    dispatcher,
    topics: compileTopics([]),
    logger: silentLogger,
    fetch: { timeoutMs: 2_000, maxBytes: 1024 * 1024 },
    addressPolicy: addressPolicy(feeds.map((feed) => feed.url), false),
    alerts: {
      afterFailures,
      async notify(text) {
        alerts.push(text);
      },
    },
    now: () => clock.now,
  };
  return { deps, dispatched, alerts, clock, seenStore: namespaces.seen };
}

const story = (n: number, overrides: Partial<RssItem> = {}): RssItem => ({
  title: `Story ${n}`,
  link: `https://news.example/story-${n}`,
  guid: `story-${n}`,
  description: `Text of story ${n}.`,
  pubDate: new Date(START - (100 - n) * HOUR),
  ...overrides,
});

const titles = (accepted: readonly AcceptedItem[] | undefined): string[] => (accepted ?? []).map(({ item }) => item.title);

describe("scheduling arithmetic", () => {
  test("backoff doubles from one minute and stops at six hours", () => {
    assert.deepEqual([1, 2, 3, 4].map(failureBackoffMs), [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE]);
    assert.equal(failureBackoffMs(9), 256 * MINUTE);
    assert.equal(failureBackoffMs(10), MAX_BACKOFF_MS);
    assert.equal(failureBackoffMs(500), 6 * HOUR);
  });

  test("Retry-After wins over a shorter backoff, up to a day", () => {
    assert.equal(retryAt(START, 1), START + MINUTE);
    assert.equal(retryAt(START, 1, 2 * HOUR), START + 2 * HOUR);
    assert.equal(retryAt(START, 10, 2 * HOUR), START + 6 * HOUR, "the backoff is longer");
    assert.equal(retryAt(START, 1, 30 * DAY), START + MAX_REQUESTED_WAIT_MS);
  });

  test("a <ttl> delays the next poll, up to a day", () => {
    assert.equal(nextPollAfterSuccess(START, undefined), undefined);
    assert.equal(nextPollAfterSuccess(START, 90 * MINUTE), START + 90 * MINUTE);
    assert.equal(nextPollAfterSuccess(START, 7 * DAY), START + DAY);
  });

  test("oldest first: by date when every entry has one, else the reverse of feed order", () => {
    const at = (day: number | undefined, name: string) => ({ name, entry: { published: day === undefined ? undefined : new Date(START + day * DAY) } });
    assert.deepEqual(oldestFirst([at(2, "b"), at(3, "c"), at(1, "a")]).map(({ name }) => name), ["a", "b", "c"]);
    assert.deepEqual(oldestFirst([at(2, "c"), at(undefined, "b"), at(1, "a")]).map(({ name }) => name), ["a", "b", "c"]);
  });
});

describe("healthAlert", () => {
  const feed = { id: "harbour", url: "https://harbour.example/rss" };

  test("tells once when the failures reach the threshold, with the feed, the count and the error", () => {
    assert.deepEqual(healthAlert(feed, { failures: 1 }, { failures: 2, lastError: "HTTP 500" }, 3), { alerted: false });
    const reached = healthAlert(feed, { failures: 2 }, { failures: 3, lastError: "HTTP 500 from https://harbour.example/rss" }, 3);
    assert.equal(reached.alerted, true);
    assert.match(reached.message ?? "", /^Feed harbour has failed 3 times in a row\./);
    assert.match(reached.message ?? "", /Last error: HTTP 500 from https:\/\/harbour\.example\/rss/);
    assert.deepEqual(healthAlert(feed, { failures: 3, alerted: true }, { failures: 4, lastError: "HTTP 500" }, 3), { alerted: true });
  });

  test("tells of the recovery only after an alert", () => {
    const recovered = healthAlert(feed, { failures: 7, alerted: true }, { failures: 0 }, 3);
    assert.equal(recovered.alerted, false);
    assert.match(recovered.message ?? "", /^Feed harbour works again after 7 failed polls\./);
    assert.deepEqual(healthAlert(feed, { failures: 2 }, { failures: 0 }, 3), { alerted: false });
    assert.deepEqual(healthAlert(feed, { failures: 0 }, { failures: 0 }, 3), { alerted: false });
  });

  test("a threshold lowered below a running count alerts at the next failure", () => {
    assert.equal(healthAlert(feed, { failures: 8 }, { failures: 9, lastError: "x" }, 5).alerted, true);
  });
});

describe("pollFeed against a loopback site", () => {
  let site: FeedSite;
  before(async () => {
    site = await startFeedSite();
  });
  after(() => site.close());

  const feedAt = (id: string): FeedDefinition => ({ id, url: site.url(`/${id}.xml`), topics: [], fulltext: false });
  const publish = (id: string, items: RssItem[], extra = "") =>
    site.set(`/${id}.xml`, { body: rssXml({ title: id, items }).replace("<channel>", `<channel>${extra}`) });

  test("baseline first, then only new items, oldest first; re-dated, re-ordered and returning items are not new", async () => {
    const feed = feedAt("order");
    const h = await harness([feed]);
    publish("order", [story(2), story(1)]);
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "ok", newItems: 2, queued: 0, baseline: true });
    assert.equal(h.dispatched.length, 0, "the baseline is not dispatched");

    // Document order is not date order; a listed item re-dated, one dropped.
    publish("order", [story(4), story(5), story(2, { pubDate: new Date(START) }), story(3)]);
    const result = await pollFeed(feed, h.deps);
    assert.deepEqual(result, { status: "ok", newItems: 3, queued: 3, baseline: false });
    assert.deepEqual(titles(h.dispatched[0]), ["Story 3", "Story 4", "Story 5"]);

    // Story 1 returns, re-ordered and re-dated.
    publish("order", [story(1, { pubDate: new Date(START + HOUR) }), story(5), story(4), story(3), story(2)]);
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "ok", newItems: 0, queued: 0, baseline: false });
    assert.equal(h.dispatched.length, 2);
    assert.deepEqual(titles(h.dispatched[1]), []);
    assert.equal((await h.deps.feedStates.get("order")).itemsSeen, 5);
  });

  test("a re-baseline while a poll runs is not undone by it: nothing of that poll is dispatched, and the next poll is a baseline", async () => {
    const feed = feedAt("wiped");
    const h = await harness([feed]);
    publish("wiped", [story(2), story(1)]);
    await pollFeed(feed, h.deps);
    publish("wiped", [story(3), story(2), story(1)]);
    // The store loses its data while the poll builds its items; epochCheck re-baselines the feed.
    const add = h.deps.recent.add.bind(h.deps.recent);
    h.deps.recent.add = async (items) => {
      await h.seenStore.clear();
      await h.deps.feedStates.rebaseline([feed.id]);
      return add(items);
    };
    assert.equal((await pollFeed(feed, h.deps)).status, "ok");
    h.deps.recent.add = add;
    assert.equal(h.dispatched.length, 0, "found new before the loss, but not sent");
    assert.equal((await h.deps.feedStates.get("wiped")).baselined, false);

    // The seen memory holds only story 3 now: the baseline takes in the rest unsent.
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "ok", newItems: 2, queued: 0, baseline: true });
    publish("wiped", [story(4), story(3), story(2), story(1)]);
    await pollFeed(feed, h.deps);
    assert.deepEqual(titles(h.dispatched[0]), ["Story 4"]);
  });

  test("a flood takes in only the newest MAX_NEW_ITEMS_PER_POLL; the rest are seen, unsent, and counted in one log line", async () => {
    const feed = feedAt("flood");
    const h = await harness([feed]);
    const lines: string[] = [];
    h.deps.logger = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    h.deps.maxNewItems = 3;
    publish("flood", [story(1)]);
    await pollFeed(feed, h.deps);
    const flood = Array.from({ length: 50 }, (_, index) => story(index + 2));
    publish("flood", [...flood, story(1)]);
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "ok", newItems: 3, queued: 3, baseline: false });
    assert.deepEqual(titles(h.dispatched[0]), ["Story 49", "Story 50", "Story 51"], "the newest three, oldest first");
    const logged = lines.map((line) => JSON.parse(line) as { msg: string; skipped?: number }).filter((line) => line.skipped !== undefined);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.skipped, 47);
    // The skipped ones are remembered: the next full read finds nothing new.
    publish("flood", [...flood, story(1)], "<!-- read again -->");
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "ok", newItems: 0, queued: 0, baseline: false });
    assert.equal((await h.deps.feedStates.get("flood")).itemsSeen, 51);
  });

  test("a first poll records the whole back catalogue for /latest, whatever MAX_NEW_ITEMS_PER_POLL says", async () => {
    const feed = feedAt("catalogue");
    const h = await harness([feed]);
    h.deps.maxNewItems = 3;
    publish("catalogue", Array.from({ length: 10 }, (_, index) => story(10 - index)));
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "ok", newItems: 10, queued: 0, baseline: true });
    assert.equal((await h.deps.feedStates.get("catalogue")).itemsSeen, 10);
  });

  test("a fulltext feed summarises the article page and takes its og:image when the feed has none", async () => {
    const feed = { ...feedAt("full"), fulltext: true };
    const h = await harness([feed]);
    publish("full", [story(1)]);
    await pollFeed(feed, h.deps);
    const page = (n: number) =>
      `<html><head><meta property="og:image" content="https://img.example/${n}.jpg"><title>Page ${n}</title></head><body><article>` +
      `<h1>Story ${n}</h1><p>The harbour board approved the new breakwater after a long debate about storms and costs.</p>` +
      `<p>Engineers said the work will take two summers and keep the fishing fleet safe in winter gales.</p>` +
      `<p>Residents asked for the old lighthouse to be kept, and the board agreed to restore it as part of the plan.</p>` +
      `</article></body></html>`;
    site.set("/articles/2", { body: page(2), contentType: "text/html; charset=utf-8" });
    publish("full", [story(2, { link: site.url("/articles/2"), title: "Harbour board approves the breakwater" }), story(1)]);
    await pollFeed(feed, h.deps);
    const [item] = h.dispatched.at(-1)!.map(({ item }) => item);
    assert.equal(item?.image, "https://img.example/2.jpg");
    assert.match(item?.summary ?? "", /breakwater/);
  });

  test("the second poll of an unchanged feed is a conditional GET answered 304, and costs no parse", async () => {
    const feed = feedAt("conditional");
    const h = await harness([feed]);
    publish("conditional", [story(1)]);
    await pollFeed(feed, h.deps);
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "not-modified" });
    const [first, second] = site.requests("/conditional.xml");
    assert.equal(first?.headers["if-none-match"], undefined);
    assert.ok(second?.headers["if-none-match"], "validator sent");
    assert.ok(second?.headers["if-modified-since"], "validator sent");
    assert.equal(second?.status, 304);
    assert.equal((await h.deps.feedStates.get("conditional")).lastSuccessAt, START);
  });

  test("a feed unchanged for a month is read in full once, which refreshes its items' seen memory", async () => {
    const feed = feedAt("quiet");
    const h = await harness([feed]);
    publish("quiet", [story(1)]);
    await pollFeed(feed, h.deps);
    const [key] = (await h.deps.recent.latest(1)).map((item) => item.key);
    assert.equal(await h.seenStore.get(key!), START);

    h.clock.now = START + SEEN_REFRESH_MS - DAY;
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "not-modified" });
    h.clock.now = START + SEEN_REFRESH_MS + DAY;
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "ok", newItems: 0, queued: 0, baseline: false });
    const requests = site.requests("/quiet.xml");
    assert.equal(requests.length, 3);
    assert.equal(requests[2]?.headers["if-none-match"], undefined, "no validators: a full read");
    assert.equal(requests[2]?.status, 200);
    assert.equal(await h.seenStore.get(key!), START + SEEN_REFRESH_MS + DAY, "remembered afresh");
    assert.equal((await h.deps.feedStates.get("quiet")).lastReadAt, START + SEEN_REFRESH_MS + DAY);
  });

  test("<ttl> sets the next poll, after a 200 and after a 304 alike", async () => {
    const feed = feedAt("ttl");
    const h = await harness([feed]);
    publish("ttl", [story(1)], "<ttl>90</ttl>");
    await pollFeed(feed, h.deps);
    assert.equal((await h.deps.feedStates.get("ttl")).nextPollAt, START + 90 * MINUTE);
    h.clock.now = START + 2 * HOUR;
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "not-modified" });
    assert.equal((await h.deps.feedStates.get("ttl")).nextPollAt, START + 2 * HOUR + 90 * MINUTE);
  });

  test("429 and 503 with Retry-After put the next poll after it; a failure counts and backs off", async () => {
    const feed = feedAt("busy");
    const h = await harness([feed]);
    site.set("/busy.xml", { body: "slow down", status: 429, headers: { "retry-after": "7200" } });
    const result = await pollFeed(feed, h.deps);
    assert.equal(result.status, "failed");
    let state = (await h.deps.feedStates.get("busy"));
    assert.equal(state.failures, 1);
    assert.equal(state.nextPollAt, START + 2 * HOUR);
    assert.match(state.lastError ?? "", /HTTP 429/);

    site.set("/busy.xml", { body: "maintenance", status: 503, headers: { "retry-after": "99999999" } });
    await pollFeed(feed, h.deps);
    state = (await h.deps.feedStates.get("busy"));
    assert.equal(state.failures, 2);
    assert.equal(state.nextPollAt, START + DAY, "an absurd Retry-After is capped");

    site.set("/busy.xml", { body: "down", status: 503 });
    await pollFeed(feed, h.deps);
    assert.equal((await h.deps.feedStates.get("busy")).nextPollAt, START + 4 * MINUTE, "no Retry-After: the backoff");
  });

  test("the admins are told once when failures reach the threshold, and once when the feed recovers", async () => {
    const feed = feedAt("flaky");
    const h = await harness([feed], 3);
    site.set("/flaky.xml", { body: "<!doctype html><html><body>Moved</body></html>" });
    for (let poll = 1; poll <= 5; poll++) await pollFeed(feed, h.deps);
    assert.equal(h.alerts.length, 1, h.alerts.join("\n"));
    assert.match(h.alerts[0]!, /^Feed flaky has failed 3 times in a row\./);
    assert.match(h.alerts[0]!, /HTML page, not a feed/);
    assert.ok(h.alerts[0]!.includes(feed.url));
    assert.equal((await h.deps.feedStates.get("flaky")).failures, 5);

    publish("flaky", [story(1)]);
    await pollFeed(feed, h.deps);
    await pollFeed(feed, h.deps);
    assert.equal(h.alerts.length, 2);
    assert.match(h.alerts[1]!, /^Feed flaky works again after 5 failed polls\./);
    const state = (await h.deps.feedStates.get("flaky"));
    assert.equal(state.failures, 0);
    assert.equal(state.alerted, false);

    // A new run of failures is a new alert.
    site.set("/flaky.xml", { body: "oops", status: 500 });
    for (let poll = 1; poll <= 3; poll++) await pollFeed(feed, h.deps);
    assert.equal(h.alerts.length, 3);
    assert.match(h.alerts[2]!, /HTTP 500/);
  });

  test("the same article in two feeds polled at once (one link with utm_source) is taken once", async () => {
    const first = feedAt("twin-a");
    const second = feedAt("twin-b");
    const h = await harness([first, second]);
    publish("twin-a", [story(1)]);
    publish("twin-b", [story(2)]);
    await Promise.all([pollFeed(first, h.deps), pollFeed(second, h.deps)]);

    // The race two polls at once run into, made certain: each reads the memory only once the other
    // is reading it too, before either has remembered anything.
    const read = h.deps.seen.seen.bind(h.deps.seen);
    let partner: (() => void) | undefined;
    h.deps.seen.seen = async (...args) => {
      if (partner) partner();
      else await new Promise<void>((resolve) => (partner = resolve));
      partner = undefined;
      return read(...args);
    };
    const shared = { title: "Harbour reopens", description: "The harbour reopens today.", pubDate: new Date(START) };
    publish("twin-a", [{ ...shared, link: "https://news.example/harbour", guid: "a-77" }, story(1)]);
    publish("twin-b", [{ ...shared, link: "https://www.news.example/harbour/?utm_source=x#top", guid: "b-12" }, story(2)]);
    const results = await Promise.all([pollFeed(first, h.deps), pollFeed(second, h.deps)]);
    const taken = h.dispatched.flat();
    assert.deepEqual(titles(taken), ["Harbour reopens"], JSON.stringify(results));

    // Both feeds keep listing it: still once.
    await Promise.all([pollFeed(first, h.deps), pollFeed(second, h.deps)]);
    assert.equal(h.dispatched.flat().length, 1);
  });

  test("the same story twice in one document is taken once", async () => {
    const feed = feedAt("doubled");
    const h = await harness([feed]);
    publish("doubled", [story(1)]);
    await pollFeed(feed, h.deps);
    publish("doubled", [story(2), story(2, { guid: "story-2-again", link: "https://news.example/story-2?utm_medium=rss" }), story(1)]);
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "ok", newItems: 1, queued: 1, baseline: false });
  });

  test("an item whose build fails is logged and marked seen; the rest of the feed is delivered", async () => {
    const feed = feedAt("poison");
    const h = await harness([feed]);
    const logged: Array<{ msg: string; link?: string }> = [];
    h.deps.logger = pino({ level: "error" }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    const summarised: string[] = [];
    h.deps.summarizer = async ({ title, text }) => {
      summarised.push(title);
      if (title === "Story 3") throw new RangeError("Invalid array length");
      return text;
    };
    publish("poison", [story(1)]);
    await pollFeed(feed, h.deps);
    publish("poison", [story(4), story(3), story(2), story(1)]);
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "ok", newItems: 2, queued: 2, baseline: false });
    assert.deepEqual(titles(h.dispatched[0]), ["Story 2", "Story 4"]);
    assert.deepEqual(summarised, ["Story 2", "Story 3", "Story 4"]);
    assert.deepEqual(logged.map(({ msg, link }) => ({ msg, link })), [{ msg: "item could not be built; marked seen, not delivered", link: "https://news.example/story-3" }]);

    // The next poll, or a restart with the same store, does not meet it again.
    publish("poison", [story(5), story(4), story(3), story(2), story(1)]);
    assert.deepEqual(await pollFeed(feed, h.deps), { status: "ok", newItems: 1, queued: 1, baseline: false });
    assert.deepEqual(summarised, ["Story 2", "Story 3", "Story 4", "Story 5"]);
    assert.equal((await h.deps.feedStates.get("poison")).failures, 0, "the feed is healthy");
  });

  test("a poll aborted by shutdown rejects and records no failure", async () => {
    const feed = { ...feedAt("hanging"), url: site.url("/hanging.xml") };
    site.hang("/hanging.xml");
    const h = await harness([feed]);
    const controller = new AbortController();
    const polling = pollFeed(feed, h.deps, controller.signal);
    while (site.requests("/hanging.xml").length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    await assert.rejects(polling);
    assert.equal((await h.deps.feedStates.get("hanging")).failures, 0);
  });
});

describe("SeenItems.claimNew", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness([]);
  });

  test("holds keys until released: a second claim on a shared key is not new", async () => {
    const first = await h.deps.seen.claimNew([["g:a", "l:x"], ["g:b"]]);
    assert.deepEqual(first.isNew, [true, true]);
    const second = await h.deps.seen.claimNew([["g:c", "l:x"], ["g:d"]]);
    assert.deepEqual(second.isNew, [false, true]);
    second.release();
    first.release();
    const third = await h.deps.seen.claimNew([["g:c", "l:x"]]);
    assert.deepEqual(third.isNew, [true], "released and never remembered: new again");
    third.release();
  });

  test("an entry sharing a key with an earlier one of the same list is not new", async () => {
    const claim = await h.deps.seen.claimNew([["g:a", "l:x"], ["g:b", "l:x"], ["g:c"]]);
    assert.deepEqual(claim.isNew, [true, false, true]);
    claim.release();
  });

  test("remembered keys are not new; a seen entry's missing key is remembered too", async () => {
    await h.deps.seen.remember(["g:a"], START);
    const claim = await h.deps.seen.claimNew([["g:a", "l:new-link"], ["g:b"]], START);
    assert.deepEqual(claim.isNew, [false, true]);
    claim.release();
    assert.equal(await h.seenStore.get("l:new-link"), START);
    assert.equal(await h.seenStore.get("g:b"), undefined, "a new entry is remembered by its poll, not here");
  });
});
