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
    // In a private chat the user's current Telegram language wins; a group keeps the language it
    // subscribed in (stored with its subscription), whoever speaks.
    const subscriber = ctx.chat ? deps.subscribers.get({ chatId: ctx.chat.id }) : undefined;
    const own = ctx.chat?.type === "private" ? ctx.from?.language_code : undefined;
    ctx.locale = localeOf(own ?? subscriber?.language ?? ctx.from?.language_code);
    // Broadcasts follow too: a private subscriber who switched languages gets the news in the new one.
    if (subscriber && own !== undefined && subscriber.language !== ctx.locale) {
      // Not the command's own change: a store failure here must not keep the command from running.
      await deps.subscribers
        .update({ ...subscriber, language: ctx.locale })
        .catch((error: Error) => ctx.logger.warn({ err: error.message }, "chat language not saved"));
    }
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

type CommandName = keyof Messages["commands"];

/** Which commands each kind of chat member sees in the menu. */
const MENU: { scope: "all_private_chats" | "all_group_chats" | "all_chat_administrators" | "bot_admins"; commands: CommandName[] }[] = [
  { scope: "all_private_chats", commands: ["start", "help", "topics", "subscribe", "unsubscribe", "subscriptions", "latest", "channel", "channels"] },
  { scope: "all_group_chats", commands: ["help", "topics", "subscriptions", "latest"] },
  { scope: "all_chat_administrators", commands: ["help", "topics", "subscribe", "unsubscribe", "subscriptions", "latest"] },
  { scope: "bot_admins", commands: ["start", "help", "topics", "subscribe", "unsubscribe", "subscriptions", "latest", "channel", "channels", "status"] },
];

/**
 * The command menu, per scope and language: members of groups see what they may use, group
 * admins also the subscription commands, and the bot's admins (in their private chats) `/status`.
 */
export function commandMenu(adminIds: readonly number[]): CommandGroup<BotContext> {
  const group = new CommandGroup<BotContext>();
  for (const name of Object.keys(en.commands) as CommandName[]) {
    const command = group.command(name, en.commands[name]).localize("ru", name, ru.commands[name]);
    for (const { scope, commands } of MENU) {
      if (!commands.includes(name)) continue;
      if (scope !== "bot_admins") command.addToScope({ type: scope });
      else for (const chatId of adminIds) command.addToScope({ type: "chat", chat_id: chatId });
    }
  }
  return group;
}
