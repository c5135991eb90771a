/**
 * Item identity: what makes two entries "the same story", so that each reaches each chat once,
 * however a feed re-dates, re-orders, drops and re-adds it, and whichever feed links it.
 */
import { createHash } from "node:crypto";
import type { FeedEntry } from "./item.js";
import { httpUrl } from "../text/url.js";

/** Query parameters that only track the reader; removing them never changes the article. */
const TRACKING_PARAMS = new Set([
  "fbclid", "gclid", "dclid", "gbraid", "wbraid", "yclid", "msclkid", "mc_cid", "mc_eid", "igshid",
  "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "ref_url", "cmpid", "rss", "from", "utm",
]);

function isTrackingParam(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith("utm_") || lower.startsWith("at_") || TRACKING_PARAMS.has(lower);
}

/**
 * A link in the form two feeds would agree on: scheme-less, host lower-cased without `www.` and
 * default port, no fragment, no tracking parameters, remaining parameters sorted, no trailing
 * slash. Relative links resolve against `base`. Returns undefined for anything that isn't http(s).
 */
export function normalizeLink(link: string, base?: string): string | undefined {
  const url = httpUrl(link, base);
  if (url === undefined) return undefined;
  const host = url.hostname.toLowerCase().replace(/^www\./, "");
  const port = url.port && url.port !== "80" && url.port !== "443" ? `:${url.port}` : "";
  const params = [...url.searchParams].filter(([name]) => !isTrackingParam(name));
  params.sort(([a, av], [b, bv]) => (a === b ? av.localeCompare(bv) : a.localeCompare(b)));
  const query = params.length > 0 ? `?${new URLSearchParams(params).toString()}` : "";
  const path = url.pathname.replace(/\/+$/, "");
  return `//${host}${port}${path}${query}`;
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 32);
}

/**
 * Every identity key of an entry, strongest first: the feed's guid (scoped to the feed, since
 * guids are only unique within one), the normalised link (global: the same article in two feeds
 * is one story), and a hash of title and text when the entry has neither.
 * An entry is new only when none of its keys has been seen. `scope` names the feed; it must not
 * change while the feed stays (its stored state keeps it: src/feeds/feed-state.ts).
 */
export function identityKeys(entry: Pick<FeedEntry, "guid" | "link" | "title" | "html">, scope: string): string[] {
  const keys: string[] = [];
  const guid = entry.guid?.trim();
  if (guid) keys.push(`g:${digest(`${scope}\n${guid}`)}`);
  const link = entry.link ? normalizeLink(entry.link) : undefined;
  if (link) keys.push(`l:${digest(link)}`);
  if (keys.length === 0) keys.push(`h:${digest(`${scope}\n${entry.title.trim()}\n${entry.html?.trim() ?? ""}`)}`);
  return keys;
}
