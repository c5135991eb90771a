import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import Parser from "rss-parser";
import { rssXml, startFeedSite, xmlEscape } from "../support/feed-site.js";

const site = await startFeedSite();
after(() => site.close());

const FEED = rssXml({
  title: "Test & Co",
  items: [{ title: "One", link: "https://example.org/1", guid: "1", pubDate: new Date(Date.UTC(2025, 0, 2)) }],
});

describe("feed site", () => {
  test("serves a page with ETag and Last-Modified, then 304 to conditional requests", async () => {
    site.set("/etag.xml", { body: FEED });
    const first = await fetch(site.url("/etag.xml"));
    assert.equal(first.status, 200);
    assert.equal(await first.text(), FEED);
    assert.equal(first.headers.get("content-type"), "application/rss+xml; charset=utf-8");
    const etag = first.headers.get("etag");
    const lastModified = first.headers.get("last-modified");
    assert.match(etag ?? "", /^"[A-Za-z0-9_-]+"$/);
    assert.ok(lastModified);

    const byEtag = await fetch(site.url("/etag.xml"), { headers: { "if-none-match": etag ?? "" } });
    assert.equal(byEtag.status, 304);
    assert.equal(await byEtag.text(), "");
    const byDate = await fetch(site.url("/etag.xml"), { headers: { "if-modified-since": lastModified } });
    assert.equal(byDate.status, 304);
    // If-None-Match wins: a stale tag gets the body even with a matching date.
    const stale = await fetch(site.url("/etag.xml"), {
      headers: { "if-none-match": '"stale"', "if-modified-since": lastModified },
    });
    assert.equal(stale.status, 200);

    // A new version has a new ETag and a later Last-Modified.
    site.set("/etag.xml", { body: `${FEED}<!-- changed -->` });
    const changed = await fetch(site.url("/etag.xml"), { headers: { "if-none-match": etag ?? "" } });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get("etag"), etag);
    assert.ok(Date.parse(changed.headers.get("last-modified") ?? "") > Date.parse(lastModified));
    await changed.text();

    assert.deepEqual(site.requests("/etag.xml").map((r) => r.status), [200, 304, 304, 200, 200]);
    assert.equal(site.requests("/etag.xml")[1]?.headers["if-none-match"], etag);
  });

  test("validators can be switched off", async () => {
    site.set("/plain.xml", { body: FEED, etag: false, lastModified: false });
    const response = await fetch(site.url("/plain.xml"), { headers: { "if-modified-since": new Date().toUTCString() } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("etag"), null);
    assert.equal(response.headers.get("last-modified"), null);
    await response.text();
  });

  test("status, headers and bytes are served as set", async () => {
    const bytes = new Uint8Array([0xcf, 0xf0, 0xe8]); // "При" in windows-1251
    site.set("/cp1251.xml", { body: bytes, contentType: "text/xml; charset=windows-1251", headers: { "x-test": "1" } });
    const response = await fetch(site.url("/cp1251.xml"));
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), bytes);
    assert.equal(response.headers.get("content-type"), "text/xml; charset=windows-1251");
    assert.equal(response.headers.get("x-test"), "1");
    site.set("/gone", { body: "gone", status: 410 });
    assert.equal((await fetch(site.url("/gone"))).status, 410);
    assert.equal((await fetch(site.url("/missing"))).status, 404);
  });

  test("a hanging path never answers, and the client can abort", async () => {
    site.hang("/hang.xml");
    const controller = new AbortController();
    const request = fetch(site.url("/hang.xml"), { signal: controller.signal });
    while (site.requests("/hang.xml").length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await assert.rejects(request, { name: "AbortError" });
    assert.equal(site.requests("/hang.xml")[0]?.status, undefined);
  });

  test("a redirect leads to its target", async () => {
    site.set("/new.xml", { body: FEED });
    site.redirect("/old.xml", "/new.xml", 301);
    const response = await fetch(site.url("/old.xml"));
    assert.equal(response.status, 200);
    assert.equal(response.url, site.url("/new.xml"));
    assert.equal(await response.text(), FEED);
    assert.deepEqual(site.requests("/old.xml").map((r) => r.status), [301]);
    assert.equal(site.requests("/new.xml").length, 1);
  });

  test("a stream sends exactly the given number of bytes of unfinished XML", async () => {
    site.stream("/endless.xml", 10_000, { chunkBytes: 3000, intervalMs: 1 });
    const response = await fetch(site.url("/endless.xml"));
    assert.equal(response.headers.get("content-length"), null);
    const text = await response.text();
    assert.equal(text.length, 10_000);
    assert.ok(text.startsWith('<?xml version="1.0"?><rss'));
    assert.ok(!text.includes("</rss>"));
  });

  test("a delayed page answers after its delay", async () => {
    site.set("/slow.xml", { body: FEED, delayMs: 30 });
    assert.equal(await (await fetch(site.url("/slow.xml"))).text(), FEED);
  });
});

describe("rssXml", () => {
  test("builds RSS 2.0 that a feed parser reads back exactly", async () => {
    const tricky = `Tom & Jerry <script>alert("x")</script> it's`;
    const xml = rssXml({
      title: tricky,
      link: "https://example.org/?a=1&b=2",
      items: [
        {
          title: tricky,
          link: "https://example.org/a?x=1&y=2",
          guid: "id-<1>",
          description: "<p>Para &amp; more</p>",
          pubDate: new Date(Date.UTC(2025, 4, 6, 7, 8, 9)),
          categories: ["World & Asia", "Китай"],
        },
        { title: "Second" },
      ],
    });
    const feed = await new Parser().parseString(xml);
    assert.equal(feed.title, tricky);
    assert.equal(feed.link, "https://example.org/?a=1&b=2");
    const [item, second] = feed.items;
    assert.equal(item?.title, tricky);
    assert.equal(item?.link, "https://example.org/a?x=1&y=2");
    assert.equal(item?.guid, "id-<1>");
    assert.equal(item?.content, "<p>Para &amp; more</p>");
    assert.equal(item?.isoDate, "2025-05-06T07:08:09.000Z");
    assert.deepEqual(item?.categories, ["World & Asia", "Китай"]);
    assert.equal(second?.title, "Second");
    assert.equal(second?.link, undefined);
  });

  test("characters XML cannot carry are refused", () => {
    assert.throws(() => xmlEscape("bell \u0007"), /U\+0007/);
    assert.throws(() => xmlEscape("lone \uD800 surrogate"), /U\+D800/);
    assert.equal(xmlEscape(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;");
  });
});
