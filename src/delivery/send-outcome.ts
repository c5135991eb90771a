/**
 * What Telegram's answer to a send means for the delivery: sent, wait, retry, give up, or a change
 * to the chat (gone, its forum topic gone, migrated). Pure: classifies errors grammY raised.
 */
import { GrammyError, HttpError } from "grammy";

/** What became of one attempt to send a delivery. */
export type SendOutcome =
  | { kind: "sent"; messageId: number }
  /** Not yet: the home channel's post this target forwards is still to come. */
  | { kind: "wait" }
  /** Telegram will never take this message (logged); the delivery is done. */
  | { kind: "refused"; reason: string }
  /** Try again later (429, 5xx, network). */
  | { kind: "retry"; afterMs: number; reason: string }
  /** The chat blocked the bot, left, or no longer exists. */
  | { kind: "gone"; reason: string }
  /** The forum topic the message was for no longer exists (the group itself is fine). */
  | { kind: "thread-gone"; reason: string }
  /** The group became a supergroup with this id. */
  | { kind: "migrated"; toChatId: number };

const MAX_BACKOFF_MS = 5 * 60_000;

/** Telegram's answers for a forum topic that no longer exists. */
const THREAD_GONE = /message thread not found|TOPIC_DELETED/i;

/** Classifies a failed send by Telegram's answer; `failures` so far set the backoff. */
export function classifyError(error: unknown, failures: number): SendOutcome {
  const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures, 16));
  if (error instanceof GrammyError) {
    const description = error.description;
    const retryAfter = error.parameters.retry_after;
    if (error.error_code === 429) {
      return { kind: "retry", afterMs: (retryAfter ?? 1) * 1000, reason: "429" };
    }
    if (error.parameters.migrate_to_chat_id !== undefined) {
      return { kind: "migrated", toChatId: error.parameters.migrate_to_chat_id };
    }
    if (error.error_code === 403 || /chat not found|PEER_ID_INVALID|chat was deactivated|CHANNEL_PRIVATE|need administrator rights|not enough rights to send/i.test(description)) {
      return { kind: "gone", reason: description };
    }
    if (THREAD_GONE.test(description)) return { kind: "thread-gone", reason: description };
    if (error.error_code >= 500) return { kind: "retry", afterMs: backoff, reason: `http ${error.error_code}` };
    return { kind: "refused", reason: description };
  }
  if (error instanceof HttpError) return { kind: "retry", afterMs: backoff, reason: "network" };
  return { kind: "retry", afterMs: backoff, reason: (error as Error)?.message ?? String(error) };
}

/** Whether Telegram refused the message for its text (so the plain-text rendering may pass). */
export function refusedForText(reason: string): boolean {
  return /message is too long|can't parse entities|unsupported start tag|entity|text must be non-empty/i.test(reason);
}
