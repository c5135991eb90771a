/**
 * Summaries stage throughput: article pages per second through `extractArticle` + `summarize`,
 * and each step alone, on the ~10 KB news pages of test/fixtures/summaries (an English and a
 * Russian article inside a full site page: navigation, counters, sidebar, newsletter, footer,
 * scripts). Median of 5 runs of N pages each, after a warm-up run.
 *
 * Then the cost of a hostile item: `summarize` on texts of 4,000 and 25,000 sentences
 * (test/support/long-article.ts), median milliseconds of 3 runs each, the ratio to the 4,000
 * one (linear work gives about 6), and the process's peak RSS after each size.
 *
 * Run: node --import tsx bench/summarize.ts [sentence counts, default 4000 25000]
 */
import { readFileSync } from "node:fs";
import { extractArticle } from "../src/summaries/extract.js";
import { summarize } from "../src/summaries/summarize.js";
import { longArticleText } from "../test/support/long-article.js";

const PAGES_PER_RUN = 50;
const RUNS = 5;
const LONG_RUNS = 3;
const LONG_SIZES = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [4_000, 25_000];

const fixtures = new URL("../test/fixtures/summaries/", import.meta.url);
const pages = [
  { name: "English page", url: "https://harbordaily.example/local/solar", html: readFileSync(new URL("boilerplate-article.html", fixtures), "utf8") },
  { name: "Russian page", url: "https://vesti-zarechye.example/city/bus", html: readFileSync(new URL("boilerplate-article-ru.html", fixtures), "utf8") },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Calls per second of `work`, median of RUNS runs of PAGES_PER_RUN calls after a warm-up run. */
function perSecond(work: () => unknown): number {
  const rates: number[] = [];
  for (let run = 0; run <= RUNS; run++) {
    const started = performance.now();
    for (let i = 0; i < PAGES_PER_RUN; i++) work();
    const rate = PAGES_PER_RUN / ((performance.now() - started) / 1000);
    if (run > 0) rates.push(rate); // run 0 warms the JIT up
  }
  return median(rates);
}

for (const page of pages) {
  const text = extractArticle(page.html, page.url).text;
  const kb = (Buffer.byteLength(page.html) / 1024).toFixed(1);
  const both = perSecond(() => summarize(extractArticle(page.html, page.url).text));
  const extractOnly = perSecond(() => extractArticle(page.html, page.url));
  const summarizeOnly = perSecond(() => summarize(text));
  console.log(
    `${page.name} (${kb} KB, ${text.length} chars of article): ` +
      `extract+summarize ${both.toFixed(0)}/s, extract ${extractOnly.toFixed(0)}/s, summarize ${summarizeOnly.toFixed(0)}/s ` +
      `(medians of ${RUNS} runs × ${PAGES_PER_RUN})`,
  );
}

/** Median milliseconds of LONG_RUNS calls of `work`. */
function medianMs(work: () => unknown): number {
  const times: number[] = [];
  for (let run = 0; run < LONG_RUNS; run++) {
    const started = performance.now();
    work();
    times.push(performance.now() - started);
  }
  return median(times);
}

let baselineMs: number | undefined;
for (const count of LONG_SIZES) {
  const text = longArticleText(count);
  const ms = medianMs(() => summarize(text));
  baselineMs ??= ms;
  const peakMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    `${count} sentences (${(text.length / 1e6).toFixed(1)} M chars): summarize ${ms.toFixed(0)} ms ` +
      `(median of ${LONG_RUNS}), ×${(ms / baselineMs).toFixed(1)} the ${LONG_SIZES[0]}-sentence time, peak RSS so far ${peakMb.toFixed(0)} MB`,
  );
}
