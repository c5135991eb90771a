/**
 * `/status` for the bot's admins: each feed's last poll, last error and items seen (of a large
 * catalog, only the failing feeds); the store's health; subscriber, queue and send counts; the
 * Telegram budget's counters.
 */
import { Composer } from "grammy";
import type { BotContext } from "../context.js";
import type { Messages } from "../../i18n/i18n.js";
import type { BotDeps } from "../deps.js";
import type { OutageState } from "../../health/outage.js";
import type { FeedState } from "../../feeds/feed-state.js";
import { packMessages } from "../../delivery/render.js";
import { escapeHtml } from "../../text/html.js";

/** The time from `at` to `now` in the unit that keeps it short: seconds, minutes or hours. */
const elapsed = (at: number, now: number): { count: number; unit: "s" | "m" | "h" } => {
  const seconds = Math.round((now - at) / 1000);
  if (seconds < 120) return { count: seconds, unit: "s" };
  if (seconds < 7200) return { count: Math.round(seconds / 60), unit: "m" };
  return { count: Math.round(seconds / 3600), unit: "h" };
};

const ago = (at: number | undefined, now: number): string => {
  if (at === undefined) return "never";
  const { count, unit } = elapsed(at, now);
  return `${count}${unit} ago`;
};

/** The store's health, in the admin's language. */
function storeLine(outage: OutageState | undefined, t: Messages, now: number): string {
  if (!outage) return t.statusStoreOk;
  const { count, unit } = elapsed(outage.since, now);
  return t.statusStoreFailing(count, unit, outage.failures, escapeHtml(outage.error));
}

/** The status report as HTML messages. */
async function statusReport(deps: BotDeps, t: Messages, now = Date.now()): Promise<string[]> {
  const subscribers = await deps.subscribers.count();
  const { jobs, deliveries } = deps.outbox.size;
  const stats = deps.sender.stats;
  const lastMinute = deps.sender.sentLastMinute();
  const failures = Object.entries(stats.failures).map(([kind, count]) => `${kind} ${count}`).join(", ") || "none";
  const { granted, tooManyRequests, expired } = deps.budget.stats;
  const summary = [
    storeLine(deps.store.state, t, now),
    `<b>Subscribers</b>: ${subscribers}`,
    `<b>Queue</b>: ${deliveries} messages in ${jobs} items`,
    `<b>Sent</b>: ${stats.sent} (${lastMinute} in the last minute), 429s: ${stats.tooManyRequests}`,
    `<b>Failures</b>: ${escapeHtml(failures)}`,
    t.statusBudget(granted.reply, granted.alert, granted.broadcast, tooManyRequests, expired),
    `<b>Feeds</b>: ${deps.feeds.length}`,
  ].join("\n");
  const { listed, failing } = await feedsToList(deps);
  const feeds = listed.map(({ feed, state }) => {
    const health =
      state.failures > 0
        ? `❌ ${state.failures} failure${state.failures === 1 ? "" : "s"} in a row, last success ${ago(state.lastSuccessAt, now)}: ${escapeHtml(state.lastError ?? "")}`
        : "✅";
    return `<b>${escapeHtml(feed.id)}</b> ${health}\npolled ${ago(state.lastPollAt, now)}, ${state.itemsSeen} items seen`;
  });
  const shown = listed.length < deps.feeds.length ? [t.statusFeedsShown(listed.length, deps.feeds.length, failing, STATUS_FEEDS_LISTED)] : [];
  return packMessages(`${summary}${shown.map((line) => `\n${line}`).join("")}`, feeds);
}

/** Feeds listed one by one at most: a catalog of thousands would be hundreds of messages. */
const STATUS_FEEDS_LISTED = 100;
/** Feed states read at a time. */
const STATUS_READ_BATCH = 1_000;

/**
 * The feeds /status lists: all of them when there are at most {@link STATUS_FEEDS_LISTED}; else the
 * failing ones, most failures first, that many at most. `failing`: how many fail in all.
 */
async function feedsToList(deps: BotDeps): Promise<{ listed: { feed: BotDeps["feeds"][number]; state: FeedState }[]; failing: number }> {
  const listed: { feed: BotDeps["feeds"][number]; state: FeedState }[] = [];
  const all = deps.feeds.length <= STATUS_FEEDS_LISTED;
  let failing = 0;
  for (let from = 0; from < deps.feeds.length; from += STATUS_READ_BATCH) {
    const batch = deps.feeds.slice(from, from + STATUS_READ_BATCH);
    const states = await deps.feedStates.getMany(batch.map((feed) => feed.id));
    batch.forEach((feed, index) => {
      const state = states[index]!;
      if (state.failures > 0) failing++;
      if (all || state.failures > 0) listed.push({ feed, state });
    });
    // Only the worst are kept while reading: what is held stays the listing's size.
    if (!all && listed.length > STATUS_FEEDS_LISTED) listed.sort((a, b) => b.state.failures - a.state.failures).splice(STATUS_FEEDS_LISTED);
  }
  if (!all) listed.sort((a, b) => b.state.failures - a.state.failures);
  return { listed, failing };
}

/** The admin-only `/status` command. */
export function statusFeature(deps: BotDeps): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  feature.command("status", async (ctx) => {
    if (!ctx.from || !deps.adminIds.includes(ctx.from.id)) {
      await ctx.reply(ctx.t.adminOnly);
      return;
    }
    for (const text of await statusReport(deps, ctx.t)) await ctx.reply(text, { parse_mode: "HTML" });
  });
  return feature;
}
