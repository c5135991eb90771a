/**
 * Every file of the shared real-world corpus (../shared/fixtures/feeds, see its MANIFEST.tsv)
 * through decodeText and parseFeed: each parses into sensible entries or fails with a FetchError
 * whose reason fits what the MANIFEST says the file is.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import type { FeedEntry, ParsedFeed } from "../../src/items/item.js";
import { decodeText } from "../../src/feeds/decode.js";
import { FetchError, type FetchFailure } from "../../src/feeds/fetch.js";
import { parseFeed } from "../../src/feeds/parse.js";

const CORPUS = fileURLToPath(new URL("../../../shared/fixtures/feeds/", import.meta.url));
const MANIFEST = `${CORPUS}MANIFEST.tsv`;

/** Formats the MANIFEST gives to documents that are no feed, with the failure they must produce. */
function expectedFailure(format: string): FetchFailure | undefined {
  if (format === "invalid JSON" || format === "no root element") return "unparseable";
  if (format.includes("not a feed") || format.startsWith("other XML") || format === "empty document") return "not-a-feed";
  return undefined;
}

/**
 * Files whose text must come out as Russian. The MANIFEST's decoded_as names windows-1251 ones; the
 * chardet KOI8-R sample is listed as utf-8 there although it is undeclared KOI8-R (its own
 * description says so), so it is named here.
 */
const LEGACY_CYRILLIC = new Set(["windows-1251", "koi8-r"]);
const UNDECLARED_KOI8R = "feedparser/tests/illformed/chardet/koi8r.xml";

interface Row {
  file: string;
  format: string;
  decodedAs: string;
  tags: string[];
}

function readManifest(): Row[] {
  const [header, ...lines] = readFileSync(MANIFEST, "utf8").trimEnd().split("\n");
  const columns = header!.split("\t");
  const column = (cells: string[], name: string): string => cells[columns.indexOf(name)] ?? "";
  return lines.map((line) => {
    const cells = line.split("\t");
    return {
      file: column(cells, "file"),
      format: column(cells, "format"),
      decodedAs: column(cells, "decoded_as"),
      tags: column(cells, "tags").split(",").filter(Boolean),
    };
  });
}

/** The document as a server would send it; gzip-body files are what undici decompresses in fetch. */
function documentBytes(file: string): Uint8Array {
  const bytes = readFileSync(`${CORPUS}${file}`);
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
}

function assertEntryShape(entry: FeedEntry, file: string): void {
  assert.equal(typeof entry.title, "string");
  assert.ok(
    entry.title !== "" || entry.link !== undefined || (entry.html ?? "").trim() !== "",
    `${file}: an entry with nothing to show`,
  );
  for (const url of [entry.link, entry.image]) {
    if (url !== undefined) assert.match(url, /^https?:\/\/[^\s]+$/, `${file}: absolute URL`);
  }
  assert.ok(entry.categories.every((category) => typeof category === "string" && category === category.trim() && category !== ""));
  if (entry.published !== undefined) assert.ok(!Number.isNaN(entry.published.getTime()), `${file}: valid date`);
  if (entry.guid !== undefined) assert.equal(entry.guid, entry.guid.trim());
  assert.equal(entry.title, entry.title.replace(/\s+/g, " ").trim(), `${file}: collapsed title`);
}

/** Russian read with the right code page: Cyrillic, mostly lower case, no replacement or UTF-8-as-Latin-1 marks. */
function assertRussianTitles(feed: ParsedFeed, file: string): void {
  const titles = feed.entries.map((entry) => entry.title).filter((title) => /\p{Script=Cyrillic}/u.test(title));
  assert.ok(titles.length > 0, `${file}: Cyrillic titles`);
  for (const title of titles) {
    assert.doesNotMatch(title, /[\uFFFDÐÑÃÂ]/, `${file}: mojibake in ${title}`);
    const upper = title.match(/[А-ЯЁ]/g)?.length ?? 0;
    const lower = title.match(/[а-яё]/g)?.length ?? 0;
    assert.ok(lower > upper, `${file}: mostly upper case, a wrong code page? ${title}`);
  }
}

interface Tally {
  files: number;
  parsed: number;
  entries: number;
  /** Entries with a publication date. */
  dated: number;
  failures: Map<string, number>;
}

describe("real-world feed corpus", () => {
  if (!existsSync(MANIFEST)) {
    test("corpus", (t) => t.skip(`../shared absent: no ${MANIFEST}`));
    return;
  }
  const rows = readManifest();
  const tallies = new Map<string, Tally>();
  const bodyOnly: string[] = [];

  for (const row of rows) {
    test(row.file, async () => {
      const tally = tallies.get(row.format) ?? { files: 0, parsed: 0, entries: 0, dated: 0, failures: new Map() };
      tallies.set(row.format, tally);
      tally.files++;
      const expected = expectedFailure(row.format);
      let feed: ParsedFeed;
      try {
        feed = await parseFeed(decodeText(documentBytes(row.file)), `https://corpus.example/${row.file}`);
      } catch (error) {
        assert.ok(error instanceof FetchError, `${row.file}: threw ${String(error)}`);
        assert.doesNotMatch(error.message, /\n/);
        tally.failures.set(error.reason, (tally.failures.get(error.reason) ?? 0) + 1);
        if (expected !== undefined) {
          assert.equal(error.reason, expected, error.message);
        } else {
          // A feed may only fail when the MANIFEST says its XML is broken.
          assert.ok(row.tags.includes("not-well-formed"), `${row.file}: ${error.message}`);
          assert.equal(error.reason, "unparseable", error.message);
        }
        return;
      }
      assert.equal(expected, undefined, `${row.file} (${row.format}) parsed, but should fail with ${expected}`);
      tally.parsed++;
      tally.entries += feed.entries.length;
      tally.dated += feed.entries.filter((entry) => entry.published !== undefined).length;
      for (const entry of feed.entries) assertEntryShape(entry, row.file);
      if (feed.entries.some((entry) => entry.title === "" && entry.link === undefined)) bodyOnly.push(row.file);
      if (LEGACY_CYRILLIC.has(row.decodedAs) || row.file === UNDECLARED_KOI8R) assertRussianTitles(feed, row.file);
    });
  }

  test("summary by format", (t) => {
    assert.equal([...tallies.values()].reduce((sum, tally) => sum + tally.files, 0), rows.length);
    t.diagnostic("format | files | parsed | entries | dated | failed");
    for (const [format, tally] of [...tallies].sort(([a], [b]) => a.localeCompare(b))) {
      const failed = [...tally.failures].map(([reason, count]) => `${count} ${reason}`).join(", ") || "-";
      t.diagnostic(`${format} | ${tally.files} | ${tally.parsed} | ${tally.entries} | ${tally.dated} | ${failed}`);
    }
    const total = (field: "parsed" | "entries" | "dated") => [...tallies.values()].reduce((sum, tally) => sum + tally[field], 0);
    t.diagnostic(`total: ${total("parsed")} of ${rows.length} files parse, ${total("dated")} of ${total("entries")} entries dated`);
    // RSS lets an item be a description alone; such entries have neither title nor link.
    t.diagnostic(`files with body-only entries (no title, no link): ${bodyOnly.join(", ") || "none"}`);
  });
});
