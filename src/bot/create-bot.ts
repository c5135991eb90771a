/**
 * `createBot(deps)`: the grammY bot with its transport (every message it writes waits for a slot
 * of the bot's one Telegram budget), per-chat ordering, an error boundary around a child logger and
 * locale per update and one Composer per feature.
 */
import { setTimeout as delay } from "node:timers/promises";
import { CommandGroup } from "@grammyjs/commands";
import { sequentialize } from "@grammyjs/runner";
import { Bot, HttpError, type Transformer } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import { SlotExpired, type Permit, type Priority, type SlotChat, type TelegramBudget } from "../delivery/budget.js";
import type { BotContext, BotContextExtras } from "./context.js";
import { undeliverable } from "./undeliverable.js";
import type { BotDeps } from "./deps.js";
import { channelsFeature } from "./features/channels.js";
import { latestFeature } from "./features/latest.js";
import { readHereFeature } from "./features/read-here.js";
import { searchFeature } from "./features/search.js";
import { scheduleFeature } from "./features/schedule.js";
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
  /** The bot token's budget, shared with the sender and the admin alerts. */
  budget: TelegramBudget;
}

/** How long a call may wait for its slot: a reply is worth sending for a few minutes, an alert longer. */
export const MAX_WAIT_MS: Record<Exclude<Priority, "broadcast">, number> = { reply: 3 * 60_000, alert: 30 * 60_000 };

/** Times a call is tried again after a 5xx or a network error (1 s, then 2 s later). */
const RETRIES = 2;

/** Network errors raised before a connection to Telegram existed: nothing of the request reached it. */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

/** Whether `error` (grammY's HttpError, the fetch error in it and its causes) says the request was never sent. */
export function neverSent(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Object && depth < 5; depth++) {
    const { code } = cause as { code?: unknown };
    if (typeof code === "string" && NEVER_SENT.has(code)) return true;
    cause = cause instanceof HttpError ? cause.error : (cause as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The slot a call needs: methods that write a message take one of its chat (a message by
 * `inline_message_id` has none: an overall slot only); reads and callback answers take none.
 */
function slotOf(method: string, payload: Record<string, unknown>): { chat?: SlotChat } | undefined {
  if (!/^(send|forwardMessage|copyMessage|editMessage)/.test(method) || method === "sendChatAction") return undefined;
  const id = payload["chat_id"];
  if (typeof id !== "number" && typeof id !== "string") return {};
  // Negative ids and @usernames are groups and channels: they share the slower pace.
  return { chat: { id, kind: typeof id === "number" && id > 0 ? "private" : "channel" } };
}

/**
 * The transformer for `priority`'s calls. A message waits for its slot in the budget (queued, not
 * failed, until `MAX_WAIT_MS`: then {@link SlotExpired}); a 429 holds its chat there and the call
 * queues again; other calls wait out a 429 here. Retries stay few (an unreachable Telegram must
 * not hang the start) and never repeat a message Telegram may have posted: a call that writes
 * one is tried again only after a refusal (429) or an error from before the request was sent
 * ({@link neverSent}). A 5xx, a timeout or a dropped connection may come after Telegram posted
 * it, so the caller gets the error: a lost reply can be asked for again, a doubled one can't be
 * taken back. Other calls are retried after any 5xx or network error: repeating them is harmless.
 * getUpdates passes untouched: the runner retries its long poll itself.
 */
export function budgetTransformer(budget: TelegramBudget, priority: Exclude<Priority, "broadcast">): Transformer {
  return async (prev, method, payload, signal) => {
    if (method === "getUpdates") return prev(method, payload, signal);
    const slot = slotOf(method, payload as Record<string, unknown>);
    const deadline = budget.now() + MAX_WAIT_MS[priority];
    const wait = (ms: number) => delay(ms, undefined, { signal: signal as AbortSignal | undefined });
    for (let failures = 0; ; ) {
      const permit: Permit | undefined = slot && (await budget.acquire({ priority, ...slot, deadline, signal: signal as AbortSignal | undefined }));
      let result: Awaited<ReturnType<typeof prev>>;
      try {
        result = await prev(method, payload, signal);
      } catch (error) {
        permit?.release();
        if (!(error instanceof HttpError) || signal?.aborted || failures >= RETRIES || (slot && !neverSent(error))) throw error;
        await wait(1000 * 2 ** failures++);
        continue;
      }
      const retryAfter = result.ok ? undefined : result.parameters?.retry_after;
      permit?.release(retryAfter === undefined ? undefined : retryAfter * 1000);
      if (retryAfter !== undefined) {
        // Past the deadline the caller gets the 429 itself.
        if (budget.now() + retryAfter * 1000 > deadline) return result;
        if (!slot) await wait(retryAfter * 1000);
        continue;
      }
      if (!slot && !result.ok && result.error_code >= 500 && failures < RETRIES) {
        await wait(1000 * 2 ** failures++);
        continue;
      }
      return result;
    }
  };
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
  bot.api.config.use(budgetTransformer(transport.budget, "reply"));

  // The runner handles updates concurrently; one chat's updates must still apply in order.
  // (sequentialize rejects only with what the middleware after it rejects with.)
  bot.use(sequentialize((ctx: BotContext) => ctx.chat?.id.toString()));

  // Everything after sequentialize is inside the boundary, the context's setup too: in webhook mode
  // an update still handled when Telegram is answered (9 s) has nobody awaiting it, so a rejection
  // would be unhandled and end the process. Only a failure of the command's own work gets an error
  // reply; a reply that Telegram could not take is logged (the work, such as a saved subscription,
  // stands).
  const features = bot.errorBoundary(async ({ error, ctx }) => {
    // A failure while the context was being set up leaves its logger and words unset.
    const extras: Partial<BotContextExtras> = ctx;
    const logger = extras.logger ?? deps.logger.child({ update: ctx.update.update_id, chat: ctx.chat?.id });
    if (undeliverable(error)) {
      logger.warn({ err: error }, "reply dropped: Telegram did not take it");
      return;
    }
    logger.error({ err: error }, "update failed");
    const { internalError } = extras.t ?? messages(localeOf(ctx.from?.language_code));
    const tell = async () => (ctx.callbackQuery ? ctx.answerCallbackQuery({ text: internalError }) : ctx.chat ? ctx.reply(internalError) : undefined);
    await tell().catch((err: unknown) => logger.warn({ err }, "error reply not delivered"));
  });
  features.use(async (ctx, next) => {
    ctx.logger = deps.logger.child({ update: ctx.update.update_id, chat: ctx.chat?.id });
    // In a private chat the user's current Telegram language wins; a group keeps the language it
    // subscribed in (stored with its subscription), whoever speaks.
    // A store that fails (a query on PostgreSQL) costs only the stored language, never the command.
    const subscriber = ctx.chat
      ? await deps.subscribers.get({ chatId: ctx.chat.id }).catch((error: Error) => void ctx.logger.warn({ err: error.message }, "chat language not read"))
      : undefined;
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
  // Before /start: a deep link's `/start read_<ref>` is an article to send, not a greeting.
  features.use(readHereFeature(deps));
  features.use(startFeature(deps));
  features.use(subscriptionsFeature(deps));
  features.use(topicsKeyboardFeature(deps));
  features.use(latestFeature(deps));
  features.use(searchFeature(deps));
  features.use(scheduleFeature(deps));
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
  { scope: "all_private_chats", commands: ["start", "help", "topics", "subscribe", "unsubscribe", "subscriptions", "latest", "search", "digest", "timezone", "quiet", "channel", "channels"] },
  { scope: "all_group_chats", commands: ["help", "topics", "subscriptions", "latest", "search"] },
  { scope: "all_chat_administrators", commands: ["help", "topics", "subscribe", "unsubscribe", "subscriptions", "latest", "search", "digest", "timezone", "quiet"] },
  { scope: "bot_admins", commands: ["start", "help", "topics", "subscribe", "unsubscribe", "subscriptions", "latest", "search", "digest", "timezone", "quiet", "channel", "channels", "status"] },
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
