/**
 * `/status` for the bot's admins: each feed's last poll, last error and items seen; the store's
 * health; subscriber, queue and send counts; the Telegram budget's counters.
 */
import { Composer } from "grammy";
import type { BotContext } from "../context.js";
import type { Messages } from "../../i18n/i18n.js";
import type { BotDeps } from "../deps.js";
import { packMessages } from "../../delivery/render.js";
import { escapeHtml } from "../../text/html.js";

const ago = (at: number | undefined, now: number): string => {
  if (at === undefined) return "never";
  const seconds = Math.round((now - at) / 1000);
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
};

/** The status report as HTML messages. */
function statusReport(deps: BotDeps, t: Messages, now = Date.now()): string[] {
  const { jobs, deliveries } = deps.outbox.size;
  const stats = deps.sender.stats;
  const lastMinute = deps.sender.sentLastMinute();
  const failures = Object.entries(stats.failures).map(([kind, count]) => `${kind} ${count}`).join(", ") || "none";
  const { granted, tooManyRequests, expired } = deps.budget.stats;
  const outage = deps.store.state;
  const store = outage
    ? `❌ failing since ${ago(outage.since, now)} (${outage.failures} failed calls): ${escapeHtml(outage.error)}`
    : "✅";
  const summary = [
    `<b>Store</b>: ${store}`,
    `<b>Subscribers</b>: ${deps.subscribers.size}`,
    `<b>Queue</b>: ${deliveries} messages in ${jobs} items`,
    `<b>Sent</b>: ${stats.sent} (${lastMinute} in the last minute), 429s: ${stats.tooManyRequests}`,
    `<b>Failures</b>: ${escapeHtml(failures)}`,
    t.statusBudget(granted.reply, granted.alert, granted.broadcast, tooManyRequests, expired),
    `<b>Feeds</b>: ${deps.feeds.length}`,
  ].join("\n");
  const feeds = deps.feeds.map((feed) => {
    const state = deps.feedStates.get(feed.id);
    const health =
      state.failures > 0
        ? `❌ ${state.failures} failure${state.failures === 1 ? "" : "s"} in a row, last success ${ago(state.lastSuccessAt, now)}: ${escapeHtml(state.lastError ?? "")}`
        : "✅";
    return `<b>${escapeHtml(feed.id)}</b> ${health}\npolled ${ago(state.lastPollAt, now)}, ${state.itemsSeen} items seen`;
  });
  return packMessages(summary, feeds);
}

/** The admin-only `/status` command. */
export function statusFeature(deps: BotDeps): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  feature.command("status", async (ctx) => {
    if (!ctx.from || !deps.adminIds.includes(ctx.from.id)) {
      await ctx.reply(ctx.t.adminOnly);
      return;
    }
    for (const text of statusReport(deps, ctx.t)) await ctx.reply(text, { parse_mode: "HTML" });
  });
  return feature;
}
