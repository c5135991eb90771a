/**
 * Cross-source stories: which recent item from another feed, if any, reports the same event as a
 * new one. Items are compared as TF-IDF vectors (cosine): document frequencies are kept over the
 * recent window, so words every outlet uses that day ("said", "заявил") count for little while a
 * place or a figure few items share counts for much. Candidates come from an inverted index on
 * terms, and terms most recent items share find none, so an item costs what its few rare terms'
 * postings do, not what the window holds. One topic on one day (two earthquakes, two rate
 * decisions) shares its words but not its where and how much, which story-text.ts weighs more.
 * Time apart lowers a score, and items older than the window are forgotten.
 *
 * Pure and synchronous: no clock, no I/O; the caller says what "now" is and when to forget.
 */
import { storyTerms, type StoryTerms } from "./story-text.js";

/** An item as clustering sees it. */
export interface StoryItem {
  /** The item's identity (unique across feeds). */
  key: string;
  feedId: string;
  title: string;
  summary: string;
  /** Epoch milliseconds. */
  publishedAt: number;
  /** From an embeddings model, when one is configured; compared only with vectors of the same length. */
  embedding?: readonly number[];
}

/** Why an item joins a story, for a log line. */
export interface StoryMatch {
  /** The story: its first item's key. */
  storyId: string;
  /** The recent item that matched best. */
  matchedKey: string;
  /** What was compared with the threshold: the blend, time proximity applied. */
  score: number;
  /** The cosine of the TF-IDF vectors alone. */
  lexical: number;
  /** The cosine of the embeddings, when both items had one. */
  embedding?: number;
  /** The shared terms that weighed most, heaviest first, as the new item writes them. */
  sharedTerms: string[];
}

export interface StoryIndexOptions {
  /** How long an item stays comparable. Default 48 hours. */
  windowMs?: number;
  /** Least score to join a story. Default DEFAULT_THRESHOLD. */
  threshold?: number;
  /** Time apart after which a score counts half. Default 24 hours. */
  halfLifeMs?: number;
  /** The embeddings' share of the score when both items have one (0–1). Default 0.5. */
  embeddingWeight?: number;
  /**
   * Items held at most: past it the oldest are forgotten before their window ends, so memory and
   * the cost of a match stay bounded however many items the window would hold. Default
   * DEFAULT_MAX_ITEMS.
   */
  maxItems?: number;
}

/**
 * Tuned on test/fixtures/stories/labelled.json (bench/cluster.ts): 0.25 has the best F1 there
 * with no false joins, 0.2 the first ones. A false join hides a story from the reader while a
 * missed one only shows a duplicate, so the default keeps a margin above the first false joins.
 */
export const DEFAULT_THRESHOLD = 0.3;
/** Items an index holds at most by default: a match against 20,000 costs about 2 ms (bench/cluster). */
export const DEFAULT_MAX_ITEMS = 20_000;
const HOUR = 3_600_000;

/**
 * Terms in more of the window's items than this share find no candidates (they are still in the
 * score): their postings are long and almost every item on them is another story.
 */
const MAX_POSTING_SHARE = 0.01;
/** …but a small window has no long postings, and there every term may look common. */
const MIN_POSTING_LIMIT = 50;
/**
 * Candidates scored exactly. The first score ranks the true best among the first few; scoring
 * every item that shares a term would cost what a window full of mid-frequency words holds.
 */
const RESCORED_CANDIDATES = 24;
/** How many shared terms an explanation names. */
const EXPLAINED_TERMS = 6;

interface Entry {
  item: StoryItem;
  terms: StoryTerms;
  storyId: string;
  /** The TF-IDF vector's length with the frequencies of when it was added, for the first score. */
  norm: number;
  /** The first score of the match() call numbered `round`. */
  round: number;
  partial: number;
}

interface Story {
  /** Feeds with an item in the story: a story takes one item from each feed. */
  feeds: Map<string, number>;
}

function embeddingCosine(a: readonly number[] | undefined, b: readonly number[] | undefined): number | undefined {
  if (a === undefined || b === undefined || a.length !== b.length || a.length === 0) return undefined;
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    normA += a[i]! * a[i]!;
    normB += b[i]! * b[i]!;
  }
  return normA === 0 || normB === 0 ? undefined : dot / Math.sqrt(normA * normB);
}

/** Earlier first, then by key: the order ties are broken in, and items are forgotten in. */
function compareEntries(a: Entry, b: Entry): number {
  return a.item.publishedAt - b.item.publishedAt || (a.item.key < b.item.key ? -1 : a.item.key > b.item.key ? 1 : 0);
}

/** Whether `a`'s first score ranks before `b`'s (ties: compareEntries). */
function better(a: Entry, b: Entry): boolean {
  return a.partial > b.partial || (a.partial === b.partial && compareEntries(a, b) < 0);
}

/** Keeps `top` the RESCORED_CANDIDATES best by first score, best first (ties: compareEntries). */
function insertTop(top: Entry[], entry: Entry): void {
  if (top.length === RESCORED_CANDIDATES && !better(entry, top[top.length - 1]!)) return;
  let at = top.length;
  while (at > 0 && better(entry, top[at - 1]!)) at--;
  top.splice(at, 0, entry);
  if (top.length > RESCORED_CANDIDATES) top.pop();
}

type Score = Pick<StoryMatch, "score" | "lexical" | "embedding">;

/** The shared terms that weighed most in a match, heaviest first (ties: alphabetical). */
function explanation(terms: StoryTerms, idf: Map<string, number>, entry: Entry): string[] {
  const shared: Array<{ surface: string; contribution: number }> = [];
  for (const [term, { weight, surface }] of terms) {
    const other = entry.terms.get(term);
    if (other !== undefined) shared.push({ surface, contribution: weight * other.weight * idf.get(term)! ** 2 });
  }
  shared.sort((a, b) => b.contribution - a.contribution || (a.surface < b.surface ? -1 : a.surface > b.surface ? 1 : 0));
  return shared.slice(0, EXPLAINED_TERMS).map(({ surface }) => surface);
}

export class StoryIndex {
  readonly #windowMs: number;
  readonly #threshold: number;
  readonly #halfLifeMs: number;
  readonly #embeddingWeight: number;
  readonly #maxItems: number;
  readonly #entries = new Map<string, Entry>();
  /** Entries in compareEntries order, for eviction. */
  readonly #byTime: Entry[] = [];
  /** Term → the entries that have it; a Set keeps insertion order, so walks are deterministic. */
  readonly #postings = new Map<string, Set<Entry>>();
  readonly #stories = new Map<string, Story>();
  /** Numbers match() calls, for the first scores kept on entries. */
  #round = 0;
  /** match() then add() of one item computes its terms once. */
  readonly #termsCache = new WeakMap<StoryItem, StoryTerms>();

  constructor(options: StoryIndexOptions = {}) {
    this.#windowMs = options.windowMs ?? 48 * HOUR;
    this.#threshold = options.threshold ?? DEFAULT_THRESHOLD;
    this.#halfLifeMs = options.halfLifeMs ?? 24 * HOUR;
    this.#embeddingWeight = options.embeddingWeight ?? 0.5;
    this.#maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS;
  }

  /** Items in the window. */
  get size(): number {
    return this.#entries.size;
  }

  #termsOf(item: StoryItem): StoryTerms {
    let terms = this.#termsCache.get(item);
    if (terms === undefined) {
      terms = storyTerms(item.title, item.summary);
      this.#termsCache.set(item, terms);
    }
    return terms;
  }

  /** Smoothed so that a window of two items still weighs its terms (plain log(N/df) would be 0). */
  #idf(term: string, documents: number): number {
    return Math.log(1 + documents / ((this.#postings.get(term)?.size ?? 0) + 1));
  }

  /**
   * The story `item` belongs to, if one of the recent items from other feeds reports the same
   * event: the best-scoring one at or over the threshold (ties: the earlier, then the lower key).
   * Stories that already have an item from `item`'s feed are not joined. Items older than the
   * window before `now` are not compared, whether evicted yet or not.
   */
  match(item: StoryItem, now: number): StoryMatch | undefined {
    const terms = this.#termsOf(item);
    const documents = this.#entries.size + 1;
    const postingLimit = Math.max(MIN_POSTING_LIMIT, Math.ceil(MAX_POSTING_SHARE * documents));
    const oldest = now - this.#windowMs;

    const idf = new Map<string, number>();
    let queryNorm = 0;
    for (const [term, { weight }] of terms) {
      const termIdf = this.#idf(term, documents);
      idf.set(term, termIdf);
      queryNorm += (weight * termIdf) ** 2;
    }
    if (queryNorm === 0) return undefined;

    // A first, cheap score from the informative terms alone, against the entry's norm as it was
    // when added; only the best few candidates by it are scored exactly. It is summed on the
    // entries themselves, marked with this round's number: a Map per call costs more than the walk.
    const round = ++this.#round;
    const touched: Entry[] = [];
    for (const [term, { weight }] of terms) {
      const posting = this.#postings.get(term);
      if (posting === undefined || posting.size > postingLimit) continue;
      const termIdf = idf.get(term)!;
      for (const entry of posting) {
        if (entry.round !== round) {
          entry.round = round;
          entry.partial = 0;
          touched.push(entry);
        }
        entry.partial += (weight * termIdf * entry.terms.get(term)!.weight * termIdf) / entry.norm;
      }
    }
    const candidates: Entry[] = [];
    for (const entry of touched) {
      // A feed's own items are in stories that have its feed: this covers them too.
      if (entry.item.publishedAt < oldest || this.#stories.get(entry.storyId)!.feeds.has(item.feedId)) continue;
      insertTop(candidates, entry);
    }

    let best: { entry: Entry; score: Score } | undefined;
    for (const entry of candidates) {
      const score = this.#score(item, terms, idf, queryNorm, entry, documents);
      if (score.score < this.#threshold) continue;
      if (best === undefined || score.score > best.score.score || (score.score === best.score.score && compareEntries(entry, best.entry) < 0)) {
        best = { entry, score };
      }
    }
    if (best === undefined) return undefined;
    return {
      storyId: best.entry.storyId,
      matchedKey: best.entry.item.key,
      ...best.score,
      sharedTerms: explanation(terms, idf, best.entry),
    };
  }

  /** The exact score against one candidate. */
  #score(item: StoryItem, terms: StoryTerms, idf: Map<string, number>, queryNorm: number, entry: Entry, documents: number): Score {
    let dot = 0;
    let entryNorm = 0;
    for (const [term, { weight }] of entry.terms) {
      const termIdf = idf.get(term) ?? this.#idf(term, documents);
      const entryWeight = weight * termIdf;
      entryNorm += entryWeight ** 2;
      const own = terms.get(term);
      if (own !== undefined) dot += own.weight * termIdf * entryWeight;
    }

    const lexical = dot / Math.sqrt(queryNorm * entryNorm);
    const embedding = embeddingCosine(item.embedding, entry.item.embedding);
    const blend = embedding === undefined ? lexical : (1 - this.#embeddingWeight) * lexical + this.#embeddingWeight * embedding;
    const proximity = 0.5 ** (Math.abs(item.publishedAt - entry.item.publishedAt) / this.#halfLifeMs);
    return { score: blend * proximity, lexical, ...(embedding === undefined ? {} : { embedding }) };
  }

  /**
   * Remembers `item` as part of `storyId` (by default a story of its own, named by its key). An
   * item is added once: adding a key again (a retry) changes nothing.
   */
  add(item: StoryItem, storyId: string = item.key): void {
    if (this.#entries.has(item.key)) return;
    const terms = this.#termsOf(item);
    const documents = this.#entries.size + 1;
    let norm = 0;
    for (const [term, { weight }] of terms) norm += (weight * this.#idf(term, documents)) ** 2;
    const entry: Entry = { item, terms, storyId, norm: Math.sqrt(norm) || 1, round: 0, partial: 0 };
    this.#entries.set(item.key, entry);
    for (const term of entry.terms.keys()) {
      let posting = this.#postings.get(term);
      if (posting === undefined) this.#postings.set(term, (posting = new Set()));
      posting.add(entry);
    }
    let story = this.#stories.get(storyId);
    if (story === undefined) this.#stories.set(storyId, (story = { feeds: new Map() }));
    story.feeds.set(item.feedId, (story.feeds.get(item.feedId) ?? 0) + 1);

    // Items come in roughly in time order: the insertion point is found from the end.
    let at = this.#byTime.length;
    while (at > 0 && compareEntries(this.#byTime[at - 1]!, entry) > 0) at--;
    this.#byTime.splice(at, 0, entry);
    if (this.#byTime.length > this.#maxItems) this.#forget(this.#byTime.length - this.#maxItems);
  }

  /** Forgets items published before the window ending at `now`. */
  evict(now: number): void {
    const oldest = now - this.#windowMs;
    let count = 0;
    while (count < this.#byTime.length && this.#byTime[count]!.item.publishedAt < oldest) count++;
    this.#forget(count);
  }

  /** Forgets the `count` oldest items. */
  #forget(count: number): void {
    for (const entry of this.#byTime.splice(0, count)) {
      this.#entries.delete(entry.item.key);
      for (const term of entry.terms.keys()) {
        const posting = this.#postings.get(term)!;
        posting.delete(entry);
        if (posting.size === 0) this.#postings.delete(term);
      }
      const story = this.#stories.get(entry.storyId)!;
      const left = story.feeds.get(entry.item.feedId)! - 1;
      if (left > 0) story.feeds.set(entry.item.feedId, left);
      else story.feeds.delete(entry.item.feedId);
      if (story.feeds.size === 0) this.#stories.delete(entry.storyId);
    }
  }

  /**
   * What a caller does for each accepted item: forget the expired, match, remember. An item held
   * already (a poll retried after a failure) keeps the story it was given.
   */
  assign(item: StoryItem, now: number): { storyId: string; match?: StoryMatch } {
    const known = this.#entries.get(item.key);
    if (known) return { storyId: known.storyId };
    this.evict(now);
    const match = this.match(item, now);
    this.add(item, match?.storyId);
    return match === undefined ? { storyId: item.key } : { storyId: match.storyId, match };
  }
}
