/**
 * An item as a Telegram message: bold title, summary, source and link, topic hashtags, in HTML
 * parse mode. Everything that came from a feed is escaped, so the message is valid whatever the
 * feed contained; lengths are bounded so it is never over Telegram's limits.
 */
import type { InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions } from "grammy/types";
import { itemRef } from "../items/archive.js";
import type { Item } from "../items/item.js";
import { encodeCallback } from "./callback-data.js";
import { messages, type Locale } from "../i18n/i18n.js";
import { ALL_TOPIC } from "../topics/topics.js";
import { clip } from "../text/clip.js";
import { httpUrl } from "../text/url.js";
import { escapeHtml } from "../text/html.js";

/** Telegram's limit for a message's text, counted after entity parsing. */
export const MESSAGE_LIMIT = 4096;
const TITLE_LIMIT = 300;
const SUMMARY_LIMIT = 1_000;

/** A message ready for `sendMessage`. */
export interface RenderedMessage {
  text: string;
  parseMode?: "HTML";
  linkPreview: LinkPreviewOptions;
  /** "Read here" (an item whose article is kept) and, on channel posts, a share button. */
  replyMarkup?: InlineKeyboardMarkup;
}

/** How a message is worded and dressed for its chat. */
export interface RenderOptions {
  locale: Locale;
  /** Add a share button (channel posts, so readers pass them on). */
  share?: boolean;
}

/** Another source of the item's story, named under it ("Also in: RIA, Lenta"). */
export interface OtherSource {
  source: string;
  link?: string;
}

/** The buttons under an item: "Read here" when its article is kept, "Share" on a channel post with a link. */
function itemButtons(item: Item, link: string | undefined, locale: Locale, share: boolean): InlineKeyboardMarkup | undefined {
  const words = messages(locale);
  const row: InlineKeyboardButton[] = [];
  if (item.readable) row.push({ text: words.readHere, callback_data: encodeCallback({ kind: "read", ref: itemRef(item.key) }) });
  if (share && link) row.push({ text: words.share, url: `https://t.me/share/url?url=${encodeURIComponent(link)}` });
  return row.length > 0 ? { inline_keyboard: [row] } : undefined;
}

/** The link when it is a well-formed http(s) URL — `javascript:` and friends never become links. */
export function safeUrl(link: string | undefined): string | undefined {
  return httpUrl(link)?.href;
}

/** `#topic` for each topic but `all`; Telegram hashtags take letters, digits and `_` only. */
export function hashtags(topics: readonly string[]): string {
  return topics
    .filter((topic) => topic !== ALL_TOPIC)
    .map((topic) => `#${topic.replace(/[^\p{L}\p{N}_]/gu, "_")}`)
    .join(" ");
}

function linkPreviewFor(item: Item, link: string | undefined): LinkPreviewOptions {
  // An item with an image shows it as a large preview above the text; otherwise no preview, as
  // the summary already says what the page would.
  const image = safeUrl(item.image);
  if (!image || !link) return { is_disabled: true };
  return { url: link, prefer_large_media: true, show_above_text: true };
}

/**
 * The most the other sources' line takes (counted as raw HTML): with the title's and the
 * summary's limits, the message stays well within Telegram's 4,096 characters however long the
 * links are. Sources past it are counted, not named.
 */
const OTHER_SOURCES_CHARS = 1_500;

/** "Also in: RIA, Lenta", each linked where it has a link; empty without other sources. */
function otherSourcesLine(others: readonly OtherSource[], locale: Locale, html: boolean): string {
  if (others.length === 0) return "";
  const label = messages(locale).alsoIn;
  const named: string[] = [];
  let length = label.length + 2;
  for (const { source, link } of others) {
    const name = clip(source, 60);
    const url = safeUrl(link);
    const part = !html ? (url ? `${name} ${url}` : name) : url ? `<a href="${escapeHtml(url)}">${escapeHtml(name)}</a>` : escapeHtml(name);
    if (named.length > 0 && length + part.length + 2 > OTHER_SOURCES_CHARS) break;
    named.push(part);
    length += part.length + 2;
  }
  const more = others.length > named.length ? ` (+${others.length - named.length})` : "";
  return `${html ? escapeHtml(label) : label}: ${named.join(", ")}${more}`;
}

/** The HTML message for an item, in a chat's language, naming the story's other sources when it has some. */
export function renderItem(item: Item, { locale, share = false }: RenderOptions, others: readonly OtherSource[] = []): RenderedMessage {
  const link = safeUrl(item.link);
  const title = escapeHtml(clip(item.title.trim() || item.source, TITLE_LIMIT));
  const summary = escapeHtml(clip(item.summary.trim(), SUMMARY_LIMIT));
  const source = escapeHtml(clip(item.source, 100));
  const sourceLine = link
    ? `${source} · <a href="${escapeHtml(link)}">${escapeHtml(messages(locale).readMore)}</a>`
    : source;
  const tags = hashtags(item.topics);
  const text = [`<b>${title}</b>`, summary, [sourceLine, otherSourcesLine(others, locale, true), tags].filter(Boolean).join("\n")]
    .filter((part) => part.length > 0)
    .join("\n\n");
  const replyMarkup = itemButtons(item, link, locale, share);
  return { text, parseMode: "HTML", linkPreview: linkPreviewFor(item, link), ...(replyMarkup ? { replyMarkup } : {}) };
}

/**
 * The same message as plain text: what is sent when Telegram rejects the HTML one, so a
 * rendering bug costs formatting, never the message.
 */
export function renderPlain(item: Item, { locale, share = false }: RenderOptions, others: readonly OtherSource[] = []): RenderedMessage {
  const link = safeUrl(item.link);
  const text = [
    clip(item.title.trim() || item.source, TITLE_LIMIT),
    clip(item.summary.trim(), SUMMARY_LIMIT),
    [item.source, link].filter(Boolean).join(" · "),
    otherSourcesLine(others, locale, false),
    hashtags(item.topics),
  ]
    .filter((part) => part.length > 0)
    .join("\n\n");
  const replyMarkup = itemButtons(item, link, locale, share);
  return { text: clip(text, MESSAGE_LIMIT), linkPreview: { is_disabled: true }, ...(replyMarkup ? { replyMarkup } : {}) };
}

/**
 * Joins parts into as few messages as fit Telegram's limit (counted generously, as raw HTML), the
 * header first. A part is never split, and no message is empty.
 */
export function packMessages(header: string, parts: readonly string[], limit = MESSAGE_LIMIT): string[] {
  const messages: string[] = [];
  let current = header;
  for (const part of parts) {
    if (current && current.length + part.length + 2 > limit) {
      messages.push(current);
      current = part;
    } else {
      current = current ? `${current}\n\n${part}` : part;
    }
  }
  if (current) messages.push(current);
  return messages;
}
