/**
 * `/latest [N] [TOPIC]`: the newest stories, of one topic if asked, newest first, as a list of
 * linked titles (split over several messages if it would pass Telegram's length limit). A story
 * several feeds reported is listed once, as its first report, with every source that has it.
 */
import { Composer } from "grammy";
import type { BotContext } from "../context.js";
import type { BotDeps } from "../deps.js";
import { commandArgs } from "../chat.js";
import { topicIds, validTopics } from "./subscriptions.js";
import { listEntry, listStories } from "../listing.js";
import { packMessages } from "../../delivery/render.js";
import { escapeHtml } from "../../text/html.js";
import { ALL_TOPIC } from "../../topics/topics.js";

const DEFAULT_COUNT = 5;
const MAX_COUNT = 20;
/** Items read per story asked for: a busy story's sources take several of the newest items. */
const ITEMS_PER_STORY = 4;

/** What `/latest`'s words ask for, or undefined when they don't parse. */
function parseLatestArgs(args: readonly string[], known: readonly string[]): { count: number; topic: string } | undefined {
  let count: number | undefined;
  let topic: string | undefined;
  for (const arg of args) {
    if (/^\d+$/.test(arg) && count === undefined) {
      count = Number(arg);
      if (count < 1 || count > MAX_COUNT) return undefined;
    } else if (known.includes(arg) && topic === undefined) {
      topic = arg;
    } else {
      return undefined;
    }
  }
  return { count: count ?? DEFAULT_COUNT, topic: topic ?? ALL_TOPIC };
}

/** The `/latest` command. */
export function latestFeature(deps: BotDeps): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  feature.command("latest", async (ctx) => {
    const request = parseLatestArgs(commandArgs(ctx), topicIds(deps));
    if (!request) {
      await ctx.reply(ctx.t.latestUsage(validTopics(deps, ctx.t)));
      return;
    }
    const stories = listStories(await deps.recent.latest(request.count * ITEMS_PER_STORY, request.topic)).slice(0, request.count);
    if (stories.length === 0) {
      await ctx.reply(ctx.t.latestNone);
      return;
    }
    const messages = packMessages(escapeHtml(ctx.t.latestHeader(stories.length)), stories.map((story, index) => listEntry(story, index + 1)));
    for (const text of messages) {
      await ctx.reply(text, { parse_mode: "HTML", link_preview_options: { is_disabled: true } });
    }
  });
  return feature;
}
