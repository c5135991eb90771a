/**
 * A command's store write, with the truth told when it fails: the user hears that nothing was
 * saved (never a confirmation of what the store did not keep), and the handler goes no further.
 */
import type { BotContext } from "./context.js";
import { StoreError } from "../store/guard.js";

/**
 * Runs `write`; when the store fails, tells the user (a reply, or the button's answer) and
 * resolves undefined. Other errors propagate to the error boundary.
 */
export async function saveOrTell<T>(ctx: BotContext, write: () => Promise<T>): Promise<T | undefined> {
  try {
    return await write();
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    ctx.logger.warn({ err: error.message }, "change not saved: the store failed");
    if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: ctx.t.notSaved, show_alert: true });
    else await ctx.reply(ctx.t.notSaved);
    return undefined;
  }
}
