import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { htmlToText } from "../../src/summaries/html-text.js";

describe("htmlToText", () => {
  test("decodes entities once: double-escaped text stays escaped as text", () => {
    assert.equal(htmlToText("<p>Tom &amp; Jerry &amp;amp; friends</p>"), "Tom & Jerry &amp; friends");
    assert.equal(htmlToText("<p>&lt;b&gt;not bold&lt;/b&gt; &#8212; &#x2014; &mdash; caf&eacute;</p>"), "<b>not bold</b> — — — café");
    assert.equal(htmlToText("<p>no&nbsp;break&nbsp;&nbsp;space</p>"), "no break space");
  });

  test("drops scripts, styles and other non-prose elements", () => {
    const html = `<p>Before.</p><script>var secret = "alert";</script><style>p { color: red }</style>
      <noscript>Enable JavaScript</noscript><template><p>Hidden template</p></template>
      <iframe src="x">frame text</iframe><svg><text>svg label</text></svg>
      <figure><img src="a.jpg"><figcaption>Photo: someone</figcaption></figure>
      <table><tr><td>cell</td></tr></table><form><button>Send</button></form><p>After.</p>`;
    assert.equal(htmlToText(html), "Before.\n\nAfter.");
  });

  test("drops navigation, sidebars, footers and ad / share / related / newsletter boxes", () => {
    const html = `<nav><a href="/">Home</a></nav><aside>Most read</aside>
      <div class="ad-slot">Advertisement</div><div id="newsletter-signup">Get our newsletter</div>
      <div class="share-buttons">Share</div><ul class="related-posts"><li>Other story</li></ul>
      <div role="complementary">Sidebar</div><p>The story.</p><footer>© 2024 Site</footer>`;
    assert.equal(htmlToText(html), "The story.");
  });

  test("keeps content whose class only looks like a box name (header, download, WordPress tag classes)", () => {
    const html = `<div class="header">Masthead line.</div><div class="download-link">Download notes.</div>
      <div class="post tag-share-economy category-related">Article body.</div>`;
    assert.equal(htmlToText(html), "Masthead line.\n\nDownload notes.\n\nArticle body.");
  });

  test("block elements become paragraphs; inline elements do not break words", () => {
    const html = `<h1>Title</h1><p>Hello <b>wor</b>ld, <a href="#">link</a> and <em>more</em>.</p>
      <div>Second<br>third</div><ul><li>one</li><li>two</li></ul><blockquote>Quoted.</blockquote>`;
    assert.equal(htmlToText(html), "Title\n\nHello world, link and more.\n\nSecond\n\nthird\n\none\n\ntwo\n\nQuoted.");
  });

  test("collapses whitespace and leaves no empty paragraphs", () => {
    assert.equal(htmlToText("<p>  a \n\t b  </p><p> </p><div><p></p></div><p>c</p>"), "a b\n\nc");
  });

  test("survives broken nesting and unclosed tags", () => {
    assert.equal(htmlToText("<p>one<p>two</b></i><div>three</p></span>"), "one\n\ntwo\n\nthree");
    assert.equal(htmlToText('<p>unterminated <a href="x'), "unterminated");
    const deep = htmlToText(`${"<div><b>".repeat(5_000)}deep text`);
    assert.equal(deep, "deep text");
  });

  test("keeps the text of unknown tags", () => {
    assert.equal(htmlToText("<p>Known <unknown>strange</unknown> <x-widget>custom</x-widget> end.</p>"), "Known strange custom end.");
  });

  test("a whole page gives its body text, not its head", () => {
    const page = "<html><head><title>Page title</title><meta name=x content=y></head><body><p>Body text.</p></body></html>";
    assert.equal(htmlToText(page), "Body text.");
  });

  test("plain text passes through with whitespace normalised and blank lines kept as paragraph breaks", () => {
    assert.equal(htmlToText("  First   line\nstill first. \n\n\n  Second  paragraph. "), "First line still first.\n\nSecond paragraph.");
    assert.equal(htmlToText("AT&T says 3 < 5 and x > y"), "AT&T says 3 < 5 and x > y");
    assert.equal(htmlToText(""), "");
    assert.equal(htmlToText("   \n\n  "), "");
  });

  test("never throws on garbage", () => {
    const garbage = ["<", "<<<>>>", "</p>", "<!--", "<![CDATA[ x", "<p <p <p>", "<a href='", "&", "&#xZZ;", "<html><body", "\u0000<p>\uFFFF</p>", "<svg><p>x</svg>"];
    for (const input of garbage) assert.equal(typeof htmlToText(input), "string", input);
  });
});
