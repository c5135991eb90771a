/**
 * `/topics`, `/subscribe`, `/unsubscribe`, `/subscriptions`: what a chat follows.
 */
import { Composer } from "grammy";
import type { BotContext } from "../context.js";
import type { BotDeps } from "../deps.js";
import { commandArgs, mayManageChat, subscriberTarget } from "../chat.js";
import { saveOrTell } from "../saving.js";
import { describeDigest, describeQuiet, zoneOf } from "./schedule.js";
import { topicsKeyboard } from "./topics-keyboard.js";
import type { Messages } from "../../i18n/i18n.js";
import { clip } from "../../text/clip.js";
import { ALL_TOPIC } from "../../topics/topics.js";

/** The topic ids users may type, `all` included. */
export function topicIds(deps: BotDeps): string[] {
  return [...deps.topics.map(({ id }) => id), ALL_TOPIC];
}

/** Longest name shown in a reply (whatever a user typed). */
const MAX_NAME_LENGTH = 40;

/**
 * Names for a reply, as many as fit in `room` characters, then how many more: a user may type
 * 500 names, and a reply over Telegram's 4,096 characters is refused.
 */
export function someNames(names: readonly string[], t: Pick<Messages, "andMore">, room = 1_200): string {
  const listed: string[] = [];
  let length = 0;
  for (const name of names) {
    const shown = clip(name, MAX_NAME_LENGTH);
    if (length + shown.length > room) break;
    listed.push(shown);
    length += shown.length + 2;
  }
  const rest = names.length - listed.length;
  return rest > 0 ? `${listed.join(", ")} ${t.andMore(rest)}` : listed.join(", ");
}

/** The topics a user may type, for a reply. */
export function validTopics(deps: BotDeps, t: Pick<Messages, "andMore">): string {
  return someNames(topicIds(deps), t, 2_000);
}

/** The reply to unknown topics: what was wrong, and what would be right. */
export function unknownTopicsReply(unknown: readonly string[], deps: BotDeps, t: Messages): string {
  return t.unknownTopics(someNames(unknown, t), validTopics(deps, t));
}

/** Subscription commands. */
export function subscriptionsFeature(deps: BotDeps): Composer<BotContext> {
  const feature = new Composer<BotContext>();

  feature.command("topics", async (ctx) => {
    const subscriber = await deps.subscribers.get(subscriberTarget(ctx));
    const header = deps.topics.length > 0 ? ctx.t.topicsHeader : ctx.t.topicsNone;
    await ctx.reply(header, { reply_markup: topicsKeyboard(deps, subscriber, ctx.t.allTopics) });
  });

  /** `/subscribe` and `/unsubscribe`: the same checks, then the change each asks for. */
  const changeTopics = (subscribing: boolean) => async (ctx: BotContext) => {
    const wanted = [...new Set(commandArgs(ctx))];
    if (wanted.length === 0) {
      await ctx.reply(subscribing ? ctx.t.subscribeUsage(validTopics(deps, ctx.t)) : ctx.t.unsubscribeUsage);
      return;
    }
    const unknown = wanted.filter((topic) => !topicIds(deps).includes(topic));
    if (unknown.length > 0) {
      await ctx.reply(unknownTopicsReply(unknown, deps, ctx.t));
      return;
    }
    if (!(await mayManageChat(ctx))) {
      await ctx.reply(ctx.t.groupAdminsOnly);
      return;
    }
    const target = subscriberTarget(ctx);
    const change = await saveOrTell(ctx, () =>
      subscribing ? deps.subscribers.subscribe(target, wanted) : deps.subscribers.unsubscribe(target, wanted),
    );
    if (!change) return;
    const { changed, unchanged } = change;
    const lines: string[] = [];
    if (changed.length > 0) lines.push((subscribing ? ctx.t.subscribed : ctx.t.unsubscribed)(someNames(changed, ctx.t)));
    if (unchanged.length > 0) lines.push((subscribing ? ctx.t.alreadySubscribed : ctx.t.notSubscribed)(someNames(unchanged, ctx.t)));
    await ctx.reply(lines.join("\n"));
  };
  feature.command("subscribe", changeTopics(true));
  feature.command("unsubscribe", changeTopics(false));

  feature.command("subscriptions", async (ctx) => {
    const subscriber = await deps.subscribers.get(subscriberTarget(ctx));
    if (!subscriber || subscriber.topics.length === 0) {
      await ctx.reply(ctx.t.noSubscriptions);
      return;
    }
    const { schedule } = subscriber;
    const summary = ctx.t.scheduleSummary(describeDigest(schedule?.digest, ctx.t), zoneOf(schedule), describeQuiet(schedule?.quiet, ctx.t));
    await ctx.reply(`${ctx.t.subscriptions(subscriber.topics.join(", "), ctx.locale)}\n${summary}`);
  });

  return feature;
}
