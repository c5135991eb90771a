/**
 * An archived article as one rich message (Bot API `sendRichMessage`, blocks form): the title as
 * a heading, the lead image, the page's headings and paragraphs, and a footer with the source,
 * the date and the link. Within Telegram's limits (32,768 characters of text, 500 blocks): an
 * article past them is cut after its last paragraph that fits, and ends with a link to the rest.
 * Blocks carry plain strings, so nothing from a page is ever read as markup.
 */
import type { InputRichBlock, InputRichMessage, RichText } from "grammy/types";
import type { ArticleText } from "../items/archive.js";
import type { Item } from "../items/item.js";
import { messages, type Locale } from "../i18n/i18n.js";
import { clip } from "../text/clip.js";
import { safeUrl } from "./render.js";

/** Telegram's limits of a rich message: characters of text (code points), and blocks. */
export const RICH_TEXT_LIMIT = 32_768;
export const RICH_BLOCK_LIMIT = 500;

/** Characters kept for the footer and the "rest of the article" line, whatever the article takes. */
const FOOTER_RESERVE = 1_200;
const TITLE_LIMIT = 300;
/** One paragraph at most: a page that is one enormous paragraph is still cut, not dropped. */
const PARAGRAPH_LIMIT = 8_000;

type Block = InputRichBlock;

const length = (text: string): number => [...text].length;

/** The text of a rich text, for counting. */
function textOf(text: RichText): string {
  if (typeof text === "string") return text;
  if (Array.isArray(text)) return text.map(textOf).join("");
  return "text" in text ? textOf(text.text as RichText) : "";
}

/**
 * The headings by the paragraph each comes before: in page order, each at the first paragraph
 * from the previous heading's on that begins as it says. A heading with none there lost its
 * paragraph (the text is filtered again after extraction) and is left out; the rest keep their places.
 */
function placeHeadings(headings: ArticleText["headings"], paragraphs: readonly string[]): Map<number, string[]> {
  const placed = new Map<number, string[]>();
  let from = 0;
  for (const { text, before } of headings) {
    const at = paragraphs.findIndex((paragraph, index) => index >= from && paragraph.startsWith(before));
    if (at === -1) continue;
    placed.set(at, [...(placed.get(at) ?? []), text]);
    from = at;
  }
  return placed;
}

/**
 * The article's message. `withImage`: include the lead image (false when Telegram could not
 * fetch it, so the text still goes).
 */
export function richArticle(item: Item, article: ArticleText, locale: Locale, withImage = true): InputRichMessage {
  const words = messages(locale);
  const link = safeUrl(item.link);
  const image = withImage ? safeUrl(article.image ?? item.image) : undefined;
  const date = new Date(item.publishedAt).toISOString().slice(0, 16).replace("T", " ");
  const footer: Block = {
    type: "footer",
    text: [`${clip(item.source, 100)} · ${date} UTC`, ...(link ? [" · ", { type: "url", text: words.readSource, url: link } as RichText] : [])],
  };
  const blocks: Block[] = [{ type: "heading", size: 1, text: clip(item.title.trim() || item.source, TITLE_LIMIT) }];
  if (image) blocks.push({ type: "photo", photo: { type: "photo", media: image } });

  let used = blocks.reduce((sum, block) => sum + ("text" in block ? length(textOf(block.text)) : 0), 0) + length(textOf(footer.text));
  // The page's own headline is the first heading already.
  const paragraphs = article.text.split("\n\n").filter((paragraph, index) => paragraph.trim() !== "" && !(index === 0 && paragraph === item.title.trim()));
  const headingsBefore = placeHeadings(article.headings, paragraphs);
  let cut = false;
  for (const [index, paragraph] of paragraphs.entries()) {
    const text = clip(paragraph, PARAGRAPH_LIMIT);
    const before = (headingsBefore.get(index) ?? []).map((heading) => clip(heading, TITLE_LIMIT));
    const adds = [...before, text];
    const adding = adds.reduce((sum, part) => sum + length(part), 0);
    // The blocks still to come: the "rest" line and the footer.
    if (used + adding > RICH_TEXT_LIMIT - FOOTER_RESERVE || blocks.length + adds.length + 2 > RICH_BLOCK_LIMIT) {
      cut = true;
      break;
    }
    used += adding;
    for (const heading of before) blocks.push({ type: "heading", size: 2, text: heading });
    blocks.push({ type: "paragraph", text });
  }
  if (cut) {
    blocks.push({ type: "paragraph", text: link ? [{ type: "italic", text: "… " }, { type: "url", text: words.readRest, url: link }] : "…" });
  }
  blocks.push(footer);
  return { blocks };
}
