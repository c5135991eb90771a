/**
 * Full-text extraction from an article page, in a defined order: Readability's article, read from
 * the page as it came (it weighs candidates by their text, and retries without its own name-based
 * pruning when that leaves too little); else the page's densest block of paragraphs. Chrome inside
 * the chosen block is pruned by what it holds (`pruneChrome`), and a text-level filter drops the
 * furniture that is left (`stripBoilerplate`). Whether this text or the feed's is summarised is
 * decided by the caller (`chooseText`).
 */
import { Readability } from "@mozilla/readability";
import { nodeToText, normaliseSpaces, parseDocument, pruneChrome } from "./html-text.js";
import type { DomDocument, DomElement } from "./html-text.js";
import { proseLength, stripBoilerplate } from "./furniture.js";
import { httpUrl } from "../text/url.js";
import type { ArticleHeading } from "../items/archive.js";

/** What an article page yields. */
export interface ExtractedArticle {
  /** The headline, as Readability reads it (og:title, <title> minus the site name, or <h1>). */
  title?: string;
  /** The article's paragraphs, separated by blank lines; "" when the page has none. */
  text: string;
  /** The article's headings (h1–h6) with the paragraph of `text` each comes before, in order. */
  headings: ArticleHeading[];
  /** Absolute URL of the lead image: og:image / twitter:image, else the article's first image. */
  image?: string;
  /** The language the page declares (`<html lang>`), as written there. */
  lang?: string;
}

/**
 * Extracts the article of a page fetched from `url` (used to resolve relative links and image
 * URLs): Readability's article, or, when it finds none or nothing of it is prose, the page's
 * densest run of `<p>` paragraphs. Never throws on a malformed page.
 */
export function extractArticle(html: string, url: string): ExtractedArticle {
  const document = parseDocument(html);
  const base = pageBase(document, url);
  setDocumentUrl(document, url, base);
  const metaImage = metaImageUrl(document, base);

  const article = readArticle(document);
  const content = article && pruneChrome(article.content);
  const text = content === undefined ? "" : stripBoilerplate(nodeToText(content));
  const image = metaImage ?? firstImage(article?.content, base);
  const prose = proseLength(text) > 0;
  // The fallback parses the page afresh: Readability has taken nodes out of `document`.
  const result: ExtractedArticle = {
    text: prose ? text : stripBoilerplate(densestParagraphRun(pruneChrome(parseDocument(html).body))),
    headings: prose && content ? headingsOf(content, text) : [],
  };
  if (article?.title) result.title = normaliseSpaces(article.title);
  if (image !== undefined) result.image = image;
  if (article?.lang) result.lang = article.lang;
  return result;
}

/** How much of the paragraph after a heading identifies it in the text. */
const HEADING_ANCHOR_CHARS = 60;

/**
 * `root`'s h1–h6, each with the beginning of the paragraph of `text` that follows it on the page
 * (the first paragraph of its next element with text, from the heading before it on). A heading
 * whose next paragraph is not in `text` (dropped as furniture, or it ends the article) is left out.
 */
function headingsOf(root: DomElement, text: string): ArticleHeading[] {
  const paragraphs = text.split("\n\n");
  const headings: ArticleHeading[] = [];
  let from = 0;
  for (const element of root.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    const heading = nodeToText(element);
    let next = element.nextElementSibling;
    while (next !== null && nodeToText(next) === "") next = next.nextElementSibling;
    const anchor = next === null ? "" : nodeToText(next).split("\n\n", 1)[0]!.slice(0, HEADING_ANCHOR_CHARS);
    const before = anchor === "" ? -1 : paragraphs.findIndex((paragraph, index) => index >= from && paragraph.startsWith(anchor));
    if (heading === "" || before === -1) continue;
    headings.push({ text: heading, before: anchor });
    from = before;
  }
  return headings;
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
 * Expects a body already pruned of page chrome (one pass, not an ancestor walk per paragraph).
 */
function densestParagraphRun(body: DomElement): string {
  const runs = new Map<DomElement, string[]>();
  for (const p of body.querySelectorAll("p")) {
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
