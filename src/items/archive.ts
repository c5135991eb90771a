/**
 * The archive: every accepted item, kept for ARCHIVE_DAYS with the clean article text where the
 * page was read, searchable by its words in any form (items/search-words.ts), ranked by relevance
 * and recency. It is the recent-items port too: `/latest` reads the newest of it. Two stores
 * implement it: sqlite-archive.ts (FTS5, the embedded default) and postgres-archive.ts (tsvector
 * and GIN, shared by the instances). On Redis there is none: recent.ts keeps the newest items.
 */
import { createHash } from "node:crypto";
import type { Item } from "./item.js";
import type { RecentStore } from "./recent-store.js";
import { searchWords, type SearchTerms } from "./search-words.js";

/**
 * A heading of an article. The text holds prose only (a summary is made of sentences), so a
 * heading is kept apart with where it stands: `before` is the beginning of the paragraph it comes
 * before (the text is filtered again after extraction, so a position would drift).
 */
export interface ArticleHeading {
  text: string;
  before: string;
}

/** The article page's main text, as the item was summarised from it: what "Read here" shows. */
export interface ArticleText {
  /** Paragraphs separated by blank lines. */
  text: string;
  /** The page's headings, each before its paragraph of `text`. */
  headings: ArticleHeading[];
  /** The lead image (og:image or the article's first), absolute. */
  image?: string;
}

/** An item as it is archived: the item, and its article's text when the page was read. */
export interface ArchiveEntry {
  item: Item;
  article?: ArticleText;
}

/** One page of search results. */
export interface SearchRequest {
  terms: SearchTerms;
  /** Only items of this topic (`all` or absent: every item). */
  topic?: string;
  /** Results skipped (the pages before). */
  offset: number;
  limit: number;
}

/** The port of the archive: the recent items, search over everything kept, and articles by ref. */
export interface Archive extends RecentStore {
  /** Matches of every term, best first (relevance, weighed down by age). */
  search(request: SearchRequest): Promise<Item[]>;
  /** The item with this {@link itemRef}, with its article when it has one, while it is kept. */
  article(ref: string): Promise<{ item: Item; article?: ArticleText } | undefined>;
  /** Deletes what is past its time; returns how many items went. */
  sweep(): Promise<number>;
}

/** What the bot's features read of the archive; adding and deleting are the poller's. */
export type ArchiveReader = Pick<Archive, "search" | "article">;

/** How long an item is kept, by default: a year of news to search. */
export const DEFAULT_ARCHIVE_DAYS = 365;

/** Most characters of an article kept: what one rich message holds (32,768) and a little more, to tell it was cut. */
export const ARTICLE_CHARS = 33_000;

/**
 * The format of an archived row (the item JSON and the article JSON): raised when either changes
 * incompatibly, so rows written by older instances can be told apart.
 */
export const ARCHIVE_VERSION = 1;

/** How often an instance deletes what is past its time (at its first add, then at most this often). */
export const SWEEP_EVERY_MS = 60 * 60_000;

/** Rows a sweep deletes per statement: short transactions, so a stop waits for one at most. */
export const SWEEP_BATCH = 5_000;

/**
 * A short reference to an item, for callback data (64 bytes at most) and inline result ids:
 * 96 bits of its key's SHA-256, base64url.
 */
export function itemRef(key: string): string {
  return createHash("sha256").update(key).digest("base64url").slice(0, 16);
}

/**
 * The matches a search ranks: the newest this many, among themselves. Ranking every match of a
 * common word reads each one (on 100,000 items, 70 ms on SQLite and 346 ms on PostgreSQL at the
 * 99th percentile, bench/search.ts). The cost: an older match of a common word, however relevant,
 * is not shown (its 500 newest may span days). 500 leave 50 pages of 5 to turn.
 */
export const CANDIDATES = 500;

/** The age at which an item's relevance counts half: a month. */
export const RECENCY_HALF_MS = 30 * 24 * 60 * 60_000;

/** An entry as a row to insert (the stores' insert statements read these fields from JSON). */
export interface ArchiveRow {
  key: string;
  ref: string;
  at: number;
  item: Item;
  article?: ArticleText;
  /** The title's search terms, space-separated: they weigh more than the body's. */
  titleWords: string;
  /** The search terms of the source, summary and article text. */
  bodyWords: string;
}

/** The row of an entry: its item as kept (no text of the article in it) and the words it is found by. */
export function archiveRow({ item, article }: ArchiveEntry): ArchiveRow {
  const body = [item.source, item.summary, article?.text ?? ""].join("\n");
  return {
    key: item.key,
    ref: itemRef(item.key),
    at: item.publishedAt,
    item,
    ...(article ? { article } : {}),
    titleWords: searchWords(item.title).join(" "),
    bodyWords: searchWords(body).join(" "),
  };
}

/**
 * How long an archive keeps its items, and its sweeps: the part both stores share. An item is kept
 * `retentionMs` from when it was stored, counted when it is read (a changed ARCHIVE_DAYS applies to
 * what is kept already); a sweep deletes what is past it, at the first add and then at most every
 * SWEEP_EVERY_MS, behind the adds: a slow or failing delete must not hold up a poll and its deliveries.
 */
export class Keeping {
  private sweptAt: number | undefined;
  private sweeping: Promise<unknown> = Promise.resolve();
  private stopping = false;

  /** `onSweepError` hears of a sweep that failed (it is tried again SWEEP_EVERY_MS later). */
  constructor(
    private readonly retentionMs: number,
    readonly now: () => number,
    private readonly onSweepError: (error: unknown) => void,
  ) {}

  /** Stored before this, an item is no longer kept. */
  since(): number {
    return this.now() - this.retentionMs;
  }

  /** After an add: starts `sweep` when one is due (a clock set back makes one due too). */
  added(sweep: () => Promise<unknown>): void {
    const now = this.now();
    if (this.sweptAt !== undefined && now - this.sweptAt < SWEEP_EVERY_MS && now >= this.sweptAt) return;
    this.sweptAt = now;
    this.sweeping = sweep().catch(this.onSweepError);
  }

  /**
   * A sweep: `deleteBatch` deletes up to SWEEP_BATCH items stored before `since` and says how many
   * went; batches follow until one is short or the store is stopping. Returns how many went.
   */
  async inBatches(deleteBatch: (since: number) => Promise<number>): Promise<number> {
    const since = this.since();
    let deleted = 0;
    let batch: number;
    do {
      batch = await deleteBatch(since);
      deleted += batch;
    } while (batch === SWEEP_BATCH && !this.stopping);
    return deleted;
  }

  /** At a clean stop: a sweep under way ends after its batch; resolves once it has. */
  stop(): Promise<unknown> {
    this.stopping = true;
    return this.sweeping;
  }
}
