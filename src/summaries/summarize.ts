/**
 * Extractive summaries, offline and deterministic: the article's lead sentence plus its most
 * central sentences (LexRank: PageRank over the cosine similarity of stemmed content words),
 * in their original order, within a character budget. Only the article's beginning is read, so
 * an item's cost is bounded whatever its length.
 */
import { clip } from "../text/clip.js";
import { eng, rus } from "stopword";
import { detectLanguage, stem, words } from "../text/words.js";
import type { Language } from "../text/words.js";
import { normaliseSpaces } from "./html-text.js";

/** How to summarise. */
export interface SummaryOptions {
  /** Longest summary, in UTF-16 code units (what Telegram counts). Default 600. */
  maxChars?: number;
  /** Language of the text; detected from its script when absent. */
  language?: Language;
  /** The item's title: a sentence that repeats it is never part of the summary. */
  title?: string;
}

/** The summary length the product promises: "at most about 600 characters". */
export const DEFAULT_SUMMARY_CHARS = 600;

/** Both lists at once: Russian articles quote English names and the reverse. */
const STOP_WORDS = new Set([...eng, ...rus].map((word) => word.toLowerCase().replaceAll("ё", "е")));

/**
 * How much of an article is read: its first 50,000 characters, and of those the first 300
 * sentences are ranked. News puts what matters first, and ranking compares every pair of
 * sentences, so a 3 MB item costs what a long article does.
 */
export const MAX_READ_CHARS = 50_000;
const MAX_RANKED_SENTENCES = 300;

/** Closing quotes and brackets, Latin, Cyrillic and CJK. */
const CLOSERS = `"'»”’)\\]」』）】〕》〉`;

/** The end of a sentence: its punctuation (full-width forms too), then any closing quotes or brackets. */
export const SENTENCE_END = new RegExp(`[.!?…。！？．｡][${CLOSERS}]*$`, "u");

/** The end of a Chinese or Japanese sentence, after which the next one follows without a space. */
const FULL_WIDTH_END = new RegExp(`[。！？．｡][${CLOSERS}]*$`, "u");

/** A quoted exclamation or question: «Стоп!», "Why?", 「止まれ！」. */
const QUOTED_EXCLAMATION = new RegExp(`[!?…！？][${CLOSERS}]+$`, "u");

/** What goes on after a quote inside its sentence: a lower-case word ("Stop!" he said; «Стоп!» — сказал он). */
const LOWER_CASE_START = /^[\s,;:—–-]*\p{Ll}/u;

/** The Japanese quotative particle after a quote: 「止まれ！」と彼は言った. */
const QUOTATIVE = /^(?:と|って)/u;

/** A segment that opens a quotation ("Why?" asked the mayor) is no stray piece of the one before. */
const OPENING_QUOTE = /^["\p{Ps}\p{Pi}]/u;

/** Opening quotes and brackets, which ICU leaves at the end of the sentence before them (你去吗？“停下！”). */
const TRAILING_OPENERS = /[\p{Ps}\p{Pi}]+$/u;

/** Chinese and Japanese characters: written without spaces, each about half a word. */
const CJK_CHARACTER = "[\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}ー]";
const CJK = new RegExp(CJK_CHARACTER, "u");
const CJK_RUNS = new RegExp(`${CJK_CHARACTER}+`, "gu");
const CJK_CHARS = new RegExp(CJK_CHARACTER, "gu");

/** A sentence needs this many words to open or join a summary; shorter ones are labels or asides. */
const MIN_SENTENCE_WORDS = 5;

/** A segment with fewer words is a stray piece of the sentence before it ("5.", "Yes!", 他说。). */
const MIN_FRAGMENT_WORDS = 2;

/** A sentence this similar to one already chosen says the same thing again. */
const MAX_REDUNDANCY = 0.5;

/** A sentence sharing this share of its words with the title (and the title with it) is the title again. */
const TITLE_OVERLAP = 0.8;

const DAMPING = 0.85;
const MAX_ITERATIONS = 100;
const CONVERGED = 1e-6;

/** Capitalised English abbreviations that come before a name or a number, never at a sentence end. */
const TITLE_ABBREVIATIONS = new Set([
  "Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Gen", "Sen", "Rep", "Gov", "Lt", "Col", "Capt", "Sgt", "Rev",
  "No", "Nos", "Fig", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
]);

/** Lower-case abbreviations (Russian mostly) that come before the word they qualify. */
const LOWER_ABBREVIATIONS = new Set([
  "vs", "approx", "cf", "al",
  "ул", "им", "пр", "просп", "пер", "обл", "проф", "акад", "ген", "св", "ст", "см", "рис", "стр", "напр", "ок", "гг",
]);

/** Abbreviations that do end sentences: "и т. д.", "и т. п.", "и др.", "etc.", "в 2024 г." */
const FINAL_ABBREVIATION = /(?:т\.\s?[дп]|\sдр|etc|\d\s?гг?)\.$/iu;

/** The last token of a segment that ends with a full stop: "U.S", "J", "Mr", "т.е". */
const LAST_DOTTED_TOKEN = /(?:^|[\s(«"“])([\p{L}.]+)\.$/u;

/** Single letters joined by dots: initials ("J", "J.R.R") and "U.S", "D.C", "т.е", "e.g". */
const INITIALS = /^(?:\p{L}\.)*\p{L}$/u;

/** A segment that opens with an initial ("R. Tolkien", "В. Иванов"). */
const OPENING_INITIAL = /^[^\p{L}\p{N}]*\p{L}\./u;

/** The first word of a segment when it is capitalised. */
const CAPITALISED_FIRST_WORD = /^[^\p{L}\p{N}]*(\p{Lu}[\p{L}\p{M}]*)/u;

/** The end of the text a segment break is judged by: enough for "и т. д." or "J.R.R.". */
const ENDING_CHARS = 64;

/** What the dotted word ending a segment says about the break after it. */
type Ending = "sentence" | "abbreviation" | "initials";

function endingOf(text: string): Ending {
  if (FINAL_ABBREVIATION.test(text)) return "sentence";
  const token = LAST_DOTTED_TOKEN.exec(text)?.[1];
  if (token === undefined) return "sentence";
  if (TITLE_ABBREVIATIONS.has(token) || LOWER_ABBREVIATIONS.has(token)) return "abbreviation";
  return INITIALS.test(token) ? "initials" : "sentence";
}

/**
 * Words of a segment, where a Chinese or Japanese run (one "word" to the tokenizer, for want of
 * spaces) counts half a word a character.
 */
function wordCount(tokens: readonly string[]): number {
  let count = 0;
  for (const token of tokens) count += CJK.test(token) ? (token.match(CJK_CHARS)?.length ?? 0) / 2 : 1;
  return count;
}

/**
 * After initials or a dotted acronym, a capitalised function word starts a new sentence ("…in
 * the U.S. The next day"); a name or another initial goes on ("U.S. Senate", "J. R. R. Tolkien").
 */
function startsSentence(segment: string): boolean {
  if (OPENING_INITIAL.test(segment)) return false;
  const first = CAPITALISED_FIRST_WORD.exec(segment)?.[1];
  return first !== undefined && STOP_WORDS.has(first.toLowerCase().replaceAll("ё", "е"));
}

/** True when `segment` goes on the sentence whose text ends with `ending`, although ICU broke between them. */
function continues(ending: string, segment: string, tokens: readonly string[]): boolean {
  const words = wordCount(tokens);
  if (words < MIN_FRAGMENT_WORDS && endingOf(segment) === "sentence" && !OPENING_QUOTE.test(segment)) return true; // "5.", "Yes!"
  if (LOWER_CASE_START.test(segment)) return true;
  if (QUOTED_EXCLAMATION.test(ending) && (words < MIN_SENTENCE_WORDS || QUOTATIVE.test(segment))) return true; // "Stop!" Smith said.
  const dotted = endingOf(ending);
  return dotted === "abbreviation" || (dotted === "initials" && !startsSentence(segment));
}

/** A sentence as it is split: its raw text, where it ends, and its words (tokenised once). */
interface Split {
  raw: string;
  ending: string;
  tokens: string[];
}

const segmenters = new Map<Language, Intl.Segmenter>();

function sentenceSegmenter(language: Language): Intl.Segmenter {
  let segmenter = segmenters.get(language);
  if (segmenter === undefined) {
    segmenter = new Intl.Segmenter(language, { granularity: "sentence" });
    segmenters.set(language, segmenter);
  }
  return segmenter;
}

/**
 * The sentences of one paragraph. ICU's sentence breaks are taken, then undone where the text
 * goes on: after abbreviations and initials, before stray fragments, after a quoted exclamation
 * inside a sentence; an opening quote ICU left at a sentence's end moves to the next one.
 */
function splitParagraph(paragraph: string, segmenter: Intl.Segmenter, into: Split[]): void {
  const first = into.length;
  let carried = "";
  for (const { segment } of segmenter.segment(paragraph)) {
    let raw = carried + segment;
    carried = TRAILING_OPENERS.exec(raw)?.[0] ?? "";
    raw = raw.slice(0, raw.length - carried.length);
    const text = raw.trim();
    if (text === "") continue;
    const tokens = words(text);
    const last = into.length > first ? into[into.length - 1] : undefined;
    if (last !== undefined && continues(last.ending, text, tokens)) {
      last.raw += raw;
      last.ending = `${last.ending} ${text}`.slice(-ENDING_CHARS);
      for (const token of tokens) last.tokens.push(token);
    } else {
      into.push({ raw, ending: text.slice(-ENDING_CHARS), tokens });
    }
  }
  if (carried !== "" && into.length > first) into[into.length - 1]!.raw += carried;
}

/** A sentence and its words. */
interface Tokenised {
  text: string;
  tokens: string[];
}

/** The sentences of `text` with their words; paragraphs (lines) never share a sentence. */
function sentencesOf(text: string, language: Language): Tokenised[] {
  const segmenter = sentenceSegmenter(language);
  const sentences: Split[] = [];
  for (const paragraph of text.split("\n")) splitParagraph(paragraph, segmenter, sentences);
  return sentences.map(({ raw, tokens }) => ({ text: normaliseSpaces(raw), tokens }));
}

/**
 * The sentences of `text`, in order. Paragraphs (lines) never share a sentence. ICU's sentence
 * breaks are taken, then undone after abbreviations and initials ("U.S. Senate", "J. R. R.
 * Tolkien", "г. Москва"), for fragments too short to be sentences, and after a quoted
 * exclamation or question the sentence goes on from ("Stop!" he said; «Стоп!» — сказал он).
 * Chinese and Japanese sentences end at 。！？ and their full-width forms.
 */
export function splitSentences(text: string, language: Language = detectLanguage(text)): string[] {
  return sentencesOf(text, language).map((sentence) => sentence.text);
}

/**
 * The terms a sentence is compared by: stems of its content words (stop words and one-letter
 * tokens left out, unless `everyWord`) and, for Chinese and Japanese, the pairs of characters
 * of each run.
 */
function terms(tokens: readonly string[], everyWord = false): string[] {
  const found: string[] = [];
  for (const token of tokens) {
    if (!CJK.test(token)) {
      if (everyWord || (token.length > 1 && !STOP_WORDS.has(token))) found.push(stem(token));
      continue;
    }
    for (const run of token.match(CJK_RUNS) ?? []) {
      if (run.length === 1) found.push(run);
      for (let i = 0; i + 1 < run.length; i++) found.push(run.slice(i, i + 2));
    }
    const rest = token.replace(CJK_RUNS, "");
    if (rest.length > 1) found.push(stem(rest));
  }
  return found;
}

interface Sentence {
  text: string;
  /** Position among the ranked sentences, for output order. */
  index: number;
  wordCount: number;
  /** Content terms weighted by tf-idf, L2-normalised, for cosine similarity. */
  vector: Map<string, number>;
}

/** Sentences with tf-idf vectors over their terms (the text's sentences as documents). */
function vectorise(sentences: ReadonlyArray<Tokenised & { terms: string[] }>): Sentence[] {
  const documentFrequency = new Map<string, number>();
  for (const { terms: list } of sentences) {
    for (const term of new Set(list)) documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1);
  }
  return sentences.map(({ text, tokens, terms: list }, index) => {
    const vector = new Map<string, number>();
    for (const term of list) vector.set(term, (vector.get(term) ?? 0) + 1);
    let norm = 0;
    for (const [term, tf] of vector) {
      const weight = tf * Math.log(1 + sentences.length / (documentFrequency.get(term) ?? 1));
      vector.set(term, weight);
      norm += weight * weight;
    }
    norm = Math.sqrt(norm);
    if (norm > 0) for (const [term, weight] of vector) vector.set(term, weight / norm);
    return { text, index, wordCount: wordCount(tokens), vector };
  });
}

function cosine(a: Map<string, number>, b: Map<string, number>): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let dot = 0;
  for (const [term, weight] of small) dot += weight * (large.get(term) ?? 0);
  return dot;
}

/**
 * Centrality of each sentence: weighted PageRank over the cosine-similarity graph, its random
 * jumps biased towards the start of the text, since news puts what matters first. Quadratic in
 * the sentences, which is why only {@link MAX_RANKED_SENTENCES} are ranked.
 */
function centrality(sentences: Sentence[]): Float64Array {
  const n = sentences.length;
  const prior = sentences.map((_, i) => 1 / Math.sqrt(i + 1));
  const priorTotal = prior.reduce((sum, weight) => sum + weight, 0);
  // transition[i * n + j]: the share of sentence i's similarity that goes to sentence j.
  const transition = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const similarity = cosine(sentences[i]!.vector, sentences[j]!.vector);
      transition[i * n + j] = similarity;
      transition[j * n + i] = similarity;
    }
  }
  for (let i = 0; i < n; i++) {
    let total = 0;
    for (let j = 0; j < n; j++) total += transition[i * n + j]!;
    if (total > 0) for (let j = 0; j < n; j++) transition[i * n + j]! /= total;
  }
  let scores = new Float64Array(n).fill(1 / n);
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    const next = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const score = scores[i]!;
      for (let j = 0; j < n; j++) next[j]! += transition[i * n + j]! * score;
    }
    let change = 0;
    for (let j = 0; j < n; j++) {
      next[j] = ((1 - DAMPING) * prior[j]!) / priorTotal + DAMPING * next[j]!;
      change += Math.abs(next[j]! - scores[j]!);
    }
    scores = next;
    if (change < CONVERGED) break;
  }
  return scores;
}

/** A sentence that can stand in a summary: long enough, and really ending as a sentence. */
function isRealSentence(sentence: Sentence): boolean {
  return sentence.wordCount >= MIN_SENTENCE_WORDS && SENTENCE_END.test(sentence.text);
}

/**
 * The words a text is compared with a title by: every word's stem, stop words and numbers too, so
 * "Bridge to close" and "The bridge closes on March 1" differ, and "Bridge closes." does not.
 */
function titleTerms(tokens: readonly string[]): Set<string> {
  return new Set(terms(tokens, true));
}

/** True when a sentence's words and the title's are (nearly) the same: it says the title again. */
function repeatsTitle(sentence: ReadonlySet<string>, title: ReadonlySet<string>): boolean {
  if (title.size === 0 || sentence.size === 0) return false;
  let shared = 0;
  for (const term of sentence) if (title.has(term)) shared++;
  return shared / Math.max(sentence.size, title.size) >= TITLE_OVERLAP;
}

/** True when `text` is the title again, after normalisation (case, punctuation, word forms). */
export function isTitleRepeated(text: string, title: string): boolean {
  return repeatsTitle(titleTerms(words(text)), titleTerms(words(title)));
}

/** Sentences as one paragraph: a space between them, none after a Chinese or Japanese full stop. */
function joinSentences(sentences: readonly string[]): string {
  let joined = "";
  for (const sentence of sentences) joined += joined === "" || FULL_WIDTH_END.test(joined) ? sentence : ` ${sentence}`;
  return joined;
}

/**
 * The sentences that are read: those of the text's first {@link MAX_READ_CHARS} characters (whole
 * paragraphs, or the sentences before the cut in a huge one), the first {@link MAX_RANKED_SENTENCES}
 * of them, with their terms. `all` tells whether they are the whole text.
 */
function readSentences(text: string, language: Language | undefined): { read: Array<Tokenised & { terms: string[] }>; all: boolean } {
  let head = text;
  let cutInParagraph = false;
  if (text.length > MAX_READ_CHARS) {
    // A paragraph end only in the first half ("Photo: Reuters\n" before one huge paragraph) would
    // leave little to read: cut inside the paragraph then.
    const paragraphEnd = text.lastIndexOf("\n", MAX_READ_CHARS);
    cutInParagraph = paragraphEnd < MAX_READ_CHARS / 2;
    head = text.slice(0, cutInParagraph ? MAX_READ_CHARS : paragraphEnd);
  }
  const sentences = sentencesOf(head, language ?? detectLanguage(head));
  if (cutInParagraph && sentences.length > 1) sentences.pop();
  const read = sentences.slice(0, MAX_RANKED_SENTENCES).map((sentence) => ({ ...sentence, terms: terms(sentence.tokens) }));
  return { read, all: head.length === text.length && read.length === sentences.length };
}

/**
 * A short faithful summary of an article's text: its lead sentence (the first real sentence)
 * and then its most central sentences that fit, in the order the article has them, joined as one
 * paragraph, at most `maxChars` characters (default 600). Whole sentences only; when even the
 * lead is too long it is cut at a word boundary and ends with "…". A sentence that repeats
 * `title` is never used, so a text that is only its title gives "". A text that fits is returned
 * whole. Only the text's beginning is read ({@link MAX_READ_CHARS}, {@link MAX_RANKED_SENTENCES}).
 */
export function summarize(text: string, options: SummaryOptions = {}): string {
  const maxChars = options.maxChars ?? DEFAULT_SUMMARY_CHARS;
  const { read, all } = readSentences(text, options.language);
  const title = titleTerms(words(options.title ?? ""));
  const kept = read.filter((sentence) => !repeatsTitle(titleTerms(sentence.tokens), title));
  if (all) {
    const whole = joinSentences(kept.map((sentence) => sentence.text));
    if (whole.length <= maxChars) return whole;
  }

  const sentences = vectorise(kept);
  const lead = sentences.find(isRealSentence) ?? sentences[0];
  if (lead === undefined) return "";
  if (lead.text.length > maxChars) return clip(lead.text, maxChars);

  const scores = centrality(sentences);
  const chosen = [lead];
  let length = lead.text.length;
  const byCentrality = sentences
    .filter((sentence) => sentence !== lead && isRealSentence(sentence))
    .sort((a, b) => scores[b.index]! - scores[a.index]! || a.index - b.index);
  for (const candidate of byCentrality) {
    const added = candidate.text.length + 1; // + the joining space, at most
    if (length + added > maxChars) continue;
    if (chosen.some((sentence) => cosine(sentence.vector, candidate.vector) > MAX_REDUNDANCY)) continue;
    chosen.push(candidate);
    length += added;
  }
  return joinSentences(chosen.sort((a, b) => a.index - b.index).map((sentence) => sentence.text));
}

/** What a summariser reads of an item: its title and its clean text (paragraphs split by `\n`). */
export interface SummaryInput {
  title: string;
  text: string;
}

/**
 * Writes an item's summary. The poller calls one of these once per item; `signal` aborts the
 * work when newswire stops (the promise then rejects with the signal's reason).
 */
export type Summarizer = (input: SummaryInput, signal?: AbortSignal) => Promise<string>;

/** The offline summariser: {@link summarize} over the item's text, never repeating its title. */
export const extractiveSummarizer: Summarizer = async ({ title, text }) => summarize(text, { title });
