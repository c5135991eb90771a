/**
 * Chat lifecycle seen through updates: when the bot is blocked, kicked or its chat deleted, the
 * chat's subscriptions end; when a group becomes a supergroup, they (and its held items) move to the new id.
 */
import { Composer } from "grammy";
import type { BotContext } from "../context.js";
import type { BotDeps } from "../deps.js";

/** my_chat_member and migration handling. */
export function membershipFeature(deps: BotDeps): Composer<BotContext> {
  const feature = new Composer<BotContext>();

  feature.on("my_chat_member", async (ctx) => {
    const status = ctx.myChatMember.new_chat_member.status;
    if (status === "kicked" || status === "left") {
      const removed = await deps.subscribers.removeChat(ctx.chat.id);
      if (removed.length > 0) ctx.logger.info({ chatId: ctx.chat.id, status }, "bot removed from chat; subscriptions ended");
    }
  });

  feature.on("message:migrate_to_chat_id", async (ctx) => {
    await deps.subscribers.migrateChat(ctx.chat.id, ctx.message.migrate_to_chat_id);
    // Its held items too: a digest group has no delivery queued to learn of the move from Telegram.
    await deps.held.migrateChat(ctx.chat.id, ctx.message.migrate_to_chat_id);
    ctx.logger.info({ chatId: ctx.chat.id, toChatId: ctx.message.migrate_to_chat_id }, "group migrated to a supergroup");
  });

  return feature;
}
