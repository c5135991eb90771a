/**
 * Recent items, newest first, for `/latest` on Redis (SQLite and PostgreSQL keep the archive,
 * archive.ts): the items themselves live once in the `items`
 * namespace; a small index (key, topics, time) is kept in memory and persisted at most twice a
 * second (coalesced), so busy polls cost one index write between them, not one each. A crash
 * forgets at most the last half second of the index, never an item or a delivery.
 */
import type Keyv from "keyv";
import { ALL_TOPIC } from "../topics/topics.js";
import { coalesce, type CoalescedWrite } from "../store/coalesce.js";
import type { ArchiveEntry } from "./archive.js";
import type { Item } from "./item.js";
import { RECENT_LIMIT, RECENT_TTL_MS, type RecentStore } from "./recent-store.js";

interface RecentEntry {
  key: string;
  topics: string[];
  publishedAt: number;
}

const INDEX_KEY = "index";
/** How long index changes wait to be persisted together. */
const PERSIST_DELAY_MS = 500;

/** The recent-items index over the store's `items` and `recent` namespaces: the SQLite and Redis side (one instance). */
export class RecentItems implements RecentStore {
  private readonly persistIndex: CoalescedWrite;
  private pendingPersist: NodeJS.Timeout | undefined;

  private constructor(
    private readonly items: Keyv,
    private readonly recent: Keyv,
    private index: RecentEntry[],
    private readonly onPersistError: (error: unknown) => void,
  ) {
    this.persistIndex = coalesce(() => this.recent.set(INDEX_KEY, this.index).then(() => undefined));
  }

  /** Loads the index; `onPersistError` hears of index writes that failed in the background. */
  static async open(items: Keyv, recent: Keyv, onPersistError: (error: unknown) => void = console.error): Promise<RecentItems> {
    return new RecentItems(items, recent, (await recent.get<RecentEntry[]>(INDEX_KEY)) ?? [], onPersistError);
  }

  readonly keepsArticles = false;

  /** Stores the items (not their articles) and puts them in the index by publication time. */
  async add(entries: readonly ArchiveEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // A key twice in one batch is held once, as its first.
    const items = [...new Map(entries.map(({ item }) => [item.key, item] as const).reverse()).values()];
    await this.items.setMany(items.map((item) => ({ key: item.key, value: item, ttl: RECENT_TTL_MS })));
    const added = new Set(items.map((item) => item.key));
    this.index = [
      ...this.index.filter((entry) => !added.has(entry.key)),
      ...items.map(({ key, topics, publishedAt }) => ({ key, topics, publishedAt })),
    ]
      .sort((a, b) => b.publishedAt - a.publishedAt)
      .slice(0, RECENT_LIMIT);
    this.pendingPersist ??= setTimeout(() => this.flush().catch(this.onPersistError), PERSIST_DELAY_MS).unref();
  }

  /** Persists the index now (at a clean stop, so nothing waits on a timer). */
  async flush(): Promise<void> {
    clearTimeout(this.pendingPersist);
    this.pendingPersist = undefined;
    await this.persistIndex();
  }

  /** The `count` newest items, of one topic when given, newest first. */
  async latest(count: number, topic = ALL_TOPIC): Promise<Item[]> {
    const keys = this.index
      .filter((entry) => topic === ALL_TOPIC || entry.topics.includes(topic))
      .slice(0, count)
      .map((entry) => entry.key);
    if (keys.length === 0) return [];
    const items = await this.items.getMany<Item>(keys);
    return items.filter((item): item is Item => item !== undefined);
  }

  /** Forgets every item (they were moved elsewhere; each expires from the `items` namespace by itself). */
  async clear(): Promise<void> {
    this.index = [];
    await this.flush();
  }

  async isEmpty(): Promise<boolean> {
    return this.index.length === 0;
  }

  /** How many items the index holds. */
  get size(): number {
    return this.index.length;
  }
}
