import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { FetchError, fetchResource, USER_AGENT, type FetchFailure, type FetchOptions } from "../../src/feeds/fetch.js";

const FEED = `<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback</title></channel></rss>`;
const ETAG = '"v1"';
const LAST_MODIFIED = "Wed, 06 Mar 2024 10:00:00 GMT";
/** Bytes the endless route would send in all, far beyond any buffering between it and the client. */
const STREAM_TOTAL = 64 * 1024 * 1024;
const STREAM_CHUNK = new Uint8Array(64 * 1024).fill(0x61);

/** What the streaming route managed to write before its client went away. */
let streamed: Promise<number> = Promise.resolve(0);
let lastHeaders: IncomingHttpHeaders = {};

function route(request: IncomingMessage, response: ServerResponse): void {
  lastHeaders = request.headers;
  const path = new URL(request.url ?? "/", "http://loopback").pathname;
  const redirect = path.match(/^\/r\/(\d+)$/);
  if (redirect) {
    const left = Number(redirect[1]);
    if (left === 0) return void response.end(FEED);
    // Alternate relative and absolute Locations.
    const location = left % 2 === 0 ? `${left - 1}` : `http://${request.headers.host}/r/${left - 1}`;
    return void response.writeHead(302, { location }).end();
  }
  switch (path) {
    case "/etag":
      if (request.headers["if-none-match"] === ETAG) return void response.writeHead(304).end();
      return void response
        .writeHead(200, { "content-type": "application/rss+xml; charset=utf-8", etag: ETAG, "last-modified": LAST_MODIFIED })
        .end(FEED);
    case "/gzip":
      return void response.writeHead(200, { "content-encoding": "gzip" }).end(gzipSync(FEED));
    case "/brotli":
      return void response.writeHead(200, { "content-encoding": "br" }).end(brotliCompressSync(FEED));
    case "/hang":
      return; // never answers
    case "/hang-in-body":
      response.writeHead(200, { "content-type": "text/xml" });
      return void response.write("<rss>");
    case "/endless":
      streamed = streamEndless(response);
      return;
    case "/declared-too-large":
      // Claims 10 MB, sends a few bytes, then stalls: only the header can end this early.
      response.writeHead(200, { "content-length": String(10 * 1024 * 1024) });
      return void response.write("<rss>");
    case "/loop/a":
      return void response.writeHead(301, { location: "/loop/b" }).end();
    case "/loop/b":
      return void response.writeHead(307, { location: "a" }).end();
    case "/status/500":
      return void response.writeHead(500).end("oops");
    case "/status/404":
      return void response.writeHead(404, { "retry-after": "5" }).end();
    case "/status/429":
      return void response.writeHead(429, { "retry-after": "120" }).end();
    case "/status/503":
      return void response.writeHead(503, { "retry-after": new Date(Date.now() + 90_000).toUTCString() }).end();
    default:
      response.writeHead(404).end();
  }
}

/** Writes chunks with backpressure, without Content-Length, until STREAM_TOTAL or the client leaves. */
async function streamEndless(response: ServerResponse): Promise<number> {
  response.writeHead(200, { "content-type": "text/xml" });
  let written = 0;
  let closed = false;
  let wake = (): void => undefined;
  response.on("close", () => {
    closed = true;
    wake();
  });
  response.on("drain", () => wake());
  while (!closed && written < STREAM_TOTAL) {
    written += STREAM_CHUNK.byteLength;
    if (!response.write(STREAM_CHUNK)) await new Promise<void>((resolve) => (wake = resolve));
  }
  response.end();
  return written;
}

const server = createServer(route);
let base = "";

before(async () => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

const options = (overrides: Partial<FetchOptions> = {}): FetchOptions => ({
  timeoutMs: 5000,
  maxBytes: 1024 * 1024,
  userAgent: USER_AGENT,
  ...overrides,
});

async function assertFetchFails(path: string, reason: FetchFailure, overrides: Partial<FetchOptions> = {}): Promise<FetchError> {
  let caught: unknown;
  try {
    await fetchResource(`${base}${path}`, options(overrides));
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof FetchError, `expected a FetchError, got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  assert.ok(caught.message.includes(base), `message names the URL: ${caught.message}`);
  assert.doesNotMatch(caught.message, /\n/);
  return caught;
}

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

describe("fetchResource", { timeout: 30_000 }, () => {
  test("USER_AGENT carries package.json's version", () => {
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    assert.equal(USER_AGENT, `newswire/${version} (+https://github.com/newswire-bot/newswire)`);
  });

  test("200 with validators, then 304 on the conditional GET", async () => {
    const first = await fetchResource(`${base}/etag`, options());
    assert.equal(first.status, "ok");
    if (first.status !== "ok") return;
    assert.equal(text(first.bytes), FEED);
    assert.equal(first.etag, ETAG);
    assert.equal(first.lastModified, LAST_MODIFIED);
    assert.equal(first.contentType, "application/rss+xml; charset=utf-8");
    assert.equal(first.url, `${base}/etag`);
    assert.equal(lastHeaders["user-agent"], USER_AGENT);
    assert.match(lastHeaders.accept ?? "", /application\/rss\+xml/);
    assert.equal(lastHeaders["accept-encoding"], "gzip, deflate, br");

    const second = await fetchResource(`${base}/etag`, options({ etag: first.etag, lastModified: first.lastModified }));
    assert.deepEqual(second, { status: "not-modified" });
    assert.equal(lastHeaders["if-none-match"], ETAG);
    assert.equal(lastHeaders["if-modified-since"], LAST_MODIFIED);
  });

  test("a given Accept header is sent as is", async () => {
    await fetchResource(`${base}/etag`, options({ accept: "text/html" }));
    assert.equal(lastHeaders.accept, "text/html");
  });

  test("gzip and brotli bodies arrive decompressed", async () => {
    for (const path of ["/gzip", "/brotli"]) {
      const result = await fetchResource(`${base}${path}`, options());
      assert.equal(result.status === "ok" && text(result.bytes), FEED, path);
    }
  });

  test("a server that never answers times out", async () => {
    await assertFetchFails("/hang", "timeout", { timeoutMs: 300 });
  });

  test("the timeout covers the body too", async () => {
    await assertFetchFails("/hang-in-body", "timeout", { timeoutMs: 300 });
  });

  test("the size cap stops a body streamed without Content-Length", async () => {
    const error = await assertFetchFails("/endless", "too-large", { maxBytes: 100_000 });
    assert.match(error.message, /100000 bytes/);
    const written = await streamed;
    assert.ok(written < STREAM_TOTAL, `the client stopped reading before the end (server wrote ${written} bytes)`);
  });

  test("a Content-Length over the cap is refused before the body", async () => {
    await assertFetchFails("/declared-too-large", "too-large", { maxBytes: 100_000 });
  });

  test("a chain of 5 redirects is followed, relative Locations included", async () => {
    const result = await fetchResource(`${base}/r/5`, options());
    assert.equal(result.status, "ok");
    assert.equal(result.status === "ok" && result.url, `${base}/r/0`);
  });

  test("a sixth redirect fails", async () => {
    await assertFetchFails("/r/6", "too-many-redirects");
  });

  test("a redirect loop fails", async () => {
    await assertFetchFails("/loop/a", "redirect-loop");
  });

  test("HTTP 500 fails with its status", async () => {
    const error = await assertFetchFails("/status/500", "http");
    assert.equal(error.httpStatus, 500);
    assert.equal(error.message, `HTTP 500 from ${base}/status/500`);
    assert.equal(error.retryAfterMs, undefined);
  });

  test("429 with Retry-After in seconds gives retryAfterMs", async () => {
    const error = await assertFetchFails("/status/429", "http");
    assert.equal(error.httpStatus, 429);
    assert.equal(error.retryAfterMs, 120_000);
  });

  test("503 with Retry-After as an HTTP date gives the delay until then", async () => {
    const error = await assertFetchFails("/status/503", "http");
    assert.equal(error.httpStatus, 503);
    assert.ok(error.retryAfterMs !== undefined && error.retryAfterMs > 0 && error.retryAfterMs <= 90_000, String(error.retryAfterMs));
  });

  test("Retry-After is ignored on other statuses", async () => {
    const error = await assertFetchFails("/status/404", "http");
    assert.equal(error.retryAfterMs, undefined);
  });

  test("a refused connection is a network failure", async () => {
    const closed = createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, "close");
    await assert.rejects(fetchResource(`http://127.0.0.1:${port}/`, options()), (error: unknown) => {
      assert.ok(error instanceof FetchError && error.reason === "network", String(error));
      return true;
    });
  });

  test("a URL that isn't http(s) is a network failure", async () => {
    await assert.rejects(fetchResource("ftp://files.example/feed.xml", options()), { name: "FetchError", reason: "network" });
  });

  test("the caller's abort rejects with its own reason, not a FetchError", async () => {
    const controller = new AbortController();
    const shutdown = new Error("shutting down");
    const pending = fetchResource(`${base}/hang`, options({ signal: controller.signal }));
    controller.abort(shutdown);
    await assert.rejects(pending, (error: unknown) => error === shutdown);
  });
});
