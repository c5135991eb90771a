import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { clip } from "../../src/text/clip.js";
import { escapeHtml } from "../../src/text/html.js";
import { hashtags, MESSAGE_LIMIT, renderItem, renderPlain, packMessages, safeUrl } from "../../src/delivery/render.js";
import { parseTelegramHtml, validateTelegramHtml } from "../support/telegram-html.js";
import { makeItem } from "../support/builders.js";

const EN = { locale: "en" } as const;

/** Asserts Telegram would accept the HTML and returns its visible text and entities. */
function accepted(html: string) {
  assert.equal(validateTelegramHtml(html), null, html);
  const parsed = parseTelegramHtml(html);
  assert.ok(parsed.ok);
  return parsed;
}

describe("escapeHtml and safeUrl", () => {
  test("escapes what Telegram HTML needs escaped", () => {
    assert.equal(escapeHtml(`a < b && c > "d"`), "a &lt; b &amp;&amp; c &gt; &quot;d&quot;");
    assert.equal(escapeHtml("&amp;"), "&amp;amp;", "already-escaped text is shown as written");
  });

  test("only http(s) URLs are links", () => {
    assert.equal(safeUrl("https://example.org/a b"), "https://example.org/a%20b");
    for (const bad of ["javascript:alert(1)", " javascript:alert(1)", "data:text/html,x", "/relative", "", undefined]) {
      assert.equal(safeUrl(bad), undefined, String(bad));
    }
  });
});

describe("clip", () => {
  test("keeps short text and cuts long text at a word boundary", () => {
    assert.equal(clip("short", 10), "short");
    const cut = clip("one two three four five six", 15);
    assert.ok(cut.length <= 15, cut);
    assert.equal(cut, "one two three…");
  });
});

/** Half of a surrogate pair: text Telegram refuses as not UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe("clip and emoji", () => {
  test("never splits an emoji", () => {
    for (let limit = 2; limit < 12; limit++) {
      const cut = clip("a😀😀😀😀😀😀😀😀", limit);
      assert.ok(!LONE_SURROGATE.test(cut), `limit ${limit}: ${JSON.stringify(cut)}`);
      assert.ok(cut.length <= limit);
    }
  });

  test("a long emoji title and summary render as valid UTF-16", () => {
    const item = makeItem({ title: "😀".repeat(200), summary: "🙂".repeat(800) });
    assert.ok(!LONE_SURROGATE.test(renderItem(item, EN).text));
    assert.ok(!LONE_SURROGATE.test(renderPlain(item, EN).text));
  });
});

describe("hashtags", () => {
  test("one per topic but all, with only letters, digits and _", () => {
    assert.equal(hashtags(["all", "china", "middle-east", "наука"]), "#china #middle_east #наука");
    assert.equal(hashtags(["all"]), "");
  });
});

describe("renderItem", () => {
  test("title, summary, source with link and hashtags", () => {
    const item = makeItem({
      title: "Talks resume",
      summary: "Both sides met again.",
      source: "Example News",
      link: "https://example.org/talks",
      topics: ["all", "world"],
    });
    const message = renderItem(item, EN);
    assert.equal(message.parseMode, "HTML");
    const parsed = accepted(message.text);
    assert.equal(parsed.text, "Talks resume\n\nBoth sides met again.\n\nExample News · Read\n#world");
    assert.deepEqual(
      parsed.entities.map(({ type }) => type),
      ["bold", "text_link"],
    );
    assert.ok(parsed.entities.some((entity) => entity.type === "text_link" && entity.url === "https://example.org/talks"));
    assert.deepEqual(message.linkPreview, { is_disabled: true });
  });

  test("the chat's language words the link", () => {
    const item = makeItem({ link: "https://example.org/x" });
    assert.match(renderItem(item, { locale: "ru" }).text, />Читать<\/a>/);
  });

  test("feed text is escaped: <, &, >, quotes and markup are shown, never parsed", () => {
    const item = makeItem({
      title: `<script>alert("x")</script> & <b>bold</b>`,
      summary: `5 > 3 && 2 < 4, "quoted" 'single' &nbsp; &#xD800; </i>`,
      source: `Tom & Jerry's <News>`,
      link: `https://example.org/a?x=1&y="2"`,
    });
    const parsed = accepted(renderItem(item, EN).text);
    assert.ok(parsed.text.startsWith(`<script>alert("x")</script> & <b>bold</b>`), parsed.text);
    assert.ok(parsed.text.includes(`5 > 3 && 2 < 4, "quoted" 'single' &nbsp; &#xD800; </i>`), parsed.text);
    assert.ok(parsed.text.includes(`Tom & Jerry's <News>`), parsed.text);
    const link = parsed.entities.find((entity) => entity.type === "text_link");
    assert.ok(link && link.type === "text_link");
    assert.equal(new URL(link.url).searchParams.get("y"), `"2"`);
  });

  test("a javascript: link never becomes an href", () => {
    for (const link of ["javascript:alert(document.cookie)", "JAVASCRIPT:alert(1)", "data:text/html,<b>x</b>"]) {
      const text = renderItem(makeItem({ link }), EN).text;
      assert.ok(!/href/i.test(text), text);
      assert.ok(!text.toLowerCase().includes("javascript:"));
      accepted(text);
    }
  });

  test("an item with an image previews its article", () => {
    const item = makeItem({ link: "https://example.org/a", image: "https://example.org/a.jpg" });
    assert.deepEqual(renderItem(item, EN).linkPreview, { url: "https://example.org/a", prefer_large_media: true, show_above_text: true });
    assert.deepEqual(renderItem({ ...item, image: "javascript:x" }, EN).linkPreview, { is_disabled: true });
  });

  test("huge titles and summaries stay within Telegram's limit", () => {
    const words = (count: number, word: string) => Array.from({ length: count }, () => word).join(" ");
    const item = makeItem({
      title: words(2_500, "<&>"),
      summary: words(3_000, "a&b"),
      source: "S".repeat(15_000),
      topics: ["all", ...Array.from({ length: 20 }, (_, index) => `topic-${index}`)],
    });
    for (const locale of ["en", "ru"] as const) {
      const parsed = accepted(renderItem(item, { locale }).text);
      assert.ok(parsed.text.length <= MESSAGE_LIMIT, String(parsed.text.length));
    }
    const unbroken = makeItem({ title: "x".repeat(15_000), summary: "y".repeat(15_000) });
    accepted(renderItem(unbroken, EN).text);
  });

  test("a channel post gets a share button for its link, others none", () => {
    const item = makeItem({ link: "https://example.org/a?b=1" });
    assert.equal(renderItem(item, EN).replyMarkup, undefined);
    const markup = renderItem(item, { locale: "en", share: true }).replyMarkup;
    const button = markup?.inline_keyboard[0]?.[0];
    assert.ok(button && "url" in button);
    assert.equal(new URL(button.url).searchParams.get("url"), "https://example.org/a?b=1");
    assert.equal(renderItem(makeItem({ link: "javascript:alert(1)" }), { locale: "en", share: true }).replyMarkup, undefined);
  });

  test("an empty title falls back to the source", () => {
    const parsed = accepted(renderItem(makeItem({ title: "  ", source: "Example News" }), EN).text);
    assert.ok(parsed.text.startsWith("Example News"));
  });

  test("many items with odd content all pass Telegram's parser", () => {
    const samples = ["", "&", "&&amp;", "<", "</b>", "<a href='x'>", "\u0000", "😀", "\u200b", "a\nb", "  padded  ", "&#0;", "&lt", "\"'`"];
    for (const title of samples) {
      for (const summary of samples) {
        const item = makeItem({ title: `T${title}`, summary, source: `S${title}`, link: `https://example.org/${encodeURIComponent(title)}` });
        accepted(renderItem(item, EN).text);
      }
    }
  });
});

describe("renderPlain", () => {
  test("the same content as plain text, without parse mode", () => {
    const item = makeItem({ title: "<b>Title</b>", summary: "A & B", source: "Src", link: "https://example.org/p", topics: ["all", "world"] });
    const message = renderPlain(item, EN);
    assert.equal(message.parseMode, undefined);
    assert.equal(message.text, "<b>Title</b>\n\nA & B\n\nSrc · https://example.org/p\n\n#world");
    assert.deepEqual(message.linkPreview, { is_disabled: true });
  });

  test("never over the limit and never shows a javascript: link", () => {
    const message = renderPlain(makeItem({ title: "t ".repeat(10_000), summary: "s ".repeat(10_000), source: "x".repeat(15_000), link: "javascript:alert(1)" }), EN);
    assert.ok(message.text.length <= MESSAGE_LIMIT);
    assert.ok(!message.text.includes("javascript:"));
  });
});

describe("packMessages", () => {
  test("keeps the header with the first parts and starts a new message when the limit would pass", () => {
    const parts = ["a".repeat(40), "b".repeat(40), "c".repeat(40)];
    assert.deepEqual(packMessages("H", parts, 90), [`H\n\n${"a".repeat(40)}\n\n${"b".repeat(40)}`, "c".repeat(40)]);
  });

  test("never yields an empty message, even with no header and a part near the limit", () => {
    const messages = packMessages("", ["x".repeat(99), "y"], 100);
    assert.deepEqual(messages, ["x".repeat(99), "y"]);
    assert.ok(messages.every((message) => message.length > 0));
  });
});
