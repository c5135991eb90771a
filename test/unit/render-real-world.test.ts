/**
 * Every item of the shared real-world corpus (../shared/fixtures/feeds, see its MANIFEST.tsv)
 * through the poller's own item building (decodeText → parseFeed → htmlToText + boilerplate
 * filter → extractive summary → topics) and rendering: each HTML message, in both languages, with
 * and without the share button, passes the Telegram HTML validator (only Telegram's tags,
 * balanced, entities escaped, within 4,096 characters) and shows the feed's title as text; each
 * plain-text fallback is within the limit too.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { MESSAGE_LIMIT, renderItem, renderPlain, safeUrl } from "../../src/delivery/render.js";
import { clip } from "../../src/text/clip.js";
import { addressPolicy } from "../../src/feeds/address-policy.js";
import { decodeText } from "../../src/feeds/decode.js";
import { FetchError } from "../../src/feeds/fetch.js";
import { parseFeed } from "../../src/feeds/parse.js";
import type { Locale } from "../../src/i18n/i18n.js";
import { identityKeys } from "../../src/items/identity.js";
import type { Item } from "../../src/items/item.js";
import { buildItem } from "../../src/poller/poll-feed.js";
import { DEFAULT_SUMMARY_CHARS, extractiveSummarizer } from "../../src/summaries/summarize.js";
import { compileTopics } from "../../src/topics/topics.js";
import { checkTextLength, parseTelegramHtml } from "../support/telegram-html.js";
import { silentLogger } from "../support/builders.js";

const CORPUS = fileURLToPath(new URL("../../../shared/fixtures/feeds/", import.meta.url));
const MANIFEST = `${CORPUS}MANIFEST.tsv`;

const LOCALES: Locale[] = ["en", "ru"];
const NOW = Date.UTC(2026, 0, 1);

/** Topics with keywords common in the corpus, so messages carry hashtags. */
const topics = compileTopics([
  { id: "world", title: "World", keywords: ["world", "news", "мир", "новости"], categories: [], exclude: [] },
  { id: "tech_news", title: "Tech", keywords: ["software", "release", "web", "программа"], categories: [], exclude: [] },
]);

/** The first column of the MANIFEST: the corpus files. */
function corpusFiles(): string[] {
  const [header, ...lines] = readFileSync(MANIFEST, "utf8").trimEnd().split("\n");
  const column = header!.split("\t").indexOf("file");
  return lines.map((line) => line.split("\t")[column] ?? "");
}

/** The document as a server would send it; gzip-body files are what undici decompresses in fetch. */
function documentBytes(file: string): Uint8Array {
  const bytes = readFileSync(`${CORPUS}${file}`);
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
}

/** Half of a surrogate pair on its own: text Telegram refuses as not UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Asserts Telegram accepts the item's HTML message; returns how many were checked. */
function checkHtml(item: Item, where: string): number {
  let checked = 0;
  for (const locale of LOCALES) {
    for (const share of [false, true]) {
      const message = renderItem(item, { locale, share });
      const parsed = parseTelegramHtml(message.text);
      assert.ok(parsed.ok, `${where} (${locale}, share ${share}): ${parsed.ok ? "" : parsed.error}\n${message.text}`);
      assert.equal(checkTextLength(parsed.text), null, `${where}: ${parsed.text.length} characters`);
      assert.doesNotMatch(message.text, LONE_SURROGATE, where);
      // Escaped once: the reader sees the feed's title as it is, not its entities or tags.
      const title = clip(item.title.trim() || item.source, 300);
      assert.ok(parsed.text.startsWith(title.trim()), `${where}: title shown as ${JSON.stringify(parsed.text.slice(0, 80))}, not ${JSON.stringify(title)}`);
      const links = parsed.entities.filter((entity) => entity.type === "text_link").map((entity) => entity.url);
      assert.deepEqual(links, safeUrl(item.link) ? [safeUrl(item.link)] : [], where);
      assert.equal(message.replyMarkup !== undefined, share && safeUrl(item.link) !== undefined, where);
      checked++;
    }
  }
  return checked;
}

/** Asserts the plain-text fallback is sendable as it is; returns how many were checked. */
function checkPlain(item: Item, where: string): number {
  let checked = 0;
  for (const locale of LOCALES) {
    for (const share of [false, true]) {
      const { text, parseMode } = renderPlain(item, { locale, share });
      assert.equal(parseMode, undefined, where);
      assert.equal(checkTextLength(text.trim(), MESSAGE_LIMIT), null, `${where}: plain ${text.length} characters`);
      assert.doesNotMatch(text, LONE_SURROGATE, where);
      checked++;
    }
  }
  return checked;
}

describe("rendering every item of the real-world feed corpus", () => {
  if (!existsSync(MANIFEST)) {
    test("corpus", (t) => t.skip(`../shared absent: no ${MANIFEST}`));
    return;
  }
  const files = corpusFiles();
  const tally = { files: 0, notFeeds: 0, items: 0, html: 0, plain: 0, longestSummary: 0 };

  for (const file of files) {
    test(file, async () => {
      tally.files++;
      const url = `https://corpus.example/${file}`;
      let feed;
      try {
        feed = await parseFeed(decodeText(documentBytes(file)), url);
      } catch (error) {
        // Documents that are no feed (their own test says which): nothing to render.
        assert.ok(error instanceof FetchError, `${file}: ${String(error)}`);
        tally.notFeeds++;
        return;
      }
      const definition = { id: "corpus", topics: [], fulltext: false };
      const source = feed.title || file;
      for (const [index, entry] of feed.entries.entries()) {
        const where = `${file} item ${index}`;
        const { item } = await buildItem(
          entry,
          identityKeys(entry, definition.id),
          definition,
          source,
          { topics, summarizer: extractiveSummarizer, fetch: { timeoutMs: 1_000, maxBytes: 1 }, addressPolicy: addressPolicy([], false), logger: silentLogger },
          NOW,
        );
        assert.ok(item.summary.length <= DEFAULT_SUMMARY_CHARS, `${where}: summary of ${item.summary.length} characters`);
        tally.longestSummary = Math.max(tally.longestSummary, item.summary.length);
        tally.items++;
        tally.html += checkHtml(item, where);
        tally.plain += checkPlain(item, where);
      }
    });
  }

  test("totals", (t) => {
    assert.equal(tally.files, files.length);
    assert.ok(tally.items > 1000, `only ${tally.items} items`);
    t.diagnostic(
      `${tally.files} files (${tally.notFeeds} no feed), ${tally.items} items: ${tally.html} HTML messages and ` +
        `${tally.plain} plain-text fallbacks validated; longest summary ${tally.longestSummary} characters`,
    );
  });
});
