/**
 * Stories at acceptance: each new item is matched against the recent items of other feeds (a
 * StoryIndex in memory) and takes the story it reports as its `storyId`, with a log line saying
 * why it matched; the items are stored (StoryItems) so that the sender can render a chat's
 * message of the story again when a later source joins it. With an embeddings model configured,
 * its vectors take part in the match; when it fails, words alone decide.
 *
 * The index starts from the recent items the store holds (on SQLite and Redis the recent list's
 * newest 2,000; on PostgreSQL every item of the window), so a restart splits no story among them;
 * on a shared database it also learns, before each match, the items the other instances stored.
 */
import type { Logger } from "pino";
import type { Item } from "../items/item.js";
import { RECENT_LIMIT, type RecentStore } from "../items/recent-store.js";
import type { Embedder } from "./embeddings.js";
import { DEFAULT_MAX_ITEMS, StoryIndex, type StoryItem } from "./story-index.js";
import type { StoryItemStore } from "./story-items.js";

export interface StoriesDeps {
  recent: RecentStore;
  items: StoryItemStore;
  logger: Logger;
  /** How long an item stays comparable (`STORY_WINDOW_HOURS`). */
  windowMs: number;
  embedder?: Embedder;
}

const storyItem = (item: Item, embedding?: readonly number[]): StoryItem => ({
  key: item.key,
  feedId: item.feedId,
  title: item.title,
  summary: item.summary,
  publishedAt: item.publishedAt,
  ...(embedding ? { embedding } : {}),
});

/** What the model reads of an item: what the words of the index are taken from too. */
const embeddingInput = (item: Item): string => `${item.title}\n${item.summary}`;

export class Stories {
  /** Where the items other instances stored were last read up to. */
  private cursor: number | undefined;

  private constructor(
    private readonly index: StoryIndex,
    private readonly deps: StoriesDeps,
  ) {}

  /** The stories of the recent items in the store, those of the last window. */
  static async open(deps: StoriesDeps, now = Date.now()): Promise<Stories> {
    const index = new StoryIndex({ windowMs: deps.windowMs });
    const held = await deps.recent.latest(RECENT_LIMIT);
    // Oldest first, as they came in; only items given a story (not a baseline's, nor those
    // stored while clustering was off), as at acceptance.
    for (const item of held.reverse()) {
      if (item.storyId !== undefined && item.publishedAt >= now - deps.windowMs) index.add(storyItem(item), item.storyId);
    }
    const stories = new Stories(index, deps);
    await stories.catchUp(now);
    return stories;
  }

  /** Adds the items other instances stored since the last look (none on a store of one instance). */
  private async catchUp(now: number): Promise<void> {
    const { items, cursor } = await this.deps.items.storedSince(this.cursor, now - this.deps.windowMs, DEFAULT_MAX_ITEMS);
    for (const item of items) this.index.add(storyItem(item), item.storyId ?? item.key);
    this.cursor = cursor;
  }

  /** Items in the window. */
  get size(): number {
    return this.index.size;
  }

  /**
   * The items with their stories, in the given order (an item can join the story of one before
   * it), stored for the sender. Rejects when the store fails or `signal` aborts.
   */
  async assign(items: readonly Item[], now: number, signal?: AbortSignal): Promise<Item[]> {
    if (items.length === 0) return [];
    await this.catchUp(now);
    const vectors = this.deps.embedder ? await this.deps.embedder(items.map(embeddingInput), signal) : undefined;
    const assigned = items.map((item, position) => {
      const { storyId, match } = this.index.assign(storyItem(item, vectors?.[position]), now);
      if (match) {
        this.deps.logger.info(
          { item: item.key, feed: item.feedId, story: storyId, matched: match.matchedKey, score: round(match.score), lexical: round(match.lexical), ...(match.embedding !== undefined ? { embedding: round(match.embedding) } : {}), shared: match.sharedTerms },
          "item joins a story",
        );
      }
      return { ...item, storyId };
    });
    await this.deps.items.add(assigned);
    return assigned;
  }
}

const round = (score: number): number => Math.round(score * 1000) / 1000;
