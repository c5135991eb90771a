/**
 * Small helpers over a command's chat: who may change its subscriptions, where its messages go,
 * and the words typed after a command.
 */
import type { ChatMember } from "grammy/types";
import type { BotContext } from "./context.js";
import type { Subscriber } from "../delivery/subscribers.js";

/** Telegram's account that speaks for a group's anonymous admins. */
const GROUP_ANONYMOUS_BOT = 1087968824;

/** Whether this member (the bot) may post in a channel: an administrator not denied the right to post. */
export function mayPost(member: ChatMember | undefined): boolean {
  return member?.status === "administrator" && member.can_post_messages !== false;
}

/** The words after a command, lower-cased (topic ids and numbers are case-free). */
export function commandArgs(ctx: BotContext): string[] {
  const match = typeof ctx.match === "string" ? ctx.match : "";
  return match.split(/[\s,]+/).map((word) => word.trim().toLowerCase()).filter(Boolean);
}

/** Whether the sender may change this chat's subscriptions: anyone in private, admins in groups. */
export async function mayManageChat(ctx: BotContext): Promise<boolean> {
  const chat = ctx.chat;
  if (!chat || chat.type === "private") return true;
  if (chat.type === "channel") return true; // only the channel's admins can post in it
  if (ctx.from?.id === GROUP_ANONYMOUS_BOT || ctx.senderChat?.id === chat.id) return true;
  if (!ctx.from) return false;
  const member = await ctx.api.getChatMember(chat.id, ctx.from.id);
  return member.status === "creator" || member.status === "administrator";
}

/** The subscriber this chat (and forum thread) is, as far as the update tells. */
export function subscriberTarget(ctx: BotContext): Omit<Subscriber, "topics" | "since"> {
  const chat = ctx.chat!;
  const message = ctx.msg;
  const threadId = message?.is_topic_message ? message.message_thread_id : undefined;
  const title = chat.type === "private" ? undefined : chat.title;
  return { chatId: chat.id, threadId, kind: chat.type, language: ctx.locale, ...(title ? { title } : {}) };
}
