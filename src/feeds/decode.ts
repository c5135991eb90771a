/**
 * Bytes of a fetched feed or page to text. Done here rather than by `fetch().text()` because the web
 * declares charsets wrongly or not at all: Russian feeds in windows-1251 or KOI8-R without a
 * declaration, UTF-8 documents behind a server's default `charset=ISO-8859-1`, UTF-16 with or
 * without a byte order mark.
 */

import { stripControlsFromMarkup } from "../text/controls.js";

/** How much of the document is searched for an in-document declaration (as the WHATWG prescan). */
const PRESCAN_BYTES = 1024;

/** Russian's most frequent lower-case letters, about two thirds of the letters of any Russian text. */
const COMMON_RUSSIAN = new Set("оеаинтсрвл");
/** Minimum share of lower-case Cyrillic among the non-ASCII characters of a plausible Russian text. */
const MIN_LOWERCASE_SHARE = 0.7;
/** Minimum share of the common letters among those lower-case ones (random bytes give about 0.3). */
const MIN_COMMON_SHARE = 0.45;
/** Maximum share of those letters touching a Latin letter (Russian words are all Cyrillic). */
const MAX_AMID_LATIN_SHARE = 0.3;
/** An ASCII letter, as a Latin-1 accent's neighbour would be. */
const LATIN_LETTER = /^[A-Za-z]$/;

/**
 * Most of a document's non-ASCII characters that must be valid UTF-8 for it to be read as UTF-8,
 * the rest becoming U+FFFD: a stray byte in a UTF-8 feed spoils one character, not every one.
 * Legacy text is practically never valid UTF-8 (a windows-1251 letter is followed by another
 * letter, not by a continuation byte), so its share stays near zero.
 */
const MIN_VALID_UTF8_SHARE = 0.9;

/** The single-byte Cyrillic encodings found undeclared on Russian sites. */
const CYRILLIC_ENCODINGS = ["windows-1251", "koi8-r"] as const;

/**
 * Decodes `bytes` to text, dropping any byte order mark.
 *
 * The encoding is taken from, in order: a byte order mark or the UTF-16/UTF-32 shape of a leading
 * `<`; UTF-8 when at least {@link MIN_VALID_UTF8_SHARE} of the non-ASCII characters are valid in it
 * (whatever is declared, since legacy text is practically never valid UTF-8); the
 * `charset` of `contentType`; the XML declaration or HTML `<meta charset>`. A declared encoding the
 * bytes don't decode under is skipped, and so is a declared windows-1252/ISO-8859-1 when the bytes
 * read as Russian (a common server default). Failing all that, windows-1251 or KOI8-R is chosen when
 * its decoding reads as Russian, else windows-1252. Controls and bidi overrides are removed
 * (src/text/controls.ts), and C1 characters read as windows-1252.
 */
export function decodeText(bytes: Uint8Array, contentType?: string): string {
  // Controls go here too, so that an article page, which no feed parser reads, carries none into a summary.
  return stripControlsFromMarkup(decode(bytes, contentType));
}

function decode(bytes: Uint8Array, contentType: string | undefined): string {
  const unicode = sniffUnicode(bytes);
  if (unicode !== undefined) return decodeUnicode(unicode, bytes);
  const utf8 = tryDecode("utf-8", bytes) ?? mostlyUtf8(bytes);
  if (utf8 !== undefined) return utf8;
  const detected = detectLegacy(bytes);
  for (const label of [charsetParameter(contentType), declaredCharset(bytes)]) {
    const encoding = label === undefined ? undefined : asciiCompatible(label);
    if (encoding === undefined || encoding === "utf-8") continue;
    if (encoding === "windows-1252" && detected !== "windows-1252") continue;
    const text = tryDecode(encoding, bytes);
    if (text !== undefined) return text;
  }
  return new TextDecoder(detected).decode(bytes);
}

type UnicodeEncoding = "utf-8" | "utf-16le" | "utf-16be" | "utf-32le" | "utf-32be";

/** The Unicode encoding a byte order mark or a leading `<` in UTF-16/32 reveals (XML 1.0 appendix F). */
function sniffUnicode(b: Uint8Array): UnicodeEncoding | undefined {
  const [b0, b1, b2, b3] = [b[0], b[1], b[2], b[3]];
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) return "utf-8";
  // UTF-32 before UTF-16: the UTF-32LE mark starts with the UTF-16LE one.
  if ((b0 === 0xff && b1 === 0xfe && b2 === 0 && b3 === 0) || (b0 === 0x3c && b1 === 0 && b2 === 0 && b3 === 0)) {
    return "utf-32le";
  }
  if ((b0 === 0 && b1 === 0 && b2 === 0xfe && b3 === 0xff) || (b0 === 0 && b1 === 0 && b2 === 0 && b3 === 0x3c)) {
    return "utf-32be";
  }
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0x3c && b1 === 0)) return "utf-16le";
  if ((b0 === 0xfe && b1 === 0xff) || (b0 === 0 && b1 === 0x3c)) return "utf-16be";
  return undefined;
}

/** Decodes with a sniffed Unicode encoding; invalid sequences become U+FFFD, as a BOM is authoritative. */
function decodeUnicode(encoding: UnicodeEncoding, bytes: Uint8Array): string {
  if (encoding === "utf-32le" || encoding === "utf-32be") return decodeUtf32(bytes, encoding === "utf-32le");
  return new TextDecoder(encoding).decode(bytes);
}

/** UTF-32, which TextDecoder does not know. */
function decodeUtf32(bytes: Uint8Array, littleEndian: boolean): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chars: string[] = [];
  for (let i = 0; i + 4 <= bytes.length; i += 4) {
    const code = view.getUint32(i, littleEndian);
    const valid = code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
    chars.push(valid ? String.fromCodePoint(code) : "\uFFFD");
  }
  if (chars[0] === "\uFEFF") chars.shift();
  return chars.join("");
}

/** `bytes` as UTF-8, invalid sequences as U+FFFD, when they are mostly valid UTF-8. */
function mostlyUtf8(bytes: Uint8Array): string | undefined {
  const text = new TextDecoder("utf-8").decode(bytes);
  const invalid = text.match(/\uFFFD/g)?.length ?? 0;
  const nonAscii = text.match(/[^\u0000-\u007F]/g)?.length ?? 0;
  return nonAscii > invalid && (nonAscii - invalid) / nonAscii >= MIN_VALID_UTF8_SHARE ? text : undefined;
}

/** `bytes` decoded strictly, or undefined when they are not valid in `encoding`. */
function tryDecode(encoding: string, bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** The `charset` parameter of a Content-Type header. */
function charsetParameter(contentType: string | undefined): string | undefined {
  return contentType?.match(/;\s*charset\s*=\s*["']?([^"';\s]+)/i)?.[1];
}

/** The encoding named by the XML declaration or an HTML `<meta>` near the start of the document. */
function declaredCharset(bytes: Uint8Array): string | undefined {
  // Declarations are ASCII, so any ASCII-compatible single-byte reading finds them.
  const head = new TextDecoder("windows-1252").decode(bytes.subarray(0, PRESCAN_BYTES));
  const xml = head.match(/^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([^"']+)["']/i)?.[1];
  return xml ?? head.match(/<meta[^>]+?charset\s*=\s*["']?([^"'\s/>;]+)/i)?.[1];
}

/**
 * The WHATWG name of `label` when it names an ASCII-compatible encoding TextDecoder knows. UTF-16
 * and UTF-32 labels are dropped: the bytes were not in their shape, or the sniffing would have seen it.
 */
function asciiCompatible(label: string): string | undefined {
  let encoding: string;
  try {
    encoding = new TextDecoder(label.trim()).encoding;
  } catch {
    return undefined;
  }
  return encoding.startsWith("utf-16") || encoding === "replacement" ? undefined : encoding;
}

/** windows-1251 or KOI8-R when the bytes read as Russian in one of them (the better one), else windows-1252. */
function detectLegacy(bytes: Uint8Array): string {
  let best = "windows-1252";
  let bestScore = 0;
  for (const encoding of CYRILLIC_ENCODINGS) {
    const score = russianScore(new TextDecoder(encoding).decode(bytes));
    if (score > bestScore) {
      best = encoding;
      bestScore = score;
    }
  }
  return best;
}

/**
 * How much `text` looks like Russian, from its non-ASCII characters: 0 when implausible, else the
 * share of common letters. A wrong Cyrillic code page turns lower case into upper case (KOI8-R and
 * windows-1251 swap them) or into rare letters; Latin-1 accents read as Cyrillic give lone letters
 * inside Latin words ("Notнcias"). Each of the three thresholds catches one of these.
 */
function russianScore(text: string): number {
  let nonAscii = 0;
  let lower = 0;
  let common = 0;
  let amidLatin = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch.charCodeAt(0) < 0x80) continue;
    nonAscii++;
    if ((ch >= "а" && ch <= "я") || ch === "ё") {
      lower++;
      if (COMMON_RUSSIAN.has(ch)) common++;
      if (LATIN_LETTER.test(text[i - 1] ?? "") || LATIN_LETTER.test(text[i + 1] ?? "")) amidLatin++;
    }
  }
  if (lower === 0 || lower / nonAscii < MIN_LOWERCASE_SHARE || amidLatin / lower > MAX_AMID_LATIN_SHARE) return 0;
  const commonShare = common / lower;
  return commonShare < MIN_COMMON_SHARE ? 0 : commonShare;
}
