/**
 * Topic matching, this code against a baseline in the same run:
 * - throughput: items per second against 50 topics × 20 keywords, median of 5 runs. Keywords are
 *   words of the corpus itself (every fourth a two-word phrase), so items do hit topics. Also
 *   reports `words()` alone on the same items, the tokenisation share of the cost.
 * - accuracy: precision and recall over every (text, topic) pair of the labelled keyword suite
 *   (test/support/topic-suite.ts). The baseline gets case-sensitive keywords as plain words,
 *   which is all a configuration could say before `case: sensitive`.
 * The baseline is src/topics and src/text at a git ref (default main), copied to a temporary directory.
 *
 * Run: node --import tsx bench/topics.ts [--baseline=REF]
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { compileTopics } from "../src/topics/topics.js";
import type { TopicDefinition, TopicMatchInput, TopicMatcher } from "../src/topics/topics.js";
import { words } from "../src/text/words.js";
import { SUITE_CASES, SUITE_TOPICS } from "../test/support/topic-suite.js";

const TOPICS = 50;
const KEYWORDS = 20;
const ITEM_WORDS = 300;
const ITEMS_PER_RUN = 500;
const RUNS = 5;

const root = new URL("../", import.meta.url);
const baselineRef = process.argv.find((arg) => arg.startsWith("--baseline="))?.slice("--baseline=".length) ?? "main";

/** `compileTopics` of src/topics at `ref`, with the src/text it imports. */
async function baselineCompiler(ref: string): Promise<{ compile: typeof compileTopics; cleanup: () => void }> {
  const repo = fileURLToPath(root);
  const git = (...args: string[]) => execFileSync("git", ["-C", repo, ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
  const dir = mkdtempSync(join(tmpdir(), "newswire-topics-baseline-"));
  for (const path of git("ls-tree", "-r", "--name-only", ref, "src/topics", "src/text").split("\n").filter(Boolean)) {
    mkdirSync(join(dir, dirname(path)), { recursive: true });
    writeFileSync(join(dir, path), git("show", `${ref}:${path}`));
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"));
  const module = (await import(pathToFileURL(join(dir, "src/topics/topics.ts")).href)) as { compileTopics: typeof compileTopics };
  return { compile: module.compileTopics, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// ---- Throughput ------------------------------------------------------------------------------

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

/**
 * Items per second of each of `works` over ITEMS_PER_RUN items, median of RUNS runs after a
 * warm-up run; the works take turns within each run, so a busy machine slows them alike.
 */
function itemsPerSecond(works: ((input: TopicMatchInput) => unknown)[]): number[] {
  const rates: number[][] = works.map(() => []);
  for (let run = 0; run <= RUNS; run++) {
    works.forEach((work, index) => {
      const started = performance.now();
      for (let i = 0; i < ITEMS_PER_RUN; i++) work(items[i % items.length]!);
      if (run > 0) rates[index]!.push(ITEMS_PER_RUN / ((performance.now() - started) / 1000));
    });
  }
  return rates.map(median);
}

function compileMs(compile: typeof compileTopics): number {
  return median(
    Array.from({ length: RUNS }, () => {
      const started = performance.now();
      compile(definitions);
      return performance.now() - started;
    }),
  );
}

// ---- Accuracy --------------------------------------------------------------------------------

/** Precision and recall of `matcher` over every (suite case, suite topic) pair. */
function accuracy(matcher: TopicMatcher): { precision: number; recall: number; wrong: number } {
  let truePositive = 0;
  let falsePositive = 0;
  let falseNegative = 0;
  let wrong = 0;
  for (const [title, expected] of SUITE_CASES) {
    const got = new Set(matcher.match({ feedTopics: [], categories: [], title, text: "" }));
    for (const { id } of SUITE_TOPICS) {
      const want = expected.includes(id);
      if (want && got.has(id)) truePositive++;
      if (!want && got.has(id)) falsePositive++;
      if (want && !got.has(id)) falseNegative++;
    }
    if (expected.some((id) => !got.has(id)) || got.size !== expected.length + 1) wrong++;
  }
  return {
    precision: truePositive / (truePositive + falsePositive),
    recall: truePositive / (truePositive + falseNegative),
    wrong,
  };
}

/** The suite's topics as a configuration without `case: sensitive` writes them. */
const plainSuiteTopics: TopicDefinition[] = SUITE_TOPICS.map((topic) => ({
  ...topic,
  keywords: topic.keywords.map((keyword) => (typeof keyword === "string" ? keyword : keyword.word)),
}));

const baseline = await baselineCompiler(baselineRef);
try {
  const current = compileTopics(definitions);
  const before = baseline.compile(definitions);
  const matched = items.map((input) => current.match(input).length - 1);
  const [beforeRate, afterRate, wordsRate] = itemsPerSecond([
    (input) => before.match(input),
    (input) => current.match(input),
    (input) => [words(input.title), words(input.text)],
  ]) as [number, number, number];
  const suiteBefore = accuracy(baseline.compile(plainSuiteTopics));
  const suiteAfter = accuracy(compileTopics(SUITE_TOPICS));

  const figures = (score: ReturnType<typeof accuracy>) =>
    `precision ${score.precision.toFixed(2)}, recall ${score.recall.toFixed(2)}, ${score.wrong} of ${SUITE_CASES.length} cases wrong`;
  console.log(`corpus: ${sources.length} files, ${items.length} distinct items of ${ITEM_WORDS} words`);
  console.log(`topics: ${TOPICS} × ${KEYWORDS} keywords; topics per item: ${Math.min(...matched)}–${Math.max(...matched)}`);
  console.log(`compileTopics: ${baselineRef} ${compileMs(baseline.compile).toFixed(1)} ms, now ${compileMs(compileTopics).toFixed(1)} ms (median of ${RUNS})`);
  console.log(
    `match: ${baselineRef} ${Math.round(beforeRate)} items/s, now ${Math.round(afterRate)} items/s, ` +
      `ratio ${(afterRate / beforeRate).toFixed(2)} (median of ${RUNS} runs of ${ITEMS_PER_RUN} items)`,
  );
  console.log(`words() alone on the same items: ${Math.round(wordsRate)} items/s`);
  console.log(`keyword suite, ${baselineRef}: ${figures(suiteBefore)}`);
  console.log(`keyword suite, now: ${figures(suiteAfter)}`);
} finally {
  baseline.cleanup();
}
