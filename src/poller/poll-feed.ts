/**
 * One poll of one feed, through the whole pipeline: fetch (conditional GET) → decode → parse →
 * identity → new items → text, summary, topics → recent items and outbox → seen.
 * The order of the last steps is what makes a crash safe: an item is marked seen only after its
 * outbox job is durable, and a job's keys are marked seen again when the outbox is recovered.
 */
import type { Logger } from "pino";
import type { FeedDefinition } from "../config/catalog.js";
import type { Dispatcher, AcceptedItem } from "../delivery/dispatch.js";
import { decodeText } from "../feeds/decode.js";
import { FetchError, fetchResource, USER_AGENT } from "../feeds/fetch.js";
import type { FeedState, FeedStates } from "../feeds/feed-state.js";
import { parseFeed } from "../feeds/parse.js";
import { identityKeys } from "../items/identity.js";
import type { FeedEntry, Item } from "../items/item.js";
import type { RecentItems } from "../items/recent.js";
import type { SeenItems } from "../items/seen.js";
import { extractArticle } from "../summaries/extract.js";
import { htmlToText } from "../summaries/html-text.js";
import { summarize } from "../summaries/summarize.js";
import type { TopicMatcher } from "../topics/topics.js";

/** What one poll needs. */
export interface PollDeps {
  feedStates: FeedStates;
  seen: SeenItems;
  recent: RecentItems;
  dispatcher: Dispatcher;
  topics: TopicMatcher;
  logger: Logger;
  fetch: { timeoutMs: number; maxBytes: number };
  now?: () => number;
}

/** What one poll did, for logs and `/status`. */
export type PollResult =
  | { status: "not-modified" }
  | { status: "ok"; newItems: number; queued: number; baseline: boolean }
  | { status: "failed"; error: FetchError };

/** Backoff after consecutive failures: 1, 2, 4 … minutes, capped at 6 hours. */
export function failureBackoffMs(failures: number): number {
  return Math.min(6 * 60 * 60_000, 60_000 * 2 ** Math.max(0, failures - 1));
}

/** Oldest first: by publication date where given, else the reverse of feed order (feeds list newest first). */
export function oldestFirst<T extends { entry: Pick<FeedEntry, "published"> }>(entries: readonly T[]): T[] {
  const dated = entries.every(({ entry }) => entry.published !== undefined);
  const ordered = [...entries].reverse();
  return dated ? ordered.sort((a, b) => a.entry.published!.getTime() - b.entry.published!.getTime()) : ordered;
}

async function articleText(entry: FeedEntry, feed: FeedDefinition, deps: PollDeps): Promise<string> {
  const feedText = htmlToText(entry.html ?? "");
  if (!feed.fulltext || !entry.link) return feedText;
  try {
    const page = await fetchResource(entry.link, { ...deps.fetch, userAgent: USER_AGENT, accept: "text/html,*/*;q=0.5" });
    if (page.status !== "ok") return feedText;
    const article = extractArticle(decodeText(page.bytes, page.contentType), page.url);
    return article.text.length > feedText.length ? article.text : feedText;
  } catch (error) {
    deps.logger.warn({ feed: feed.id, link: entry.link, err: (error as Error).message }, "full text unavailable; using the feed's text");
    return feedText;
  }
}

async function buildItem(
  entry: FeedEntry,
  keys: string[],
  feed: FeedDefinition,
  source: string,
  text: string,
  deps: PollDeps,
  now: number,
): Promise<Item> {
  const title = entry.title || text.slice(0, 120);
  return {
    key: keys[0]!,
    feedId: feed.id,
    source,
    title,
    link: entry.link,
    summary: summarize(text),
    topics: deps.topics.match({ feedTopics: feed.topics, categories: entry.categories, title, text }),
    categories: entry.categories,
    image: entry.image,
    publishedAt: entry.published?.getTime() ?? now,
    seenAt: now,
  };
}

/** Polls one feed; never throws for the feed's own faults (they are recorded in its state). */
export async function pollFeed(feed: FeedDefinition, deps: PollDeps, signal?: AbortSignal): Promise<PollResult> {
  const now = deps.now?.() ?? Date.now();
  const state: FeedState = { ...deps.feedStates.get(feed.id), lastPollAt: now };
  try {
    const response = await fetchResource(feed.url, {
      ...deps.fetch,
      userAgent: USER_AGENT,
      etag: state.etag,
      lastModified: state.lastModified,
      signal,
    });
    if (response.status === "not-modified") {
      await deps.feedStates.set(feed.id, { ...state, failures: 0, lastSuccessAt: now, nextPollAt: undefined });
      return { status: "not-modified" };
    }
    const parsed = await parseFeed(decodeText(response.bytes, response.contentType), response.url);
    const source = feed.title ?? parsed.title ?? feed.id;

    const candidates = parsed.entries.map((entry) => ({ entry, keys: identityKeys(entry, feed.id) }));
    const seenFlags = await deps.seen.seen(candidates.map(({ keys }) => keys));
    const batchKeys = new Set<string>();
    const fresh = oldestFirst(candidates.filter((_, index) => !seenFlags[index])).filter(({ keys }) => {
      // The same story twice in one document (or under two keys) is taken once.
      if (keys.some((key) => batchKeys.has(key))) return false;
      keys.forEach((key) => batchKeys.add(key));
      return true;
    });

    const baseline = !state.baselined;
    const accepted: AcceptedItem[] = [];
    for (const { entry, keys } of fresh) {
      // The baseline is only shown by /latest: the feed's text suffices, no page fetches.
      const text = baseline ? htmlToText(entry.html ?? "") : await articleText(entry, feed, deps);
      accepted.push({ item: await buildItem(entry, keys, feed, source, text, deps, now), identityKeys: keys });
    }

    await deps.recent.add(accepted.map(({ item }) => item));
    const queued = baseline ? 0 : await deps.dispatcher.accept(accepted, now);
    await deps.seen.remember(accepted.flatMap(({ identityKeys: keys }) => keys), now);

    const ttlMs = parsed.ttlMinutes ? parsed.ttlMinutes * 60_000 : 0;
    await deps.feedStates.set(feed.id, {
      ...state,
      title: parsed.title,
      etag: response.etag,
      lastModified: response.lastModified,
      baselined: true,
      failures: 0,
      lastSuccessAt: now,
      itemsSeen: state.itemsSeen + accepted.length,
      nextPollAt: ttlMs > 0 ? now + ttlMs : undefined,
    });
    if (accepted.length > 0) {
      deps.logger.info({ feed: feed.id, newItems: accepted.length, queued, baseline }, baseline ? "feed baseline recorded" : "new items");
    }
    return { status: "ok", newItems: accepted.length, queued, baseline };
  } catch (error) {
    if (!(error instanceof FetchError)) throw error;
    const failures = state.failures + 1;
    const backoff = failureBackoffMs(failures);
    await deps.feedStates.set(feed.id, {
      ...state,
      failures,
      lastError: error.message,
      lastErrorAt: now,
      nextPollAt: now + Math.max(backoff, error.retryAfterMs ?? 0),
    });
    deps.logger.warn({ feed: feed.id, reason: error.reason, failures, err: error.message }, "feed poll failed");
    return { status: "failed", error };
  }
}
