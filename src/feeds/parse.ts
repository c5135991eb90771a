/**
 * Feed text to `ParsedFeed`: RSS 0.9x/1.0 (RDF)/2.0 and Atom 0.3/1.0 through rss-parser, JSON Feed
 * 1.0/1.1 directly. Everything rss-parser hands back is treated as unknown shape (strings, arrays,
 * xml2js element objects), and every failure becomes a `FetchError` saying whether the document was
 * no feed at all ("not-a-feed") or a broken one ("unparseable").
 */
import { DOMParser, parseHTML } from "linkedom";
import Parser from "rss-parser";
import type { FeedEntry, ParsedFeed } from "../items/item.js";
import { parseFeedDate } from "./dates.js";
import { FetchError } from "./fetch.js";
import { httpUrl } from "../text/url.js";
import { escapeHtml } from "../text/html.js";
import { stripControls, stripControlsFromMarkup } from "../text/controls.js";

type Raw = Record<string, unknown>;

/**
 * Item fields rss-parser should copy besides its defaults (which include `content:encoded` and, for
 * the feed, `ttl`): all elements (`keepArray`) of the kinds chosen among here rather than by
 * rss-parser, which keeps only the first; and Atom 0.3's dates, which its Atom code does not read.
 */
const ITEM_FIELDS: (string | [string, string, { keepArray: true }])[] = [
  ["$", "attributes", { keepArray: true }],
  ["link", "links", { keepArray: true }],
  ["category", "categoryElements", { keepArray: true }],
  ["dc:subject", "subjects", { keepArray: true }],
  ["enclosure", "enclosures", { keepArray: true }],
  ["media:content", "mediaContents", { keepArray: true }],
  ["media:thumbnail", "mediaThumbnails", { keepArray: true }],
  ["media:group", "mediaGroups", { keepArray: true }],
  "issued",
  "modified",
];

/** Local names of the root elements rss-parser reads. */
const FEED_ROOTS = new Set(["rss", "RDF", "feed"]);
/** What follows the `&` of a character reference, and of a reference to an entity XML itself defines. */
const CHARACTER_REFERENCE = String.raw`#\d+;|#x[\da-fA-F]+;`;
const XML_ENTITY_REFERENCE = "(?:amp|lt|gt|quot|apos);";
/** An `&` that starts no reference, as in `?a=1&b=2` or `Fish & Chips` (HTML's `&nbsp;` is one). */
const STRAY_AMPERSAND = new RegExp(String.raw`&(?!${CHARACTER_REFERENCE}|[A-Za-z][A-Za-z\d]*;)`, "g");
/** A CDATA section (left alone by repairs), else an `&` that is not well-formed XML. */
const CDATA_OR_XML_STRAY_AMPERSAND = new RegExp(
  String.raw`<!\[CDATA\[[\s\S]*?(?:\]\]>|$)|&(?!${CHARACTER_REFERENCE}|${XML_ENTITY_REFERENCE})`,
  "g",
);
/** XML declaration, processing instructions, comments, doctype and whitespace before the root element. */
const PROLOG = /^(?:\s+|<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE(?:[^[>]|\[[\s\S]*?\])*>)*/i;
/**
 * A `<` that does not open an HTML tag a title could carry. Titles are meant to be plain text, so
 * "Trade <war> ahead" keeps its words; only real markup (<b>, <br/>, <a href>, …) is stripped.
 */
const LITERAL_ANGLE = /<(?!\/?(?:a|abbr|b|big|br|cite|code|del|em|font|i|img|ins|mark|p|q|s|small|span|strike|strong|sub|sup|u|wbr)\b|!--)/gi;
/**
 * An element whose content is text or HTML (RSS title, description, content:encoded; Atom text
 * constructs; media:title…): its name, attributes and content. Content ends at the first end tag
 * of the same name; none of these nests in itself.
 */
const TEXT_ELEMENT =
  /<((?:[\w.-]+:)?(?:title|description|encoded|summary|content|subtitle|rights))(\s[^>]*?)?(?<!\/)>([\s\S]*?)<\/\1\s*>/g;
const XHTML_TYPE = /\stype\s*=\s*["']xhtml["']/;
/** Markup: a start or end tag, or a comment. */
const MARKUP = /<[/!]?[A-Za-z]/;
const IMAGE_EXTENSION = /\.(?:jpe?g|png|gif|webp|avif|bmp|svg)$/i;

/** One element of a scratch HTML document, to decode entities and drop tags by HTML's own rules. */
const scratch: { innerHTML: string; textContent: string | null } = parseHTML(
  "<!doctype html><html><body></body></html>",
).document.createElement("div");

/**
 * Parses a feed document. Relative links resolve against xml:base, else the feed's own link, else
 * `feedUrl`. Throws `FetchError` "not-a-feed" for an empty document, an HTML page, other XML or
 * other JSON, and "unparseable" for XML or JSON that can't be read even after repairing stray
 * ampersands, HTML entities and truncation.
 */
export async function parseFeed(text: string, feedUrl: string): Promise<ParsedFeed> {
  // Whitespace or a BOM before `<?xml` is a fatal error for the XML parser, and common. Controls
  // go before parsing, as XML rejects `&#27;` and JSON a raw NUL, and again from each field, where
  // they arrive escaped twice or as JSON escapes.
  const body = stripControlsFromMarkup(text).replace(/^[\s\uFEFF]+/, "");
  if (body === "") throw new FetchError("not-a-feed", `empty document from ${feedUrl}`);
  if (body.startsWith("{")) return parseJsonFeed(body, feedUrl);
  const root = rootTag(body);
  if (root === undefined) {
    throw new FetchError("unparseable", `${body.startsWith("<") ? "XML without a root element" : "neither XML nor JSON"} from ${feedUrl}`);
  }
  const [prefix, local] = splitName(root.name);
  if (local.toLowerCase() === "html") throw new FetchError("not-a-feed", `HTML page, not a feed, from ${feedUrl}`);
  if (!FEED_ROOTS.has(local)) {
    throw new FetchError("not-a-feed", `XML with root <${root.name}>, not a feed, from ${feedUrl}`);
  }
  // rss-parser crashes on an RSS or RDF document without a channel; such a stub has no entries.
  if (local !== "feed" && !/<(?:[\w.-]+:)?channel[\s>/]/.test(body)) return { entries: [] };
  const feed = await readXml(markupAsHtml(body), root.name, local === "feed" ? prefix : undefined, feedUrl);
  const rootBase = resolveUrl(root.attributes.match(/\sxml:base\s*=\s*["']([^"']*)["']/)?.[1], feedUrl);
  return toParsedFeed(feed, feedUrl, rootBase);
}

/** The root element's name and attribute text, or undefined when the document doesn't start like XML. */
function rootTag(xml: string): { name: string; attributes: string } | undefined {
  const prologLength = xml.match(PROLOG)?.[0].length ?? 0;
  const match = xml.slice(prologLength).match(/^<([A-Za-z_][\w.:-]*)([^>]*)/);
  return match?.[1] === undefined ? undefined : { name: match[1], attributes: match[2] ?? "" };
}

/**
 * Markup written out inside text elements (`<title>Storm <b>warning</b></title>`, an Atom
 * `type="xhtml"` content, a description with a bare `<br>`) put in CDATA, as the HTML it is meant
 * as. rss-parser hands back such an element's own text apart from its children's ("…in our ."
 * where a link stood), and one unclosed `<br>` breaks the document; as HTML the words keep their
 * order and the tag is HTML's to forgive. XML's escapes mean the same in HTML, so nothing else
 * changes. For xhtml the type becomes html, and the wrapping div and the prefix bound to the
 * XHTML namespace (`<h:p>`) go, as HTML knows no namespaces.
 */
function markupAsHtml(xml: string): string {
  const prefix = xml.match(/\sxmlns:([\w.-]+)\s*=\s*["']http:\/\/www\.w3\.org\/1999\/xhtml["']/)?.[1];
  const unprefixed = prefix === undefined ? undefined : new RegExp(`<(/?)${prefix.replace(/\./g, "\\.")}:`, "g");
  return xml.replace(TEXT_ELEMENT, (element, name: string, attributes = "", content: string) => {
    // Content holding a start tag of its own name ran past a broken end tag: no text to wrap.
    if (!MARKUP.test(content) || content.includes("<![CDATA[") || content.includes(`<${name}`)) return element;
    let html = content;
    if (XHTML_TYPE.test(attributes)) {
      const xhtml = (unprefixed === undefined ? content : content.replace(unprefixed, "<$1")).trim();
      // The one <div> Atom wraps the markup in is not part of it.
      html = xhtml.match(/^<div\b[^>]*>([\s\S]*)<\/div>$/)?.[1] ?? xhtml;
    }
    const type = attributes.replace(XHTML_TYPE, ' type="html"');
    return `<${name}${type}><![CDATA[${html.replaceAll("]]>", "]]]]><![CDATA[>")}]]></${name}>`;
  });
}

/** `[prefix, localName]` of a qualified XML name; the prefix is undefined when there is none. */
function splitName(name: string): [string | undefined, string] {
  const colon = name.indexOf(":");
  return colon < 0 ? [undefined, name] : [name.slice(0, colon), name.slice(colon + 1)];
}

/**
 * rss-parser's output for `xml`; when that fails, for a copy with stray ampersands and truncation
 * repaired, and then for that copy read leniently (see {@link lenientXml}), which is taken only
 * when it gives entries. `atomPrefix` names a prefixed Atom root.
 */
async function readXml(xml: string, rootName: string, atomPrefix: string | undefined, feedUrl: string): Promise<Raw> {
  // A fresh parser each time: xml2js reused after an error goes on leniently, its own way.
  const parse = (text: string) => rssParser(atomPrefix).parseString(text);
  try {
    return await parse(xml);
  } catch (error) {
    const repaired = closeTruncated(escapeStrayAmpersands(xml), rootName);
    if (repaired !== xml) {
      try {
        return await parse(repaired);
      } catch {
        // The first error describes the original document better.
      }
    }
    // A document cut off inside its first item has nothing whole to read leniently.
    if (hasEndTag(repaired, rootName)) {
      const lenient = await parse(markupAsHtml(lenientXml(repaired))).catch(() => undefined);
      if (lenient !== undefined && asArray(lenient.items).length > 0) return lenient;
    }
    throw new FetchError("unparseable", `unparseable feed from ${feedUrl}: ${oneLine(error)}`, { cause: error });
  }
}

/**
 * `xml` read as the browsers' XML-tolerant parsers do and written out again well-formed: an
 * unclosed element ends where its parent does, a stray end tag is ignored. One broken tag then
 * costs at most the item it is in, not the whole feed.
 */
function lenientXml(xml: string): string {
  return new DOMParser().parseFromString(xml, "text/xml").toString();
}

function rssParser(atomPrefix: string | undefined): Parser<Raw, Raw> {
  const tagNameProcessors =
    atomPrefix === undefined ? [] : [(name: string) => (name.startsWith(`${atomPrefix}:`) ? name.slice(atomPrefix.length + 1) : name)];
  return new Parser<Raw, Raw>({
    defaultRSS: 2,
    customFields: { item: ITEM_FIELDS },
    // rss-parser's Atom code throws on an unparseable <published>/<updated>, losing the whole feed.
    xml2js: { tagNameProcessors, valueProcessors: [readableAtomDate] },
  });
}

/** An Atom date in the ISO form rss-parser can read, else blank. */
function readableAtomDate(value: string, name: string): string {
  return name === "published" || name === "updated" ? (parseFeedDate(value)?.toISOString() ?? "") : value;
}

/**
 * Escapes, outside CDATA, every `&` XML would reject: stray ones and HTML-only entities such as
 * `&nbsp;`, which thereby reach titles and bodies as text that HTML decoding reads as before.
 */
function escapeStrayAmpersands(xml: string): string {
  return xml.replace(CDATA_OR_XML_STRAY_AMPERSAND, (match) => (match === "&" ? "&amp;" : match));
}

/** A document cut off after its last complete item, closed there, so the items before the cut survive. */
function closeTruncated(xml: string, rootName: string): string {
  const ends = ["</item>", "</entry>"].flatMap((tag) => {
    const at = xml.lastIndexOf(tag);
    return at < 0 ? [] : [at + tag.length];
  });
  if (ends.length === 0) return xml;
  const end = Math.max(...ends);
  if (hasEndTag(xml.slice(end), rootName)) return xml;
  const channelEnd = splitName(rootName)[1] === "rss" ? "</channel>" : "";
  return `${xml.slice(0, end)}${channelEnd}</${rootName}>`;
}

/** Whether `xml` holds the end tag of element `name`. */
function hasEndTag(xml: string, name: string): boolean {
  return new RegExp(`</${name.replace(/\./g, "\\.")}\\s*>`).test(xml);
}

/** `rootBase` is the root element's xml:base, which rss-parser doesn't pass on. */
function toParsedFeed(feed: Raw, feedUrl: string, rootBase: string | undefined): ParsedFeed {
  const link = resolveUrl(textOf(feed.link), rootBase ?? feedUrl);
  const entryBase = rootBase ?? link ?? feedUrl;
  const ttl = Number.parseInt(textOf(feed.ttl), 10);
  return defined({
    title: plainText(textOf(feed.title)) || undefined,
    link,
    ttlMinutes: ttl > 0 ? ttl : undefined,
    entries: asArray(feed.items).filter(isRecord).map((item) => xmlEntry(item, entryBase)).filter(hasContent),
  });
}

function xmlEntry(item: Raw, feedBase: string): FeedEntry {
  const attributes = item.attributes;
  const base = resolveUrl(attr(attributes, "xml:base"), feedBase) ?? feedBase;
  const guid = textOf(item.guid).trim() || textOf(item.id).trim() || attr(attributes, "rdf:about")?.trim() || undefined;
  const html = entryHtml([item["content:encoded"], item.content, item.summary]);
  return defined({
    guid,
    // A guid that is an http(s) URL is the permalink, whatever isPermaLink says.
    link: pickLink(asArray(item.links), base) ?? (guid !== undefined && /^https?:\/\//i.test(guid) ? resolveUrl(guid, base) : undefined),
    title: plainText(textOf(item.title)),
    html,
    categories: uniqueTrimmed([...asArray(item.categoryElements).map(categoryOf), ...asArray(item.subjects).map(textOf)]),
    published: firstDate([item.isoDate, item.pubDate, item.issued, item.modified]),
    image: xmlImage(item, base),
  });
}

/** The alternate link (an HTML one first), else any link that is no self or enclosure link. */
function pickLink(links: unknown[], base: string): string | undefined {
  const candidates = links.flatMap((link) => {
    const href = typeof link === "string" ? link : attr(attrsOf(link), "href") ?? textOf(link);
    const url = resolveUrl(href, base);
    return url === undefined ? [] : [{ url, rel: attr(attrsOf(link), "rel") ?? "alternate", type: attr(attrsOf(link), "type") }];
  });
  const alternates = candidates.filter((link) => link.rel === "alternate");
  const chosen =
    alternates.find((link) => link.type === undefined || link.type.includes("html")) ??
    alternates[0] ??
    candidates.find((link) => link.rel !== "self" && link.rel !== "enclosure");
  return chosen?.url;
}

/** RSS `<category>` text (plain or with a domain attribute) or Atom `term`. */
function categoryOf(value: unknown): string {
  return attr(attrsOf(value), "term") ?? textOf(value);
}

/**
 * The entry's image: an image enclosure (RSS, or Atom link rel=enclosure), an image media:content,
 * else a media:thumbnail, looking inside media:group too (as YouTube nests them).
 */
function xmlImage(item: Raw, base: string): string | undefined {
  const groups = asArray(item.mediaGroups).filter(isRecord);
  const atomEnclosures = asArray(item.links).filter((link) => attr(attrsOf(link), "rel") === "enclosure");
  const media = [...asArray(item.mediaContents), ...groups.flatMap((group) => asArray(group["media:content"]))];
  const thumbnails = [...asArray(item.mediaThumbnails), ...groups.flatMap((group) => asArray(group["media:thumbnail"]))];
  for (const element of [...asArray(item.enclosures), ...atomEnclosures, ...media]) {
    const attributes = attrsOf(element);
    const url = resolveUrl(attr(attributes, "url") ?? attr(attributes, "href"), base);
    if (url !== undefined && looksLikeImage(url, attr(attributes, "type"), attr(attributes, "medium"))) return url;
  }
  return thumbnails.map((element) => resolveUrl(attr(attrsOf(element), "url"), base)).find((url) => url !== undefined);
}

/** Whether a media reference is an image: by MIME type, else by Media RSS medium, else by extension. */
function looksLikeImage(url: string, type: string | undefined, medium: string | undefined): boolean {
  if (type !== undefined && type.trim() !== "") return type.trim().toLowerCase().startsWith("image/");
  if (medium !== undefined) return medium === "image";
  return IMAGE_EXTENSION.test(new URL(url).pathname);
}

function parseJsonFeed(body: string, feedUrl: string): ParsedFeed {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new FetchError("unparseable", `invalid JSON from ${feedUrl}: ${oneLine(error)}`, { cause: error });
  }
  if (!isRecord(json) || typeof json.version !== "string" || !json.version.includes("jsonfeed.org/version/")) {
    throw new FetchError("not-a-feed", `JSON without a JSON Feed version, not a feed, from ${feedUrl}`);
  }
  const link = resolveUrl(stringOf(json.home_page_url), feedUrl);
  const base = link ?? feedUrl;
  return defined({
    title: plainText(stringOf(json.title) ?? "") || undefined,
    link,
    entries: asArray(json.items).filter(isRecord).map((item) => jsonEntry(item, base)).filter(hasContent),
  });
}

function jsonEntry(item: Raw, base: string): FeedEntry {
  const id = typeof item.id === "number" ? String(item.id) : stringOf(item.id)?.trim();
  const text = firstNonBlank([item.content_text, item.summary]);
  return defined({
    guid: id || undefined,
    link: resolveUrl(stringOf(item.url), base) ?? resolveUrl(stringOf(item.external_url), base),
    title: plainText(stringOf(item.title) ?? ""),
    html: entryHtml([item.content_html, text === undefined ? undefined : escapeHtml(text)]),
    categories: uniqueTrimmed(asArray(item.tags)),
    published: firstDate([item.date_published, item.date_modified]),
    image: resolveUrl(stringOf(item.image), base) ?? resolveUrl(stringOf(item.banner_image), base),
  });
}

/** Whether an entry has anything to show; one with only an id or an author is dropped. */
function hasContent(entry: FeedEntry): boolean {
  return entry.title !== "" || entry.link !== undefined || (entry.html ?? "").trim() !== "";
}

/** The text of an xml2js value: a string as is, an element's text and its children's, anything else empty. */
function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  if (Array.isArray(value)) return value.map(textOf).join(" ");
  if (!isRecord(value)) return "";
  return Object.entries(value)
    .filter(([key]) => key !== "$")
    .map(([, child]) => textOf(child))
    .join(" ");
}

/** Plain text of an HTML-ish string: tags and controls (src/text/controls.ts) dropped, entities decoded, whitespace collapsed. */
function plainText(value: string): string {
  // Escaping stray `&` first keeps `?a=1&copy=2` from decoding as HTML's legacy `&copy`.
  const text = /[<&]/.test(value)
    ? htmlText(value.replace(STRAY_AMPERSAND, "&amp;").replace(LITERAL_ANGLE, "&lt;"))
    : value;
  return stripControls(text).replace(/\s+/g, " ").trim();
}

function htmlText(html: string): string {
  scratch.innerHTML = html;
  return scratch.textContent ?? "";
}

/** `href` resolved against `base` when that gives an http(s) URL. */
function resolveUrl(href: string | undefined, base: string): string | undefined {
  return httpUrl(href, base)?.href;
}

/** The first value that is a date (src/feeds/dates.ts). */
function firstDate(values: unknown[]): Date | undefined {
  for (const value of values) {
    const date = typeof value === "string" ? parseFeedDate(value) : undefined;
    if (date !== undefined) return date;
  }
  return undefined;
}

/** The first value that is a string with more than whitespace. */
function firstNonBlank(values: unknown[]): string | undefined {
  return values.find((value): value is string => typeof value === "string" && value.trim() !== "");
}

/** The richest of an entry's HTML bodies, without controls, or undefined when all are blank. */
function entryHtml(values: unknown[]): string | undefined {
  const html = firstNonBlank(values);
  return html === undefined ? undefined : stripControlsFromMarkup(html);
}

/** The distinct non-empty strings among `values`, without controls, trimmed, in order. */
function uniqueTrimmed(values: unknown[]): string[] {
  const strings = values.map((value) => (typeof value === "string" ? stripControls(value).trim() : ""));
  return [...new Set(strings.filter((value) => value !== ""))];
}

function asArray(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

function isRecord(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The attributes (`$`) of an xml2js element. */
function attrsOf(element: unknown): unknown {
  return isRecord(element) ? element.$ : undefined;
}

/** One attribute's value from an xml2js attribute object. */
function attr(attributes: unknown, name: string): string | undefined {
  return isRecord(attributes) ? stringOf(attributes[name]) : undefined;
}

/** `value` without its undefined properties, so results compare and print cleanly. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ", ");
}
