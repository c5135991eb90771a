/**
 * `/channel add|home|remove` and `/channels`: linking news channels (a home channel's posts are
 * what its topics' subscribers receive, as forwards). Linking checks, through
 * getChatMember, that the user is an admin of the channel and that the bot is an admin allowed to
 * post, and says exactly what is missing otherwise. When the bot loses its place in a channel, the
 * link ends and whoever linked it is told.
 */
import { Composer, GrammyError } from "grammy";
import type { ChatFullInfo } from "grammy/types";
import type { BotContext } from "../context.js";
import type { BotDeps } from "../deps.js";
import { commandArgs, mayPost } from "../chat.js";
import { saveOrTell } from "../saving.js";
import { topicIds, unknownTopicsReply } from "./subscriptions.js";
import { localeOf, messages } from "../../i18n/i18n.js";
import { ALL_TOPIC } from "../../topics/topics.js";

/** `@name` or a numeric id as typed by a user; undefined when it is neither. */
function parseChannelRef(word: string | undefined): string | number | undefined {
  if (!word) return undefined;
  if (/^-?\d+$/.test(word)) return Number(word);
  if (/^@?[a-z][a-z0-9_]{3,}$/i.test(word)) return word.startsWith("@") ? word : `@${word}`;
  const link = /^(?:https?:\/\/)?t\.me\/([a-z][a-z0-9_]{3,})$/i.exec(word);
  return link ? `@${link[1]}` : undefined;
}

const isAdmin = (status: string) => status === "creator" || status === "administrator";

/** Channel commands and the channel side of my_chat_member. */
export function channelsFeature(deps: BotDeps): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  const privateChats = feature.chatType("private");

  /** The channel a user named, or a reply saying why it can't be used. */
  const resolveChannel = async (ctx: BotContext, word: string | undefined): Promise<ChatFullInfo | undefined> => {
    const ref = parseChannelRef(word);
    if (ref === undefined) {
      await ctx.reply(ctx.t.channelUsage);
      return undefined;
    }
    try {
      const chat = await ctx.api.getChat(ref);
      if (chat.type !== "channel") {
        await ctx.reply(ctx.t.notAChannel(String(ref)));
        return undefined;
      }
      return chat;
    } catch (error) {
      if (error instanceof GrammyError && error.error_code === 400) {
        await ctx.reply(ctx.t.channelNotFound(String(ref)));
        return undefined;
      }
      throw error;
    }
  };

  /** Whether the user is an admin of the channel; replies when not (or when that can't be known). */
  const userIsAdmin = async (ctx: BotContext, channel: ChatFullInfo): Promise<boolean> => {
    const title = channel.title ?? String(channel.id);
    const member = await ctx.api.getChatMember(channel.id, ctx.from!.id).catch((error: unknown) => {
      if (error instanceof GrammyError) return undefined;
      throw error;
    });
    if (member && isAdmin(member.status)) return true;
    // Telegram tells only a channel's admins who its members are ("member list is inaccessible"):
    // no answer means what is missing is the bot's place, not the user's.
    await ctx.reply(member ? ctx.t.channelUserNotAdmin(title) : ctx.t.channelBotNotAdmin(title, ctx.me.username));
    return false;
  };

  privateChats.command("channel", async (ctx) => {
    const [action, channelWord, ...topics] = commandArgs(ctx);
    if (action !== "add" && action !== "home" && action !== "remove") {
      await ctx.reply(ctx.t.channelUsage);
      return;
    }
    if (action !== "remove") {
      const unknown = topics.filter((topic) => !topicIds(deps).includes(topic));
      if (topics.length === 0 || unknown.length > 0) {
        await ctx.reply(unknown.length > 0 ? unknownTopicsReply(unknown, deps, ctx.t) : ctx.t.channelUsage);
        return;
      }
    }
    const channel = await resolveChannel(ctx, channelWord);
    if (!channel || !(await userIsAdmin(ctx, channel))) return;
    const title = channel.title ?? String(channel.id);

    if (action === "remove") {
      const removed = await saveOrTell(ctx, () => deps.subscribers.unsubscribe({ chatId: channel.id }, [ALL_TOPIC]));
      if (!removed) return;
      await ctx.reply(removed.changed.length > 0 ? ctx.t.channelRemoved(title) : ctx.t.channelNotLinked(title));
      return;
    }
    const bot = await ctx.api.getChatMember(channel.id, ctx.me.id).catch(() => undefined);
    if (bot?.status !== "administrator") {
      await ctx.reply(ctx.t.channelBotNotAdmin(title, ctx.me.username));
      return;
    }
    if (!mayPost(bot)) {
      await ctx.reply(ctx.t.channelBotCannotPost(title));
      return;
    }
    const linking = { chatId: channel.id, kind: "channel", title, linkedBy: ctx.from.id, language: ctx.locale, home: action === "home" } as const;
    if (!(await saveOrTell(ctx, () => deps.subscribers.subscribe(linking, topics)))) return;
    // Read back: the link may have had topics before. (Ended meanwhile by another instance: the topics asked.)
    const linked = (await deps.subscribers.get({ chatId: channel.id }))?.topics ?? topics;
    await ctx.reply(action === "home" ? ctx.t.channelHome(title, linked.join(", ")) : ctx.t.channelLinked(title, linked.join(", ")));
  });

  // Linking needs the user's own admin rights, checked in a private chat; say so elsewhere.
  feature.chatType(["group", "supergroup"]).command(["channel", "channels"], (ctx) => ctx.reply(ctx.t.channelUsage));

  privateChats.command("channels", async (ctx) => {
    const mine = await deps.subscribers.linkedBy(ctx.from.id);
    await ctx.reply(
      mine.length === 0
        ? ctx.t.channelsNone
        : mine.map((channel) => `${channel.title ?? channel.chatId}: ${channel.topics.join(", ")}`).join("\n"),
    );
  });

  feature.on("my_chat_member", async (ctx, next) => {
    const member = ctx.myChatMember.new_chat_member;
    if (ctx.chat.type !== "channel" || mayPost(member)) return next();
    const removed = await deps.subscribers.removeChat(ctx.chat.id);
    for (const channel of removed) {
      ctx.logger.info({ channel: channel.chatId, status: member.status }, "bot lost its place in a channel; link ended");
      if (channel.linkedBy === undefined) continue;
      const t = messages(localeOf(channel.language));
      await ctx.api
        .sendMessage(channel.linkedBy, t.channelLost(channel.title ?? String(channel.chatId)))
        .catch((error) => ctx.logger.warn({ err: error }, "could not tell the channel's linker"));
    }
  });

  return feature;
}
