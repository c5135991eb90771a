/**
 * Search over the archive: `/search WORDS [#TOPIC]` answers with the best matches as linked
 * titles (a page of PAGE_SIZE, with buttons to turn pages in place and to read kept articles
 * here), and inline mode (`@bot WORDS` in any chat) offers the matches as results that post the
 * item's message. Words match in any form (items/search-words.ts); an inline query's last word
 * also as the start of a longer one, as it is still being typed.
 * The query a page button turns is read back from the reply's own first line, so a page needs no
 * state kept anywhere and any instance can serve it.
 */
import { Composer, GrammyError, InlineKeyboard } from "grammy";
import type { InlineQueryResultArticle } from "grammy/types";
import type { BotContext } from "../context.js";
import type { BotDeps } from "../deps.js";
import { perUser, RATE_LIMITS, tooManyRequests } from "../rate-limits.js";
import { listEntry } from "../listing.js";
import { decodeCallback, encodeCallback, MAX_SEARCH_PAGE } from "../../delivery/callback-data.js";
import { renderItem, safeUrl } from "../../delivery/render.js";
import { itemRef, type ArchiveReader } from "../../items/archive.js";
import type { Item } from "../../items/item.js";
import { queryTerms } from "../../items/search-words.js";
import type { Locale, Messages } from "../../i18n/i18n.js";
import { clip } from "../../text/clip.js";
import { escapeHtml } from "../../text/html.js";
import { ALL_TOPIC } from "../../topics/topics.js";

/** Results per `/search` page. */
export const PAGE_SIZE = 5;
/** The longest query taken: longer is a paste, not a search (Telegram caps inline queries at 256). */
export const MAX_QUERY_CHARS = 200;
/** Inline results per answer (Telegram takes 50 at most), and how deep inline paging goes. */
export const INLINE_PAGE = 20;
const INLINE_DEPTH = 100;
/** Seconds Telegram may serve an inline answer from its cache: the archive changes every poll. */
export const INLINE_CACHE_SECONDS = 30;

/** A query: its words and, when one is named with `#`, a topic. */
export interface SearchQuery {
  /** The query as shown back ("sanctions #china"): what a page button searches again. */
  shown: string;
  words: string;
  topic: string;
}

export type Parsed = { query: SearchQuery } | { problem: "empty" | "too-long" | { unknownTopic: string } };

/** What a query text asks for; `#all` is every topic. */
export function parseQuery(text: string, topics: readonly string[]): Parsed {
  const shown = text.trim().replace(/\s+/gu, " ");
  if (shown.length > MAX_QUERY_CHARS) return { problem: "too-long" };
  const words: string[] = [];
  let topic = ALL_TOPIC;
  for (const word of shown.split(" ")) {
    if (!word.startsWith("#") || word.length === 1) {
      if (word !== "") words.push(word);
      continue;
    }
    const named = word.slice(1).toLowerCase();
    if (named !== ALL_TOPIC && !topics.includes(named)) return { problem: { unknownTopic: named } };
    topic = named;
  }
  if (words.length === 0 && topic === ALL_TOPIC) return { problem: "empty" };
  return { query: { shown, words: words.join(" "), topic } };
}

/** The query a `/search` reply shows on its first line, between the first « and the last ». */
function shownQuery(text: string | undefined): string | undefined {
  const line = text?.split("\n", 1)[0] ?? "";
  const start = line.indexOf("«");
  const end = line.lastIndexOf("»");
  return start >= 0 && end > start ? line.slice(start + 1, end) : undefined;
}

/** A `/search` page in the words `t`: its text and buttons, or undefined when the page is empty. */
export async function searchPage(archive: ArchiveReader, t: Messages, query: SearchQuery, page: number): Promise<{ text: string; keyboard?: InlineKeyboard } | undefined> {
  const found = await archive.search({
    terms: queryTerms(query.words),
    topic: query.topic,
    offset: page * PAGE_SIZE,
    limit: PAGE_SIZE + 1,
  });
  const items = found.slice(0, PAGE_SIZE);
  if (items.length === 0) return undefined;
  const first = page * PAGE_SIZE + 1;
  const header = escapeHtml(t.searchHeader(query.shown, first, first + items.length - 1));
  const text = [header, ...items.map((item, index) => listEntry({ item, sources: [item.source] }, first + index))].join("\n\n");
  const reads = items.flatMap((item, index) => (item.readable ? [InlineKeyboard.text(`📖 ${first + index}`, encodeCallback({ kind: "read", ref: itemRef(item.key) }))] : []));
  const pages = [
    ...(page > 0 ? [InlineKeyboard.text(t.searchPrevious, encodeCallback({ kind: "search", page: page - 1 }))] : []),
    ...(found.length > PAGE_SIZE && page < MAX_SEARCH_PAGE ? [InlineKeyboard.text(t.searchNext, encodeCallback({ kind: "search", page: page + 1 }))] : []),
  ];
  // Rows with buttons only; no keyboard at all for one page of unkept articles.
  const rows = [reads, pages].filter((row) => row.length > 0);
  return { text, ...(rows.length > 0 ? { keyboard: InlineKeyboard.from(rows) } : {}) };
}

const MESSAGE_OPTIONS = { parse_mode: "HTML", link_preview_options: { is_disabled: true } } as const;

/** An item as an inline result: choosing it posts the item's message, as a subscriber gets it. */
export function inlineResult(item: Item, locale: Locale): InlineQueryResultArticle {
  const message = renderItem(item, { locale });
  const thumbnail = safeUrl(item.image);
  const link = safeUrl(item.link);
  return {
    type: "article",
    id: itemRef(item.key),
    title: clip(item.title.trim() || item.source, 200),
    description: clip(`${item.source} · ${new Date(item.publishedAt).toISOString().slice(0, 10)} · ${item.summary}`, 200),
    input_message_content: { message_text: message.text, parse_mode: "HTML", link_preview_options: message.linkPreview },
    ...(message.replyMarkup ? { reply_markup: message.replyMarkup } : {}),
    ...(link ? { url: link } : {}),
    ...(thumbnail ? { thumbnail_url: thumbnail } : {}),
  };
}

/** The inline answer's items: the latest for an empty query, else the matches, a page at a time. */
export async function inlineItems(deps: Pick<BotDeps, "recent" | "archive">, parsed: Parsed, offset: number): Promise<Item[]> {
  if ("problem" in parsed) {
    return parsed.problem === "empty" ? (await deps.recent.latest(Math.min(offset + INLINE_PAGE, INLINE_DEPTH))).slice(offset) : [];
  }
  const { words, topic } = parsed.query;
  if (words === "") return (await deps.recent.latest(Math.min(offset + INLINE_PAGE, INLINE_DEPTH), topic)).slice(offset);
  if (!deps.archive) return [];
  return deps.archive.search({ terms: queryTerms(words, { prefix: true }), topic, offset, limit: INLINE_PAGE });
}

/** `/search`, its page buttons, and inline mode. */
export function searchFeature(deps: BotDeps): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  const topics = deps.topics.map((topic) => topic.id);
  const searches = perUser(RATE_LIMITS.search, tooManyRequests);

  feature.command("search", searches, async (ctx) => {
    if (!deps.archive) {
      await ctx.reply(ctx.t.searchUnavailable);
      return;
    }
    const parsed = parseQuery(typeof ctx.match === "string" ? ctx.match : "", topics);
    // A topic alone names no words to search: /latest lists a topic's newest.
    if ("problem" in parsed || parsed.query.words === "") {
      const problem = "problem" in parsed ? parsed.problem : "empty";
      const reply =
        problem === "empty" ? ctx.t.searchUsage
        : problem === "too-long" ? ctx.t.searchTooLong(MAX_QUERY_CHARS)
        : ctx.t.unknownTopics(problem.unknownTopic, [...topics, ALL_TOPIC].join(", "));
      await ctx.reply(reply);
      return;
    }
    const page = await searchPage(deps.archive, ctx.t, parsed.query, 0);
    if (!page) {
      await ctx.reply(escapeHtml(ctx.t.searchNone(parsed.query.shown)), MESSAGE_OPTIONS);
      return;
    }
    await ctx.reply(page.text, { ...MESSAGE_OPTIONS, ...(page.keyboard ? { reply_markup: page.keyboard } : {}) });
  });

  feature.callbackQuery(/^search:/, searches, async (ctx) => {
    const data = decodeCallback(ctx.callbackQuery.data);
    const shown = shownQuery(ctx.callbackQuery.message?.text);
    const parsed = shown === undefined ? undefined : parseQuery(shown, topics);
    if (!deps.archive || data?.kind !== "search" || !parsed || "problem" in parsed) {
      await ctx.answerCallbackQuery({ text: ctx.t.searchStale });
      return;
    }
    const page = await searchPage(deps.archive, ctx.t, parsed.query, data.page);
    if (!page) {
      await ctx.answerCallbackQuery({ text: ctx.t.searchStale });
      return;
    }
    await ctx.answerCallbackQuery();
    await ctx.editMessageText(page.text, { ...MESSAGE_OPTIONS, ...(page.keyboard ? { reply_markup: page.keyboard } : {}) }).catch((error: unknown) => {
      // A second press of the same button: the page is already shown.
      if (!(error instanceof GrammyError && error.description.includes("message is not modified"))) throw error;
    });
  });

  const inlineQueries = perUser(RATE_LIMITS.inline, (ctx) =>
    ctx.answerInlineQuery([], { cache_time: 0, is_personal: true, button: { text: ctx.t.inlineTooMany, start_parameter: "limited" } }),
  );
  feature.on("inline_query", inlineQueries, async (ctx) => {
    const { query, offset: given } = ctx.inlineQuery;
    const offset = /^\d{1,3}$/.test(given) ? Number(given) : 0;
    const parsed = parseQuery(query, topics);
    const items = await inlineItems(deps, parsed, offset);
    const more = items.length === INLINE_PAGE && offset + INLINE_PAGE < INLINE_DEPTH;
    const searchOff = !deps.archive && !("problem" in parsed) && parsed.query.words !== "";
    await ctx.answerInlineQuery(
      items.map((item) => inlineResult(item, ctx.locale)),
      {
        // Personal: the results are worded in the asker's language.
        cache_time: INLINE_CACHE_SECONDS,
        is_personal: true,
        next_offset: more ? String(offset + INLINE_PAGE) : "",
        ...(searchOff ? { button: { text: ctx.t.inlineUnavailable, start_parameter: "search" } } : {}),
      },
    );
  });
  return feature;
}
