/**
 * The sender's Bot API calls: each message put in a chat (a message of its own, or a forward of
 * the home channel's post) waits for a slot of the token's one budget, is made, and its outcome is
 * classified and counted. A 429 is the sender's own to handle (nothing retries beneath its Api):
 * the budget holds the chat for retry_after.
 */
import { GrammyError, type Api } from "grammy";
import type { Logger } from "pino";
import type { Permit, TelegramBudget } from "./budget.js";
import type { RenderedMessage } from "./render.js";
import { classifyError, type SendOutcome } from "./send-outcome.js";
import type { SendStats } from "./send-stats.js";
import type { ChatKind } from "./subscribers.js";

type ApiSignal = Parameters<Api["sendMessage"]>[3];

/** Telegram's answer to an edit that changes nothing. */
const NOT_MODIFIED = /message is not modified/i;

/** Where a call goes, and how often sending there failed in a row (for the backoff). */
export interface CallTarget {
  chatId: number;
  kind: ChatKind;
  threadId: number | undefined;
  failures: number;
  /** Sent without a sound. */
  silent?: boolean;
}

export interface TelegramCallsDeps {
  api: Api;
  budget: TelegramBudget;
  stats: SendStats;
  logger: Logger;
  paidBroadcast?: boolean;
  now: () => number;
  /** Aborts the waits for a slot (nothing new goes out). */
  stopWaiting: AbortSignal;
  /** Aborts the calls in flight. */
  abort: AbortSignal;
}

export class TelegramCalls {
  constructor(private readonly deps: TelegramCallsDeps) {}

  message(to: CallTarget, message: RenderedMessage): Promise<SendOutcome> {
    return this.call(to, (signal) =>
      this.deps.api.sendMessage(
        to.chatId,
        message.text,
        {
          parse_mode: message.parseMode,
          link_preview_options: message.linkPreview,
          message_thread_id: to.threadId,
          reply_markup: message.replyMarkup,
          disable_notification: to.silent || undefined,
          allow_paid_broadcast: this.deps.paidBroadcast || undefined,
        },
        signal,
      ),
    );
  }

  /**
   * Replaces the text of a message the bot sent. Telegram's "message is not modified" (the
   * message already reads so) is an edit made.
   */
  edit(to: CallTarget, messageId: number, message: RenderedMessage): Promise<SendOutcome> {
    return this.call(to, async (signal) => {
      try {
        await this.deps.api.editMessageText(
          to.chatId,
          messageId,
          message.text,
          { parse_mode: message.parseMode, link_preview_options: message.linkPreview, reply_markup: message.replyMarkup },
          signal,
        );
      } catch (error) {
        if (!(error instanceof GrammyError && NOT_MODIFIED.test(error.description))) throw error;
      }
      return { message_id: messageId };
    });
  }

  forward(to: CallTarget, from: { chatId: number; messageId: number }): Promise<SendOutcome> {
    return this.call(to, (signal) => this.deps.api.forwardMessage(to.chatId, from.chatId, from.messageId, { message_thread_id: to.threadId, disable_notification: to.silent || undefined }, signal));
  }

  private async call(to: CallTarget, send: (signal: ApiSignal) => Promise<{ message_id: number }>): Promise<SendOutcome> {
    let permit: Permit | undefined;
    try {
      permit = await this.deps.budget.acquire({
        priority: "broadcast",
        chat: { id: to.chatId, kind: to.kind },
        paid: this.deps.paidBroadcast === true,
        signal: this.deps.stopWaiting,
      });
      // grammY types the signal with its own shim; Node's AbortSignal is what it uses at run time.
      const message = await send(this.deps.abort as ApiSignal);
      permit.release();
      this.deps.stats.sentAt(this.deps.now());
      return { kind: "sent", messageId: message.message_id };
    } catch (error) {
      // No slot yet: the sender is stopping; the delivery stays in the outbox.
      if (!permit) return { kind: "retry", afterMs: 0, reason: "stopping" };
      const retryAfter = error instanceof GrammyError ? error.parameters.retry_after : undefined;
      permit.release(retryAfter === undefined ? undefined : retryAfter * 1000);
      const outcome = classifyError(error, to.failures);
      this.deps.stats.failed(outcome);
      if (outcome.kind === "retry") this.deps.logger.warn({ chatId: to.chatId, reason: outcome.reason, retryInMs: outcome.afterMs }, "send failed; will retry");
      return outcome;
    }
  }
}
