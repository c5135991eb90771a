import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCatalog, feedIdFromUrl, loadCatalog } from "../../src/config/catalog.js";
import { ConfigError } from "../../src/config/errors.js";

/** Asserts a one-line ConfigError about the config file whose message matches `pattern`. */
function assertConfigError(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.ok(error.message.startsWith("CONFIG_FILE "), error.message);
    assert.ok(!error.message.includes("\n"), `"${error.message}" should be one line`);
    assert.match(error.message, pattern);
    return true;
  });
}

const build = (data: unknown, extra: string[] = []) => buildCatalog(data, extra, "newswire.yaml");

describe("feedIdFromUrl", () => {
  test("derives a lower-case id from the host without www.", () => {
    assert.equal(feedIdFromUrl("https://www.News.Example.org:8080/rss.xml"), "news-example-org");
    assert.equal(feedIdFromUrl("http://127.0.0.1/feed"), "127-0-0-1");
    assert.equal(feedIdFromUrl("https://lenta.ru/rss"), "lenta-ru");
  });
});

describe("buildCatalog", () => {
  test("fills defaults and keeps configured values", () => {
    const catalog = build({
      feeds: [
        { url: "https://example.org/rss.xml", id: "example", title: "Example News", topics: ["world"], fulltext: true },
        { url: "https://other.example.com/feed" },
      ],
      topics: [{ id: "world", title: "World", keywords: ["Earth"], categories: ["World"] }, { id: "china" }],
      channels: [{ chat: "@some_channel", topics: ["china"] }, { chat: -1001234, topics: ["all"], home: true }],
    });
    assert.deepEqual(catalog.feeds, [
      { url: "https://example.org/rss.xml", id: "example", title: "Example News", topics: ["world"], fulltext: true },
      { url: "https://other.example.com/feed", id: "other-example-com", topics: [], fulltext: false },
    ]);
    assert.deepEqual(catalog.topics, [
      { id: "world", title: "World", keywords: ["Earth"], categories: ["World"], exclude: [] },
      { id: "china", title: "china", keywords: [], categories: [], exclude: [] },
    ]);
    assert.deepEqual(catalog.channels, [
      { chat: "@some_channel", topics: ["china"], home: false },
      { chat: -1001234, topics: ["all"], home: true },
    ]);
  });

  test("an empty file is an empty catalog", () => {
    assert.deepEqual(build({}), { feeds: [], topics: [], channels: [] });
  });

  test("FEEDS are added after the file's feeds, each URL once", () => {
    const catalog = build({ feeds: [{ url: "https://a.example/rss", id: "a" }] }, [
      "https://a.example/rss",
      "https://b.example/rss",
      "https://b.example/rss",
    ]);
    assert.deepEqual(
      catalog.feeds.map(({ id, url }) => [id, url]),
      [
        ["a", "https://a.example/rss"],
        ["b-example", "https://b.example/rss"],
      ],
    );
  });

  test("feeds of one host are told apart by their path, never by their place in the list", () => {
    const urls = ["https://a.example/one", "https://a.example/two", "https://b.example/rss"];
    const ids = (list: string[]) => new Map(build({ feeds: list.map((url) => ({ url })) }).feeds.map((feed) => [feed.url, feed.id]));
    const expected = new Map([
      ["https://a.example/one", "a-example-one"],
      ["https://a.example/two", "a-example-two"],
      ["https://b.example/rss", "b-example"],
    ]);
    assert.deepEqual(ids(urls), expected);
    assert.deepEqual(ids([...urls].reverse()), expected);
  });

  test("ids that would still clash get a hash of their URL", () => {
    const catalog = build({ feeds: [{ url: "https://a.example/a-b" }, { url: "https://a.example/a/b" }, { url: "https://c.example/x", id: "c-example" }] }, [
      "https://c.example/y",
    ]);
    const ids = catalog.feeds.map((feed) => feed.id);
    assert.equal(new Set(ids).size, 4, `ids must be unique: ${ids.join(", ")}`);
    for (const id of [ids[0], ids[1], ids[3]]) assert.match(id!, /^(a-example-a-b|c-example)-[0-9a-f]{6}$/);
    assert.equal(ids[2], "c-example");
  });

  test("a configured id wins over a derived one, wherever it is listed", () => {
    const catalog = build({ feeds: [{ url: "https://a.example/one" }, { url: "https://a.example/two", id: "a-example" }] });
    const [derived, configured] = catalog.feeds.map((feed) => feed.id);
    assert.equal(configured, "a-example");
    assert.match(derived!, /^a-example-[0-9a-f]{6}$/);
  });

  test("each feed names the id newswire 0.1 gave it when that differs, to find its old state", () => {
    const catalog = build({
      feeds: [
        { url: "https://a.example/one" },
        { url: "https://a.example/two" },
        { url: "https://b.example/rss", id: "a-example-2" },
        { url: "https://a.example/three" },
        { url: "https://c.example/rss", id: "a-example-5" },
        { url: "https://a.example/four" },
      ],
    });
    assert.deepEqual(
      catalog.feeds.map(({ id, legacyId }) => [id, legacyId]),
      [
        ["a-example-one", "a-example"],
        ["a-example-two", "a-example-3"],
        ["a-example-2", undefined],
        ["a-example-three", "a-example-4"],
        ["a-example-5", undefined],
        ["a-example-four", "a-example-6"],
      ],
    );
  });

  test("spellings of one feed URL are one feed", () => {
    const catalog = build({ feeds: [{ url: "https://www.a.example/rss/" }, { url: "http://a.example/rss" }, { url: "https://a.example/rss?lang=ru" }] });
    assert.deepEqual(catalog.feeds.map((feed) => feed.url), ["https://www.a.example/rss/", "https://a.example/rss?lang=ru"]);
  });

  test("a configured id used twice is an error", () => {
    assertConfigError(
      () => build({ feeds: [{ url: "https://a.example/rss", id: "same" }, { url: "https://b.example/rss", id: "same" }] }),
      /feeds\[1\]\.id "same" is used twice/,
    );
  });

  test("feeds are validated", () => {
    assertConfigError(() => build({ feeds: [{ url: "ftp://a.example/rss" }] }), /feeds\[0\]\.url must be an http\(s\) URL/);
    assertConfigError(() => build({ feeds: [{ url: "not a url" }] }), /feeds\[0\]\.url/);
    assertConfigError(() => build({ feeds: [{}] }), /feeds\[0\]\.url/);
    assertConfigError(() => build({ feeds: [{ url: "https://a.example/rss", id: "Bad Id" }] }), /feeds\[0\]\.id/);
    assertConfigError(() => build({ feeds: [{ url: "https://a.example/rss", fulltext: "yes" }] }), /feeds\[0\]\.fulltext/);
    assertConfigError(() => build({ feeds: [{ url: "https://a.example/rss", tpoics: [] }] }), /feeds\[0\].*tpoics/);
    assertConfigError(() => build({ feeds: "https://a.example/rss" }), /feeds .*array/);
  });

  test("topics are validated", () => {
    assertConfigError(() => build({ topics: [{ id: "China" }] }), /topics\[0\]\.id/);
    assertConfigError(() => build({ topics: [{ title: "No id" }] }), /topics\[0\]\.id/);
    assertConfigError(() => build({ topics: [{ id: "x" }, { id: "x" }] }), /"x" is defined twice/);
    assertConfigError(() => build({ topics: [{ id: "all" }] }), /"all" always exists/);
    assertConfigError(() => build({ topics: [{ id: "x", keywords: "China" }] }), /topics\[0\]\.keywords/);
  });

  test("a keyword or exclude phrase may be marked case-sensitive; anything else there is an error", () => {
    const sensitive = { word: "Газа", case: "sensitive" };
    const [topic] = build({ topics: [{ id: "gaza", keywords: ["Gaza", sensitive], exclude: [{ word: "Bone", case: "sensitive" }] }] }).topics;
    assert.deepEqual(topic?.keywords, ["Gaza", sensitive]);
    assert.deepEqual(topic?.exclude, [{ word: "Bone", case: "sensitive" }]);
    const expected = /topics\[0\]\.keywords\[1\] must be a word or phrase, or \{ word: <word or phrase>, case: sensitive \}/;
    const keywords = (bad: unknown) => () => build({ topics: [{ id: "gaza", keywords: ["Gaza", bad] }] });
    for (const bad of [{ word: "Газа", case: "exact" }, { word: "Газа" }, { wrd: "Газа", case: "sensitive" }, 5]) {
      assertConfigError(keywords(bad), expected);
    }
    assertConfigError(keywords({ word: " ", case: "sensitive" }), /topics\[0\]\.keywords\[1\]\.word must not be empty/);
    assertConfigError(keywords(""), /topics\[0\]\.keywords\[1\] must not be empty/);
    assertConfigError(keywords({ word: "Газа", case: "sensitive", cases: "all" }), /topics\[0\]\.keywords\[1\] Unrecognized key: "cases"/);
    assertConfigError(() => build({ topics: [{ id: "gaza", categories: [sensitive] }] }), /topics\[0\]\.categories\[0\]/);
  });

  test("unknown topic names are errors that list the known ones", () => {
    assertConfigError(
      () => build({ topics: [{ id: "china" }], feeds: [{ url: "https://a.example/rss", topics: ["chnia"] }] }),
      /feeds\[0\] names topic "chnia", which is not defined \(known: all, china\)/,
    );
    assertConfigError(
      () => build({ topics: [{ id: "china" }], channels: [{ chat: "@news_channel", topics: ["world"] }] }),
      /channels\[0\]\.topics names topic "world".*all, china/,
    );
  });

  test("channels are validated", () => {
    assertConfigError(() => build({ channels: [{ chat: "news", topics: ["all"] }] }), /channels\[0\]\.chat/);
    assertConfigError(() => build({ channels: [{ chat: "@news_channel", topics: [] }] }), /channels\[0\]\.topics must name at least one/);
    assertConfigError(() => build({ channels: [{ chat: "@news_channel" }] }), /channels\[0\]\.topics/);
    assert.deepEqual(build({ channels: [{ chat: "-100123", topics: ["all"] }] }).channels, [{ chat: "-100123", topics: ["all"], home: false }]);
  });

  test("unknown top-level keys and non-objects are errors", () => {
    assertConfigError(() => build({ feed: [] }), /top level.*feed/);
    assertConfigError(() => build(["https://a.example/rss"]), /top level/);
    assertConfigError(() => build("feeds"), /top level/);
  });
});

describe("loadCatalog", () => {
  const dir = mkdtempSync(join(tmpdir(), "newswire-catalog-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test("reads YAML", () => {
    const path = file(
      "ok.yaml",
      "feeds:\n  - url: https://example.org/rss.xml\n    topics: [china]\ntopics:\n  - id: china\n    keywords: [China, Пекин]\n",
    );
    const catalog = loadCatalog({ configFile: { path, explicit: true }, feedUrls: [] });
    assert.deepEqual(catalog.feeds, [{ url: "https://example.org/rss.xml", id: "example-org", topics: ["china"], fulltext: false }]);
    assert.deepEqual(catalog.topics[0]?.keywords, ["China", "Пекин"]);
  });

  test("accepts JSON (which is YAML)", () => {
    const path = file("ok.json", JSON.stringify({ feeds: [{ url: "https://example.org/rss.xml", id: "ex" }] }));
    assert.equal(loadCatalog({ configFile: { path, explicit: true }, feedUrls: [] }).feeds[0]?.id, "ex");
  });

  test("merges FEEDS into the file's feeds", () => {
    const path = file("merge.yaml", "feeds:\n  - url: https://example.org/rss.xml\n");
    const catalog = loadCatalog({ configFile: { path, explicit: false }, feedUrls: ["https://other.example/atom"] });
    assert.deepEqual(catalog.feeds.map((feed) => feed.url), ["https://example.org/rss.xml", "https://other.example/atom"]);
  });

  test("a missing default file is fine when FEEDS is set", () => {
    const catalog = loadCatalog({ configFile: { path: join(dir, "absent.yaml"), explicit: false }, feedUrls: ["https://a.example/rss"] });
    assert.deepEqual(catalog.feeds.map((feed) => feed.id), ["a-example"]);
    assert.deepEqual(catalog.topics, []);
  });

  test("a missing file is an error when it was named or nothing else gives feeds", () => {
    const path = join(dir, "absent.yaml");
    assertConfigError(() => loadCatalog({ configFile: { path, explicit: true }, feedUrls: ["https://a.example/rss"] }), /does not exist.*FEEDS/);
    assertConfigError(() => loadCatalog({ configFile: { path, explicit: false }, feedUrls: [] }), /does not exist/);
  });

  test("invalid YAML is a one-line error naming the file", () => {
    const path = file("bad.yaml", "feeds:\n  - url: [unclosed\n    id: x\n");
    assertConfigError(() => loadCatalog({ configFile: { path, explicit: true }, feedUrls: [] }), /bad\.yaml is not valid YAML/);
  });

  test("an unreadable path is a one-line error", () => {
    assertConfigError(() => loadCatalog({ configFile: { path: dir, explicit: true }, feedUrls: [] }), /could not be read/);
  });

  test("a file without feeds and no FEEDS is an error", () => {
    const path = file("empty.yaml", "topics:\n  - id: china\n");
    assertConfigError(() => loadCatalog({ configFile: { path, explicit: true }, feedUrls: [] }), /lists no feeds/);
    const blank = file("blank.yaml", "");
    assertConfigError(() => loadCatalog({ configFile: { path: blank, explicit: true }, feedUrls: [] }), /lists no feeds/);
  });

  test("validation errors name the file", () => {
    const path = file("invalid.yaml", "feeds:\n  - url: https://example.org/rss.xml\n    topics: [nope]\n");
    assertConfigError(() => loadCatalog({ configFile: { path, explicit: true }, feedUrls: [] }), /invalid\.yaml: feeds\[0\] names topic "nope"/);
  });
});

test("a topic id longer than the topic menu's buttons can carry is refused", () => {
  assert.throws(
    () => buildCatalog({ feeds: [{ url: "https://example.org/rss" }], topics: [{ id: "t".repeat(41) }] }, [], "newswire.yaml"),
    /topics\[0\]\.id must be at most 40 characters/,
  );
});
