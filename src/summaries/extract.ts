/**
 * Full-text extraction from an article page: Readability finds the article, `htmlToText` turns
 * it into paragraphs, and a text-level filter drops the site furniture Readability lets through
 * (counters, photo credits, "read also" links, newsletter and comment prompts, copyright lines).
 */
import { Readability } from "@mozilla/readability";
import { isPageChrome, nodeToText, normaliseSpaces, parseDocument } from "./html-text.js";
import type { DomDocument, DomElement } from "./html-text.js";
import { SENTENCE_END } from "./summarize.js";
import { httpUrl } from "../text/url.js";

/** What an article page yields. */
export interface ExtractedArticle {
  /** The headline, as Readability reads it (og:title, <title> minus the site name, or <h1>). */
  title?: string;
  /** The article's paragraphs, separated by blank lines; "" when the page has none. */
  text: string;
  /** Absolute URL of the lead image: og:image / twitter:image, else the article's first image. */
  image?: string;
  /** The language the page declares (`<html lang>`), as written there. */
  lang?: string;
}

/**
 * Extracts the article of a page fetched from `url` (used to resolve relative links and image
 * URLs). Falls back to the page's longest run of `<p>` paragraphs when Readability finds no
 * article. Never throws on a malformed page.
 */
export function extractArticle(html: string, url: string): ExtractedArticle {
  const document = parseDocument(html);
  const base = pageBase(document, url);
  setDocumentUrl(document, url, base);
  const metaImage = metaImageUrl(document, base);
  pruneChrome(document);

  const article = readArticle(document);
  const text = stripBoilerplate(article === undefined ? "" : nodeToText(article.content));
  const image = metaImage ?? firstImage(article?.content, base);
  // The fallback parses the page afresh: pruning and Readability have taken nodes out of `document`.
  const result: ExtractedArticle = {
    text: text !== "" ? text : stripBoilerplate(longestParagraphRun(pruneChrome(parseDocument(html)))),
  };
  if (article?.title) result.title = normaliseSpaces(article.title);
  if (image !== undefined) result.image = image;
  if (article?.lang) result.lang = article.lang;
  return result;
}

/** Removes navigation, sidebars, share and newsletter boxes and the like; returns the document. */
function pruneChrome(document: DomDocument): DomDocument {
  for (const chrome of [...document.body.querySelectorAll("*")].filter(isPageChrome)) chrome.remove();
  return document;
}

interface ReadArticle {
  title?: string | null;
  lang?: string | null;
  content: DomElement;
}

/**
 * Deeper than any real page. Readability's time grows steeply with nesting depth (seconds at a
 * few hundred levels, a stack overflow at a few thousand), which unclosed tags can produce.
 */
const MAX_READABLE_DEPTH = 200;

/** True when `root` has an element nested deeper than `limit` levels below it. */
function nestedDeeperThan(root: DomElement, limit: number): boolean {
  const stack: Array<[DomElement, number]> = [[root, 0]];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const [element, depth] = entry;
    if (depth > limit) return true;
    for (const child of element.children) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Readability's article, its content kept as a DOM element; undefined when it finds none or the
 * page is nested too deep for it.
 */
function readArticle(document: DomDocument): ReadArticle | undefined {
  if (nestedDeeperThan(document.body, MAX_READABLE_DEPTH)) return undefined;
  try {
    // linkedom's typings are written against lib.dom, which the project does not load.
    const reader = new Readability<DomElement>(document as never, { serializer: (node) => node as unknown as DomElement });
    const parsed = reader.parse();
    return parsed?.content ? { title: parsed.title, lang: parsed.lang, content: parsed.content } : undefined;
  } catch {
    // Readability walks whatever linkedom built from untrusted markup; a page it chokes on
    // still has paragraphs.
    return undefined;
  }
}

/** The page's `<base href>` resolved against its URL, else the URL itself (if it parses). */
function pageBase(document: DomDocument, url: string): string | undefined {
  const href = document.querySelector("base[href]")?.getAttribute("href");
  return (href ? absoluteUrl(href, url) : undefined) ?? absoluteUrl(url);
}

/**
 * Readability resolves relative links against `document.baseURI` / `documentURI`, which
 * linkedom leaves unset (or raw from `<base>`): give the document its real address.
 */
function setDocumentUrl(document: DomDocument, url: string, base: string | undefined): void {
  if (base === undefined) return;
  Object.defineProperty(document, "documentURI", { value: absoluteUrl(url) ?? base });
  Object.defineProperty(document, "baseURI", { value: base });
}

/** `href` as an absolute http(s) URL, or undefined when it is none. */
function absoluteUrl(href: string, base?: string): string | undefined {
  return httpUrl(href, base)?.href;
}

const IMAGE_META = [
  'meta[property="og:image"]',
  'meta[property="og:image:url"]',
  'meta[name="twitter:image"]',
  'meta[property="twitter:image"]',
];

/** The image the page names for sharing (og:image, twitter:image). */
function metaImageUrl(document: DomDocument, base: string | undefined): string | undefined {
  for (const selector of IMAGE_META) {
    const content = document.querySelector(selector)?.getAttribute("content");
    const image = content ? absoluteUrl(content, base) : undefined;
    if (image !== undefined) return image;
  }
  return undefined;
}

/** The first image inside the article Readability kept. */
function firstImage(content: DomElement | undefined, base: string | undefined): string | undefined {
  const src = content?.querySelector("img[src]")?.getAttribute("src");
  return src ? absoluteUrl(src, base) : undefined;
}

/**
 * The text of the `<p>` elements of the one parent that holds the most paragraph text: the
 * article body of a page Readability cannot read, since sidebars and footers hold fewer words.
 * Expects a document already pruned of page chrome (one pass, not an ancestor walk per paragraph).
 */
function longestParagraphRun(document: DomDocument): string {
  const runs = new Map<DomElement, string[]>();
  for (const p of document.body.querySelectorAll("p")) {
    const parent = p.parentElement;
    const text = nodeToText(p);
    if (parent === null || text === "") continue;
    const run = runs.get(parent);
    if (run) run.push(text);
    else runs.set(parent, [text]);
  }
  let best: string[] = [];
  for (const run of runs.values()) if (textLength(run) > textLength(best)) best = run;
  return best.join("\n\n");
}

function textLength(paragraphs: string[]): number {
  return paragraphs.reduce((sum, paragraph) => sum + paragraph.length, 0);
}

// ---------------------------------------------------------------------------------------------
// Text-level boilerplate

/**
 * A non-sentence paragraph (no terminal punctuation) this long is still prose, e.g. a text whose
 * last full stop was lost; shorter ones are headings, bylines, counters, captions and lists of
 * other headlines.
 */
const MIN_UNPUNCTUATED_PROSE_WORDS = 25;

/** Furniture is short; a paragraph this long is article even if it mentions copyright. */
const MAX_BOILERPLATE_WORDS = 30;

/** Letter-or-digit boundary that works for Cyrillic too (`\b` is ASCII-only). */
const END = "(?![\\p{L}\\p{N}])";

/** Paragraphs of site furniture that do look like sentences. */
const BOILERPLATE: RegExp[] = [
  // image and photo credits
  new RegExp(
    `^(?:image source|image|photo(?:graph)?s?|pictures?|illustration|credits?|фото(?:графия)?|иллюстрация|изображение|источник(?: фото| изображения)?)${END}\\s*[:©]`,
    "iu",
  ),
  /^©/u,
  // "read also" links
  new RegExp(
    `^(?:read (?:also|more)|see also|related|more on this|читайте (?:также|тоже|ещ[её])|смотрите также|также читайте|по теме)${END}`,
    "iu",
  ),
  // share prompts
  new RegExp(`^(?:share (?:this|on|via)|share$|поделит(?:ь|е)ся${END})`, "iu"),
  // newsletter and subscription boxes
  new RegExp(`^(?:subscribe|sign up|подпи(?:шитесь|сывайтесь|ска)${END})|newsletter|рассылк`, "iu"),
  // comment prompts
  /(?:leave|post|add|write) a comment|join the discussion|оставить комментарий|^comments?(?: \(\d+\))?$|^комментари[ий](?: \(\d+\))?$/iu,
  // log-in links
  /^(?:sign in|log in|login|register|войти|вход|регистрация)$/iu,
  // the line WordPress (Yoast SEO) appends to feed items, in English and Russian translations
  /^the post .+ appeared first on .+/iu,
  /^(?:сообщение|запись) .+ (?:появились сначала|впервые появилась) на .+/iu,
];

/** Furniture that only comes after the article: everything from it on is page footer. */
const END_OF_ARTICLE =
  /©\s*\d{4}|all rights reserved|все права защищены|rights to this material|права на (?:этот |данный )?материал|(?:leave|post|add|write) a comment|оставить комментарий/iu;

function wordCount(paragraph: string): number {
  return paragraph.split(" ").length;
}

/** True for a paragraph that reads as prose rather than as a heading, label or counter. */
function isProse(paragraph: string): boolean {
  return SENTENCE_END.test(paragraph) || wordCount(paragraph) >= MIN_UNPUNCTUATED_PROSE_WORDS;
}

/** True for a short paragraph of site furniture. */
function isBoilerplate(paragraph: string): boolean {
  return wordCount(paragraph) <= MAX_BOILERPLATE_WORDS && BOILERPLATE.some((pattern) => pattern.test(paragraph));
}

/** True for a short paragraph that only a page footer or comment section has. */
function isFooter(paragraph: string): boolean {
  return wordCount(paragraph) <= MAX_BOILERPLATE_WORDS && END_OF_ARTICLE.test(paragraph);
}

function isArticleProse(paragraph: string): boolean {
  return isProse(paragraph) && !isBoilerplate(paragraph);
}

/**
 * Drops the site furniture from article text (one paragraph or line per `\n`): credits, share,
 * newsletter, comment and log-in prompts, WordPress's "The post … appeared first on …"; everything from a copyright line or comment prompt
 * that follows the article on; and, once the text has prose at all, every short paragraph that
 * is not a sentence (headings, bylines, counters, lists of other headlines), since a summary is
 * made of sentences. A text with no prose at all keeps its other lines, so a feed's one-line
 * blurb without a full stop survives. Returns paragraphs separated by blank lines.
 */
export function stripBoilerplate(text: string): string {
  const paragraphs = text
    .split("\n")
    .map(normaliseSpaces)
    .filter((paragraph) => paragraph !== "");
  const firstProse = paragraphs.findIndex(isArticleProse);
  if (firstProse === -1) return paragraphs.filter((paragraph) => !isBoilerplate(paragraph)).join("\n\n");
  const footer = paragraphs.findIndex((paragraph, i) => i > firstProse && isFooter(paragraph));
  return paragraphs
    .slice(0, footer === -1 ? undefined : footer)
    .filter(isArticleProse)
    .join("\n\n");
}
