/**
 * Items as a list in a reply, as `/latest` and `/search` show them: each a linked title with its
 * sources and date; a story several feeds reported once, as its first report.
 */
import { safeUrl } from "../delivery/render.js";
import type { Item } from "../items/item.js";
import { clip } from "../text/clip.js";
import { escapeHtml } from "../text/html.js";

/** One story of the list: its first report, and the sources that have it (first report first). */
export interface ListedStory {
  item: Item;
  sources: string[];
}

/**
 * The items (newest first) as stories, newest first by their first report (the one shown, with
 * its date): those of one story together.
 */
export function listStories(items: readonly Item[]): ListedStory[] {
  const byStory = new Map<string, Item[]>();
  for (const item of items) {
    const id = item.storyId ?? item.key;
    const members = byStory.get(id);
    if (members) members.push(item);
    else byStory.set(id, [item]);
  }
  return [...byStory.values()]
    .map((members) => {
      const oldestFirst = [...members].reverse();
      return { item: oldestFirst[0]!, sources: [...new Set(oldestFirst.map((member) => member.source))] };
    })
    .sort((a, b) => b.item.publishedAt - a.item.publishedAt);
}

/** One list entry: linked title, sources and date. */
export function listEntry({ item, sources }: ListedStory, position: number): string {
  const title = escapeHtml(clip(item.title || item.source, 200));
  const link = safeUrl(item.link);
  const headline = link ? `<a href="${escapeHtml(link)}">${title}</a>` : title;
  const date = new Date(item.publishedAt).toISOString().slice(0, 16).replace("T", " ");
  return `${position}. <b>${headline}</b>\n<i>${escapeHtml(clip(sources.join(", "), 200))}</i> · ${date} UTC`;
}

