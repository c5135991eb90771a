/**
 * Characters that must never reach a message: C0 and C1 control characters other than tab and line
 * breaks (NUL, ESC and the like, which terminals and some clients act on), the bidi embeddings,
 * overrides and isolates that let a title display reversed or disguise a link ("Trojan Source"),
 * and lone surrogates, which are not UTF-8 and make Telegram refuse the whole message.
 *
 * A C1 character is read as the windows-1252 character of its byte, where there is one: in text
 * it is practically always such a byte mislabelled as ISO-8859-1, or XML's `&#146;` meaning "’".
 *
 * The bidi marks U+200E/U+200F (LRM/RLM) and U+061C (ALM) stay: they reorder nothing around them,
 * and Hebrew, Arabic and Persian text uses them to place punctuation and numbers correctly.
 */

const UNSAFE_SOURCE = String.raw`[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]`;
const UNSAFE = new RegExp(UNSAFE_SOURCE, "g");
const UNSAFE_ONE = new RegExp(`^(?:${UNSAFE_SOURCE})$`);

/** A numeric character reference, the form markup can spell any of those characters in. */
const NUMERIC_REFERENCE = /&#(?:[xX]([\da-fA-F]{1,8})|(\d{1,10}));?/g;

/**
 * What windows-1252 makes of the bytes 0x80–0x9F ("" where it defines none). Written out because
 * Node's TextDecoder reads windows-1252 as ISO-8859-1 there, handing back the C1 characters.
 */
const WINDOWS_1252_C1 = [..."€\0‚ƒ„…†‡ˆ‰Š‹Œ\0Ž\0\0‘’“”•–—˜™š›œ\0žŸ"].map((char) => (char === "\0" ? "" : char));

/** `text` without the characters above, its C1 characters read as windows-1252 where they can be. */
export function stripControls(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const code = char.charCodeAt(0);
    return code >= 0x80 && code <= 0x9f ? WINDOWS_1252_C1[code - 0x80]! : "";
  });
}

/**
 * HTML or XML text without the characters above, written out or as numeric references (`&#27;`,
 * `&#x202E;`), which would otherwise become them once the markup is read. HTML reads a reference
 * to 0x80–0x9F as the windows-1252 character (`&#150;` is "–"), so those are kept.
 */
export function stripControlsFromMarkup(html: string): string {
  return stripControls(html).replace(NUMERIC_REFERENCE, (reference, hex: string | undefined, decimal: string | undefined) => {
    const codePoint = hex === undefined ? Number(decimal) : Number.parseInt(hex, 16);
    if (codePoint > 0x10ffff || (codePoint >= 0x80 && codePoint <= 0x9f)) return reference;
    return UNSAFE_ONE.test(String.fromCodePoint(codePoint)) ? "" : reference;
  });
}
