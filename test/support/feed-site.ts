/**
 * A local web site that serves feeds and article pages to the bot under test, with the behaviours
 * of real sites the poller must survive: conditional GET (ETag, Last-Modified → 304), slow answers,
 * answers that never come, endless bodies, redirects.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** What a path serves; `set` replaces whatever the path served before. */
export interface PageSpec {
  body: string | Uint8Array;
  /** Default: sniffed from the body (HTML, JSON Feed, else RSS). */
  contentType?: string;
  /** Default 200. Conditional requests are answered 304 only for 200 pages. */
  status?: number;
  /** Extra response headers; they override the computed ones. */
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Send a strong ETag computed from the body and honour If-None-Match; default true. */
  etag?: boolean;
  /** Send Last-Modified (fixed for this version of the page) and honour If-Modified-Since; default true. */
  lastModified?: boolean;
}

/** Pace of {@link FeedSite.stream}. */
export interface StreamPace {
  /** Bytes per write; default 4,096. */
  chunkBytes?: number;
  /** Pause between writes; default 20 ms. */
  intervalMs?: number;
}

/** One request the site received. */
export interface SiteRequest {
  method: string;
  headers: IncomingHttpHeaders;
  /** Date.now() on arrival. */
  at: number;
  /** The status answered; undefined while unanswered (e.g. a hanging path). */
  status?: number;
}

type Route =
  | { kind: "page"; spec: PageSpec; body: Buffer; headers: OutgoingHttpHeaders; etag?: string; lastModified?: string }
  | { kind: "hang" }
  | { kind: "stream"; bytes: number; chunkBytes: number; intervalMs: number }
  | { kind: "redirect"; to: string; status: number };

/** Last-Modified of the first page version; later versions are a minute apart, so they are deterministic. */
const FIRST_VERSION_TIME = Date.UTC(2024, 0, 1);

/** The site. Create it with {@link startFeedSite}. */
export class FeedSite {
  /** "http://127.0.0.1:PORT" */
  readonly origin: string;
  private readonly routes = new Map<string, Route>();
  private readonly log = new Map<string, SiteRequest[]>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private versions = 0;

  /** @internal use {@link startFeedSite} */
  constructor(private readonly server: Server) {
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    server.on("request", (req: IncomingMessage, res: ServerResponse) => this.serve(req, res));
  }

  /** The absolute URL of a path on this site, e.g. `url("/feed.xml")`. */
  url(path: string): string {
    return new URL(path, this.origin).href;
  }

  /** Serves `spec` at `path` from now on, as a new version (new Last-Modified). */
  set(path: string, spec: PageSpec): void {
    const body = typeof spec.body === "string" ? Buffer.from(spec.body, "utf8") : Buffer.from(spec.body);
    const etag = spec.etag === false ? undefined : strongEtag(body);
    const versionTime = new Date(FIRST_VERSION_TIME + this.versions * 60_000);
    const lastModified = spec.lastModified === false ? undefined : versionTime.toUTCString();
    this.versions++;
    const headers: OutgoingHttpHeaders = {
      "content-type": spec.contentType ?? sniffContentType(body),
      ...(etag && { etag }),
      ...(lastModified && { "last-modified": lastModified }),
      ...spec.headers,
    };
    this.routes.set(path, {
      kind: "page",
      spec,
      body,
      headers,
      ...(etag && { etag }),
      ...(lastModified && { lastModified }),
    });
  }

  /** Accepts requests to `path` and never answers them (until `close`). */
  hang(path: string): void {
    this.routes.set(path, { kind: "hang" });
  }

  /** Answers `path` with 200 and `bytes` bytes of never-closed XML, slowly, without Content-Length. */
  stream(path: string, bytes: number, { chunkBytes = 4096, intervalMs = 20 }: StreamPace = {}): void {
    this.routes.set(path, { kind: "stream", bytes, chunkBytes, intervalMs });
  }

  /** Redirects `path` to `to` (a path on this site or an absolute URL). */
  redirect(path: string, to: string, status = 302): void {
    this.routes.set(path, { kind: "redirect", to, status });
  }

  /** The requests `path` received, oldest first. */
  requests(path: string): SiteRequest[] {
    return [...(this.log.get(path) ?? [])];
  }

  /** Stops the server, dropping open connections (hanging and streaming ones too). */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? "/";
    const pathname = new URL(url, this.origin).pathname;
    const path = this.routes.has(url) ? url : pathname;
    const record: SiteRequest = { method: req.method ?? "GET", headers: req.headers, at: Date.now() };
    this.log.set(path, [...(this.log.get(path) ?? []), record]);
    res.on("finish", () => {
      record.status = res.statusCode;
    });
    const route = this.routes.get(path);
    switch (route?.kind) {
      case undefined:
        res.writeHead(404, { "content-type": "text/plain" }).end("not found");
        return;
      case "hang":
        return;
      case "redirect":
        res.writeHead(route.status, { location: route.to }).end();
        return;
      case "stream":
        // A stream may never finish; its status is known once its headers are out.
        record.status = 200;
        this.streamGarbage(res, route);
        return;
      case "page":
        this.later(route.spec.delayMs ?? 0, res, () => answerPage(req, res, route));
    }
  }

  /** Runs `answer` after `ms`, unless the client gives up first. */
  private later(ms: number, res: ServerResponse, answer: () => void): void {
    if (ms <= 0) return answer();
    const cancel = (): void => {
      clearTimeout(timer);
      this.timers.delete(timer);
    };
    const timer = setTimeout(() => {
      res.off("close", cancel);
      this.timers.delete(timer);
      answer();
    }, ms);
    this.timers.add(timer);
    res.once("close", cancel);
  }

  private streamGarbage(res: ServerResponse, route: Extract<Route, { kind: "stream" }>): void {
    res.writeHead(200, { "content-type": "application/rss+xml" });
    const pattern = Buffer.from("<item><title>garbage</title><description>never ends");
    const prefix = Buffer.from('<?xml version="1.0"?><rss version="2.0"><channel>');
    let written = 0;
    const writeNext = (): void => {
      if (res.destroyed) return;
      const size = Math.min(route.chunkBytes, route.bytes - written);
      if (size <= 0) {
        res.end();
        return;
      }
      const chunk = Buffer.alloc(size);
      for (let i = 0; i < size; i++) {
        const at = written + i;
        chunk[i] = (at < prefix.length ? prefix[at] : pattern[(at - prefix.length) % pattern.length]) ?? 0x20;
      }
      written += size;
      res.write(chunk);
      this.later(route.intervalMs, res, writeNext);
    };
    writeNext();
  }
}

/** Starts a site on 127.0.0.1 at a free port. */
export async function startFeedSite(): Promise<FeedSite> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return new FeedSite(server);
}

function answerPage(req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: "page" }>): void {
  const status = route.spec.status ?? 200;
  if (status === 200 && isNotModified(req.headers, route.etag, route.lastModified)) {
    const { etag, lastModified } = route;
    res.writeHead(304, { ...(etag && { etag }), ...(lastModified && { "last-modified": lastModified }) });
    res.end();
    return;
  }
  res.writeHead(status, { "content-length": route.body.length, ...route.headers });
  res.end(req.method === "HEAD" ? undefined : route.body);
}

/** RFC 9110: If-None-Match (weak comparison) wins over If-Modified-Since. */
function isNotModified(headers: IncomingHttpHeaders, etag: string | undefined, lastModified: string | undefined): boolean {
  const ifNoneMatch = headers["if-none-match"];
  if (ifNoneMatch !== undefined) {
    if (etag === undefined) return false;
    const opaque = (tag: string): string => tag.trim().replace(/^W\//, "");
    return ifNoneMatch.split(",").some((tag) => tag.trim() === "*" || opaque(tag) === opaque(etag));
  }
  const ifModifiedSince = headers["if-modified-since"];
  if (ifModifiedSince === undefined || lastModified === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && Date.parse(lastModified) <= since;
}

function strongEtag(body: Buffer): string {
  return `"${createHash("sha1").update(body).digest("base64url")}"`;
}

function sniffContentType(body: Buffer): string {
  const start = body.subarray(0, 512).toString("latin1").trimStart().toLowerCase();
  if (start.startsWith("<!doctype html") || start.startsWith("<html")) return "text/html; charset=utf-8";
  if (start.startsWith("{")) return "application/feed+json; charset=utf-8";
  return "application/rss+xml; charset=utf-8";
}

/** An RSS 2.0 feed for {@link rssXml}. */
export interface RssFeed {
  title: string;
  link?: string;
  description?: string;
  items: RssItem[];
}

/** One `<item>`; `description` is text (HTML in it gets escaped, as feeds carry HTML). */
export interface RssItem {
  title: string;
  link?: string;
  guid?: string;
  description?: string;
  pubDate?: Date;
  categories?: string[];
}

/** A valid RSS 2.0 document for `feed`, every value XML-escaped. */
export function rssXml(feed: RssFeed): string {
  const element = (name: string, value: string | undefined, attributes = ""): string =>
    value === undefined ? "" : `<${name}${attributes}>${xmlEscape(value)}</${name}>`;
  const items = feed.items.map((item) =>
    [
      "<item>",
      element("title", item.title),
      element("link", item.link),
      element("guid", item.guid, ' isPermaLink="false"'),
      element("description", item.description),
      element("pubDate", item.pubDate?.toUTCString()),
      ...(item.categories ?? []).map((category) => element("category", category)),
      "</item>",
    ].join(""),
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<rss version="2.0"><channel>',
    element("title", feed.title),
    element("link", feed.link ?? "https://example.org/"),
    element("description", feed.description ?? feed.title),
    ...items,
    "</channel></rss>",
    "",
  ].join("\n");
}

const XML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/** Characters XML 1.0 cannot carry at all, not even as references (lone surrogates included). */
const NOT_XML =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Escapes text for XML content and attribute values.
 *
 * @throws RangeError for characters XML cannot carry (a test meaning to serve them must write raw bytes).
 */
export function xmlEscape(text: string): string {
  const invalid = NOT_XML.exec(text)?.[0];
  if (invalid !== undefined) {
    throw new RangeError(`XML cannot carry U+${invalid.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`);
  }
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c);
}
