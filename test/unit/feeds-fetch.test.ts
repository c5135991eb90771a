import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, globalAgent, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
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
  const coded = path.match(/^\/coded\/(.+)$/);
  if (coded) {
    const { body, contentEncoding } = encoded(FEED, coded[1]!.split(","));
    return void response.writeHead(200, { "content-encoding": contentEncoding }).end(body);
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
    case "/compress":
      // A coding newswire can't undo, with a body that never ends: refusing it must also let go of it.
      streamed = streamEndless(response, 200, { "content-type": "text/xml", "content-encoding": "compress" });
      return;
    case "/gzip-hang-in-body":
      response.writeHead(200, { "content-encoding": "gzip" });
      return void response.write(gzipSync(FEED).subarray(0, 20));
    case "/bomb":
      // 32 MB of zeros gzipped twice: a few hundred bytes on the wire, a long inflation after them.
      return void response.writeHead(200, { "content-encoding": "gzip, gzip" }).end(gzipSync(gzipSync(new Uint8Array(32 * 1024 * 1024))));
    case "/redirect-with-body":
      streamed = streamEndless(response, 302, { location: "/etag" });
      return;
    case "/hang":
      return; // never answers
    case "/hang-in-body":
      response.writeHead(200, { "content-type": "text/xml" });
      return void response.write("<rss>");
    case "/endless":
      streamed = streamEndless(response, 200, { "content-type": "text/xml" });
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

/**
 * `text` put through `steps` in order (gzip, br, deflate, "deflate-raw" as IIS sends deflate, or
 * "garbage" replacing the bytes so far; any other step is only announced), and the
 * Content-Encoding announcing them.
 */
function encoded(text: string, steps: string[]): { body: Uint8Array; contentEncoding: string } {
  let body: Uint8Array = Buffer.from(text);
  const codings: string[] = [];
  for (const step of steps) {
    if (step === "garbage") {
      body = Buffer.from("these bytes are no compressed stream at all");
      continue;
    }
    codings.push(step === "deflate-raw" ? "deflate" : step);
    if (step === "gzip") body = gzipSync(body);
    else if (step === "br") body = brotliCompressSync(body);
    else if (step === "deflate") body = deflateSync(body);
    else if (step === "deflate-raw") body = deflateRawSync(body);
  }
  return { body, contentEncoding: codings.join(", ") };
}

/** Writes chunks with backpressure, without Content-Length, until STREAM_TOTAL or the client leaves. */
async function streamEndless(response: ServerResponse, status: number, headers: OutgoingHttpHeaders): Promise<number> {
  response.writeHead(status, headers);
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

  test("a 304 leaves its connection open for the next request to the site", async () => {
    const first = await fetchResource(`${base}/etag`, options());
    assert.equal(first.status, "ok");
    if (first.status !== "ok") return;
    let connections = 0;
    const count = () => void connections++;
    server.on("connection", count);
    try {
      for (let poll = 0; poll < 3; poll++) {
        assert.deepEqual(await fetchResource(`${base}/etag`, options({ etag: first.etag })), { status: "not-modified" });
      }
    } finally {
      server.off("connection", count);
    }
    assert.equal(connections, 0, "the 304s reuse the first answer's connection");
  });

  test("a kept-alive connection the server closed as it was reused is tried once more on a new one", async () => {
    // Each connection answers its first request (keep-alive) and is cut at its second, as a server
    // does that drops idle connections sooner than it said.
    const sockets = new Set<Socket>();
    const site = createTcpServer((socket) => {
      sockets.add(socket);
      let requests = 0;
      socket.on("data", (chunk) => {
        if (!chunk.toString("latin1").includes("\r\n\r\n")) return;
        if (++requests > 1) return void socket.destroy();
        socket.write("HTTP/1.1 304 Not Modified\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\n");
      });
    });
    site.listen(0, "127.0.0.1");
    await once(site, "listening");
    const url = `http://127.0.0.1:${(site.address() as AddressInfo).port}/feed.xml`;
    try {
      for (let poll = 0; poll < 3; poll++) assert.deepEqual(await fetchResource(url, options({ etag: '"v1"' })), { status: "not-modified" });
      assert.equal(sockets.size, 3, "a new connection for each poll after the first, each one retry");
    } finally {
      for (const socket of sockets) socket.destroy();
      site.close();
    }
  });

  test("a reused connection cut while the body streams fails that fetch, and asks nothing again", async () => {
    // The first request is answered 304 (kept alive); the second gets a 200 head and part of the body, then a reset.
    let requests = 0;
    const sockets = new Set<Socket>();
    const site = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on("data", (chunk) => {
        if (!chunk.toString("latin1").includes("\r\n\r\n")) return;
        if (++requests === 1) return void socket.write("HTTP/1.1 304 Not Modified\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\n");
        socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 1000\r\n\r\n<rss>");
        setTimeout(() => socket.resetAndDestroy(), 20);
      });
    });
    site.listen(0, "127.0.0.1");
    await once(site, "listening");
    const url = `http://127.0.0.1:${(site.address() as AddressInfo).port}/feed.xml`;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      assert.deepEqual(await fetchResource(url, options({ etag: '"v1"' })), { status: "not-modified" });
      // Once the 304's connection is back in the pool, the next fetch reuses it.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await assert.rejects(fetchResource(url, options()), FetchError);
      // Time for a stray second attempt to reach the server (or fail unhandled) if one were made.
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(sockets.size, 1, "the second fetch reused the 304's connection");
      assert.equal(requests, 2, "no request after the answered one");
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      for (const socket of sockets) socket.destroy();
      site.close();
    }
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

  test("deflate bodies arrive inflated, zlib-wrapped as the RFC says or raw as IIS and old PHP send them", async () => {
    for (const path of ["/coded/deflate", "/coded/deflate-raw"]) {
      const result = await fetchResource(`${base}${path}`, options());
      assert.equal(result.status === "ok" && text(result.bytes), FEED, path);
    }
  });

  test("stacked codings are undone last first; identity is no coding", async () => {
    for (const path of ["/coded/gzip,br", "/coded/deflate-raw,identity,gzip", "/coded/br,deflate"]) {
      const result = await fetchResource(`${base}${path}`, options());
      assert.equal(result.status === "ok" && text(result.bytes), FEED, path);
    }
  });

  test("a coding newswire can't undo is refused, and its body left unread", async () => {
    // A deadline past the suite's timeout, so that only letting go of the body ends the server's stream.
    const error = await assertFetchFails("/compress", "bad-encoding", { timeoutMs: 60_000 });
    assert.match(error.message, /unsupported Content-Encoding "compress"/);
    const written = await streamed;
    assert.ok(written < STREAM_TOTAL, `the client stopped reading before the end (server wrote ${written} bytes)`);
    // /status shows the message: the server's coding is clipped in it.
    const path = `/coded/gzip,x-${"z".repeat(5000)}`;
    const long = await assertFetchFails(path, "bad-encoding");
    assert.ok(long.message.replace(`${base}${path}`, "").length < 100, long.message);
  });

  test("more than three stacked codings are refused", async () => {
    const error = await assertFetchFails("/coded/gzip,gzip,gzip,gzip", "bad-encoding");
    assert.match(error.message, /more than 3 stacked Content-Encodings \("gzip, gzip, gzip, gzip"\)/);
  });

  test("a corrupt compressed body is refused, naming its coding", async () => {
    for (const coding of ["gzip", "br", "deflate"]) {
      const error = await assertFetchFails(`/coded/${coding},garbage`, "bad-encoding");
      assert.match(error.message, new RegExp(`^corrupt ${coding} body from ${base}/coded/`));
    }
    // The inner coding of two, after the outer one was undone.
    const error = await assertFetchFails("/coded/gzip,garbage,br", "bad-encoding");
    assert.match(error.message, /^corrupt gzip body from /);
  });

  test("a server that never answers times out", async () => {
    await assertFetchFails("/hang", "timeout", { timeoutMs: 300 });
  });

  test("the timeout covers the body too", async () => {
    await assertFetchFails("/hang-in-body", "timeout", { timeoutMs: 300 });
  });

  test("the timeout covers a compressed body too", async () => {
    await assertFetchFails("/gzip-hang-in-body", "timeout", { timeoutMs: 300 });
  });

  test("an abort once the whole body is in stops its decompression too", async () => {
    // The deadline rides the same signal as the caller's abort, which a test can time exactly: the
    // agent frees the socket once the few hundred bytes are read, long before 32 MB come out of them.
    const controller = new AbortController();
    const stop = new Error("stop");
    globalAgent.once("free", () => controller.abort(stop));
    await assert.rejects(
      fetchResource(`${base}/bomb`, options({ maxBytes: 64 * 1024 * 1024, signal: controller.signal })),
      (error: unknown) => error === stop,
    );
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

  test("a redirect's body is left unread", async () => {
    // A deadline past the suite's timeout, so that only letting go of the body ends the server's stream.
    const result = await fetchResource(`${base}/redirect-with-body`, options({ timeoutMs: 60_000 }));
    assert.equal(result.status === "ok" && text(result.bytes), FEED);
    const written = await streamed;
    assert.ok(written < STREAM_TOTAL, `the client stopped reading before the end (server wrote ${written} bytes)`);
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
