/**
 * Cross-source story clustering (src/stories): quality on the labelled set and cost per item.
 *
 * 1. Quality: test/fixtures/stories/labelled.json goes through StoryIndex.assign in time order;
 *    pairs of items put in one story are compared with pairs labelled one story (pairwise
 *    precision, recall, F1), at the default threshold and a few around it. --verbose lists the
 *    wrong and missed pairs with their scores.
 * 2. Cost: match+add of 500 new items against 1,000, 5,000 and 20,000 recent ones, generated from
 *    a Zipf-distributed vocabulary (the labelled set's words for the head, made-up words for the
 *    long tail real news has, capitalised names and numbers), in stories of 1–4 items like real
 *    feeds. The baseline, in the same run, is computing the same items' terms alone (what any
 *    lexical comparison costs). Medians of 5 runs of the mean per item. The load average is
 *    printed: on a shared machine the absolute figures move with it, the ratios much less.
 *
 * Run: node --import tsx bench/cluster.ts [--verbose]
 */
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { DEFAULT_THRESHOLD, StoryIndex, type StoryItem } from "../src/stories/story-index.js";
import { storyTerms } from "../src/stories/story-text.js";
import { words } from "../src/text/words.js";

const { values: args } = parseArgs({ options: { verbose: { type: "boolean", default: false } } });

interface Labelled {
  key: string;
  feedId: string;
  publishedAt: string;
  story: string;
  title: string;
  summary: string;
}

const labelled = JSON.parse(readFileSync(new URL("../test/fixtures/stories/labelled.json", import.meta.url), "utf8")) as Labelled[];
const items: Array<StoryItem & { story: string }> = labelled
  .map((item) => ({ ...item, publishedAt: Date.parse(item.publishedAt) }))
  .sort((a, b) => a.publishedAt - b.publishedAt || (a.key < b.key ? -1 : 1));

// ---- quality ----

interface Quality {
  precision: number;
  recall: number;
  f1: number;
  predictedStories: number;
  wrong: string[];
  missed: string[];
}

function quality(threshold: number): Quality {
  const index = new StoryIndex({ threshold });
  const predicted = new Map<string, string>();
  const why = new Map<string, string>();
  for (const item of items) {
    const { storyId, match } = index.assign(item, item.publishedAt);
    predicted.set(item.key, storyId);
    if (match) why.set(item.key, `${match.score.toFixed(3)} via ${match.matchedKey} [${match.sharedTerms.join(", ")}]`);
  }
  let truePairs = 0;
  let predictedPairs = 0;
  let labelledPairs = 0;
  const wrong: string[] = [];
  const missed: string[] = [];
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const a = items[i]!;
      const b = items[j]!;
      const same = predicted.get(a.key) === predicted.get(b.key);
      const labelledSame = a.story === b.story;
      if (same) predictedPairs++;
      if (labelledSame) labelledPairs++;
      if (same && labelledSame) truePairs++;
      if (same && !labelledSame) wrong.push(`${a.key} (${a.story}) + ${b.key} (${b.story}): ${why.get(b.key) ?? why.get(a.key) ?? ""}`);
      if (!same && labelledSame) missed.push(`${a.key} + ${b.key} (${a.story})`);
    }
  }
  const precision = predictedPairs === 0 ? 1 : truePairs / predictedPairs;
  const recall = labelledPairs === 0 ? 1 : truePairs / labelledPairs;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, predictedStories: new Set(predicted.values()).size, wrong, missed };
}

const labels = new Set(items.map((item) => item.story));
const multiSource = [...labels].filter((label) => items.filter((item) => item.story === label).length > 1).length;
const russian = items.filter((item) => /\p{Script=Cyrillic}/u.test(item.title)).length;
console.log(`labelled set: ${items.length} items (${russian} Russian, ${items.length - russian} English), ${labels.size} stories, ${multiSource} of them multi-source`);
console.log("threshold  precision  recall  F1     predicted stories");
for (const threshold of [0.15, 0.2, 0.25, DEFAULT_THRESHOLD, 0.35, 0.4, 0.5]
  .filter((value, at, all) => all.indexOf(value) === at)
  .sort((a, b) => a - b)) {
  const q = quality(threshold);
  const mark = threshold === DEFAULT_THRESHOLD ? " (default)" : "";
  console.log(`${threshold.toFixed(2).padEnd(9)}  ${q.precision.toFixed(3).padEnd(9)}  ${q.recall.toFixed(3).padEnd(6)}  ${q.f1.toFixed(3)}  ${q.predictedStories}${mark}`);
  if (args.verbose && threshold === DEFAULT_THRESHOLD) {
    for (const line of q.wrong) console.log(`  wrong:  ${line}`);
    for (const line of q.missed) console.log(`  missed: ${line}`);
  }
}

// ---- cost ----

/** A deterministic generator (mulberry32), so every run measures the same items. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const rand = random(42);
const realWords = [...new Set(items.flatMap((item) => words(`${item.title} ${item.summary}`)).filter((word) => word.length > 2))];
const SYLLABLES = ["ка", "ро", "ми", "ст", "ва", "ли", "ne", "to", "ra", "man", "ser", "ден", "ков", "tion", "al", "ing", "ов", "ский", "ber", "го"];
const madeUp = (): string => Array.from({ length: 2 + Math.floor(rand() * 3) }, () => SYLLABLES[Math.floor(rand() * SYLLABLES.length)]!).join("");
/** ~40,000 distinct words: news over days uses tens of thousands of stems, most of them rarely. */
const vocabulary = [...realWords, ...Array.from({ length: 40_000 }, madeUp)];
/** Zipf (s ≈ 1) by inverse transform over the ranks' harmonic sums. */
const harmonic: number[] = [];
vocabulary.reduce((sum, _word, rank) => (harmonic.push(sum + 1 / (rank + 1)), sum + 1 / (rank + 1)), 0);
function zipfWord(): string {
  const target = rand() * harmonic[harmonic.length - 1]!;
  let low = 0;
  let high = harmonic.length - 1;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (harmonic[mid]! < target) low = mid + 1;
    else high = mid;
  }
  return vocabulary[low]!;
}
const capitalise = (word: string): string => word[0]!.toUpperCase() + word.slice(1);
const sentence = (length: number, core: string[]): string =>
  Array.from({ length }, (_, at) => (at % 4 === 1 && core.length > 0 ? core[at % core.length]! : rand() < 0.12 ? capitalise(zipfWord()) : zipfWord())).join(" ");

const WINDOW_MS = 48 * 3_600_000;
const FEEDS = 30;
let serial = 0;
/** Items in stories of 1–4 feeds sharing a core (names, a number, words), spread over the window. */
function syntheticItems(count: number, from: number, to: number): StoryItem[] {
  const generated: StoryItem[] = [];
  while (generated.length < count) {
    const core = [capitalise(zipfWord()), capitalise(zipfWord()), String(Math.floor(rand() * 1000)), zipfWord()];
    const sources = 1 + Math.floor(rand() * 4);
    const at = from + rand() * (to - from);
    for (let s = 0; s < sources && generated.length < count; s++) {
      generated.push({
        key: `synthetic/${serial++}`,
        feedId: `feed-${Math.floor(rand() * FEEDS)}`,
        title: `${capitalise(zipfWord())} ${sentence(8, core)}`,
        summary: `${capitalise(zipfWord())} ${sentence(18, core)}. ${capitalise(zipfWord())} ${sentence(14, core)}.`,
        publishedAt: Math.round(at + s * rand() * 3_600_000),
      });
    }
  }
  return generated.sort((a, b) => a.publishedAt - b.publishedAt);
}

const RUNS = 5;
const PROBES = 500;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

console.log(`\ncost (load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`);
console.log("recent items  match+add µs/item  terms only µs/item  ratio  stories joined");
for (const recent of [1_000, 5_000, 20_000]) {
  const now = Date.UTC(2026, 10, 20);
  const costs: number[] = [];
  const baselines: number[] = [];
  let joined = 0;
  for (let run = 0; run < RUNS; run++) {
    const index = new StoryIndex({ windowMs: WINDOW_MS });
    // The recent items as one story each: how they were grouped does not change what a match costs.
    for (const item of syntheticItems(recent, now - WINDOW_MS, now)) index.add(item);
    const probes = syntheticItems(PROBES, now, now + 60_000);
    // Stems are cached process-wide, and a bot's cache is warm: both timings start with it warm.
    // The baseline works on copies because match() caches terms per item object.
    for (const item of probes) storyTerms(item.title, item.summary);
    const copies = probes.map((item) => ({ ...item }));
    let start = performance.now();
    for (const item of copies) storyTerms(item.title, item.summary);
    baselines.push(((performance.now() - start) * 1000) / PROBES);
    joined = 0;
    start = performance.now();
    for (const item of probes) {
      const match = index.match(item, now + 60_000);
      if (match) joined++;
      index.add(item, match?.storyId);
    }
    costs.push(((performance.now() - start) * 1000) / PROBES);
  }
  const cost = median(costs);
  const baseline = median(baselines);
  console.log(`${String(recent).padEnd(12)}  ${cost.toFixed(1).padEnd(16)}  ${baseline.toFixed(1).padEnd(18)}  ${(cost / baseline).toFixed(2).padEnd(5)}  ${joined}/${PROBES}`);
}
