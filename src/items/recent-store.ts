/**
 * The port of recent items for `/latest` and the poller: the archive (archive.ts) on SQLite and
 * PostgreSQL, and recent.ts on Redis, an index in memory over Keyv that keeps the newest
 * RECENT_LIMIT for RECENT_TTL_MS.
 */
import type { ArchiveEntry } from "./archive.js";
import type { Item } from "./item.js";

/** Recent items, newest (by publication time) first. */
export interface RecentStore {
  /** Stores items newly taken in; a key is held once, however often (or by however many instances) it is added. */
  add(entries: readonly ArchiveEntry[]): Promise<void>;
  /** Whether the articles added are kept, for "Read here" (the archive); the items alone when not. */
  readonly keepsArticles: boolean;
  /** The `count` newest items, of one topic when given (`all` or none: every item), newest first. */
  latest(count: number, topic?: string): Promise<Item[]>;
  /** Whether no item is held: part of telling a first start from a store that lost its data. */
  isEmpty(): Promise<boolean>;
  /** Persists what is still pending (at a clean stop, so nothing waits on a timer). */
  flush(): Promise<void>;
}

/** Items kept, the newest: enough for `/latest 20 TOPIC` on a quiet topic among busy ones. */
export const RECENT_LIMIT = 2_000;

/** How long an item is kept after it is stored: as long as someone may still ask for it. */
export const RECENT_TTL_MS = 30 * 24 * 60 * 60 * 1000;
