/**
 * A strict model of Telegram's "HTML style" parse mode (Bot API, sendMessage `parse_mode: "HTML"`).
 *
 * It follows Telegram's own parser (tdlib `parse_html`) for tags, nesting and error texts, and is
 * deliberately stricter where Telegram silently shows something the sender did not mean:
 * unknown entities such as `&nbsp;` (Telegram prints them literally), unquoted attribute values,
 * `<a>` without a usable absolute `href` (Telegram drops the link), invalid numeric references.
 */
import type { MessageEntity } from "grammy/types";

/** The result of parsing: Telegram's plain text and entities, or its error description. */
export type ParsedTelegramHtml =
  | { ok: true; text: string; entities: MessageEntity[] }
  | { ok: false; error: string };

/** The text limit of a message; captions have 1,024. */
export const MESSAGE_LIMIT = 4096;

const SUPPORTED_TAGS = new Set([
  "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del",
  "tg-spoiler", "tg-emoji", "span", "code", "pre", "blockquote",
]);

const NAMED_ENTITIES: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", quot: '"' };

/** Link schemes Telegram turns into a working link. */
const LINK_SCHEMES = new Set(["http:", "https:", "tg:", "mailto:", "ftp:"]);

const SPACE = /\s/;

/** A start tag that is still open, with what its entity needs once it closes. */
interface OpenTag {
  name: string;
  /** UTF-16 offset in the output text where the tag's content starts. */
  start: number;
  attributes: Map<string, string>;
  /** For `pre`: the language of a `<code class="language-x">` that starts it. */
  language?: string | undefined;
}

/** Thrown inside the parser, turned into `{ ok: false }` at its boundary. */
class HtmlError extends Error {}

/**
 * Checks `html` as Telegram would for a message sent with `parse_mode: "HTML"`.
 *
 * @param limit the text limit in UTF-16 units (4,096 for messages, 1,024 for captions)
 * @returns null when Telegram would accept the text, else its error description
 *   (e.g. `Bad Request: can't parse entities: Unsupported start tag "div" at byte offset 12`).
 */
export function validateTelegramHtml(html: string, limit = MESSAGE_LIMIT): string | null {
  const parsed = parseTelegramHtml(html);
  if (!parsed.ok) return parsed.error;
  return checkTextLength(parsed.text, limit);
}

/**
 * The length Telegram counts for `html` (UTF-16 units of the text without tags, entities decoded,
 * surrounding whitespace trimmed).
 *
 * @throws Error with Telegram's description when the markup would be rejected.
 */
export function telegramTextLength(html: string): number {
  const parsed = parseTelegramHtml(html);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.text.length;
}

/**
 * The length rules Telegram applies to a parsed (already trimmed) text.
 *
 * @returns null when acceptable, else "message text is empty" or "message is too long".
 */
export function checkTextLength(text: string, limit = MESSAGE_LIMIT): string | null {
  if (text.length === 0) return "Bad Request: message text is empty";
  if (text.length > limit) return "Bad Request: message is too long";
  return null;
}

/**
 * Parses Telegram HTML into the text and entities Telegram would store for the message.
 * The text is trimmed like Telegram trims it; entities are clipped to the trimmed text.
 */
export function parseTelegramHtml(html: string): ParsedTelegramHtml {
  try {
    const { text, entities } = parse(html);
    return { ok: true, ...trimText(text, entities) };
  } catch (error) {
    if (error instanceof HtmlError) {
      return { ok: false, error: `Bad Request: can't parse entities: ${error.message}` };
    }
    throw error;
  }
}

function parse(html: string): { text: string; entities: MessageEntity[] } {
  let text = "";
  const entities: MessageEntity[] = [];
  const open: OpenTag[] = [];
  let i = 0;
  while (i < html.length) {
    const c = html[i];
    if (c === "<" && html[i + 1] === "/") {
      i = closeTag(html, i, open, text.length, entities);
    } else if (c === "<") {
      const tag = readStartTag(html, i, text.length);
      open.push(tag.open);
      i = tag.next;
    } else if (c === "&") {
      const ref = readReference(html, i);
      text += ref.value;
      i = ref.next;
    } else {
      text += c;
      i++;
    }
  }
  const unclosed = open.at(-1);
  if (unclosed) {
    throw new HtmlError(`Can't find end tag corresponding to start tag "${unclosed.name}"`);
  }
  // Telegram lists entities by offset, outer before inner.
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { text, entities };
}

/** UTF-8 byte offset of a string index: the unit of Telegram's error positions. */
function byteOffset(html: string, index: number): number {
  return Buffer.byteLength(html.slice(0, index), "utf8");
}

/** Index of the first character at or after `from` that is not whitespace. */
function skipSpaces(html: string, from: number): number {
  let i = from;
  while (i < html.length && SPACE.test(html[i] ?? "")) i++;
  return i;
}

/** Reads a tag name the way Telegram does: up to whitespace or `>` (so `<br/>` names "br/"). */
function readName(html: string, from: number, stopAt: RegExp): number {
  let i = from;
  while (i < html.length && !stopAt.test(html[i] ?? "")) i++;
  return i;
}

function readStartTag(html: string, begin: number, textOffset: number): { open: OpenTag; next: number } {
  const at = (): string => `at byte offset ${byteOffset(html, begin)}`;
  let i = readName(html, begin + 1, /[\s>]/);
  if (i >= html.length) throw new HtmlError(`Unclosed start tag ${at()}`);
  const name = html.slice(begin + 1, i).toLowerCase();
  if (!SUPPORTED_TAGS.has(name)) throw new HtmlError(`Unsupported start tag "${name}" ${at()}`);

  const attributes = new Map<string, string>();
  for (;;) {
    i = skipSpaces(html, i);
    if (i >= html.length) throw new HtmlError(`Unclosed start tag ${at()}`);
    if (html[i] === ">") break;
    const nameEnd = readName(html, i, /[\s=>]/);
    const attribute = html.slice(i, nameEnd).toLowerCase();
    if (attribute === "") throw new HtmlError(`Empty attribute name in the tag "${name}" ${at()}`);
    i = skipSpaces(html, nameEnd);
    if (html[i] !== "=") {
      if (name === "blockquote" && attribute === "expandable") {
        attributes.set(attribute, "");
        continue;
      }
      throw new HtmlError(`Expected equal sign in declaration of an attribute of the tag "${name}" ${at()}`);
    }
    i = skipSpaces(html, i + 1);
    const quote = html[i];
    if (quote !== '"' && quote !== "'") {
      // Telegram accepts bare name tokens; a sender that relies on them has an escaping bug.
      throw new HtmlError(`Unquoted value of the attribute "${attribute}" of the tag "${name}" ${at()}`);
    }
    const value = readAttributeValue(html, i + 1, quote);
    if (value.next > html.length) throw new HtmlError(`Unclosed start tag ${at()}`);
    attributes.set(attribute, value.value);
    i = value.next;
  }
  checkAttributes(name, attributes, at());
  return { open: { name, start: textOffset, attributes }, next: i + 1 };
}

/** Reads a quoted attribute value starting after the quote; `next` is past the closing quote. */
function readAttributeValue(html: string, from: number, quote: string): { value: string; next: number } {
  let value = "";
  let i = from;
  while (i < html.length && html[i] !== quote) {
    if (html[i] === "&") {
      const ref = readReference(html, i);
      value += ref.value;
      i = ref.next;
    } else {
      value += html[i];
      i++;
    }
  }
  return { value, next: i + 1 };
}

function checkAttributes(name: string, attributes: Map<string, string>, at: string): void {
  if (name === "a") {
    const href = attributes.get("href");
    if (href === undefined || href === "") throw new HtmlError(`Tag "a" must have a non-empty "href" ${at}`);
    if (!isLinkUrl(href)) throw new HtmlError(`Invalid URL "${href}" in the tag "a" ${at}`);
  }
  if (name === "span" && attributes.get("class") !== "tg-spoiler") {
    throw new HtmlError(`Tag "span" must have class "tg-spoiler" ${at}`);
  }
  if (name === "tg-emoji" && !/^[0-9]+$/.test(attributes.get("emoji-id") ?? "")) {
    throw new HtmlError(`Tag "tg-emoji" must have a numeric "emoji-id" ${at}`);
  }
}

function isLinkUrl(href: string): boolean {
  try {
    return LINK_SCHEMES.has(new URL(href).protocol);
  } catch {
    return false;
  }
}

function closeTag(
  html: string,
  begin: number,
  open: OpenTag[],
  textOffset: number,
  entities: MessageEntity[],
): number {
  const at = `at byte offset ${byteOffset(html, begin)}`;
  const nameEnd = readName(html, begin + 2, /[\s>]/);
  const name = html.slice(begin + 2, nameEnd).toLowerCase();
  const top = open.pop();
  if (!top) throw new HtmlError(`Unexpected end tag ${at}`);
  const end = skipSpaces(html, nameEnd);
  if (html[end] !== ">") throw new HtmlError(`Unclosed end tag ${at}`);
  if (top.name !== name) {
    throw new HtmlError(`Unmatched end tag ${at}, expected "</${top.name}>", found "</${name}>"`);
  }
  const entity = toEntity(top, textOffset - top.start);
  if (entity.length === 0) return end + 1;
  const parent = open.at(-1);
  if (top.name === "code" && parent?.name === "pre" && parent.start === top.start) {
    parent.language = /^language-(.+)$/.exec(top.attributes.get("class") ?? "")?.[1];
  }
  const inner = entities.at(-1);
  if (entity.type === "pre" && top.language && inner?.type === "code" && sameSpan(inner, entity)) {
    // <pre><code class="language-x">…</code></pre> is one pre entity with a language, as in Telegram.
    entities.pop();
    entities.push({ ...entity, language: top.language });
  } else {
    entities.push(entity);
  }
  return end + 1;
}

function sameSpan(a: MessageEntity, b: MessageEntity): boolean {
  return a.offset === b.offset && a.length === b.length;
}

/** Tags whose entity carries nothing but its type. */
const SIMPLE_ENTITY_TYPES: Readonly<Record<string, MessageEntity.CommonMessageEntity["type"]>> = {
  b: "bold", strong: "bold", i: "italic", em: "italic", u: "underline", ins: "underline",
  s: "strikethrough", strike: "strikethrough", del: "strikethrough", "tg-spoiler": "spoiler", span: "spoiler",
  code: "code",
};

function toEntity(tag: OpenTag, length: number): MessageEntity {
  const offset = tag.start;
  switch (tag.name) {
    case "a":
      return { type: "text_link", offset, length, url: tag.attributes.get("href") ?? "" };
    case "tg-emoji":
      return { type: "custom_emoji", offset, length, custom_emoji_id: tag.attributes.get("emoji-id") ?? "" };
    case "pre":
      return { type: "pre", offset, length };
    case "blockquote":
      return { type: tag.attributes.has("expandable") ? "expandable_blockquote" : "blockquote", offset, length };
    default:
      return { type: SIMPLE_ENTITY_TYPES[tag.name] ?? "code", offset, length };
  }
}

/**
 * Decodes a character reference at `&`. Only &lt; &gt; &amp; &quot; and numeric references are
 * allowed; anything else shaped like a reference is an error, a lone `&` is text.
 */
function readReference(html: string, begin: number): { value: string; next: number } {
  const rest = html.slice(begin, begin + 40);
  const at = `at byte offset ${byteOffset(html, begin)}`;
  if (rest.startsWith("&#")) {
    const numeric = /^&#(?:([0-9]+)|[xX]([0-9a-fA-F]+));/.exec(rest);
    const code = numeric ? (numeric[1] ? Number.parseInt(numeric[1], 10) : Number.parseInt(numeric[2] ?? "", 16)) : NaN;
    if (!numeric || !isCharacter(code)) {
      throw new HtmlError(`Invalid numeric character reference "${/^&#[^\s;<&]{0,12};?/.exec(rest)?.[0] ?? "&#"}" ${at}`);
    }
    return { value: String.fromCodePoint(code), next: begin + numeric[0].length };
  }
  const named = /^&([A-Za-z][A-Za-z0-9]*);/.exec(rest);
  if (!named) return { value: "&", next: begin + 1 };
  const value = NAMED_ENTITIES[named[1] ?? ""];
  if (value === undefined) throw new HtmlError(`Unsupported HTML entity "${named[0]}" ${at}`);
  return { value, next: begin + named[0].length };
}

function isCharacter(code: number): boolean {
  return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
}

/** Telegram strips surrounding whitespace from message texts; entities follow the cut. */
function trimText(text: string, entities: MessageEntity[]): { text: string; entities: MessageEntity[] } {
  const start = text.length - text.trimStart().length;
  const trimmed = text.trim();
  const end = start + trimmed.length;
  const kept: MessageEntity[] = [];
  for (const entity of entities) {
    const from = Math.max(entity.offset, start);
    const to = Math.min(entity.offset + entity.length, end);
    if (to > from) kept.push({ ...entity, offset: from - start, length: to - from });
  }
  return { text: trimmed, entities: kept };
}
