import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { parseTelegramHtml, telegramTextLength, validateTelegramHtml } from "../support/telegram-html.js";

const PARSE = "Bad Request: can't parse entities: ";

describe("validateTelegramHtml accepts what Telegram accepts", () => {
  const valid = [
    "plain text",
    "<b>bold</b> <strong>strong</strong> <i>i</i> <em>em</em> <u>u</u> <ins>ins</ins>",
    "<s>s</s> <strike>strike</strike> <del>del</del>",
    '<span class="tg-spoiler">secret</span> <tg-spoiler>secret</tg-spoiler>',
    '<a href="https://example.org/a?b=1&amp;c=2">link</a>',
    "<a href='https://example.org/'>single quotes</a>",
    '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
    "<code>x &lt; y</code>",
    '<pre><code class="language-python">print("hi")</code></pre>',
    "<blockquote>quote</blockquote>",
    "<blockquote expandable>long quote</blockquote>",
    "<b>bold <i>italic <u>both</u></i></b>",
    "<B>upper-case tag names</B>",
    "<b >space before the end of a tag</b >",
    "5 &gt; 3 &amp;&amp; 2 &lt; 3 &quot;q&quot;",
    "&#60; &#x3C; &#128512;",
    "AT&T and a lone & sign",
    "line one\nline two",
    "<b></b>text after an empty tag",
  ];
  for (const html of valid) {
    test(JSON.stringify(html), () => assert.equal(validateTelegramHtml(html), null));
  }
});

describe("validateTelegramHtml rejects like Telegram", () => {
  const cases: [string, string][] = [
    ["<div>x</div>", `${PARSE}Unsupported start tag "div" at byte offset 0`],
    ["hello <br> world", `${PARSE}Unsupported start tag "br" at byte offset 6`],
    ["<b/>", `${PARSE}Unsupported start tag "b/" at byte offset 0`],
    ["a < b", `${PARSE}Unsupported start tag "" at byte offset 2`],
    ["I <3 it", `${PARSE}Unsupported start tag "3" at byte offset 2`],
    ["text <b", `${PARSE}Unclosed start tag at byte offset 5`],
    ["<b>x</i>", `${PARSE}Unmatched end tag at byte offset 4, expected "</b>", found "</i>"`],
    ["<b><i>x</b></i>", `${PARSE}Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`],
    ["x</b>", `${PARSE}Unexpected end tag at byte offset 1`],
    ["<b>x</b", `${PARSE}Unclosed end tag at byte offset 4`],
    ["<b>never closed", `${PARSE}Can't find end tag corresponding to start tag "b"`],
    ["<a>no href</a>", `${PARSE}Tag "a" must have a non-empty "href" at byte offset 0`],
    ['<a href="">empty</a>', `${PARSE}Tag "a" must have a non-empty "href" at byte offset 0`],
    ['<a href="/relative">x</a>', `${PARSE}Invalid URL "/relative" in the tag "a" at byte offset 0`],
    ["<a href=https://x.org>x</a>", `${PARSE}Unquoted value of the attribute "href" of the tag "a" at byte offset 0`],
    ['<a href="https://x.org>x</a>', `${PARSE}Unclosed start tag at byte offset 0`],
    ["<a href>x</a>", `${PARSE}Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0`],
    ["<span>x</span>", `${PARSE}Tag "span" must have class "tg-spoiler" at byte offset 0`],
    ['<span class="bold">x</span>', `${PARSE}Tag "span" must have class "tg-spoiler" at byte offset 0`],
    ["<tg-emoji>x</tg-emoji>", `${PARSE}Tag "tg-emoji" must have a numeric "emoji-id" at byte offset 0`],
    ["Tom&nbsp;Jerry", `${PARSE}Unsupported HTML entity "&nbsp;" at byte offset 3`],
    ["&apos;", `${PARSE}Unsupported HTML entity "&apos;" at byte offset 0`],
    ["&LT;", `${PARSE}Unsupported HTML entity "&LT;" at byte offset 0`],
    ["&#39 no semicolon", `${PARSE}Invalid numeric character reference "&#39" at byte offset 0`],
    ["&#0;", `${PARSE}Invalid numeric character reference "&#0;" at byte offset 0`],
    ["&#xD800;", `${PARSE}Invalid numeric character reference "&#xD800;" at byte offset 0`],
    ["&#x110000;", `${PARSE}Invalid numeric character reference "&#x110000;" at byte offset 0`],
    ['<a href="https://x.org/?a&nbsp;">x</a>', `${PARSE}Unsupported HTML entity "&nbsp;" at byte offset 25`],
    ["", "Bad Request: message text is empty"],
    ["   \n\t ", "Bad Request: message text is empty"],
    ["<b> </b>", "Bad Request: message text is empty"],
  ];
  for (const [html, error] of cases) {
    test(JSON.stringify(html), () => assert.equal(validateTelegramHtml(html), error));
  }

  test("byte offsets count UTF-8 bytes, as Telegram reports them", () => {
    // "Привет " is 13 bytes in UTF-8 though 7 UTF-16 units.
    assert.equal(validateTelegramHtml("Привет <p>"), `${PARSE}Unsupported start tag "p" at byte offset 13`);
  });
});

describe("length limits", () => {
  test("4,096 UTF-16 units of text pass, one more fails", () => {
    assert.equal(validateTelegramHtml("x".repeat(4096)), null);
    assert.equal(validateTelegramHtml("x".repeat(4097)), "Bad Request: message is too long");
  });

  test("tags and entities do not count, decoded characters do", () => {
    const html = `<b>${"&lt;".repeat(4096)}</b>`;
    assert.equal(telegramTextLength(html), 4096);
    assert.equal(validateTelegramHtml(html), null);
    assert.equal(validateTelegramHtml(`${html}!`), "Bad Request: message is too long");
  });

  test("characters outside the BMP count twice (UTF-16)", () => {
    assert.equal(telegramTextLength("😀"), 2);
    assert.equal(validateTelegramHtml("😀".repeat(2048)), null);
    assert.equal(validateTelegramHtml("😀".repeat(2049)), "Bad Request: message is too long");
  });

  test("surrounding whitespace is not counted", () => {
    assert.equal(telegramTextLength("  <b> hi </b>\n"), 2);
  });

  test("a custom limit (captions)", () => {
    assert.equal(validateTelegramHtml("x".repeat(1024), 1024), null);
    assert.equal(validateTelegramHtml("x".repeat(1025), 1024), "Bad Request: message is too long");
  });

  test("telegramTextLength throws Telegram's description on bad markup", () => {
    assert.throws(() => telegramTextLength("<p>x</p>"), /Unsupported start tag "p"/);
  });
});

describe("parseTelegramHtml", () => {
  test("gives Telegram's text and entities", () => {
    const parsed = parseTelegramHtml(
      '<b>Title</b>\n<a href="https://e.org/x">read &amp; more</a> <pre><code class="language-ts">x</code></pre>',
    );
    assert.deepEqual(parsed, {
      ok: true,
      text: "Title\nread & more x",
      entities: [
        { type: "bold", offset: 0, length: 5 },
        { type: "text_link", offset: 6, length: 11, url: "https://e.org/x" },
        { type: "pre", offset: 18, length: 1, language: "ts" },
      ],
    });
  });

  test("nested entities are listed outer first; trimming shifts offsets", () => {
    const parsed = parseTelegramHtml("  <b>a <i>b</i></b> ");
    assert.deepEqual(parsed, {
      ok: true,
      text: "a b",
      entities: [
        { type: "bold", offset: 0, length: 3 },
        { type: "italic", offset: 2, length: 1 },
      ],
    });
  });

  test("expandable blockquote, spoiler and code without pre", () => {
    const parsed = parseTelegramHtml("<blockquote expandable>q</blockquote><tg-spoiler>s</tg-spoiler><code>c</code>");
    assert.ok(parsed.ok);
    assert.deepEqual(
      parsed.entities.map((e) => e.type),
      ["expandable_blockquote", "spoiler", "code"],
    );
  });
});
