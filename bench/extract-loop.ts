/**
 * How long page extraction blocks the event loop (the bot cannot answer meanwhile): the longest
 * gap between 1 ms timer ticks while one page is extracted, on the main thread (`extractArticle`,
 * the baseline) and through the worker pool (`extractPage`, what the poller calls), for
 *   - a 1 MB news page (the English test page's article and furniture repeated to 1 MB),
 *   - yahoo-1 of ../shared/fixtures/pages (1.2 MB of a real page), when present,
 *   - 50,000 nested <div>s (unclosed tags; linkedom alone takes seconds on it).
 * Medians of 5 runs after a warm-up run, and the pool's figure as a ratio of the baseline's.
 * The nested page is over the pool's budget: its run measures the stall until it is abandoned.
 *
 * Run: node --import tsx bench/extract-loop.ts
 */
import { existsSync, readFileSync } from "node:fs";
import { extractPage } from "../src/summaries/extract-pool.js";
import { extractArticle } from "../src/summaries/extract.js";

const RUNS = 5;
const TICK_MS = 1;

const english = readFileSync(new URL("../test/fixtures/summaries/boilerplate-article.html", import.meta.url), "utf8");
const body = english.slice(english.indexOf("<body"), english.lastIndexOf("</body>"));
const head = english.slice(0, english.indexOf("<body"));
const yahoo = new URL("../../shared/fixtures/pages/yahoo-1/source.html", import.meta.url);

const pages: Array<{ name: string; html: string }> = [
  { name: "1 MB news page", html: `${head}${body.repeat(Math.ceil(1_000_000 / body.length))}</body></html>` },
  ...(existsSync(yahoo) ? [{ name: "yahoo-1 (real, 1.2 MB)", html: readFileSync(yahoo, "utf8") }] : []),
  { name: "50,000 nested <div>s", html: `<html><body>${"<div>".repeat(50_000)}<p>Deep text.</p></body></html>` },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Why pool runs failed (ExtractionTimeout for a page over budget). */
const abandoned = new Set<string>();

/** The longest event-loop stall, in ms, while `work` runs (its own synchronous part included). */
async function longestStall(work: () => unknown): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last - TICK_MS);
    last = now;
  }, TICK_MS);
  await new Promise((resolve) => setTimeout(resolve, 5)); // the ticker's first ticks
  last = performance.now();
  try {
    await work();
  } catch (error) {
    // a page over the pool's budget rejects: what counts here is the stall until then
    abandoned.add((error as Error).name);
  }
  const now = performance.now();
  longest = Math.max(longest, now - last - TICK_MS);
  clearInterval(ticker);
  return Math.max(0, longest);
}

async function medianStall(work: () => unknown): Promise<number> {
  const stalls: number[] = [];
  for (let run = 0; run <= RUNS; run++) {
    const stall = await longestStall(work);
    if (run > 0) stalls.push(stall); // run 0 warms up the JIT and starts the workers
  }
  return median(stalls);
}

for (const page of pages) {
  const url = "https://site.example/article";
  const runsMain = page.name.includes("nested") ? 1 : RUNS; // seconds a run: one is enough to see it
  const main =
    runsMain === 1 ? await longestStall(() => extractArticle(page.html, url)) : await medianStall(() => extractArticle(page.html, url));
  abandoned.clear();
  const pool = await medianStall(() => extractPage(page.html, url));
  console.log(
    `${page.name} (${(page.html.length / 1e6).toFixed(2)} MB): longest event-loop stall ` +
      `main thread ${main.toFixed(0)} ms${runsMain === 1 ? " (1 run)" : ""}, worker pool ${pool.toFixed(1)} ms ` +
      `(${(pool / main).toFixed(3)} of the main thread's; medians of ${RUNS} runs)` +
      (abandoned.size > 0 ? `; pool runs ended by ${[...abandoned].join(", ")}` : ""),
  );
}
process.exit(0);
