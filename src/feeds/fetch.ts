/**
 * One HTTP GET for feeds and article pages: manual redirects, a single deadline over the whole
 * exchange, a size cap enforced while the body streams, conditional GET, an address policy checked
 * on every hop as it connects, and failures as `FetchError` with a reason the poller can act on
 * (back off, give up, show in /status).
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { createRequire } from "node:module";
import { addAbortSignal, pipeline, Transform, type Readable, type TransformCallback } from "node:stream";
import zlib from "node:zlib";
import { clip } from "../text/clip.js";
import { httpUrl } from "../text/url.js";
import { AddressRefused, guardedLookup, type AddressPolicy } from "./address-policy.js";

// createRequire rather than a JSON import: package.json is outside tsconfig.build's rootDir.
const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

/** The User-Agent newswire sends everywhere, so site owners can tell who polls them. */
export const USER_AGENT = `newswire/${version} (+https://github.com/newswire-bot/newswire)`;

/** Redirects followed before giving up. */
const MAX_REDIRECTS = 5;

/**
 * Content codings undone on one body before giving up: real servers stack two at most (a proxy
 * gzipping again), and each one holds a decompressor.
 */
const MAX_CODINGS = 3;

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
  | "refused-address"
  | "not-a-feed"
  | "unparseable"
  /** A Content-Encoding newswire can't undo (unknown, or stacked too deep), or a body corrupt under it. */
  | "bad-encoding";

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
  /**
   * Where the fetch may connect, checked on every hop (article pages); absent for the operator's
   * own feeds, which go wherever their URLs point.
   */
  addressPolicy?: AddressPolicy;
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
 * `maxBytes` or in a coding it can't undo, a redirect loop or chain too long, or a hop to an address
 * `addressPolicy` refuses.
 */
export async function fetchResource(url: string, options: FetchOptions): Promise<FetchResult> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
  try {
    return await fetchFollowing(url, options, signal);
  } catch (error) {
    if (error instanceof FetchError) throw error;
    if (error instanceof AddressRefused) {
      throw new FetchError("refused-address", `refused to fetch ${url}: ${error.message}`, { cause: error });
    }
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
    const response = await get(url, options, signal);
    const status = response.statusCode ?? 0;
    const location = header(response, "location");
    if (isRedirect(status) && location !== undefined) {
      response.destroy();
      if (redirects === MAX_REDIRECTS) {
        throw new FetchError("too-many-redirects", `more than ${MAX_REDIRECTS} redirects from ${startUrl}`);
      }
      const next = parseHttpUrl(location, url);
      if (seen.has(next.href)) throw new FetchError("redirect-loop", `redirect loop at ${next.href} from ${startUrl}`);
      url = next;
      continue;
    }
    if (status === 304) {
      // A 304 has no body: read to its end, its connection goes back to the pool for the next
      // feed of that site (destroying it cost each 304 a new connection).
      response.resume();
      return { status: "not-modified" };
    }
    if (status < 200 || status > 299) {
      response.destroy();
      throw httpError(response, url.href);
    }
    const bytes = await readCapped(response, options.maxBytes, url.href, signal);
    return {
      status: "ok",
      bytes,
      url: url.href,
      contentType: header(response, "content-type"),
      etag: header(response, "etag"),
      lastModified: header(response, "last-modified"),
    };
  }
}

/**
 * One GET of `url`, resolved with the response head. Under an address policy the connection's
 * address is checked as the socket connects, on its own fresh connection (a pooled socket would
 * skip the check). A kept-alive connection that the server closed just as it was reused is
 * tried once more on a connection of its own (another pooled one may be as stale), as Node
 * advises: before an answer, the server never saw the request.
 */
function get(url: URL, options: FetchOptions, signal: AbortSignal, fresh = false): Promise<IncomingMessage> {
  const lookup = options.addressPolicy && guardedLookup(url, options.addressPolicy);
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const sent = request(url, { headers: requestHeaders(options), signal, ...(lookup && { lookup }), ...((lookup || fresh) && { agent: false }) });
    // Once the head has come the server has seen the request: a reset then is the body's failure
    // (readCapped's to report), and no reason to ask again.
    let answered = false;
    sent
      .once("response", (response: IncomingMessage) => {
        answered = true;
        resolve(response);
      })
      .on("error", (error: NodeJS.ErrnoException) => {
        if (answered) return;
        if (sent.reusedSocket && error.code === "ECONNRESET" && !signal.aborted) get(url, options, signal, true).then(resolve, reject);
        else reject(error);
      })
      .end();
  });
}

/** A response header's (first) value. */
function header(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function requestHeaders(options: FetchOptions): Record<string, string> {
  return {
    "user-agent": options.userAgent,
    accept: options.accept ?? FEED_ACCEPT,
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

function httpError(response: IncomingMessage, url: string): FetchError {
  const status = response.statusCode ?? 0;
  const retryAfter = header(response, "retry-after");
  const retryAfterMs = (status === 429 || status === 503) && retryAfter !== undefined ? parseRetryAfter(retryAfter) : undefined;
  return new FetchError("http", `HTTP ${status} from ${url}`, { httpStatus: status, retryAfterMs });
}

/** A Retry-After value (delay in seconds, or an HTTP date) as ms from now; undefined when unreadable. */
function parseRetryAfter(value: string): number | undefined {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * The body, decompressed, refusing it early by Content-Length and while streaming once it exceeds
 * `maxBytes`. `signal` stops it even once the response is in: a small body can take long to inflate.
 */
async function readCapped(response: IncomingMessage, maxBytes: number, url: string, signal: AbortSignal): Promise<Uint8Array> {
  const tooLarge = (): FetchError => new FetchError("too-large", `body over ${maxBytes} bytes from ${url}`);
  const declared = Number(header(response, "content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    response.destroy();
    throw tooLarge();
  }
  const body = addAbortSignal(signal, decoded(response, url));
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return concat(chunks, total);
}

/** A content coding newswire undoes. */
type Coding = "gzip" | "deflate" | "br";

const isCoding = (name: string): name is Coding => name === "gzip" || name === "deflate" || name === "br";

/**
 * The body with its Content-Encoding undone, last coding first. Refuses (and lets go of) a body in
 * a coding it doesn't know or under more than MAX_CODINGS of them; the server's words are clipped
 * in the message, which /status shows.
 */
function decoded(response: IncomingMessage, url: string): Readable {
  const contentEncoding = header(response, "content-encoding") ?? "";
  const codings = contentEncoding
    .toLowerCase()
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "" && name !== "identity")
    .map((name) => (name === "x-gzip" ? "gzip" : name));
  const unknown = codings.find((name) => !isCoding(name));
  if (unknown !== undefined || codings.length > MAX_CODINGS) {
    response.destroy();
    const why =
      unknown === undefined
        ? `more than ${MAX_CODINGS} stacked Content-Encodings ("${clip(contentEncoding, 80)}")`
        : `unsupported Content-Encoding "${clip(unknown, 40)}"`;
    throw new FetchError("bad-encoding", `${why} from ${url}`);
  }
  if (codings.length === 0) return response;
  const decoders = codings.filter(isCoding).reverse().map((coding) => new Decoder(coding, url));
  // pipeline destroys every stage when one fails, so the socket is released with the decoder.
  return pipeline([response, ...decoders], () => undefined) as unknown as Readable;
}

/** Lenient about a truncated end, as browsers are. */
const LENIENT_ZLIB = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
const LENIENT_BROTLI = { flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH };

/**
 * Undoes one content coding with zlib, its failures becoming `bad-encoding` FetchErrors that name
 * the coding and the URL (a failure of another stage passes through as it is). zlib starts once two
 * bytes are in: `deflate` is zlib-wrapped as RFC 9110 says or raw as IIS and old PHP send it, told
 * apart by the zlib header, as browsers do. Backpressure passes through both ways.
 */
class Decoder extends Transform {
  private inflater?: Transform;
  private head = Buffer.alloc(0);

  constructor(
    private readonly coding: Coding,
    private readonly url: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.inflater === undefined) {
      this.head = Buffer.concat([this.head, chunk]);
      if (this.head.length < 2) return done();
      this.inflater = this.start();
      chunk = this.head;
    }
    if (this.inflater.write(chunk)) done();
    else this.inflater.once("drain", done);
  }

  override _flush(done: TransformCallback): void {
    // A body of fewer than two bytes starts zlib only now.
    const inflater = this.inflater ?? this.start();
    if (this.inflater === undefined) inflater.write(this.head);
    inflater.once("end", () => done()).end();
  }

  override _read(size: number): void {
    this.inflater?.resume();
    super._read(size);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.inflater?.destroy();
    done(error);
  }

  private start(): Transform {
    const inflater = inflaterFor(this.coding, this.head);
    return inflater
      .on("data", (chunk: Buffer) => {
        if (!this.push(chunk)) inflater.pause();
      })
      .on("error", (error) => {
        this.destroy(new FetchError("bad-encoding", `corrupt ${this.coding} body from ${this.url}: ${error.message}`, { cause: error }));
      });
  }
}

/** The zlib stream that undoes `coding`, for a body that starts with `head`. */
function inflaterFor(coding: Coding, head: Uint8Array): Transform {
  if (coding === "gzip") return zlib.createGunzip(LENIENT_ZLIB);
  if (coding === "br") return zlib.createBrotliDecompress(LENIENT_BROTLI);
  const [first = 0, second = 0] = head;
  const zlibWrapped = (first & 0x0f) === 8 && (first * 256 + second) % 31 === 0;
  return zlibWrapped ? zlib.createInflate(LENIENT_ZLIB) : zlib.createInflateRaw(LENIENT_ZLIB);
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

/** The innermost reason of a failed request (undici puts it in `cause`), for a one-line message. */
export function describeCause(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
