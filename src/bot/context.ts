/**
 * The bot's context: grammY's, plus a child logger per update and the chat's locale and words.
 */
import type { Context } from "grammy";
import type { Logger } from "pino";
import type { Locale, Messages } from "../i18n/i18n.js";

/** What every handler gets beyond grammY's context. */
export interface BotContextExtras {
  /** A child logger carrying the update id and chat. */
  logger: Logger;
  locale: Locale;
  /** The bot's words in `locale`. */
  t: Messages;
}

/** The context type of newswire's bot. */
export type BotContext = Context & BotContextExtras;
