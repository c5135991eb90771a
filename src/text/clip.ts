/**
 * Shortening text for a reader: at a word boundary, with "…", never past the limit and never
 * through an emoji (half a surrogate pair is text Telegram refuses as not UTF-8).
 */

const ELLIPSIS = "…";

/**
 * `text` cut to at most `limit` characters, "…" included. The cut falls between words unless the
 * last break comes before half the room (one long word or URL is then cut inside); dangling
 * punctuation before the ellipsis goes. Text within the limit is returned as it is.
 */
export function clip(text: string, limit: number): string {
  if (text.length <= limit) return text;
  if (limit < 1) return "";
  const room = limit - ELLIPSIS.length;
  // The character just past the room tells whether the cut falls between two words.
  const boundary = /\s/u.test(text[room] ?? "") ? room : text.slice(0, room).search(/\s\S*$/u);
  let head = boundary > room / 2 ? text.slice(0, boundary) : text.slice(0, room);
  if (/[\uD800-\uDBFF]$/u.test(head)) head = head.slice(0, -1);
  return head.replace(/[\s,;:\-–—(«"“]+$/u, "") + ELLIPSIS;
}
