/** Links newswire follows or shows: http(s) only, so `javascript:`, `data:` and `file:` never pass. */

/** `href` (trimmed, resolved against `base`) as a URL when it is a well-formed http(s) one. */
export function httpUrl(href: string | undefined, base?: string | URL): URL | undefined {
  const trimmed = href?.trim();
  if (!trimmed || !URL.canParse(trimmed, base?.toString())) return undefined;
  const url = new URL(trimmed, base);
  return url.protocol === "http:" || url.protocol === "https:" ? url : undefined;
}
