/**
 * `/topics`, `/subscribe`, `/unsubscribe`, `/subscriptions`: what a chat follows.
 */
import { Composer } from "grammy";
import type { BotContext } from "../context.js";
import type { BotDeps } from "../deps.js";
import { commandArgs, mayManageChat, subscriberTarget } from "../chat.js";
import { saveOrTell } from "../saving.js";
import { topicsKeyboard } from "./topics-keyboard.js";
import { ALL_TOPIC } from "../../topics/topics.js";

/** The topic ids users may type, `all` included. */
export function topicIds(deps: BotDeps): string[] {
  return [...deps.topics.map(({ id }) => id), ALL_TOPIC];
}

/** Subscription commands. */
export function subscriptionsFeature(deps: BotDeps): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  const valid = () => topicIds(deps).join(", ");

  feature.command("topics", async (ctx) => {
    const subscriber = deps.subscribers.get(subscriberTarget(ctx));
    const header = deps.topics.length > 0 ? ctx.t.topicsHeader : ctx.t.topicsNone;
    await ctx.reply(header, { reply_markup: topicsKeyboard(deps, subscriber, ctx.t.allTopics) });
  });

  /** `/subscribe` and `/unsubscribe`: the same checks, then the change each asks for. */
  const changeTopics = (subscribing: boolean) => async (ctx: BotContext) => {
    const wanted = [...new Set(commandArgs(ctx))];
    if (wanted.length === 0) {
      await ctx.reply(subscribing ? ctx.t.subscribeUsage(valid()) : ctx.t.unsubscribeUsage);
      return;
    }
    const unknown = wanted.filter((topic) => !topicIds(deps).includes(topic));
    if (unknown.length > 0) {
      await ctx.reply(ctx.t.unknownTopics(unknown.join(", "), valid()));
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
    if (changed.length > 0) lines.push((subscribing ? ctx.t.subscribed : ctx.t.unsubscribed)(changed.join(", ")));
    if (unchanged.length > 0) lines.push((subscribing ? ctx.t.alreadySubscribed : ctx.t.notSubscribed)(unchanged.join(", ")));
    await ctx.reply(lines.join("\n"));
  };
  feature.command("subscribe", changeTopics(true));
  feature.command("unsubscribe", changeTopics(false));

  feature.command("subscriptions", async (ctx) => {
    const subscriber = deps.subscribers.get(subscriberTarget(ctx));
    if (!subscriber || subscriber.topics.length === 0) {
      await ctx.reply(ctx.t.noSubscriptions);
      return;
    }
    await ctx.reply(ctx.t.subscriptions(subscriber.topics.join(", "), ctx.locale));
  });

  return feature;
}
