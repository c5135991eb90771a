/**
 * The port of recent items for `/latest` and the poller, and the retention both sides keep:
 * recent.ts (an index in memory over Keyv, for SQLite and Redis, one instance) and
 * postgres-recent.ts (one table every instance on the database shares).
 */
import type { Item } from "./item.js";

/** Recent items, newest (by publication time) first. */
export interface RecentStore {
  /** Stores items newly taken in; a key is held once, however often (or by however many instances) it is added. */
  add(items: readonly Item[]): Promise<void>;
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
