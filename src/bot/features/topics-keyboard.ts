/**
 * The topic menu: one button per topic that toggles this chat's subscription and redraws the
 * menu in place. Callback data is `topic:<id>` (topic ids are at most 40 ASCII characters, so it
 * stays within Telegram's 64 bytes); a button for a topic that no longer exists is answered
 * politely instead of failing.
 */
import { Composer, InlineKeyboard } from "grammy";
import type { BotContext } from "../context.js";
import type { BotDeps } from "../deps.js";
import { mayManageChat, subscriberTarget } from "../chat.js";
import { saveOrTell } from "../saving.js";
import { topicIds } from "./subscriptions.js";
import type { Subscriber } from "../../delivery/subscribers.js";
import { ALL_TOPIC } from "../../topics/topics.js";

const PREFIX = "topic:";

/** The menu for a chat's current subscription. */
export function topicsKeyboard(deps: BotDeps, subscriber: Subscriber | undefined, allTitle: string): InlineKeyboard {
  const followed = new Set(subscriber?.topics ?? []);
  const keyboard = new InlineKeyboard();
  const choices = [...deps.topics.map(({ id, title }) => ({ id, title })), { id: ALL_TOPIC, title: allTitle }];
  choices.forEach(({ id, title }, index) => {
    keyboard.text(`${followed.has(id) ? "✅" : "➕"} ${title}`, `${PREFIX}${id}`);
    if (index % 2 === 1) keyboard.row();
  });
  return keyboard;
}

/** Callback handling for the topic menu. */
export function topicsKeyboardFeature(deps: BotDeps): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  feature.callbackQuery(new RegExp(`^${PREFIX}`), async (ctx) => {
    const topic = ctx.callbackQuery.data.slice(PREFIX.length);
    // A button under an inline message (or one Telegram no longer tells about) names no chat.
    if (!ctx.chat) {
      await ctx.answerCallbackQuery({ text: ctx.t.staleMenu });
      return;
    }
    if (!topicIds(deps).includes(topic)) {
      await ctx.answerCallbackQuery({ text: ctx.t.staleButton });
      return;
    }
    if (!(await mayManageChat(ctx))) {
      await ctx.answerCallbackQuery({ text: ctx.t.groupAdminsOnly, show_alert: true });
      return;
    }
    const target = subscriberTarget(ctx);
    const current = await deps.subscribers.get(target);
    const following = current?.topics.includes(topic) ?? false;
    const saved = await saveOrTell(ctx, () => (following ? deps.subscribers.unsubscribe(target, [topic]) : deps.subscribers.subscribe(target, [topic])));
    if (!saved) return;
    await ctx.answerCallbackQuery({ text: following ? ctx.t.unsubscribed(topic) : ctx.t.subscribed(topic) });
    await ctx
      .editMessageReplyMarkup({ reply_markup: topicsKeyboard(deps, await deps.subscribers.get(target), ctx.t.allTopics) })
      .catch((error) => ctx.logger.debug({ err: error }, "topic menu not redrawn"));
  });
  return feature;
}
