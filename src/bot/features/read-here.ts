/**
 * "Read here": the whole article of an archived item as one rich message, in the reader's private
 * chat with the bot. The button under an item (`read:<ref>`, delivery/callback-data.ts) sends it
 * at once in a private chat; under a group's or a channel's post, or a message posted inline, the
 * answer opens the private chat through a deep link (`/start read_<ref>`), which sends it there:
 * a group is not flooded with articles one member asked for. A button answered late or for an item
 * no longer kept is still answered, with why.
 */
import { Composer, GrammyError } from "grammy";
import type { BotContext } from "../context.js";
import type { BotDeps } from "../deps.js";
import { undeliverable } from "../undeliverable.js";
import { perUser, RATE_LIMITS, tooManyRequests } from "../rate-limits.js";
import { decodeCallback, readStartParameter, refOfStartParameter } from "../../delivery/callback-data.js";
import { richArticle } from "../../delivery/rich-article.js";
import type { ArticleText } from "../../items/archive.js";
import type { Item } from "../../items/item.js";

/** The article of `ref`, or why there is none to send. */
async function findArticle(deps: BotDeps, ref: string): Promise<{ item: Item; article: ArticleText } | "gone" | "no-text"> {
  const found = await deps.archive?.article(ref);
  if (!found) return "gone";
  return found.article ? { item: found.item, article: found.article } : "no-text";
}

/** Sends an article into `chatId`; a lead image Telegram cannot fetch is left out rather than the article. */
async function sendArticle(ctx: BotContext, chatId: number, { item, article }: { item: Item; article: ArticleText }): Promise<void> {
  const send = (withImage: boolean) => ctx.api.sendRichMessage(chatId, richArticle(item, article, ctx.locale, withImage));
  try {
    await send(true);
  } catch (error) {
    const image = article.image ?? item.image;
    if (!(error instanceof GrammyError) || error.error_code !== 400 || image === undefined) throw error;
    ctx.logger.info({ err: error.description, image }, "article sent without its lead image, which Telegram refused");
    await send(false);
  }
}

/** The "Read here" button and its deep link. */
export function readHereFeature(deps: BotDeps): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  const reads = perUser(RATE_LIMITS.read, tooManyRequests);
  const why = (ctx: BotContext, missing: "gone" | "no-text") => (missing === "gone" ? ctx.t.readGone : ctx.t.readNoText);

  // Outside the private chat the answer only opens it (the deep link below sends, and is counted).
  feature.callbackQuery(/^read:/).filter(
    (ctx) => ctx.chat?.type !== "private",
    async (ctx) => {
      const data = decodeCallback(ctx.callbackQuery.data);
      await ctx.answerCallbackQuery(
        data?.kind === "read" ? { url: `https://t.me/${ctx.me.username}?start=${readStartParameter(data.ref)}` } : { text: ctx.t.readGone },
      );
    },
  );

  feature.callbackQuery(/^read:/, reads, async (ctx) => {
    const data = decodeCallback(ctx.callbackQuery.data);
    if (data?.kind !== "read" || !ctx.chat) {
      await ctx.answerCallbackQuery({ text: ctx.t.readGone });
      return;
    }
    const found = await findArticle(deps, data.ref);
    if (typeof found === "string") {
      await ctx.answerCallbackQuery({ text: why(ctx, found), show_alert: true });
      return;
    }
    // Answered before the send, which may wait its turn in the budget: the button stops spinning.
    // A send that fails is then told in the chat: the press cannot be answered twice.
    await ctx.answerCallbackQuery();
    await sendArticle(ctx, ctx.chat.id, found).catch(async (error: unknown) => {
      if (undeliverable(error)) throw error;
      ctx.logger.error({ err: error }, "article not sent");
      await ctx.reply(ctx.t.internalError);
    });
  });

  feature
    .chatType("private")
    .command("start")
    .filter((ctx) => refOfStartParameter(ctx.match) !== undefined, reads, async (ctx) => {
      const found = await findArticle(deps, refOfStartParameter(ctx.match)!);
      await (typeof found === "string" ? ctx.reply(why(ctx, found)) : sendArticle(ctx, ctx.chat.id, found));
    });
  return feature;
}
