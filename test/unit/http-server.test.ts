import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { startHttpServer, type HttpRoutes, type HttpServer } from "../../src/http/server.js";
import { ConfigError } from "../../src/config/errors.js";
import type { Readiness } from "../../src/http/health.js";
import { silentLogger } from "../support/builders.js";

describe("HTTP server routes", () => {
  let server: HttpServer;
  let ready = true;
  const hooked: string[] = [];
  const routes: HttpRoutes = {
    readiness: async (): Promise<Readiness> => ({
      ready,
      role: "webhook",
      sending: true,
      failed: ready ? [] : ["store"],
      checks: { store: ready ? { ok: true } : { ok: false, error: "Error (ECONNREFUSED)" }, telegram: { ok: true }, poll: { ok: true } },
    }),
    metrics: async () => ({ contentType: "text/plain; version=0.0.4; charset=utf-8", body: "newswire_up 1\n" }),
    webhook: {
      path: "/telegram/hook",
      handle: async (req, res) => {
        hooked.push(req.url ?? "");
        res.writeHead(200).end();
      },
    },
  };
  const ask = async (path: string, method = "GET") => {
    const response = await fetch(`http://127.0.0.1:${server.port}${path}`, { method });
    return { status: response.status, body: await response.text(), type: response.headers.get("content-type") };
  };

  before(async () => {
    server = await startHttpServer(0, routes, silentLogger);
  });
  after(() => server.close(1_000));

  test("/healthz answers 200", async () => {
    assert.deepEqual(await ask("/healthz"), { status: 200, body: "ok\n", type: "text/plain; charset=utf-8" });
    assert.equal((await ask("/healthz?probe=1")).status, 200, "a query string does not change the route");
  });

  test("/readyz: 200 with the JSON verdict, 503 when not ready", async () => {
    const good = await ask("/readyz");
    assert.equal(good.status, 200);
    assert.equal(good.type, "application/json");
    assert.deepEqual(JSON.parse(good.body).role, "webhook");
    ready = false;
    const bad = await ask("/readyz");
    ready = true;
    assert.equal(bad.status, 503);
    assert.deepEqual(JSON.parse(bad.body).failed, ["store"]);
  });

  test("/metrics serves the exposition with its content type", async () => {
    assert.deepEqual(await ask("/metrics"), { status: 200, body: "newswire_up 1\n", type: "text/plain; version=0.0.4; charset=utf-8" });
  });

  test("the webhook path takes POST only; anything else is 404", async () => {
    assert.equal((await ask("/telegram/hook", "POST")).status, 200);
    assert.deepEqual(hooked, ["/telegram/hook"]);
    for (const [path, method] of [["/telegram/hook", "GET"], ["/telegram/hook/", "POST"], ["/", "GET"], ["/readyz", "POST"], ["/metrics", "DELETE"]]) {
      assert.equal((await ask(path!, method)).status, 404, `${method} ${path}`);
    }
    assert.equal(hooked.length, 1);
  });

  test("a failing route answers 500", async () => {
    const failing = await startHttpServer(0, { ...routes, metrics: () => Promise.reject(new Error("registry broke")) }, silentLogger);
    try {
      const response = await fetch(`http://127.0.0.1:${failing.port}/metrics`);
      assert.equal(response.status, 500);
      assert.equal(await response.text(), "internal error\n");
    } finally {
      await failing.close(1_000);
    }
  });
});

describe("startHttpServer", () => {
  test("a port in use is a ConfigError naming PORT", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, resolve));
    const { port } = taken.address() as { port: number };
    try {
      await assert.rejects(startHttpServer(port, { readiness: async () => ({}) as Readiness, metrics: async () => ({ contentType: "", body: "" }) }, silentLogger), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.message, `PORT ${port} cannot be listened on: EADDRINUSE`);
        return true;
      });
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  test("close lets a request under way finish within the grace period, and drops it after", async () => {
    const verdict: Readiness = { ready: true, role: "long-polling", sending: true, failed: [], checks: { store: { ok: true }, telegram: { ok: true }, poll: { ok: true } } };
    let reached: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => (reached = resolve));
    let answer: () => void = () => undefined;
    const server = await startHttpServer(0, {
      readiness: () => {
        reached();
        return new Promise<Readiness>((resolve) => (answer = () => resolve(verdict)));
      },
      metrics: async () => ({ contentType: "", body: "" }),
    }, silentLogger);
    const first = fetch(`http://127.0.0.1:${server.port}/readyz`).then((response) => response.status, () => "dropped");
    await arrived;
    const closed = server.close(60_000);
    answer();
    assert.equal(await first, 200, "finished within the grace period");
    await closed;

    const again = await startHttpServer(0, { readiness: () => (reached(), new Promise<Readiness>(() => undefined)), metrics: async () => ({ contentType: "", body: "" }) }, silentLogger);
    const second = new Promise<void>((resolve) => (reached = resolve));
    const hanging = fetch(`http://127.0.0.1:${again.port}/readyz`).then(() => "answered", () => "dropped");
    await second;
    await again.close(10);
    assert.equal(await hanging, "dropped");
  });
});
