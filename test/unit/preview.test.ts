/**
 * `npm run preview`: the report for a feed file and a feed URL (loopback), with topics from the
 * config file, full text from article pages, the bot's words in either language, and one-line
 * errors for mistakes.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { runPreview } from "../../src/preview.js";
import { startFeedSite, type FeedSite } from "../support/feed-site.js";
import { telegramTextLength, validateTelegramHtml } from "../support/telegram-html.js";

const fixture = (path: string): string => fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url));
const FEED = fixture("preview/river-valley.xml");
const CONFIG = fixture("preview/newswire.yaml");

/** Runs the preview, capturing what it prints. */
async function preview(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runPreview(args, env, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

/** The report's items: their printed fields and the message HTML. */
function items(stdout: string): Array<{ title: string; topics: string; summary: string; length: number; html: string }> {
  return stdout
    .split(/^━━ \d+ of \d+ ━+\n/m)
    .slice(1)
    .map((block) => {
      const [head = "", html = ""] = block.split(/^Message \(.*\n/m);
      const length = Number(/^Message \((\d+) of 4096 characters/m.exec(block)?.[1]);
      return {
        title: /^Title: +(.*)$/m.exec(head)?.[1] ?? "",
        topics: /^Topics: +(.*)$/m.exec(head)?.[1] ?? "",
        summary: /^Summary \(\d+ characters\):\n(.*)$/m.exec(head)?.[1] ?? "",
        length,
        html: html.trimEnd(),
      };
    });
}

describe("preview of a feed file", () => {
  test("the latest items, newest first, with summary, topics, length and valid Telegram HTML", async () => {
    const { code, stdout, stderr } = await preview([FEED, "--count", "2"], { CONFIG_FILE: CONFIG });
    assert.equal(code, 0, stderr);
    assert.equal(stderr, "");
    assert.match(stdout, /^River Valley Courier: 3 items, the latest 2 below \(summaries: extractive; full text: no; config: .*newswire\.yaml\)/);

    const shown = items(stdout);
    assert.deepEqual(shown.map((item) => item.title), ["Valley growers switch to drip irrigation & save water", "Library opens a tool shelf"]);
    assert.equal(shown[0]!.topics, "all, water, farming");
    assert.equal(shown[1]!.topics, "all");
    assert.ok(shown[0]!.summary.startsWith("Fruit growers in the upper valley have replaced most of their sprinklers"), shown[0]!.summary);
    assert.ok(shown[0]!.summary.length <= 600);
    assert.doesNotMatch(stdout, /appeared first on/, "WordPress's footer line is not part of the text");
    for (const item of shown) {
      assert.equal(validateTelegramHtml(item.html), null, item.html);
      assert.equal(item.length, telegramTextLength(item.html));
    }
    assert.match(shown[0]!.html, /^<b>Valley growers switch to drip irrigation &amp; save water<\/b>/);
    assert.match(shown[0]!.html, /#water #farming$/);
    assert.match(shown[0]!.html, /<a href="https:\/\/courier\.example\/2025\/drip-irrigation">Read<\/a>/);
  });

  test("--lang ru words the bot's part in Russian; without a config file only `all` matches", async () => {
    const { code, stdout } = await preview([FEED, "--lang", "ru", "--count", "1"], { CONFIG_FILE: "" });
    assert.equal(code, 0);
    const [item] = items(stdout);
    assert.match(item!.html, />Читать<\/a>/);
    assert.equal(item!.topics, "all");
    assert.match(stdout, /config: none/);
  });

  test("a feed saved compressed is read as the server would send it", async () => {
    const workdir = mkdtempSync(join(tmpdir(), "newswire-preview-gz-"));
    try {
      const saved = join(workdir, "feed.xml.gz");
      writeFileSync(saved, gzipSync(readFileSync(FEED)));
      const { code, stdout, stderr } = await preview([saved, "--count", "3"]);
      assert.equal(code, 0, stderr);
      assert.deepEqual(items(stdout).map((item) => item.title).slice(1), ["Library opens a tool shelf", "Ferry fares stay the same this year"]);
    } finally {
      rmSync(workdir, { recursive: true, force: true });
    }
  });

  test("mistakes end with exit code 1 and one line (plus the usage for the command line)", async () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [[], {}, /give exactly one feed URL or file\nusage: npm run preview/],
      [[FEED, "--lang", "de"], {}, /--lang must be en or ru/],
      [[FEED, "--count", "0"], {}, /--count must be a positive whole number/],
      [[FEED, "--colour"], {}, /Unknown option '--colour'/],
      [["no-such-feed.xml"], {}, /^newswire preview: ENOENT.*no-such-feed\.xml/],
      [[FEED], { CONFIG_FILE: "/nonexistent/newswire.yaml" }, /^newswire preview: CONFIG_FILE \/nonexistent\/newswire\.yaml does not exist/],
      [[FEED], { SUMMARIZER_URL: "http://127.0.0.1:1/v1" }, /^newswire preview: SUMMARIZER_MODEL is required/],
      [[CONFIG], {}, /^newswire preview: .*neither XML nor JSON/],
    ];
    for (const [args, env, message] of cases) {
      const { code, stdout, stderr } = await preview(args, env);
      assert.equal(code, 1, `${args.join(" ")}: ${stderr}`);
      assert.equal(stdout, "");
      assert.match(stderr, message);
      assert.ok(stderr.trimEnd().split("\n").length <= 2, stderr);
    }
  });
});

describe("preview of a feed URL with full text", () => {
  let site: FeedSite;
  let workdir: string;

  before(async () => {
    site = await startFeedSite();
    site.set("/feed.xml", { body: readFileSync(FEED, "utf8").replaceAll("https://courier.example/2025/drip-irrigation", site.url("/article")) });
    site.set("/article", { body: readFileSync(fixture("summaries/boilerplate-article.html"), "utf8") });
    workdir = mkdtempSync(join(tmpdir(), "newswire-preview-"));
  });

  after(async () => {
    await site.close();
    rmSync(workdir, { recursive: true, force: true });
  });

  test("a URL the config lists keeps its title, topics and fulltext", async () => {
    const config = join(workdir, "newswire.yaml");
    writeFileSync(config, `feeds:\n  - url: ${site.url("/feed.xml")}\n    title: The Courier\n    topics: [local]\n    fulltext: true\ntopics:\n  - id: local\n`);
    const { code, stdout, stderr } = await preview([site.url("/feed.xml"), "--count", "1"], { CONFIG_FILE: config });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^The Courier: 3 items, the latest 1 below \(summaries: extractive; full text: yes;/);
    const [item] = items(stdout);
    // The article page's text, not the feed's: the solar-farm story behind the link.
    assert.ok(item!.summary.startsWith("The Harbor town council voted seven to two"), item!.summary);
    for (const boilerplate of ["Advertisement", "Subscribe", "Most read", "©", "1,284"]) assert.ok(!item!.html.includes(boilerplate), boilerplate);
    assert.equal(item!.topics, "all, local");
    assert.match(item!.html, /#local$/);
    assert.equal(validateTelegramHtml(item!.html), null);
  });

  test("--fulltext on a file: a page that may not be fetched (loopback, no feed's origin) leaves the feed's text, with a warning", async () => {
    const feed = join(workdir, "feed.xml");
    writeFileSync(feed, readFileSync(FEED, "utf8").replaceAll("https://courier.example/2025/drip-irrigation", site.url("/missing")));
    const { code, stdout, stderr } = await preview([feed, "--fulltext", "--count", "1"]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /full text: yes/);
    assert.ok(items(stdout)[0]!.summary.startsWith("Fruit growers in the upper valley"));
    const { host } = new URL(site.origin);
    assert.equal(stderr, `warning: full text unavailable; using the feed's text (refused to fetch ${site.url("/missing")}: ${host} is not a public address (loopback))\n`);
    assert.equal(site.requests("/missing").length, 0, "never requested");
  });
});
