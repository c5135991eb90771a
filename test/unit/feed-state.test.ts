import { describe, test } from "node:test";
import assert from "node:assert/strict";
import Keyv from "keyv";
import { buildCatalog } from "../../src/config/catalog.js";
import { FeedStates, type FeedState } from "../../src/feeds/feed-state.js";
import { identityKeys } from "../../src/items/identity.js";

const feedsOf = (urls: string[]) => buildCatalog({ feeds: urls.map((url) => ({ url })) }, [], "newswire.yaml").feeds;
const ONE = "https://a.example/one.xml";
const TWO = "https://a.example/two.xml";

/** A state as newswire 0.1 stored it, under its order-dependent id and without a scope. */
const legacyState = (itemsSeen: number): Omit<FeedState, "scope"> => ({ baselined: true, failures: 0, itemsSeen, etag: `"v${itemsSeen}"` });

describe("FeedStates", () => {
  test("a re-baseline holds in memory while the store cannot take it, until a baseline of it is stored", async () => {
    const keyv = new Keyv();
    const [one] = feedsOf([ONE]);
    const states = await FeedStates.open(keyv, [one!]);
    await states.set(one!.id, { ...(await states.get(one!.id)), baselined: true, etag: '"e1"' });
    const set = keyv.set.bind(keyv);
    const setMany = keyv.setMany.bind(keyv);
    keyv.set = keyv.setMany = async () => {
      throw new Error("disk full");
    };
    assert.equal(await states.rebaseline([one!.id]), 1, "one state not written");
    const pending = await states.get(one!.id);
    assert.equal(pending.baselined, false, "the store still says baselined: the next poll is a baseline all the same");
    assert.equal(pending.etag, undefined, "and reads the feed in full");
    keyv.set = set;
    keyv.setMany = setMany;
    // A poll from before the re-baseline (its generation older) does not end it.
    await states.set(one!.id, { ...pending, baselined: true }, 0);
    assert.equal((await states.get(one!.id)).baselined, false);
    await states.set(one!.id, { ...pending, baselined: true, etag: '"e2"' }, states.generation(one!.id));
    assert.deepEqual([(await states.get(one!.id)).baselined, (await states.get(one!.id)).etag], [true, '"e2"']);
  });

  test("a re-baseline stops writing at the first batch the store fails, counting every state left unwritten", async () => {
    const keyv = new Keyv();
    const feeds = feedsOf(Array.from({ length: 1_200 }, (_, index) => `https://down.example/${index}.xml`));
    const states = await FeedStates.open(keyv, feeds);
    let calls = 0;
    keyv.setMany = async () => {
      calls++;
      throw new Error("connection lost");
    };
    assert.equal(await states.rebaseline(feeds.map(({ id }) => id)), 1_200);
    assert.equal(calls, 1, "one failed write, not one per batch");
    assert.equal((await states.get(feeds[1_100]!.id)).baselined, false, "every feed still pending in memory");
  });

  test("a baseline another instance stored after this one's re-baseline was written is the truth: no second baseline", async () => {
    const keyv = new Keyv();
    const [one] = feedsOf([ONE]);
    const here = await FeedStates.open(keyv, [one!]);
    const there = await FeedStates.open(keyv, [one!]);
    await here.set(one!.id, { ...(await here.get(one!.id)), baselined: true, etag: '"e1"' });
    assert.equal(await here.rebaseline([one!.id]), 0);
    assert.equal((await there.get(one!.id)).baselined, false, "the other instance reads the re-baseline from the store");
    // A poll from before the loss writes its state late (a 304: the feed not read in full): still pending here.
    await there.set(one!.id, { ...(await there.get(one!.id)), baselined: true, etag: '"e1"', lastReadAt: Date.now() - 60_000 });
    assert.equal((await here.get(one!.id)).baselined, false);
    // The other instance's baseline poll (it claimed the feed) reads it in full and stores its baseline.
    await there.set(one!.id, { ...(await there.get(one!.id)), baselined: true, etag: '"e2"', lastReadAt: Date.now() });
    const after = await here.get(one!.id);
    assert.deepEqual([after.baselined, after.etag], [true, '"e2"']);
  });

  test("a re-baseline of many feeds reads and writes their states a batch at a time, and leaves a feed whose baseline is stored meanwhile", async () => {
    const keyv = new Keyv();
    const feeds = feedsOf(Array.from({ length: 1_200 }, (_, index) => `https://many.example/${index}.xml`));
    const states = await FeedStates.open(keyv, feeds);
    for (const feed of feeds) await states.set(feed.id, { ...(await states.get(feed.id)), baselined: true, etag: '"e"' });
    const batches: number[] = [];
    const setMany = keyv.setMany.bind(keyv);
    const last = feeds.at(-1)!;
    keyv.setMany = async (entries) => {
      batches.push(entries.length);
      // While the first batch is written, the last feed's baseline poll stores its baseline.
      if (batches.length === 1) await states.set(last.id, { ...(await states.get(last.id)), baselined: true, etag: '"after"' });
      return setMany(entries);
    };
    assert.equal(await states.rebaseline(feeds.map(({ id }) => id)), 0);
    assert.deepEqual(batches, [500, 500, 199]);
    const after = await states.getMany(feeds.map(({ id }) => id));
    assert.ok(after.slice(0, -1).every((state) => !state.baselined && state.etag === undefined), "every other feed's next poll is a baseline");
    assert.deepEqual([after.at(-1)!.baselined, after.at(-1)!.etag], [true, '"after"']);
  });

  test("holds only each feed's next poll time: a state is read from the store, and a failed write still keeps the feed waiting", async () => {
    const keyv = new Keyv();
    const [one, two] = feedsOf([ONE, TWO]);
    const states = await FeedStates.open(keyv, [one!, two!]);
    await states.set(one!.id, { ...(await states.get(one!.id)), baselined: true, etag: '"e1"', nextPollAt: 5_000 });
    // Another writer (an instance, a repair) changes the stored state: a read sees it, nothing stale is kept.
    const stored = (await keyv.get<FeedState>(`url:${(await states.get(one!.id)).scope}`))!;
    await keyv.set(`url:${stored.scope}`, { ...stored, etag: '"e2"' });
    assert.equal((await states.get(one!.id)).etag, '"e2"');
    assert.equal(states.nextPollAt(one!.id), 5_000);
    assert.equal(states.nextPollAt(two!.id), undefined, "never polled: due now");

    keyv.set = async () => {
      throw new Error("disk full");
    };
    await assert.rejects(states.set(two!.id, { ...(await states.get(two!.id)), failures: 1, nextPollAt: 9_000 }), /disk full/);
    assert.equal(states.nextPollAt(two!.id), 9_000, "the backoff holds in this process");
    assert.equal((await FeedStates.open(keyv, [one!, two!])).nextPollAt(one!.id), 5_000, "reopened: the stored due time");
  });

  test("states follow their feed's URL when the list is reordered or grows", async () => {
    const keyv = new Keyv();
    const first = await FeedStates.open(keyv, feedsOf([ONE]));
    const [one] = feedsOf([ONE]);
    await first.set(one!.id, { ...(await first.get(one!.id)), baselined: true, itemsSeen: 5 });

    // A second feed of the same site, listed above the first: it starts afresh (so its first poll is
    // a baseline), and the first keeps its state under its new id.
    const grown = feedsOf([TWO, ONE]);
    const states = await FeedStates.open(keyv, grown);
    const byUrl = new Map((await states.getMany(grown.map((feed) => feed.id))).map((state, index) => [grown[index]!.url, state]));
    assert.equal(byUrl.get(ONE)!.itemsSeen, 5);
    assert.equal(byUrl.get(ONE)!.scope, (await first.get(one!.id)).scope, "its items' guids keep their keys");
    assert.deepEqual(byUrl.get(TWO), { baselined: false, failures: 0, itemsSeen: 0, scope: "//a.example/two.xml" });
  });

  test("a state stored by 0.1 under a list-order id is taken over once, with that id as its scope", async () => {
    const keyv = new Keyv();
    // 0.1 named the feeds of this list a-example and a-example-2.
    await keyv.set("a-example", legacyState(1));
    await keyv.set("a-example-2", legacyState(2));
    const entry = { guid: "urn:item:7", title: "Seven" };
    const keyUnder01 = identityKeys(entry, "a-example-2");

    const upgraded = feedsOf([ONE, TWO]);
    const states = await FeedStates.open(keyv, upgraded);
    const two = upgraded.find((feed) => feed.url === TWO)!;
    assert.equal((await states.get(two.id)).itemsSeen, 2);
    assert.deepEqual(identityKeys(entry, (await states.get(two.id)).scope), keyUnder01, "a guid remembered by 0.1 is still seen");
    assert.equal((await states.get(upgraded.find((feed) => feed.url === ONE)!.id)).itemsSeen, 1);
    assert.equal(await keyv.get("a-example"), undefined, "the old record is gone");
    assert.equal(await keyv.get("a-example-2"), undefined);

    // After the upgrade the operator reorders: each feed still has its own state.
    const reordered = feedsOf([TWO, ONE]);
    const again = await FeedStates.open(keyv, reordered);
    for (const feed of reordered) assert.equal((await again.get(feed.id)).itemsSeen, feed.url === ONE ? 1 : 2, feed.url);
  });

  test("a configured id finds its 0.1 state under that id", async () => {
    const keyv = new Keyv();
    await keyv.set("harbour", legacyState(9));
    const feeds = buildCatalog({ feeds: [{ url: ONE, id: "harbour" }] }, [], "newswire.yaml").feeds;
    const states = await FeedStates.open(keyv, feeds);
    assert.deepEqual(await states.get("harbour"), { ...legacyState(9), scope: "harbour" });
  });

  test("0.1 states not taken over at the upgrade are dropped: a feed added later starts with a baseline", async () => {
    const keyv = new Keyv();
    // 0.1 named the feeds of [a.com/x, a.com/y] a-com and a-com-2.
    await keyv.set("a-com", legacyState(1));
    await keyv.set("a-com-2", { ...legacyState(2), scope: "a-com-2" });
    const upgraded = feedsOf(["https://a.com/x"]);
    const states = await FeedStates.open(keyv, upgraded);
    assert.equal((await states.get(upgraded[0]!.id)).itemsSeen, 1, "the configured feed took its state over");
    assert.deepEqual([await keyv.get("a-com"), await keyv.get("a-com-2")], [undefined, undefined], "no legacy key is left");

    // Months later a second feed of the site is added: 0.1 would have called it a-com-2.
    const grown = feedsOf(["https://a.com/x", "https://a.com/z"]);
    assert.equal(grown[1]!.legacyId ?? grown[1]!.id, "a-com-2");
    const later = await FeedStates.open(keyv, grown);
    assert.deepEqual(await later.get(grown[1]!.id), { baselined: false, failures: 0, itemsSeen: 0, scope: "//a.com/z" });
    assert.equal((await later.get(grown[0]!.id)).itemsSeen, 1);
  });

  test("only feeds opened with the store have a state", async () => {
    const states = await FeedStates.open(new Keyv(), feedsOf([ONE]));
    await assert.rejects(states.get("elsewhere"), /not opened/);
    await assert.rejects(states.set("elsewhere", (await states.get("a-example"))), /not opened/);
  });
});
