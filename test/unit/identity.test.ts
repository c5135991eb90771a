import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { identityKeys, normalizeLink } from "../../src/items/identity.js";

describe("normalizeLink", () => {
  const canonical = normalizeLink("https://example.com/news/story?id=7");

  test("variants of one article agree", () => {
    assert.ok(canonical);
    for (const variant of [
      "https://example.com/news/story?id=7&utm_source=rss&utm_medium=feed&UTM_Campaign=x",
      "https://example.com/news/story?fbclid=abc&id=7",
      "https://example.com/news/story?id=7&gclid=xyz",
      "https://www.example.com/news/story?id=7",
      "https://EXAMPLE.com/news/story?id=7",
      "https://example.com/news/story/?id=7",
      "https://example.com/news/story?id=7#comments",
      "https://example.com:443/news/story?id=7",
      "http://example.com:80/news/story?id=7",
      "http://example.com/news/story?id=7",
      "  https://example.com/news/story?id=7\n",
    ]) {
      assert.equal(normalizeLink(variant), canonical, variant);
    }
  });

  test("remaining parameters are sorted", () => {
    assert.equal(normalizeLink("https://example.com/a?b=2&a=1"), normalizeLink("https://example.com/a?a=1&b=2"));
    assert.equal(normalizeLink("https://example.com/a?b=2&a=1"), "//example.com/a?a=1&b=2");
  });

  test("what identifies the article is kept", () => {
    assert.notEqual(normalizeLink("https://example.com/news/story?id=8"), canonical);
    assert.notEqual(normalizeLink("https://example.com/News/Story?id=7"), canonical, "paths are case-sensitive");
    assert.notEqual(normalizeLink("https://other.example.com/news/story?id=7"), canonical);
    assert.notEqual(normalizeLink("https://example.com:8443/news/story?id=7"), canonical, "a non-default port matters");
  });

  test("the root with and without a slash agree", () => {
    assert.equal(normalizeLink("https://example.com/"), normalizeLink("https://example.com"));
  });

  test("relative links resolve against the base", () => {
    assert.equal(normalizeLink("/news/story?id=7", "https://www.example.com/feed.xml"), canonical);
    assert.equal(normalizeLink("story?id=7", "https://example.com/news/feed.xml"), canonical);
    assert.equal(normalizeLink("/news/story?id=7"), undefined, "no base, no link");
  });

  test("anything that is not http(s) is rejected", () => {
    for (const link of ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,hi", "mailto:a@example.com", "ftp://example.com/x", "", "not a link"]) {
      assert.equal(normalizeLink(link), undefined, link);
    }
    assert.equal(normalizeLink("javascript:alert(1)", "https://example.com/"), undefined);
  });
});

describe("identityKeys", () => {
  const entry = { guid: "urn:story:1", link: "https://example.com/story/1?utm_source=rss", title: "A story", html: "<p>Text</p>" };

  test("guid first, then the link", () => {
    const keys = identityKeys(entry, "feed-a");
    assert.equal(keys.length, 2);
    assert.match(keys[0]!, /^g:/);
    assert.match(keys[1]!, /^l:/);
  });

  test("keys are stable", () => {
    assert.deepEqual(identityKeys(entry, "feed-a"), identityKeys({ ...entry }, "feed-a"));
  });

  test("a guid is scoped to its feed", () => {
    const [guidA] = identityKeys({ guid: "1", title: "One" }, "feed-a");
    const [guidB] = identityKeys({ guid: "1", title: "One" }, "feed-b");
    assert.notEqual(guidA, guidB);
  });

  test("a guid is trimmed", () => {
    assert.deepEqual(identityKeys({ guid: "  1 \n", title: "One" }, "feed-a"), identityKeys({ guid: "1", title: "One" }, "feed-a"));
  });

  test("a link is global across feeds and survives tracking and re-dating", () => {
    const linkA = identityKeys({ link: "https://www.example.com/story/1?utm_campaign=a", title: "One" }, "feed-a");
    const linkB = identityKeys({ link: "http://example.com/story/1/#top", title: "One, updated" }, "feed-b");
    assert.deepEqual(linkA, linkB);
    assert.equal(identityKeys(entry, "feed-a")[1], identityKeys({ ...entry, guid: "other" }, "feed-b")[1]);
  });

  test("a hash of title and text when there is neither guid nor usable link", () => {
    const keys = identityKeys({ title: "Only a title", html: "<p>and text</p>" }, "feed-a");
    assert.equal(keys.length, 1);
    assert.match(keys[0]!, /^h:/);
    assert.notDeepEqual(keys, identityKeys({ title: "Only a title", html: "<p>other text</p>" }, "feed-a"));
    assert.notDeepEqual(keys, identityKeys({ title: "Only a title", html: "<p>and text</p>" }, "feed-b"), "hashes are scoped to the feed");
    assert.deepEqual(identityKeys({ guid: " ", link: "javascript:void(0)", title: "Only a title", html: "<p>and text</p>" }, "feed-a"), keys);
  });

  test("keys never contain the raw values", () => {
    for (const key of identityKeys(entry, "feed-a")) assert.ok(!key.includes("example.com") && key.length <= 34, key);
  });
});
