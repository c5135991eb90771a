/**
 * `/start` and `/help`: what the bot does, the topic menu, and every command in one line each.
 */
import { Composer } from "grammy";
import type { BotContext } from "../context.js";
import type { BotDeps } from "../deps.js";
import { subscriberTarget } from "../chat.js";
import { topicsKeyboard } from "./topics-keyboard.js";
import { escapeHtml } from "../../text/html.js";

/** Greeting and help. */
export function startFeature(deps: BotDeps): Composer<BotContext> {
  const feature = new Composer<BotContext>();

  feature.command("start", async (ctx) => {
    const name = ctx.from?.first_name ?? (ctx.chat && "title" in ctx.chat ? ctx.chat.title : undefined) ?? "there";
    const subscriber = await deps.subscribers.get(subscriberTarget(ctx));
    await ctx.reply(ctx.t.start(escapeHtml(name)), {
      parse_mode: "HTML",
      reply_markup: topicsKeyboard(deps, subscriber, ctx.t.allTopics),
    });
  });

  feature.command("help", async (ctx) => {
    // Inline mode is used by the bot's name, which only the running bot knows.
    await ctx.reply(ctx.t.help.join("\n").replaceAll("@BOTNAME", `@${ctx.me.username}`));
  });

  return feature;
}
