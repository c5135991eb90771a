/**
 * Summary quality on real article pages: each page of ../shared/fixtures/pages (see its README)
 * is served on loopback and read through the poller's own full-text path (`buildItem` of a
 * `fulltext: true` feed: fetch → decode → extract → choose page or feed text → extractive
 * summary). The feed entry is what a feed would say of the page: its title and its meta
 * description (og:description, else description) as the item's HTML.
 *
 * Each summary is scored against the page's expected.txt (the article's text as Readability's
 * maintainers judged it): a summary sentence counts as article text when, after normalising case,
 * punctuation and whitespace, it occurs in expected.txt on word boundaries. Counts:
 *   clean        every sentence is article text
 *   boilerplate  at least one sentence is not (a caption, a prompt, a navigation label …)
 *   no article   not one sentence is article text (empty summaries included)
 *   cut mid-word the summary ends inside a word ("…" after a word the article does not have whole)
 *   over 600     longer than the product's 600 characters
 * Not timed: the counts do not depend on the machine. Pages whose summary is not clean are listed
 * with their offending sentence, so a change can be judged page by page.
 *
 * Run: node --import tsx bench/pages.ts [--verbose]
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { addressPolicy } from "../src/feeds/address-policy.js";
import { buildItem } from "../src/poller/poll-feed.js";
import { parseDocument } from "../src/summaries/html-text.js";
import { DEFAULT_SUMMARY_CHARS, extractiveSummarizer, splitSentences } from "../src/summaries/summarize.js";
import { compileTopics } from "../src/topics/topics.js";

const PAGES = new URL("../../shared/fixtures/pages/", import.meta.url);
const verbose = process.argv.includes("--verbose");

if (!existsSync(PAGES)) {
  console.log(`no fixture pages at ${PAGES.pathname}; nothing to score`);
  process.exit(0);
}

const names = readdirSync(PAGES, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(new URL(`${entry.name}/source.html`, PAGES)))
  .map((entry) => entry.name)
  .sort();

const server = createServer((request, response) => {
  const name = decodeURIComponent((request.url ?? "/").split("/")[1] ?? "");
  if (!names.includes(name)) {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { "content-type": "text/html" }).end(readFileSync(new URL(`${name}/source.html`, PAGES)));
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Case, punctuation and spacing set aside, so "It's" and "It’s", or "a — b" and "a - b", match. */
function normalise(text: string): string {
  return ` ${text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim()} `;
}

/** What a feed entry would say of a page: its title and description, from the page's own meta. */
function feedEntry(html: string, link: string) {
  const document = parseDocument(html);
  const meta = (selector: string) => document.querySelector(selector)?.getAttribute("content")?.trim() || undefined;
  const title = meta('meta[property="og:title"]') ?? document.querySelector("title")?.textContent?.trim() ?? "";
  const description = meta('meta[property="og:description"]') ?? meta('meta[name="description"]');
  return { title, link, categories: [], ...(description ? { html: description } : {}) };
}

interface Score {
  name: string;
  summary: string;
  foreign: string[];
  articleSentences: number;
  cutMidWord: boolean;
}

function score(name: string, summary: string, expected: string): Score {
  const article = normalise(expected);
  const sentences = splitSentences(summary);
  const clipped = summary.endsWith("…");
  const foreign: string[] = [];
  let articleSentences = 0;
  for (const sentence of sentences) {
    if (article.includes(normalise(sentence.replace(/…$/u, "")))) articleSentences++;
    else foreign.push(sentence);
  }
  // A clipped summary's last word must be a whole word of the article.
  const lastWord = clipped ? normalise(summary.slice(0, -1)).trim().split(" ").pop() ?? "" : "";
  const cutMidWord = clipped && !article.includes(` ${lastWord} `);
  return { name, summary, foreign, articleSentences, cutMidWord };
}

const logger = pino({ level: "silent" });
const deps = {
  topics: compileTopics([]),
  fetch: { timeoutMs: 20_000, maxBytes: 10_000_000 },
  // The pages are served as the feed's own origin, which the policy trusts as it does in production.
  addressPolicy: addressPolicy([`${origin}/feed.xml`], false),
  logger,
  summarizer: extractiveSummarizer,
};
const feed = { id: "pages", topics: [], fulltext: true };

const scores: Score[] = [];
for (const name of names) {
  const html = readFileSync(new URL(`${name}/source.html`, PAGES), "utf8");
  const expected = readFileSync(new URL(`${name}/expected.txt`, PAGES), "utf8");
  const link = `${origin}/${encodeURIComponent(name)}/`;
  const { item } = await buildItem(feedEntry(html, link), [name], feed, "pages", deps, Date.now());
  scores.push(score(name, item.summary, expected));
}
server.close();

const clean = scores.filter((s) => s.summary !== "" && s.foreign.length === 0);
const boilerplate = scores.filter((s) => s.foreign.length > 0);
const noArticle = scores.filter((s) => s.articleSentences === 0);
const cut = scores.filter((s) => s.cutMidWord);
const long = scores.filter((s) => s.summary.length > DEFAULT_SUMMARY_CHARS);

const percent = (part: number) => `${((100 * part) / scores.length).toFixed(1)} %`;
for (const s of scores) {
  if (!verbose && s.foreign.length === 0 && s.articleSentences > 0 && !s.cutMidWord) continue;
  const flags = [
    s.articleSentences === 0 ? "NO ARTICLE" : s.foreign.length > 0 ? "BOILERPLATE" : "clean",
    ...(s.cutMidWord ? ["CUT"] : []),
    ...(s.summary.length > DEFAULT_SUMMARY_CHARS ? ["LONG"] : []),
  ];
  console.log(`${s.name}: ${flags.join(" ")}${s.foreign.length > 0 ? ` — ${JSON.stringify(s.foreign[0]!.slice(0, 140))}` : ""}`);
  if (verbose) console.log(`    ${s.summary}`);
}
console.log(
  `${scores.length} pages: clean ${clean.length} (${percent(clean.length)}), boilerplate ${boilerplate.length}, ` +
    `no article text ${noArticle.length}, cut mid-word ${cut.length}, over ${DEFAULT_SUMMARY_CHARS} chars ${long.length}`,
);
