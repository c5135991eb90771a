/**
 * The HTTP side of one instance, started by main when `PORT` is set: the server with readiness
 * and metrics, and in webhook mode the webhook route, registered with Telegram once the server
 * listens (Telegram starts posting at once).
 */
import { GrammyError, type Api, type Bot, type Context } from "grammy";
import type { Logger } from "pino";
import { ConfigError } from "../config/errors.js";
import type { Metrics } from "../metrics/metrics.js";
import type { OutageState } from "../health/outage.js";
import { pollCheck, pollStaleAfterMs, readiness, reused, runProbe, storeCheck, storeProbe, telegramProbe, type Part, type ProbedStore } from "./health.js";
import { startHttpServer, type HttpServer } from "./server.js";
import { webhookHandler, webhookPath } from "./webhook.js";

/** What the HTTP side reads. */
export interface HttpParts<C extends Context> {
  bot: Bot<C>;
  /** An Api without retries, for the Telegram probe. */
  probeApi: Api;
  /** A store namespace, for the store probe. */
  store: ProbedStore;
  /** The store's health (its Outage): failing writes make the instance not ready. */
  storeHealth: { readonly state: OutageState | undefined };
  /** This instance's part right now (it changes when another instance's sending is taken over). */
  part: () => Part;
  poller: { readonly lastCycleAt: number | undefined; nextTicks(count: number): number[] };
  metrics: Metrics;
  logger: Logger;
}

/**
 * Starts the server on `port`; with `webhook`, serves its path and sets the webhook.
 * @throws ConfigError when the port cannot be listened on or Telegram refuses the webhook.
 */
export async function startHttp<C extends Context>(
  port: number,
  webhook: { url: string; secret: string } | undefined,
  parts: HttpParts<C>,
): Promise<HttpServer> {
  const { bot, metrics, logger } = parts;
  const store = reused(() => runProbe(storeProbe(parts.store)));
  const telegram = reused(() => runProbe(telegramProbe(parts.probeApi)));
  const server = await startHttpServer(
    port,
    {
      readiness: async () => {
        const [read, telegramResult] = await Promise.all([store(), telegram()]);
        const now = Date.now();
        const poll = pollCheck(parts.poller.lastCycleAt, now, pollStaleAfterMs(parts.poller.nextTicks(4)));
        return readiness(parts.part(), { store: storeCheck(read, parts.storeHealth.state, now), telegram: telegramResult, poll });
      },
      metrics: () => metrics.exposition(),
      ...(webhook ? { webhook: { path: webhookPath(webhook.url), handle: webhookHandler(bot, webhook.secret, logger) } } : {}),
    },
    logger,
  );
  if (!webhook) return server;
  try {
    await bot.api.setWebhook(webhook.url, { secret_token: webhook.secret, drop_pending_updates: false });
  } catch (error) {
    await server.close(0);
    if (error instanceof GrammyError) throw new ConfigError(`WEBHOOK_URL was refused by Telegram: ${error.description}`);
    throw error;
  }
  return server;
}
