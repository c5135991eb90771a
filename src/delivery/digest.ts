/**
 * Digests: a chat's held items as one message (or a few, each within Telegram's limit), grouped
 * by topic, each story a linked title with its source and how many sources have it, the most
 * covered stories first. Pure: building from items, and rendering in a chat's language.
 */
import type { Item } from "../items/item.js";
import { messages, type Locale } from "../i18n/i18n.js";
import { clip } from "../text/clip.js";
import { escapeHtml } from "../text/html.js";
import { ALL_TOPIC } from "../topics/topics.js";
import { MESSAGE_LIMIT, safeUrl, type RenderedMessage } from "./render.js";

/** One story of a digest: its first report, and how many sources have it. */
export interface DigestEntry {
  title: string;
  link?: string;
  source: string;
  sources: number;
}

/** A topic's stories; `topic` undefined: the stories of no topic the chat follows by name. */
export interface DigestSection {
  topic?: string;
  entries: DigestEntry[];
}

/** One message of a digest: its sections, which part of how many, and the stories of the whole digest. */
export interface DigestPayload {
  kind: "digest";
  sections: DigestSection[];
  part: number;
  parts: number;
  stories: number;
  /** Stories left out of the whole digest (past DIGEST_STORIES), told at the end of its last part. */
  omitted?: number;
}

/**
 * Stories a digest shows at most, the most covered: a week of every topic would otherwise be
 * dozens of messages, which no reader wants; the rest are counted.
 */
export const DIGEST_STORIES = 60;

const TITLE_LIMIT = 200;
/** Room kept below Telegram's limit: the plain rendering adds each link in full. */
const PART_LIMIT = MESSAGE_LIMIT - 600;

/** A digest's stories by topic, and how many were left out. */
export interface DigestContent {
  sections: DigestSection[];
  omitted: number;
}

/**
 * The story entries of `items` (oldest first), by topic: a story's items together (one entry,
 * their sources counted), each story in the first of its topics the chat follows by name
 * (`followed`; `titles` what readers see, in the catalog's order). The `limit` most covered
 * stories (then the newest) are kept.
 */
export function digestSections(items: readonly Item[], followed: readonly string[], titles: ReadonlyMap<string, string>, limit = DIGEST_STORIES): DigestContent {
  const stories = new Map<string, { first: Item; sources: Set<string>; latest: number }>();
  for (const item of items) {
    const id = item.storyId ?? item.key;
    const story = stories.get(id);
    if (story) {
      story.sources.add(item.source);
      story.latest = Math.max(story.latest, item.publishedAt);
    } else stories.set(id, { first: item, sources: new Set([item.source]), latest: item.publishedAt });
  }
  // Most covered first, then the newest.
  const ranked = [...stories.values()].sort((a, b) => b.sources.size - a.sources.size || b.latest - a.latest);
  const kept = ranked.slice(0, limit);
  const everything = followed.includes(ALL_TOPIC);
  const order = [...titles.keys()];
  const sectionOf = (item: Item): string | undefined =>
    order.find((topic) => item.topics.includes(topic) && (everything || followed.includes(topic)));
  const sections = new Map<string | undefined, DigestEntry[]>();
  for (const { first, sources } of kept) {
    const topic = sectionOf(first);
    const entry: DigestEntry = { title: clip(first.title.trim() || first.source, TITLE_LIMIT), source: first.source, sources: sources.size, ...(first.link ? { link: first.link } : {}) };
    sections.set(topic, [...(sections.get(topic) ?? []), entry]);
  }
  const ordered = [...sections].map(([topic, entries]) => ({ ...(topic !== undefined ? { topic: titles.get(topic)! } : {}), entries }));
  // Topics with the most covered stories first; the stories of no named topic last.
  ordered.sort((a, b) => (a.topic === undefined ? 1 : 0) - (b.topic === undefined ? 1 : 0) || b.entries[0]!.sources - a.entries[0]!.sources || b.entries.length - a.entries.length);
  return { sections: ordered, omitted: ranked.length - kept.length };
}

function entryLine(entry: DigestEntry, locale: Locale, html: boolean): string {
  const t = messages(locale);
  const more = entry.sources > 1 ? `, ${t.digestSources(entry.sources)}` : "";
  const link = safeUrl(entry.link);
  if (!html) return `• ${entry.title} (${entry.source}${more})${link ? ` ${link}` : ""}`;
  const title = escapeHtml(entry.title);
  return `• ${link ? `<a href="${escapeHtml(link)}">${title}</a>` : title} <i>(${escapeHtml(clip(entry.source, 60))}${escapeHtml(more)})</i>`;
}

/** A digest part as a message. */
export function renderDigest(payload: DigestPayload, form: "html" | "plain", { locale }: { locale: Locale }): RenderedMessage {
  const t = messages(locale);
  const html = form === "html";
  const bold = (text: string) => (html ? `<b>${escapeHtml(text)}</b>` : text);
  const header = bold(t.digestHeader(payload.stories, payload.part, payload.parts));
  const blocks = payload.sections.map((section) => [bold(section.topic ?? t.digestOther), ...section.entries.map((entry) => entryLine(entry, locale, html))].join("\n"));
  const more = payload.omitted ? [escapeHtml(t.digestMore(payload.omitted))] : [];
  return { text: [header, ...blocks, ...more].join("\n\n"), ...(html ? { parseMode: "HTML" as const } : {}), linkPreview: { is_disabled: true } };
}

/**
 * The digest of `sections` as parts that each fit a message in `locale` (a section too long for
 * one is continued in the next).
 */
export function digestParts({ sections, omitted }: DigestContent, locale: Locale): DigestPayload[] {
  const stories = sections.reduce((count, section) => count + section.entries.length, 0);
  const fits = (part: DigestSection[]) => renderDigest({ kind: "digest", sections: part, part: 99, parts: 99, stories, omitted }, "html", { locale }).text.length <= PART_LIMIT;
  const block = (topic: string | undefined, entries: DigestEntry[]): DigestSection => ({ ...(topic !== undefined ? { topic } : {}), entries });
  const parts: DigestSection[][] = [[]];
  for (const section of sections) {
    // Whether this section has a block in the part being filled: its last one.
    let started = false;
    for (const entry of section.entries) {
      const part = parts.at(-1)!;
      const grown = started ? [...part.slice(0, -1), block(section.topic, [...part.at(-1)!.entries, entry])] : [...part, block(section.topic, [entry])];
      if (part.length > 0 && !fits(grown)) parts.push([block(section.topic, [entry])]);
      else parts[parts.length - 1] = grown;
      started = true;
    }
  }
  const filled = parts.filter((part) => part.length > 0);
  return filled.map((part, index) => ({
    kind: "digest",
    sections: part,
    part: index + 1,
    parts: filled.length,
    stories,
    ...(omitted > 0 && index === filled.length - 1 ? { omitted } : {}),
  }));
}
