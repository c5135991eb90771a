/**
 * One poll of one feed, through the whole pipeline: fetch (conditional GET) → decode → parse →
 * identity → new items → text, summary, topics → recent items and outbox → seen.
 * The order of the last steps is what makes a crash safe: an item is marked seen only after its
 * outbox job is durable, and a job's keys are marked seen again when the outbox is recovered.
 */
import type { Logger } from "pino";
import type { FeedDefinition } from "../config/catalog.js";
import type { Dispatcher, AcceptedItem } from "../delivery/dispatch.js";
import type { AddressPolicy } from "../feeds/address-policy.js";
import { decodeText } from "../feeds/decode.js";
import { FetchError, fetchResource, USER_AGENT } from "../feeds/fetch.js";
import type { FeedState, FeedStates } from "../feeds/feed-state.js";
import { parseFeed } from "../feeds/parse.js";
import { identityKeys } from "../items/identity.js";
import { ARTICLE_CHARS, type ArchiveEntry, type ArticleText } from "../items/archive.js";
import type { FeedEntry, Item } from "../items/item.js";
import type { RecentStore } from "../items/recent-store.js";
import { SEEN_REFRESH_MS, type SeenItems } from "../items/seen.js";
import type { Stories } from "../stories/stories.js";
import { chooseText } from "../summaries/choose-text.js";
import { extractPage } from "../summaries/extract-pool.js";
import { feedFooter, stripBoilerplate } from "../summaries/furniture.js";
import { htmlToText } from "../summaries/html-text.js";
import { extractiveSummarizer, MAX_READ_CHARS, type Summarizer } from "../summaries/summarize.js";
import type { TopicMatcher } from "../topics/topics.js";

/** Telling the bot's admins about a feed's health; the poller knows nothing of Telegram. */
export interface AdminAlerts {
  /** Consecutive failed polls after which the admins are told (once per run of failures). */
  afterFailures: number;
  /** Tells every admin `text` (plain text); never rejects, and does not keep the poll waiting for Telegram. */
  notify(text: string): Promise<void>;
}

/** What one poll needs. */
export interface PollDeps {
  feedStates: FeedStates;
  seen: SeenItems;
  recent: RecentStore;
  dispatcher: Dispatcher;
  topics: TopicMatcher;
  logger: Logger;
  fetch: { timeoutMs: number; maxBytes: number };
  /** Where article pages may be fetched from (feeds themselves go wherever the config says). */
  addressPolicy: AddressPolicy;
  alerts: AdminAlerts;
  /** New items taken in per poll, the newest (`MAX_NEW_ITEMS_PER_POLL`); unlimited when absent. */
  maxNewItems?: number;
  /** Writes new items' summaries (the baseline's are always extractive); extractive when absent. */
  summarizer?: Summarizer;
  /** Gives new items their stories (clustering on); each item is a story of its own when absent. */
  stories?: Stories;
  now?: () => number;
}

/** What one poll did, for logs and `/status`. */
export type PollResult =
  | { status: "not-modified" }
  | { status: "ok"; newItems: number; queued: number; baseline: boolean }
  | { status: "failed"; error: FetchError };

/** The longest backoff: a feed that is down is still tried four times a day. */
export const MAX_BACKOFF_MS = 6 * 60 * 60_000;

/** The longest wait a site may ask for (`<ttl>`, Retry-After); a longer ask is taken as a mistake. */
export const MAX_REQUESTED_WAIT_MS = 24 * 60 * 60_000;

/** Backoff after consecutive failures: 1, 2, 4 … minutes, capped at {@link MAX_BACKOFF_MS}. */
export function failureBackoffMs(failures: number): number {
  return Math.min(MAX_BACKOFF_MS, 60_000 * 2 ** Math.max(0, failures - 1));
}

/**
 * When a failed feed may be polled again: after its backoff, and not before the site's Retry-After
 * (capped at {@link MAX_REQUESTED_WAIT_MS}).
 */
export function retryAt(now: number, failures: number, retryAfterMs = 0): number {
  return now + Math.max(failureBackoffMs(failures), Math.min(retryAfterMs, MAX_REQUESTED_WAIT_MS));
}

/** When a healthy feed may be polled again: after its `<ttl>` (capped), else at the next tick. */
export function nextPollAfterSuccess(now: number, ttlMs: number | undefined): number | undefined {
  return ttlMs ? now + Math.min(ttlMs, MAX_REQUESTED_WAIT_MS) : undefined;
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? "" : "s"}`;

/**
 * The admins' message when a poll changes a feed's health: its failures reached the threshold and
 * they haven't been told yet, or it works again after they were told. `alerted` is the flag to keep.
 */
export function healthAlert(
  feed: Pick<FeedDefinition, "id" | "url">,
  before: Pick<FeedState, "alerted" | "failures">,
  after: Pick<FeedState, "failures" | "lastError">,
  afterFailures: number,
): { alerted: boolean; message?: string } {
  if (after.failures === 0) {
    return before.alerted
      ? { alerted: false, message: `Feed ${feed.id} works again after ${count(before.failures, "failed poll")}.\n${feed.url}` }
      : { alerted: false };
  }
  if (before.alerted) return { alerted: true };
  if (after.failures < afterFailures) return { alerted: false };
  const message = `Feed ${feed.id} has failed ${count(after.failures, "time")} in a row.\n${feed.url}\nLast error: ${after.lastError ?? "unknown"}`;
  return { alerted: true, message };
}

/** Oldest first: by publication date where given, else the reverse of feed order (feeds list newest first). */
export function oldestFirst<T extends { entry: Pick<FeedEntry, "published"> }>(entries: readonly T[]): T[] {
  const dated = entries.every(({ entry }) => entry.published !== undefined);
  const ordered = [...entries].reverse();
  return dated ? ordered.sort((a, b) => a.entry.published!.getTime() - b.entry.published!.getTime()) : ordered;
}

/**
 * A flood (a feed that re-published its archive) is taken in only as its newest
 * `deps.maxNewItems`: the older new entries are remembered as seen unsent, with one log line
 * giving their count, and are no longer new in `isNew` (the poll's claim).
 * @returns how many were skipped
 */
async function skipFlood(
  feed: Pick<FeedDefinition, "id">,
  candidates: readonly { entry: FeedEntry; keys: string[] }[],
  isNew: boolean[],
  deps: Pick<PollDeps, "maxNewItems" | "seen" | "logger">,
  now: number,
): Promise<number> {
  const fresh = oldestFirst(candidates.map((candidate, index) => ({ ...candidate, index })).filter(({ index }) => isNew[index]));
  const skipped = fresh.slice(0, Math.max(0, fresh.length - (deps.maxNewItems ?? fresh.length)));
  if (skipped.length === 0) return 0;
  for (const { index } of skipped) isNew[index] = false;
  await deps.seen.remember(skipped.flatMap(({ keys }) => keys), now);
  deps.logger.warn({ feed: feed.id, skipped: skipped.length, kept: fresh.length - skipped.length }, "too many new items in one poll; the oldest were marked seen unsent");
  return skipped.length;
}

/**
 * How much of an item's markup or page text is read. A summary reads only the text's first
 * MAX_READ_CHARS, and topics are judged on the same beginning; parsing, filtering and matching a
 * 3 MB item whole cost about a second of the bot's event loop (measured), four times the summary's
 * share costs milliseconds and still leaves room for the markup.
 */
const MAX_ITEM_CHARS = 4 * MAX_READ_CHARS;

/** An entry's text as the feed gives it: clean text without site furniture ("The post … appeared first on …") or the feed's footer. */
function entryText(entry: FeedEntry, footer?: ReadonlySet<string>): string {
  return stripBoilerplate(htmlToText((entry.html ?? "").slice(0, MAX_ITEM_CHARS)), footer);
}


/** What an item is summarised from: its text, and the article page's when it was read. */
interface ArticleContent {
  text: string;
  image?: string;
  /** The page's text as the archive keeps it for "Read here", when the page's text was chosen. */
  article?: ArticleText;
}

/**
 * The content to summarise: for a `fulltext` feed the article page's main text (and its og:image)
 * when `chooseText` finds it better than the feed's, else the feed's. A page that cannot be
 * fetched (or that the address policy refuses) or extracted within its budget is logged and the
 * feed's text used.
 */
async function articleContent(
  entry: FeedEntry,
  feed: Pick<FeedDefinition, "id" | "fulltext">,
  deps: Pick<ItemDeps, "fetch" | "addressPolicy" | "logger" | "footer">,
  signal?: AbortSignal,
): Promise<ArticleContent> {
  const feedText = entryText(entry, deps.footer);
  if (!feed.fulltext || !entry.link) return { text: feedText };
  try {
    const page = await fetchResource(entry.link, {
      ...deps.fetch,
      userAgent: USER_AGENT,
      accept: "text/html,*/*;q=0.5",
      addressPolicy: deps.addressPolicy,
      signal,
    });
    if (page.status !== "ok") return { text: feedText };
    const article = await extractPage(decodeText(page.bytes, page.contentType), page.url, signal);
    const pageText = stripBoilerplate(article.text.slice(0, MAX_ITEM_CHARS), deps.footer);
    if (chooseText({ title: entry.title, feedText, pageText }) !== "page") return { text: feedText };
    const image = article.image ? { image: article.image } : {};
    return { text: pageText, ...image, article: { text: pageText.slice(0, ARTICLE_CHARS), headings: article.headings, ...image } };
  } catch (error) {
    if (signal?.aborted) throw error;
    deps.logger.warn({ feed: feed.id, link: entry.link, err: (error as Error).message }, "full text unavailable; using the feed's text");
    return { text: feedText };
  }
}

/**
 * What building an item needs beyond the entry; `footer` is its feed's (`feedFooter`);
 * `keepsArticles`: the page's text is kept (`RecentStore.keepsArticles`).
 */
export type ItemDeps = Pick<PollDeps, "topics" | "fetch" | "addressPolicy" | "logger"> & {
  summarizer: Summarizer;
  footer?: ReadonlySet<string>;
  keepsArticles?: boolean;
};

/**
 * The Item newswire stores for a new entry: its content (the article page's for a `fulltext` feed),
 * summary and topics, computed once, here, and the page's text for the archive when it was read
 * (`keepsArticles`: the item is then `readable`). The feed's own image wins; a full-text page's
 * og:image stands in where the feed has none.
 */
export async function buildItem(
  entry: FeedEntry,
  keys: string[],
  feed: Pick<FeedDefinition, "id" | "topics" | "fulltext">,
  source: string,
  deps: ItemDeps,
  now: number,
  signal?: AbortSignal,
): Promise<ArchiveEntry> {
  const { text, image, article } = await articleContent(entry, feed, deps, signal);
  const title = entry.title || text.slice(0, 120);
  const kept = deps.keepsArticles ? article : undefined;
  const item: Item = {
    key: keys[0]!,
    feedId: feed.id,
    source,
    title,
    link: entry.link,
    summary: await deps.summarizer({ title, text }, signal),
    topics: deps.topics.match({ feedTopics: feed.topics, categories: entry.categories, title, text }),
    categories: entry.categories,
    image: entry.image ?? image,
    publishedAt: entry.published?.getTime() ?? now,
    seenAt: now,
    ...(kept ? { readable: true } : {}),
  };
  return kept ? { item, article: kept } : { item };
}

/**
 * Polls one feed; never throws for the feed's own faults (they are recorded in its state and, past
 * the threshold, told to the admins). Rejects only when the store fails or `signal` aborts.
 */
export async function pollFeed(feed: FeedDefinition, deps: PollDeps, signal?: AbortSignal): Promise<PollResult> {
  const now = deps.now?.() ?? Date.now();
  // A re-baseline while this poll runs (the store lost its seen memory) voids what it found new:
  // its generation is read first, so one made while the state is being read counts too.
  const generation = deps.feedStates.generation(feed.id);
  const before = await deps.feedStates.get(feed.id);
  const rebaselined = () => deps.feedStates.generation(feed.id) !== generation;
  const state: FeedState = { ...before, lastPollAt: now };
  // Validators only while the last full read is recent: a monthly full read refreshes the seen
  // memory of items that sit in a feed that never changes.
  const revalidate = state.lastReadAt !== undefined && now - state.lastReadAt < SEEN_REFRESH_MS;
  let response;
  try {
    response = await fetchResource(feed.url, {
      ...deps.fetch,
      userAgent: USER_AGENT,
      ...(revalidate && { etag: state.etag, lastModified: state.lastModified }),
      signal,
    });
  } catch (error) {
    if (!(error instanceof FetchError)) throw error;
    return recordFailure(feed, state, error, deps, now, generation);
  }
  const healthy = { ...state, failures: 0, lastSuccessAt: now };
  if (response.status === "not-modified") {
    await record(feed, before, { ...healthy, nextPollAt: nextPollAfterSuccess(now, state.ttlMs) }, deps, generation);
    return { status: "not-modified" };
  }

  let parsed;
  try {
    parsed = await parseFeed(decodeText(response.bytes, response.contentType), response.url);
  } catch (error) {
    if (!(error instanceof FetchError)) throw error;
    return recordFailure(feed, state, error, deps, now, generation);
  }
  const source = feed.title ?? parsed.title ?? feed.id;
  const candidates = parsed.entries.map((entry) => ({ entry, keys: identityKeys(entry, before.scope) }));
  const claim = await deps.seen.claimNew(candidates.map(({ keys }) => keys), now);
  try {
    const baseline = !state.baselined;
    // A first poll pushes nothing, so its whole back catalogue is recorded for /latest uncapped.
    const skipped = baseline ? 0 : await skipFlood(feed, candidates, claim.isNew, deps, now);
    const accepted: AcceptedItem[] = [];
    // The articles of the accepted items, by position, for the archive (not carried to delivery).
    const articles: (ArticleText | undefined)[] = [];
    // Keys of items that could not be built: remembered as seen, so no poll or restart meets them again.
    const failed: string[] = [];
    // The baseline is only shown by /latest: the feed's text and extractive summaries suffice, no
    // page fetches, no model calls (a first poll can hold a hundred items).
    const summarizer = baseline ? extractiveSummarizer : (deps.summarizer ?? extractiveSummarizer);
    const fresh = oldestFirst(candidates.filter((_, index) => claim.isNew[index]));
    const footer = fresh.length > 0 ? feedFooter(parsed.entries.map((entry) => entry.html ?? "")) : undefined;
    const itemDeps = { ...deps, summarizer, footer, keepsArticles: deps.recent.keepsArticles };
    for (const { entry, keys } of fresh) {
      try {
        const { item, article } = await buildItem(entry, keys, baseline ? { ...feed, fulltext: false } : feed, source, itemDeps, now, signal);
        accepted.push({ item, identityKeys: keys });
        articles.push(article);
      } catch (error) {
        if (signal?.aborted) throw error;
        // One item's fault (a bug, a step over its budget) must not hold back the rest of the feed.
        deps.logger.error({ feed: feed.id, link: entry.link, title: entry.title, err: error }, "item could not be built; marked seen, not delivered");
        failed.push(...keys);
      }
    }

    // A baseline is never sent: its items start no story a later source could join in a chat.
    if (!baseline && deps.stories && accepted.length > 0) {
      const assigned = await deps.stories.assign(accepted.map(({ item }) => item), now, signal);
      assigned.forEach((item, position) => (accepted[position]!.item = item));
    }
    await deps.recent.add(accepted.map(({ item }, position) => (articles[position] ? { item, article: articles[position] } : { item })));
    const queued = baseline || rebaselined() ? 0 : await deps.dispatcher.accept(accepted, now);
    await deps.seen.remember([...accepted.flatMap(({ identityKeys: keys }) => keys), ...failed], now);

    const ttlMs = parsed.ttlMinutes ? parsed.ttlMinutes * 60_000 : undefined;
    await record(
      feed,
      before,
      {
        ...healthy,
        title: parsed.title,
        etag: response.etag,
        lastModified: response.lastModified,
        baselined: true,
        itemsSeen: state.itemsSeen + accepted.length + skipped,
        ttlMs,
        lastReadAt: now,
        nextPollAt: nextPollAfterSuccess(now, ttlMs),
      },
      deps,
      generation,
    );
    if (accepted.length > 0) {
      deps.logger.info({ feed: feed.id, newItems: accepted.length, queued, baseline }, baseline ? "feed baseline recorded" : "new items");
    }
    return { status: "ok", newItems: accepted.length, queued, baseline };
  } finally {
    claim.release();
  }
}

async function recordFailure(
  feed: FeedDefinition,
  state: FeedState,
  error: FetchError,
  deps: PollDeps,
  now: number,
  generation: number,
): Promise<PollResult> {
  const failures = state.failures + 1;
  deps.logger.warn({ feed: feed.id, reason: error.reason, failures, err: error.message }, "feed poll failed");
  await record(
    feed,
    state,
    { ...state, failures, lastError: error.message, lastErrorAt: now, nextPollAt: retryAt(now, failures, error.retryAfterMs) },
    deps,
    generation,
  );
  return { status: "failed", error };
}

/**
 * Stores a feed's new state (still pending a baseline if the feed was re-baselined since the poll's
 * `generation`) and tells the admins when its health crossed the line.
 */
async function record(feed: FeedDefinition, before: FeedState, after: FeedState, deps: PollDeps, generation: number): Promise<void> {
  const { alerted, message } = healthAlert(feed, before, after, deps.alerts.afterFailures);
  await deps.feedStates.set(feed.id, { ...after, alerted }, generation);
  if (message !== undefined) await deps.alerts.notify(message);
}
