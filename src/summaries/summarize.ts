/**
 * Extractive summaries, offline and deterministic: the article's lead sentence plus its most
 * central sentences (LexRank: PageRank over the cosine similarity of stemmed content words),
 * in their original order, within a character budget.
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
}

/** The summary length the product promises: "at most about 600 characters". */
export const DEFAULT_SUMMARY_CHARS = 600;


/** Both lists at once: Russian articles quote English names and the reverse. */
const STOP_WORDS = new Set([...eng, ...rus].map((word) => word.toLowerCase().replaceAll("ё", "е")));

/** Terminal punctuation, then any closing quotes or brackets. */
/** The end of a sentence: its punctuation, then any closing quotes or brackets. */
export const SENTENCE_END = /[.!?…]["'»”’)\]]*$/u;

/** A sentence needs this many words to open or join a summary; shorter ones are labels or asides. */
const MIN_SENTENCE_WORDS = 5;

/** A segment with fewer words is a stray piece of the sentence before it ("5.", "Yes!"). */
const MIN_FRAGMENT_WORDS = 2;

/** A sentence this similar to one already chosen says the same thing again. */
const MAX_REDUNDANCY = 0.5;

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

interface Sentence {
  text: string;
  /** Position in the text, for output order. */
  index: number;
  wordCount: number;
  /** Content-word stems weighted by tf-idf, L2-normalised, for cosine similarity. */
  vector: Map<string, number>;
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

/** True when a segment ends with an abbreviation or an initial, so ICU's break after it is wrong. */
function endsWithAbbreviation(segment: string): boolean {
  if (FINAL_ABBREVIATION.test(segment)) return false;
  const token = LAST_DOTTED_TOKEN.exec(segment)?.[1];
  if (token === undefined) return false;
  return INITIALS.test(token) || TITLE_ABBREVIATIONS.has(token) || LOWER_ABBREVIATIONS.has(token);
}

/**
 * The sentences of `text`, in order. Paragraphs (lines) never share a sentence. ICU's sentence
 * breaks are taken, then undone after abbreviations and initials ("U.S. Senate", "J. R. R.
 * Tolkien", "г. Москва") and for fragments too short to be sentences.
 */
export function splitSentences(text: string, language: Language = detectLanguage(text)): string[] {
  const segmenter = sentenceSegmenter(language);
  return text.split("\n").flatMap((paragraph) => {
    const sentences: string[] = [];
    let pending = "";
    for (const { segment } of segmenter.segment(paragraph)) {
      const piece = normaliseSpaces(segment);
      if (piece === "") continue;
      const last = sentences.length - 1;
      const strayTail = last >= 0 && words(piece).length < MIN_FRAGMENT_WORDS && !endsWithAbbreviation(piece);
      if (pending === "" && strayTail) {
        sentences[last] += ` ${piece}`;
        continue;
      }
      pending = pending === "" ? piece : `${pending} ${piece}`;
      if (!endsWithAbbreviation(pending)) {
        sentences.push(pending);
        pending = "";
      }
    }
    if (pending !== "") sentences.push(pending);
    return sentences;
  });
}

/** Content-word stems of a sentence: stop words and one-letter tokens left out. */
function contentStems(sentence: string): string[] {
  return words(sentence)
    .filter((word) => word.length > 1 && !STOP_WORDS.has(word))
    .map(stem);
}

/** Sentences with tf-idf vectors over their content stems (the text's sentences as documents). */
function vectorise(texts: string[]): Sentence[] {
  const stemLists = texts.map(contentStems);
  const documentFrequency = new Map<string, number>();
  for (const list of stemLists) {
    for (const term of new Set(list)) documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1);
  }
  return texts.map((text, index) => {
    const vector = new Map<string, number>();
    for (const term of stemLists[index] ?? []) vector.set(term, (vector.get(term) ?? 0) + 1);
    let norm = 0;
    for (const [term, tf] of vector) {
      const weight = tf * Math.log(1 + texts.length / (documentFrequency.get(term) ?? 1));
      vector.set(term, weight);
      norm += weight * weight;
    }
    norm = Math.sqrt(norm);
    if (norm > 0) for (const [term, weight] of vector) vector.set(term, weight / norm);
    return { text, index, wordCount: words(text).length, vector };
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
 * jumps biased towards the start of the text, since news puts what matters first.
 */
function centrality(sentences: Sentence[]): number[] {
  const n = sentences.length;
  const prior = sentences.map((_, i) => 1 / Math.sqrt(i + 1));
  const priorTotal = prior.reduce((sum, weight) => sum + weight, 0);
  const similarity = sentences.map((a, i) => sentences.map((b, j) => (i === j ? 0 : cosine(a.vector, b.vector))));
  const outWeight = similarity.map((row) => row.reduce((sum, weight) => sum + weight, 0));
  let scores = new Array<number>(n).fill(1 / n);
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    const next = scores.map((_, j) => {
      let incoming = 0;
      for (let i = 0; i < n; i++) {
        const total = outWeight[i] ?? 0;
        if (total > 0) incoming += ((similarity[i]?.[j] ?? 0) / total) * (scores[i] ?? 0);
      }
      return ((1 - DAMPING) * (prior[j] ?? 0)) / priorTotal + DAMPING * incoming;
    });
    const change = next.reduce((sum, score, i) => sum + Math.abs(score - (scores[i] ?? 0)), 0);
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
 * A short faithful summary of an article's text: its lead sentence (the first real sentence)
 * and then its most central sentences that fit, in the order the article has them, joined by
 * spaces, at most `maxChars` characters (default 600). Whole sentences only; when even the lead
 * is too long it is cut at a word boundary and ends with "…". A text that fits is returned
 * whole, as one paragraph. Empty text gives "".
 */
export function summarize(text: string, options: SummaryOptions = {}): string {
  const maxChars = options.maxChars ?? DEFAULT_SUMMARY_CHARS;
  const whole = normaliseSpaces(text);
  if (whole.length <= maxChars) return whole;

  const sentences = vectorise(splitSentences(text, options.language ?? detectLanguage(text)));
  const lead = sentences.find(isRealSentence) ?? sentences[0];
  if (lead === undefined) return "";
  if (lead.text.length > maxChars) return clip(lead.text, maxChars);

  const scores = centrality(sentences);
  const chosen = [lead];
  let length = lead.text.length;
  const byCentrality = sentences
    .filter((sentence) => sentence !== lead && isRealSentence(sentence))
    .sort((a, b) => (scores[b.index] ?? 0) - (scores[a.index] ?? 0) || a.index - b.index);
  for (const candidate of byCentrality) {
    const added = candidate.text.length + 1; // + the joining space
    if (length + added > maxChars) continue;
    if (chosen.some((sentence) => cosine(sentence.vector, candidate.vector) > MAX_REDUNDANCY)) continue;
    chosen.push(candidate);
    length += added;
  }
  return chosen
    .sort((a, b) => a.index - b.index)
    .map((sentence) => sentence.text)
    .join(" ");
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

/** The offline summariser: {@link summarize} over the item's text. */
export const extractiveSummarizer: Summarizer = async ({ text }) => summarize(text);
