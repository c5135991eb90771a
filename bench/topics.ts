/**
 * Topic matching throughput: items per second against 50 topics × 20 keywords, median of 5 runs.
 * Keywords are words of the corpus itself (every fourth a two-word phrase), so items do hit topics.
 * Also reports `words()` alone on the same items, the tokenisation share of the cost.
 *
 * Run: node --import tsx bench/topics.ts
 */
import { existsSync, readFileSync } from "node:fs";
import { compileTopics } from "../src/topics/topics.js";
import type { TopicDefinition, TopicMatchInput } from "../src/topics/topics.js";
import { words } from "../src/text/words.js";

const TOPICS = 50;
const KEYWORDS = 20;
const ITEM_WORDS = 300;
const ITEMS_PER_RUN = 500;
const RUNS = 5;

const root = new URL("../", import.meta.url);
const sources = [
  new URL("test/fixtures/topics/traps-ru.txt", root),
  new URL("test/fixtures/topics/traps-en.txt", root),
  new URL("../shared/fixtures/seed-article.txt", root),
].filter((url) => existsSync(url));
const corpus = sources.map((url) => readFileSync(url, "utf8")).join("\n");

const vocabulary = [...new Set(words(corpus).filter((word) => word.length >= 5))];
const pick = (n: number): string => vocabulary[(n * 7) % vocabulary.length]!;
const definitions: TopicDefinition[] = Array.from({ length: TOPICS }, (_, t) => {
  const keyword = (k: number): string => {
    const n = t * KEYWORDS + k;
    return k % 4 === 0 ? `${pick(n)} ${pick(n + 1)}` : pick(n);
  };
  return {
    id: `topic-${t}`,
    title: `Topic ${t}`,
    keywords: Array.from({ length: KEYWORDS }, (_, k) => keyword(k)),
    categories: [pick(t + 3), pick(t + 11)],
    exclude: [pick(t + 17)],
  };
});

const chunks: string[] = corpus.split(/\s+/);
const items: TopicMatchInput[] = [];
for (let start = 0; start + ITEM_WORDS <= chunks.length; start += ITEM_WORDS / 2) {
  const slice = chunks.slice(start, start + ITEM_WORDS);
  items.push({ feedTopics: [], categories: [slice[3]!], title: slice.slice(0, 10).join(" "), text: slice.join(" ") });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Items per second of `work` over ITEMS_PER_RUN items, median of RUNS runs after a warm-up run. */
function itemsPerSecond(work: (input: TopicMatchInput) => unknown): number {
  const rates: number[] = [];
  for (let run = 0; run <= RUNS; run++) {
    const started = performance.now();
    for (let i = 0; i < ITEMS_PER_RUN; i++) work(items[i % items.length]!);
    if (run > 0) rates.push(ITEMS_PER_RUN / ((performance.now() - started) / 1000));
  }
  return median(rates);
}

const compileMs = median(
  Array.from({ length: RUNS }, () => {
    const started = performance.now();
    compileTopics(definitions);
    return performance.now() - started;
  }),
);
const matcher = compileTopics(definitions);
const matched = items.map((input) => matcher.match(input).length - 1);
const matchRate = itemsPerSecond((input) => matcher.match(input));
const wordsRate = itemsPerSecond((input) => [words(input.title), words(input.text)]);

console.log(`corpus: ${sources.length} files, ${items.length} distinct items of ${ITEM_WORDS} words`);
console.log(`topics: ${TOPICS} × ${KEYWORDS} keywords; topics per item: ${Math.min(...matched)}–${Math.max(...matched)}`);
console.log(`compileTopics: ${compileMs.toFixed(1)} ms (median of ${RUNS})`);
console.log(`match: ${Math.round(matchRate)} items/s (median of ${RUNS} runs of ${ITEMS_PER_RUN} items)`);
console.log(`words() alone on the same items: ${Math.round(wordsRate)} items/s`);
