/**
 * Webhook mode: Telegram POSTs each update to `WEBHOOK_URL`, with `WEBHOOK_SECRET` in the
 * `X-Telegram-Bot-Api-Secret-Token` header. grammY's own webhookCallback checks the header (a
 * missing or wrong one gets 401) and hands the update to the same middleware as long polling,
 * so the bot's per-chat ordering (sequentialize) and error boundary apply unchanged.
 */
import { BotError, webhookCallback, type Bot, type Context } from "grammy";
import type { Logger } from "pino";
import type { RequestHandler } from "./server.js";

/**
 * How long Telegram's request is held while its update is handled. Past it the update is
 * acknowledged and handling goes on (a reply waiting for its turn under flood limits), so Telegram
 * never redelivers an update that is being handled.
 */
const ANSWER_WITHIN_MS = 9_000;

/** The path of `WEBHOOK_URL` that the HTTP server answers on. */
export function webhookPath(url: string): string {
  return new URL(url).pathname;
}

/** The request handler for Telegram's updates. */
export function webhookHandler<C extends Context>(bot: Bot<C>, secret: string, logger: Logger): RequestHandler {
  const callback = webhookCallback(bot, "http", { secretToken: secret, onTimeout: "return", timeoutMilliseconds: ANSWER_WITHIN_MS });
  return async (req, res) => {
    try {
      await callback(req, res);
    } catch (error) {
      if (error instanceof BotError) {
        // As in long polling: the bot's error handler logs it, and the update counts as handled.
        await bot.errorHandler(error);
        if (!res.headersSent) res.writeHead(200).end();
        return;
      }
      // Not an update (a body that is not JSON): Telegram never sends one.
      logger.warn({ err: (error as Error).message }, "webhook request refused");
      if (!res.headersSent) res.writeHead(400).end();
    }
  };
}
