/** Text inside HTML: what Telegram's HTML parse mode and feed bodies need escaped. */

/** Escapes text for HTML and Telegram's HTML parse mode (also inside attribute values). */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
