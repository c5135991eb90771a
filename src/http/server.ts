/**
 * The instance's HTTP server (when `PORT` is set): `GET /healthz` (alive), `GET /readyz`
 * (readiness as JSON, 200 or 503), `GET /metrics` (Prometheus text), and in webhook mode
 * `POST <path of WEBHOOK_URL>` (Telegram's updates). Anything else is 404. Nothing it answers
 * carries the bot token: the routes are fixed, and readiness describes failures by kind only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { ConfigError } from "../config/errors.js";
import type { Readiness } from "./health.js";

/** Handles one request fully (answers it, and resolves once done). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** What the server serves. */
export interface HttpRoutes {
  readiness(): Promise<Readiness>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Webhook mode: Telegram's updates, POSTed to `path`. */
  webhook?: { path: string; handle: RequestHandler };
}

/** A listening server. */
export interface HttpServer {
  /** The port it listens on (the one asked for, or the one given for port 0). */
  port: number;
  /**
   * Stops accepting requests, lets those under way finish for up to `graceMs` (a webhook update
   * being answered), then drops the connections left.
   */
  close(graceMs: number): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  res.end(body);
}

/** Routes one request. */
export function router(routes: HttpRoutes, logger: Logger): RequestHandler {
  return async (req, res) => {
    // Only the path matters (a query string does not change the route); no Host is trusted.
    const path = (req.url ?? "/").split("?", 1)[0];
    const read = req.method === "GET" || req.method === "HEAD";
    try {
      if (read && path === "/healthz") return send(res, 200, "text/plain; charset=utf-8", "ok\n");
      if (read && path === "/readyz") {
        const readiness = await routes.readiness();
        return send(res, readiness.ready ? 200 : 503, "application/json", JSON.stringify(readiness));
      }
      if (read && path === "/metrics") {
        const { contentType, body } = await routes.metrics();
        return send(res, 200, contentType, body);
      }
      if (req.method === "POST" && routes.webhook && path === routes.webhook.path) return await routes.webhook.handle(req, res);
      send(res, 404, "text/plain; charset=utf-8", "not found\n");
    } catch (error) {
      logger.error({ err: error, path }, "HTTP request failed");
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error\n");
      else res.destroy();
    }
  };
}

/**
 * Listens on `port` (all interfaces) and serves `routes`.
 * @throws ConfigError when the port cannot be listened on (in use, not permitted).
 */
export async function startHttpServer(port: number, routes: HttpRoutes, logger: Logger): Promise<HttpServer> {
  const handle = router(routes, logger);
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => reject(new ConfigError(`PORT ${port} cannot be listened on: ${error.code ?? error.message}`)));
    server.listen(port, () => resolve());
  });
  const listening = (server.address() as AddressInfo).port;
  logger.info({ port: listening, webhook: routes.webhook !== undefined }, "HTTP server listening");
  return {
    port: listening,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        // Keep-alive connections with no request under way would hold close() open until they time out.
        server.closeIdleConnections();
      }),
  };
}
