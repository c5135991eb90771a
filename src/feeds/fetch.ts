/**
 * One HTTP GET for feeds and article pages: manual redirects, a single deadline over the whole
 * exchange, a size cap enforced while the body streams, conditional GET, and failures as
 * `FetchError` with a reason the poller can act on (back off, give up, show in /status).
 */
import { createRequire } from "node:module";
import { httpUrl } from "../text/url.js";

// createRequire rather than a JSON import: package.json is outside tsconfig.build's rootDir.
const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

/** The User-Agent newswire sends everywhere, so site owners can tell who polls them. */
export const USER_AGENT = `newswire/${version} (+https://github.com/newswire-bot/newswire)`;

/** Redirects followed before giving up. */
const MAX_REDIRECTS = 5;

/** Preference for feed formats, then anything (a page that links a feed is still worth reading). */
const FEED_ACCEPT =
  "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, " +
  "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5";

/** Why a fetch (or the parse after it) failed. */
export type FetchFailure =
  | "timeout"
  | "network"
  | "http"
  | "too-large"
  | "redirect-loop"
  | "too-many-redirects"
  | "not-a-feed"
  | "unparseable";

/** A failed fetch or parse, with a one-line message naming the URL. */
export class FetchError extends Error {
  override readonly name = "FetchError";
  readonly reason: FetchFailure;
  /** The status of an `http` failure. */
  readonly httpStatus?: number;
  /** How long the server asked to wait (Retry-After on 429/503), in ms. */
  readonly retryAfterMs?: number;

  /** @param details optional status, Retry-After delay and underlying cause. */
  constructor(
    reason: FetchFailure,
    message: string,
    details: { httpStatus?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
    this.reason = reason;
    this.httpStatus = details.httpStatus;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** Options of one fetch. */
export interface FetchOptions {
  /** Deadline for the whole exchange: redirects, headers and body. */
  timeoutMs: number;
  /** Largest (decompressed) body accepted. */
  maxBytes: number;
  userAgent: string;
  /** Validators from the previous answer, for a conditional GET. */
  etag?: string;
  lastModified?: string;
  /** Accept header; a feed-first preference when absent. */
  accept?: string;
  /** Cancels the fetch; it then rejects with the signal's reason, not a FetchError. */
  signal?: AbortSignal;
}

/** The outcome of a fetch that did not fail. */
export type FetchResult =
  | { status: "not-modified" }
  | {
      status: "ok";
      bytes: Uint8Array;
      contentType?: string;
      etag?: string;
      lastModified?: string;
      /** Final URL after redirects. */
      url: string;
    };

/**
 * GETs `url`, following at most 5 redirects, and returns the body's bytes (decompressed) or
 * `not-modified` on a 304. Throws `FetchError` on timeout, network error, non-2xx status, a body over
 * `maxBytes`, or a redirect loop or chain too long.
 */
export async function fetchResource(url: string, options: FetchOptions): Promise<FetchResult> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
  try {
    return await fetchFollowing(url, options, signal);
  } catch (error) {
    if (error instanceof FetchError) throw error;
    if (options.signal?.aborted) throw options.signal.reason;
    if (deadline.aborted) {
      throw new FetchError("timeout", `timeout after ${options.timeoutMs} ms fetching ${url}`, { cause: error });
    }
    throw new FetchError("network", `network error fetching ${url}: ${describeCause(error)}`, { cause: error });
  }
}

async function fetchFollowing(startUrl: string, options: FetchOptions, signal: AbortSignal): Promise<FetchResult> {
  const seen = new Set<string>();
  let url = parseHttpUrl(startUrl);
  for (let redirects = 0; ; redirects++) {
    seen.add(url.href);
    const response = await fetch(url, { headers: requestHeaders(options), redirect: "manual", signal });
    const location = response.headers.get("location");
    if (isRedirect(response.status) && location !== null) {
      await response.body?.cancel();
      if (redirects === MAX_REDIRECTS) {
        throw new FetchError("too-many-redirects", `more than ${MAX_REDIRECTS} redirects from ${startUrl}`);
      }
      const next = parseHttpUrl(location, url);
      if (seen.has(next.href)) throw new FetchError("redirect-loop", `redirect loop at ${next.href} from ${startUrl}`);
      url = next;
      continue;
    }
    if (response.status === 304) {
      await response.body?.cancel();
      return { status: "not-modified" };
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw httpError(response, url.href);
    }
    const bytes = await readCapped(response, options.maxBytes, url.href);
    return {
      status: "ok",
      bytes,
      url: url.href,
      contentType: response.headers.get("content-type") ?? undefined,
      etag: response.headers.get("etag") ?? undefined,
      lastModified: response.headers.get("last-modified") ?? undefined,
    };
  }
}

function requestHeaders(options: FetchOptions): Record<string, string> {
  return {
    "user-agent": options.userAgent,
    accept: options.accept ?? FEED_ACCEPT,
    // undici decompresses these itself.
    "accept-encoding": "gzip, deflate, br",
    ...(options.etag === undefined ? {} : { "if-none-match": options.etag }),
    ...(options.lastModified === undefined ? {} : { "if-modified-since": options.lastModified }),
  };
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** `href` resolved against `base` when it is an http(s) URL; anything else is a network failure. */
function parseHttpUrl(href: string, base?: URL): URL {
  const url = httpUrl(href, base);
  if (url === undefined) {
    throw new FetchError("network", `not an http(s) URL: ${href}${base ? ` (redirect from ${base.href})` : ""}`);
  }
  return url;
}

function httpError(response: Response, url: string): FetchError {
  const retryAfter = response.headers.get("retry-after");
  const retryAfterMs =
    (response.status === 429 || response.status === 503) && retryAfter !== null ? parseRetryAfter(retryAfter) : undefined;
  return new FetchError("http", `HTTP ${response.status} from ${url}`, { httpStatus: response.status, retryAfterMs });
}

/** A Retry-After value (delay in seconds, or an HTTP date) as ms from now; undefined when unreadable. */
function parseRetryAfter(value: string): number | undefined {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The body, refusing it early by Content-Length and while streaming once it exceeds `maxBytes`. */
async function readCapped(response: Response, maxBytes: number, url: string): Promise<Uint8Array> {
  const tooLarge = (): FetchError => new FetchError("too-large", `body over ${maxBytes} bytes from ${url}`);
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return concat(chunks, total);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** The most specific description of a fetch failure: undici hides the system error in `cause`. */
/** The innermost reason of a failed request (undici puts it in `cause`), for a one-line message. */
export function describeCause(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
