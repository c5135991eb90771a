/**
 * Per-user rate limits on what costs the store a query for anyone who asks: `/search` (and its
 * pages), inline queries, "Read here". grammY's ratelimiter plugin counts each user's requests in
 * a fixed window, in this instance's memory (with webhooks on several instances, each counts its
 * own). Past the limit a request is dropped before the archive is searched; a user is told why once
 * a window, and at every press of a button (it spins until it is answered).
 */
import { limit } from "@grammyjs/ratelimiter";
import type { MiddlewareFn } from "grammy";
import type { BotContext } from "./context.js";

/** Requests of one user allowed per window. */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

/**
 * A reader's pace with room to spare: a search a few seconds apart, inline queries as fast as a
 * client sends them while a query is typed (about two a second), articles opened one by one.
 */
export const RATE_LIMITS = {
  search: { limit: 10, windowMs: 60_000 },
  inline: { limit: 20, windowMs: 10_000 },
  read: { limit: 10, windowMs: 60_000 },
} as const satisfies Record<string, RateLimit>;

/**
 * Who is counted: the chat a message is sent as (a channel, or a group's anonymous admins, whose
 * `from` is one account shared by all), else the user, else the chat (a channel's post).
 */
const userKey = (ctx: BotContext) => (ctx.senderChat ?? ctx.from ?? ctx.chat)?.id.toString();

/**
 * The middleware for one limit: requests past it are not passed on; `exceeded` answers a button
 * press every time, anything else once a window per user.
 */
export function perUser({ limit: allowed, windowMs }: RateLimit, exceeded: (ctx: BotContext) => Promise<unknown>): MiddlewareFn<BotContext> {
  // The plugin tells either the first request past the limit or every one; buttons need every one.
  const told = new Set<string>();
  setInterval(() => told.clear(), windowMs).unref();
  return limit<BotContext, never>({
    limit: allowed,
    timeFrame: windowMs,
    alwaysReply: true,
    keyGenerator: userKey,
    onLimitExceeded: (ctx) => {
      const key = userKey(ctx)!;
      if (!ctx.callbackQuery) {
        if (told.has(key)) return;
        told.add(key);
      }
      void exceeded(ctx).catch((error: unknown) => ctx.logger.debug({ err: error }, "rate-limit answer not delivered"));
    },
  }) as MiddlewareFn<BotContext>;
}

/** "Too many requests", as a button's answer or a reply. */
export const tooManyRequests = (ctx: BotContext): Promise<unknown> =>
  ctx.callbackQuery ? ctx.answerCallbackQuery({ text: ctx.t.tooManyRequests }) : ctx.reply(ctx.t.tooManyRequests);
