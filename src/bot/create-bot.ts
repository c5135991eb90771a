/**
 * `createBot(deps)`: the grammY bot with its transport (auto-retry on flood limits and network
 * errors), a child logger and locale per update, an error boundary, and one Composer per feature.
 */
import { autoRetry } from "@grammyjs/auto-retry";
import { CommandGroup } from "@grammyjs/commands";
import { sequentialize } from "@grammyjs/runner";
import { Bot, type Api } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import type { BotContext } from "./context.js";
import type { BotDeps } from "./deps.js";
import { channelsFeature } from "./features/channels.js";
import { latestFeature } from "./features/latest.js";
import { membershipFeature } from "./features/membership.js";
import { startFeature } from "./features/start.js";
import { statusFeature } from "./features/status.js";
import { subscriptionsFeature } from "./features/subscriptions.js";
import { topicsKeyboardFeature } from "./features/topics-keyboard.js";
import { localeOf, messages, type Messages } from "../i18n/i18n.js";
import { en } from "../i18n/en.js";
import { ru } from "../i18n/ru.js";

/** How the bot reaches Telegram. */
export interface BotTransport {
  token: string;
  /** Bot API root (`TELEGRAM_API_ROOT`). */
  apiRoot: string;
  /** Known bot identity (tests): skips getMe. */
  botInfo?: UserFromGetMe;
  /** The fetch grammY uses (tests fake the network below grammY with it). */
  fetch?: typeof fetch;
}

/**
 * Installs auto-retry: 429s are waited out (up to a minute per wait), 5xx and network errors are
 * retried with backoff a few times; past that the caller (the sender) reschedules.
 */
export function installTransport(api: Api): void {
  api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60 }));
}

/** Builds the bot. Nothing is sent until it is started. */
export function createBot(transport: BotTransport, deps: BotDeps): Bot<BotContext> {
  const bot = new Bot<BotContext>(transport.token, {
    botInfo: transport.botInfo,
    client: {
      apiRoot: transport.apiRoot,
      ...(transport.fetch ? { fetch: transport.fetch as never } : {}),
    },
  });
  installTransport(bot.api);

  // The runner handles updates concurrently; one chat's updates must still apply in order.
  bot.use(sequentialize((ctx: BotContext) => ctx.chat?.id.toString()));
  bot.use(async (ctx, next) => {
    ctx.logger = deps.logger.child({ update: ctx.update.update_id, chat: ctx.chat?.id });
    const stored = ctx.chat ? deps.subscribers.get({ chatId: ctx.chat.id })?.language : undefined;
    ctx.locale = localeOf(stored ?? ctx.from?.language_code);
    ctx.t = messages(ctx.locale);
    await next();
  });

  const features = bot.errorBoundary(async (error) => {
    error.ctx.logger.error({ err: error.error }, "update failed");
    await error.ctx.reply(error.ctx.t.internalError).catch(() => undefined);
  });
  features.use(startFeature(deps));
  features.use(subscriptionsFeature(deps));
  features.use(topicsKeyboardFeature(deps));
  features.use(latestFeature(deps));
  features.use(statusFeature(deps));
  features.use(channelsFeature(deps));
  features.use(membershipFeature(deps));
  features.on("message:text").filter(
    (ctx) => ctx.chat.type === "private" && ctx.message.text.startsWith("/"),
    (ctx) => ctx.reply(ctx.t.unknownCommand),
  );

  bot.catch((error) => deps.logger.error({ err: error.error, update: error.ctx.update.update_id }, "unhandled bot error"));
  return bot;
}

const PRIVATE_ONLY = new Set(["start", "channel", "channels", "status"]);

/** The command menu, per scope and language: everything in private chats, chat commands in groups. */
export function commandMenu(): CommandGroup<BotContext> {
  const group = new CommandGroup<BotContext>();
  for (const [name, description] of Object.entries(en.commands) as [keyof Messages["commands"], string][]) {
    const command = group.command(name, description).localize("ru", name, ru.commands[name]);
    command.addToScope({ type: "all_private_chats" });
    if (!PRIVATE_ONLY.has(name)) command.addToScope({ type: "all_group_chats" });
  }
  return group;
}
