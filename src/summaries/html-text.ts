/**
 * HTML to plain text, the way a reader would read it: the prose only, paragraph by paragraph,
 * without scripts, media, tables or the site's navigation / share / newsletter / related boxes
 * (judged by what they hold, not by their names alone).
 */
import { parseHTML } from "linkedom";

/** Elements whose content is never prose a summary could quote. */
const NON_TEXT_TAGS = new Set([
  "head", "title", "meta", "link", "base",
  "script", "style", "noscript", "template",
  "iframe", "object", "embed", "svg", "canvas", "math",
  "figure", "figcaption", "picture", "img", "video", "audio", "source", "track",
  "table", "select", "textarea", "input", "button",
]);

/** Page furniture around an article: navigation, sidebars, forms, footers. */
const CHROME_TAGS = new Set(["nav", "aside", "form", "footer", "dialog"]);

/** The containers a page puts its article in: a stray class on them must not drop the article. */
const CONTENT_ROOTS = new Set(["html", "body", "main"]);

/** ARIA roles that mark the same furniture when sites use plain divs. */
const CHROME_ROLES = new Set(["navigation", "complementary", "contentinfo", "search", "dialog"]);

/**
 * One class or id name that marks a box of ads, sharing buttons, related links, newsletter or
 * comment prompts. A word counts only whole between `-`/`_` separators, so "header" is not "ad"
 * and "download" is not "ad".
 */
const BOILERPLATE_NAME =
  /(?:^|[-_])(?:ads?|adv|advert\w*|adsbygoogle|adslot|banner|promo\w*|sponsor\w*|share\w*|sharing|social\w*|related\w*|recommend\w*|read-?also|newsletter\w*|subscribe\w*|subscription\w*|signup|paywall|outbrain|taboola|comments?|disqus|cookie\w*|gdpr)(?:$|[-_])/i;

/** WordPress gives an article `tag-<slug>` / `category-<slug>` classes from its own tags: not boxes. */
const TAXONOMY_CLASS = /^(?:tag|category)-/i;

/** Elements that start and end a paragraph. */
const BLOCK_TAGS = new Set([
  "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
  "blockquote", "pre", "section", "article", "main", "header", "address", "hr", "br",
  "details", "summary",
]);

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;

/** The part of a DOM node this stage reads. (linkedom's own typings lean on lib.dom, which this project does not load.) */
export interface DomNode {
  readonly nodeType: number;
  readonly nodeValue: string | null;
  readonly textContent: string | null;
  readonly childNodes: Iterable<DomNode>;
}

/** The part of a DOM element this stage reads or changes. */
export interface DomElement extends DomNode {
  readonly localName: string;
  readonly parentElement: DomElement | null;
  readonly nextElementSibling: DomElement | null;
  readonly children: Iterable<DomElement>;
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
  querySelector(selectors: string): DomElement | null;
  querySelectorAll(selectors: string): Iterable<DomElement>;
  remove(): void;
}

/** A parsed page: always with a document element and a body. */
export interface DomDocument {
  readonly documentElement: DomElement;
  readonly body: DomElement;
  querySelector(selectors: string): DomElement | null;
  querySelectorAll(selectors: string): Iterable<DomElement>;
}

/** Something that opens a tag, comment or declaration; "a < b" alone is plain text. */
const MARKUP = /<[a-z!/?]/i;
const FULL_PAGE = /<html[\s>]/i;
const HAS_BODY = /<body[\s>]/i;

/**
 * Parses a page or a fragment with linkedom. linkedom builds no document element for a bare
 * fragment (and puts tag-less pages' content beside an empty body), so anything that is not a
 * whole page with a body is parsed inside an html/body wrapper.
 */
export function parseDocument(html: string): DomDocument {
  if (FULL_PAGE.test(html) && HAS_BODY.test(html)) {
    const { document } = parseHTML(html);
    if (document.documentElement !== null && document.body !== null) return document as DomDocument;
  }
  return parseHTML(`<!DOCTYPE html><html><head></head><body>${html}</body></html>`).document as DomDocument;
}

/**
 * True for an element whose tag, role or class/id names page chrome: navigation, sidebars, forms,
 * footers, boxes named ad / share / related / newsletter / comments. A name alone decides
 * nothing: real pages wrap whole articles in `<form id="aspnetForm">`, `<div class="article-share">`
 * or `<div class="page-banner">`; {@link pruneChrome} weighs what such an element holds.
 */
function looksLikeChrome(element: DomElement): boolean {
  const tag = element.localName;
  if (CONTENT_ROOTS.has(tag)) return false;
  if (CHROME_TAGS.has(tag)) return true;
  const role = element.getAttribute("role");
  if (role !== null && CHROME_ROLES.has(role.toLowerCase())) return true;
  const names = [...(element.getAttribute("class") ?? "").split(/\s+/), element.getAttribute("id") ?? ""];
  return names.some((name) => name !== "" && !TAXONOMY_CLASS.test(name) && BOILERPLATE_NAME.test(name));
}

/**
 * An element named as chrome that holds at least this share of its root's text is the article's
 * wrapper, not a box beside it (a share bar, a newsletter prompt or a list of related links holds
 * a small part of a page's words).
 */
const ARTICLE_SHARE = 0.3;

/** Link text over all text: navigation and "related" lists are mostly links, prose is not. */
const MAX_ARTICLE_LINK_DENSITY = 0.5;

/** Visible characters of a node's text (whitespace left out, so indentation weighs nothing). */
function textWeight(node: DomNode): number {
  return (node.textContent ?? "").replace(/\s+/gu, "").length;
}

function linkDensity(element: DomElement, weight: number): number {
  if (weight === 0) return 0;
  let links = 0;
  for (const link of element.querySelectorAll("a")) links += textWeight(link);
  return links / weight;
}

/**
 * Removes the page chrome under `root` and returns it: every element named as chrome
 * (`looksLikeChrome`) that is mostly links or holds little of `root`'s text. What decides is
 * how much of the text an element holds, so a wrapper around the article stays whatever its name.
 */
export function pruneChrome<T extends DomElement>(root: T): T {
  const total = textWeight(root);
  const removed = new Set<DomElement>();
  const inRemoved = (element: DomElement): boolean => {
    for (let up = element.parentElement; up !== null && up !== root; up = up.parentElement) if (removed.has(up)) return true;
    return false;
  };
  for (const element of [...root.querySelectorAll("*")].filter(looksLikeChrome)) {
    if (inRemoved(element)) continue;
    const weight = textWeight(element);
    if (weight >= ARTICLE_SHARE * total && linkDensity(element, weight) < MAX_ARTICLE_LINK_DENSITY) continue;
    removed.add(element);
  }
  for (const element of removed) element.remove();
  return root;
}

/** True for an element to leave out of the text entirely. */
function isDropped(element: DomElement): boolean {
  return NON_TEXT_TAGS.has(element.localName) || element.hasAttribute("hidden");
}

/** Collects text into paragraphs; a block boundary closes the paragraph being written. */
class ParagraphWriter {
  readonly paragraphs: string[] = [];
  private current = "";

  text(value: string): void {
    this.current += value;
  }

  /** Ends the current paragraph, keeping it only if it has visible characters. */
  break(): void {
    const paragraph = normaliseSpaces(this.current);
    if (paragraph !== "") this.paragraphs.push(paragraph);
    this.current = "";
  }
}

/** A step of the walk: a node to enter, or the end of a block element to close. */
type Step = DomNode | typeof END_BLOCK;
const END_BLOCK = Symbol("end of block");

/**
 * Writes the text of `root` in document order. Iterative, not recursive: broken markup can
 * nest thousands of unclosed tags deep, more than the call stack holds.
 */
function walk(root: DomNode, out: ParagraphWriter): void {
  const steps: Step[] = [root];
  for (let step = steps.pop(); step !== undefined; step = steps.pop()) {
    if (step === END_BLOCK) {
      out.break();
    } else if (step.nodeType === TEXT_NODE) {
      out.text(step.nodeValue ?? "");
    } else if (step.nodeType === ELEMENT_NODE) {
      const element = step as DomElement;
      if (isDropped(element)) {
        // A dropped inline element still separates the words on either side of it.
        out.text(" ");
        continue;
      }
      const block = BLOCK_TAGS.has(element.localName);
      if (block) {
        out.break();
        steps.push(END_BLOCK);
      }
      const children = [...element.childNodes];
      for (let i = children.length - 1; i >= 0; i--) steps.push(children[i] as DomNode);
    } // comments, CDATA and processing instructions carry no text
  }
}

/** Collapses every run of whitespace (including no-break spaces) to one space and trims. */
export function normaliseSpaces(text: string): string {
  return text.replace(/\s+/gu, " ").trim();
}

/**
 * Plain text of an HTML fragment or page, its chrome pruned (`pruneChrome`): paragraphs separated by a blank line (`\n\n`),
 * single spaces inside a paragraph, entities decoded once (so `&amp;amp;` reads `&amp;`),
 * no empty paragraphs. Plain text without tags comes back with its whitespace normalised
 * (blank lines stay paragraph breaks). Broken markup is parsed leniently (unclosed,
 * misnested and unknown tags included); it never throws.
 */
export function htmlToText(html: string): string {
  if (!MARKUP.test(html)) return plainTextParagraphs(decodeEntities(html));
  return nodeToText(pruneChrome(parseDocument(html).body));
}

/** The text of an already parsed node, as `htmlToText` writes it, without pruning chrome (its own tag counts too: a dropped root gives ""). */
export function nodeToText(node: DomNode): string {
  const out = new ParagraphWriter();
  walk(node, out);
  out.break();
  return out.paragraphs.join("\n\n");
}

/** Entities of tag-free text, decoded the same way as in markup. */
function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return parseDocument(text).body.textContent ?? "";
}

/** Blank-line-separated paragraphs of plain text, each with its whitespace collapsed. */
function plainTextParagraphs(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map(normaliseSpaces)
    .filter((paragraph) => paragraph !== "")
    .join("\n\n");
}
