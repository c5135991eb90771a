import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { FetchError, type FetchFailure } from "../../src/feeds/fetch.js";
import { parseFeed } from "../../src/feeds/parse.js";

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/feeds/${name}`, import.meta.url), "utf8");
const FEED_URL = "https://feeds.example/dir/feed.xml";

/** Asserts that parsing `text` fails with a FetchError of `reason` whose message names the feed. */
async function assertFails(text: string, reason: FetchFailure): Promise<void> {
  await assert.rejects(parseFeed(text, FEED_URL), (error: unknown) => {
    assert.ok(error instanceof FetchError, `expected a FetchError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    assert.ok(error.message.includes(FEED_URL), error.message);
    assert.ok(!error.message.includes("\n"), "one-line message");
    return true;
  });
}

describe("parseFeed: RSS 2.0", () => {
  test("feed title, link and ttl", async () => {
    const feed = await parseFeed(fixture("rss2.xml"), FEED_URL);
    assert.equal(feed.title, "Harbour & Hills Gazette");
    assert.equal(feed.link, "https://gazette.example/");
    assert.equal(feed.ttlMinutes, 30);
  });

  test("a full item: trimmed object guid, plain title, richest body, categories, date, image enclosure", async () => {
    const [first] = (await parseFeed(fixture("rss2.xml"), FEED_URL)).entries;
    assert.deepEqual(first, {
      guid: "gazette-1001",
      link: "https://gazette.example/2024/ferry-timetable",
      title: "Ferry timetable changes & new pier",
      html: "<p>The ferry will leave <em>twice</em> an hour from the new pier.</p>",
      categories: ["Transport", "Harbour"],
      published: new Date("2024-03-05T08:30:00Z"),
      image: "https://cdn.gazette.example/ferry.jpg",
    });
  });

  test("relative link resolves against the channel link; bad date dropped; audio enclosure skipped for media:content", async () => {
    const entry = (await parseFeed(fixture("rss2.xml"), FEED_URL)).entries[1];
    assert.equal(entry?.link, "https://gazette.example/2024/library-sundays");
    assert.equal(entry?.published, undefined);
    assert.equal(entry?.html, "From April the library opens on Sundays.");
    assert.equal(entry?.image, "https://cdn.gazette.example/library.png");
  });

  test("a URL guid stands in for a missing link; media:thumbnail gives the image", async () => {
    const entry = (await parseFeed(fixture("rss2.xml"), FEED_URL)).entries[2];
    assert.equal(entry?.link, "https://gazette.example/2024/hill-race");
    assert.equal(entry?.image, "https://gazette.example/thumbs/hill-race.webp");
  });

  test("a guid that is no URL is no link", async () => {
    const xml = `<rss version="2.0"><channel><link>https://site.example/</link><item><title>a</title><guid>item-77</guid></item></channel></rss>`;
    assert.deepEqual((await parseFeed(xml, FEED_URL)).entries, [{ guid: "item-77", title: "a", categories: [] }]);
  });

  test("an item with nothing to show (only an author) is dropped", async () => {
    assert.equal((await parseFeed(fixture("rss2.xml"), FEED_URL)).entries.length, 3);
  });
});

describe("parseFeed: other formats", () => {
  test("RSS without a version attribute", async () => {
    const feed = await parseFeed(fixture("rss-noversion.xml"), FEED_URL);
    assert.deepEqual(feed.entries, [
      {
        link: "https://valley.example/notes/bridge-repainted",
        title: "Bridge repainted",
        html: "The old bridge is green again.",
        categories: [],
        published: new Date("2024-03-04T09:00:00Z"),
      },
    ]);
  });

  test("RSS 1.0 (RDF): rdf:about as guid, dc:date, dc:subject", async () => {
    const feed = await parseFeed(fixture("rdf.xml"), FEED_URL);
    assert.equal(feed.title, "Observatory Bulletin");
    assert.deepEqual(feed.entries, [
      {
        guid: "https://observatory.example/notes/comet",
        link: "https://observatory.example/notes/comet",
        title: "A faint comet over the ridge",
        html: "Visible after midnight with binoculars.",
        categories: ["Comets"],
        published: new Date("2024-02-11T23:15:00Z"),
      },
    ]);
  });

  test("Atom 1.0: xml:base, HTML alternate link preferred, xhtml title, updated when published is bad, term categories", async () => {
    const feed = await parseFeed(fixture("atom.xml"), FEED_URL);
    assert.equal(feed.title, "Workshop Log");
    assert.equal(feed.link, "https://workshop.example/blog/");
    assert.deepEqual(feed.entries[0], {
      guid: "tag:workshop.example,2024:7",
      link: "https://workshop.example/blog/posts/chisels",
      title: "Sharpening chisels",
      html: "<p>Start with a <strong>coarse</strong> stone.</p>",
      categories: ["tools", "woodwork"],
      published: new Date("2024-03-01T08:00:00Z"),
      image: "https://workshop.example/img/chisels.png",
    });
  });

  test("Atom xhtml content, summary and title keep the text of their inline elements, in order", async () => {
    const xml = `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:h="http://www.w3.org/1999/xhtml"><entry><id>1</id>
      <title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Read <em>all</em> about it</div></title>
      <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>More in our <a href="/faq">FAQ</a> and <b>notes</b> &amp; ]]&gt; too.</p></div></content>
      </entry><entry><id>2</id><title>Prefixed</title>
      <summary type='xhtml'><h:div><h:p>An <h:abbr title="x">XML</h:abbr> document</h:p></h:div></summary></entry></feed>`;
    const feed = await parseFeed(xml, FEED_URL);
    assert.equal(feed.entries[0]?.title, "Read all about it");
    assert.equal(feed.entries[0]?.html, `<p>More in our <a href="/faq">FAQ</a> and <b>notes</b> &amp; ]]&gt; too.</p>`);
    assert.equal(feed.entries[1]?.html, `<p>An <abbr title="x">XML</abbr> document</p>`);
  });

  test("Atom 1.0: entry xml:base, summary as body, thumbnail inside media:group (not the video)", async () => {
    const entry = (await parseFeed(fixture("atom.xml"), FEED_URL)).entries[1];
    assert.equal(entry?.link, "https://elsewhere.example/guest/glue");
    assert.equal(entry?.html, "<p>Hide glue or PVA?</p>");
    assert.equal(entry?.image, "https://videos.example/glue.jpg");
    assert.deepEqual(entry?.published, new Date("2024-02-20T08:00:00Z"));
  });

  test("Atom 0.3: issued as the date, escaped content", async () => {
    const feed = await parseFeed(fixture("atom03.xml"), FEED_URL);
    assert.equal(feed.link, "https://mill.example/");
    assert.deepEqual(feed.entries, [
      {
        guid: "tag:mill.example,2004:wheel",
        link: "https://mill.example/2004/06/wheel",
        title: "The wheel turns again",
        html: "<p>After the spring floods the wheel turns again.</p>",
        categories: [],
        published: new Date("2004-06-01T18:00:00Z"),
      },
    ]);
  });

  test("JSON Feed 1.1: relative URLs, escaped content_text, string tags only, fallbacks, junk items dropped", async () => {
    const feed = await parseFeed(fixture("jsonfeed.json"), "https://tides.example/feed.json");
    assert.equal(feed.title, "Tide Tables & Weather");
    assert.equal(feed.link, "https://tides.example/");
    assert.deepEqual(feed.entries, [
      {
        guid: "42",
        link: "https://tides.example/2024/spring-tides",
        title: "Spring tides this weekend",
        html: "High water at 06:10 &amp; 18:40 &lt;approx&gt;.",
        categories: ["coast", "weather"],
        published: new Date("2024-03-08T06:00:00Z"),
        image: "https://tides.example/img/banner.jpg",
      },
      {
        guid: "storm-1",
        link: "https://weather.example/storm",
        title: "",
        html: "<p>A storm is <b>expected</b>.</p>",
        categories: [],
        published: new Date("2024-03-09T10:00:00Z"),
        image: "https://tides.example/img/storm.jpg",
      },
    ]);
  });

  test("Atom under a namespace prefix", async () => {
    const xml = `<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:title>Prefixed</a:title>
      <a:entry><a:id>p1</a:id><a:title>Prefixed entry</a:title><a:link href="https://prefixed.example/1"/></a:entry></a:feed>`;
    const feed = await parseFeed(xml, FEED_URL);
    assert.equal(feed.title, "Prefixed");
    assert.deepEqual(feed.entries, [{ guid: "p1", link: "https://prefixed.example/1", title: "Prefixed entry", categories: [] }]);
  });
});

describe("parseFeed: what the web gets wrong", () => {
  test("relative links with neither xml:base nor a feed link resolve against the feed URL", async () => {
    const xml = `<rss version="2.0"><channel><title>t</title><item><title>a</title><link>../story/1</link></item></channel></rss>`;
    const [entry] = (await parseFeed(xml, FEED_URL)).entries;
    assert.equal(entry?.link, "https://feeds.example/story/1");
  });

  test("the root element's xml:base wins over the channel link", async () => {
    const xml = `<rss version="2.0" xml:base="https://base.example/news/"><channel><link>https://home.example/</link>
      <item><title>a</title><link>today</link></item></channel></rss>`;
    assert.equal((await parseFeed(xml, FEED_URL)).entries[0]?.link, "https://base.example/news/today");
  });

  test("whitespace and a BOM before the XML declaration", async () => {
    const xml = `\uFEFF \n  <?xml version="1.0"?><rss version="2.0"><channel><item><title>Spaced</title></item></channel></rss>`;
    assert.equal((await parseFeed(xml, FEED_URL)).entries[0]?.title, "Spaced");
  });

  test("stray ampersands and HTML entities are repaired, CDATA left alone", async () => {
    const xml = `<rss version="2.0"><channel><title>Fish & Chips&nbsp;Daily &doesnotexist;</title>
      <item><title>Salt</title><link>https://chips.example/?a=1&b=2</link></item>
      <item><title>Vinegar</title><link><![CDATA[https://chips.example/?c=3&d=4]]></link></item></channel></rss>`;
    const feed = await parseFeed(xml, FEED_URL);
    assert.equal(feed.title, "Fish & Chips Daily &doesnotexist;");
    assert.deepEqual(
      feed.entries.map((entry) => entry.link),
      ["https://chips.example/?a=1&b=2", "https://chips.example/?c=3&d=4"],
    );
  });

  test("a truncated document keeps its complete items", async () => {
    const xml = `<rss version="2.0"><channel><title>Cut</title><item><title>One</title></item><item><title>Two</title></item><item><title>Thr`;
    const feed = await parseFeed(xml, FEED_URL);
    assert.deepEqual(
      feed.entries.map((entry) => entry.title),
      ["One", "Two"],
    );
  });

  test("one broken tag costs at most its own item, not the feed", async () => {
    const rss = `<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour</title>
      <item><title>Storm <b>warning</title><description>Wind &amp; rain<br>tonight</description><guid>1</guid></item>
      <item><title>Ferry back</title><link>https://harbour.example/2?a=1&b=2</link></item>
      </channel></rss>`;
    const feed = await parseFeed(rss, FEED_URL);
    assert.equal(feed.title, "Harbour");
    assert.deepEqual(
      feed.entries.map(({ title, link }) => [title, link]),
      [
        ["Storm warning", undefined],
        ["Ferry back", "https://harbour.example/2?a=1&b=2"],
      ],
    );
    assert.match(feed.entries[0]!.html!, /Wind &amp; rain<br>tonight/);

    const atom = `<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><title>a</titel></entry>
      <entry><id>2</id><title>Second</title><link href="https://x.example/2"/></entry></feed>`;
    const entries = (await parseFeed(atom, FEED_URL)).entries;
    assert.equal(entries.length, 2);

    // Outside text: read leniently, the broken element ends with its item.
    const misspelt = `<rss version="2.0"><channel><title>Harbour</title><item><title>One</title><guid>1</gid><pubDate>Tue, 10 Jun 2025 12:00:00 GMT</pubDate></item>
      <item><title>Two</title><guid>2</guid></item></channel></rss>`;
    assert.deepEqual(
      (await parseFeed(misspelt, FEED_URL)).entries.map(({ title, guid }) => [title, guid]),
      [
        ["One", "1"],
        ["Two", "2"],
      ],
    );
    assert.deepEqual(entries[1], { guid: "2", link: "https://x.example/2", title: "Second", categories: [] });
  });

  test("control characters are dropped from titles; legacy-looking `&copy=` is not decoded", async () => {
    const xml = `<rss version="2.0"><channel><item><title>ab\u0008cd ?page=1&amp;copy=2</title></item></channel></rss>`;
    assert.equal((await parseFeed(xml, FEED_URL)).entries[0]?.title, "abcd ?page=1&copy=2");
  });

  test("controls and bidi overrides never leave the parser: titles, bodies, categories, feed titles", async () => {
    const xml = `<rss version="2.0"><channel><title>Wire\u001b[31m &#x202E;News</title><item><title>Pay &#x202E;fdp.exe&#x202C; now &#27;[2J</title>
      <description><![CDATA[<p>Body\u0000 with \u2066isolate\u2069 and &#x202e;override</p>]]></description>
      <category>world\u0007</category></item></channel></rss>`;
    const feed = await parseFeed(xml, FEED_URL);
    assert.equal(feed.title, "Wire[31m News");
    assert.deepEqual(feed.entries[0], { title: "Pay fdp.exe now [2J", html: "<p>Body with isolate and override</p>", categories: ["world"] });
    const twice = `<rss version="2.0"><channel><item><title>t</title><description>&lt;p&gt;a&amp;#x202E;b&amp;#27;c&lt;/p&gt;</description></item></channel></rss>`;
    assert.equal((await parseFeed(twice, FEED_URL)).entries[0]?.html, "<p>abc</p>", "escaped twice, as HTML inside XML");
    const json = JSON.stringify({
      version: "https://jsonfeed.org/version/1.1",
      title: "J\u202eSON",
      items: [{ id: "1", title: "a\u0000b", content_text: "c\u202ed\ud800", tags: ["t\u2067ag"] }],
    });
    const parsed = await parseFeed(json, FEED_URL);
    assert.equal(parsed.title, "JSON");
    assert.deepEqual(parsed.entries[0], { guid: "1", title: "ab", html: "cd", categories: ["tag"] });
  });

  test("RSS and RDF documents without a channel are empty feeds", async () => {
    assert.deepEqual(await parseFeed(`<?xml version="1.0"?><rss version="0.91"></rss>`, FEED_URL), { entries: [] });
    assert.deepEqual(await parseFeed(`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>`, FEED_URL), {
      entries: [],
    });
  });

  test("odd shapes: attribute-only guid, empty link, category object without text", async () => {
    const xml = `<rss version="2.0"><channel><item><title>Odd</title><guid isPermaLink="false"/><link/>
      <category domain="x"/><enclosure/></item></channel></rss>`;
    assert.deepEqual((await parseFeed(xml, FEED_URL)).entries, [{ title: "Odd", categories: [] }]);
  });
});

describe("parseFeed: failures", () => {
  test("an HTML page is not a feed", async () => {
    await assertFails("<!DOCTYPE html>\n<html><head><title>Home</title></head><body><p>Hi</p></body></html>", "not-a-feed");
    await assertFails("<html><body>no doctype</body></html>", "not-a-feed");
  });

  test("other XML, other JSON and an empty body are not feeds", async () => {
    await assertFails(`<?xml version="1.0"?><shopping><list/></shopping>`, "not-a-feed");
    await assertFails(`{"version": "1.1", "items": []}`, "not-a-feed");
    await assertFails("  \n ", "not-a-feed");
  });

  test("garbage, broken XML and broken JSON are unparseable", async () => {
    await assertFails("Service temporarily unavailable, please come back later", "unparseable");
    await assertFails(`<?xml version="1.0"?><!-- nothing else -->`, "unparseable");
    await assertFails(`<rss version="2.0"><channel><title>Never closed`, "unparseable");
    await assertFails(`<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><title>a</title>`, "unparseable");
    await assertFails(`<rss version="2.0"><channel><title>Cut</title><item><title><![CD`, "unparseable");
    await assertFails(`{"version": "https://jsonfeed.org/version/1.1", "items": [`, "unparseable");
  });
});
