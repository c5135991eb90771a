/** Telling the failures of a reply that an error reply would share from those it should report. */
import { GrammyError, HttpError } from "grammy";
import { SlotExpired } from "../delivery/budget.js";

/**
 * Whether Telegram could not take a message now (flood limits, outage, network, a chat that
 * blocked the bot): an error reply would fail the same way, and the command's own work is done.
 */
export function undeliverable(error: unknown): boolean {
  if (error instanceof SlotExpired || error instanceof HttpError) return true;
  return error instanceof GrammyError && (error.error_code === 429 || error.error_code === 403 || error.error_code >= 500);
}
