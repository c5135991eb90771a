/**
 * The item: one article of a feed, from the moment it is parsed to the moment it is delivered.
 *
 * `FeedEntry` is what a feed says (after parsing, before anything is decided about it);
 * `Item` is what newswire keeps: identity, clean text, summary and topics, computed once.
 */

/** One entry of a parsed feed, format-independent (RSS, Atom, RDF, JSON Feed). */
export interface FeedEntry {
  /** guid (RSS), id (Atom, JSON Feed); untrimmed values are trimmed by the parser. */
  guid?: string;
  /** Absolute article URL, resolved against the feed URL. */
  link?: string;
  /** Plain-text title (entities decoded, tags removed). May be empty. */
  title: string;
  /** The richest body the feed gives: content:encoded, content, description or summary, as HTML. */
  html?: string;
  /** `<category>` values (or JSON Feed tags), trimmed. */
  categories: string[];
  /** Publication (or update) time, when the feed gives a parseable one. */
  published?: Date;
  /** An image URL from enclosure, media:content, media:thumbnail or JSON Feed image. */
  image?: string;
}

/** A parsed feed document. */
export interface ParsedFeed {
  /** The feed's own title, if any. */
  title?: string;
  /** The site's home page, if the feed gives one. */
  link?: string;
  /** Minutes the feed asks to be cached (RSS `<ttl>`), if given. */
  ttlMinutes?: number;
  entries: FeedEntry[];
}

/** What newswire stores for an item and renders from. Computed once, never per subscriber. */
export interface Item {
  /** Primary identity key (see items/identity.ts). */
  key: string;
  /** Id of the feed it came from (first feed that had it). */
  feedId: string;
  /** Display name of the source (the feed's configured or own title). */
  source: string;
  title: string;
  link?: string;
  /** The summary shown to readers: a few whole sentences, at most about 600 characters. */
  summary: string;
  /** Topic ids this item belongs to, always including `all`. */
  topics: string[];
  categories: string[];
  image?: string;
  /** Epoch ms: the feed's publication date, else when newswire first saw it. */
  publishedAt: number;
  /** Epoch ms: when newswire first saw it. */
  seenAt: number;
  /**
   * The story it reports (stories/stories.ts): its first item's key, this item's own when it is
   * the first. Absent when story clustering is off (and in items stored before it existed).
   */
  storyId?: string;
  /** The archive keeps its article page's text: its message has a "Read here" button. */
  readable?: boolean;
}
