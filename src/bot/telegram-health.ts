/**
 * Telegram's reachability: probed once at start with a deadline (so an unreachable Bot API is
 * named in one line instead of a silent wait), and watched on every call while running (one log
 * line when it becomes unreachable, one when it answers again).
 */
import { HttpError, type Api } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import { ConfigError } from "../config/errors.js";
import { errorLine, type Outage } from "../health/outage.js";

/** How long the start-up getMe may take. */
export const TELEGRAM_PROBE_MS = 10_000;

/**
 * Asks the Bot API who the bot is, within `timeoutMs`.
 * @throws ConfigError naming the API root and the cause (never the token, which is in the URL).
 */
export async function probeTelegram(apiRoot: string, token: string, timeoutMs = TELEGRAM_PROBE_MS): Promise<UserFromGetMe> {
  const unreachable = (cause: string) => new ConfigError(`Telegram (${apiRoot}) unreachable: ${cause.replaceAll(token, "<BOT_TOKEN>")}`);
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  let body: { ok?: boolean; result?: UserFromGetMe } | undefined;
  try {
    response = await fetch(`${apiRoot}/bot${token}/getMe`, { signal });
    body = (await response.json().catch(() => undefined)) as typeof body;
  } catch (error) {
    if (signal.aborted) throw unreachable(`no answer within ${timeoutMs / 1000} s`);
    throw unreachable(errorLine((error as Error).cause ?? error));
  }
  if (response.status === 401 || response.status === 404) {
    throw new ConfigError("BOT_TOKEN was rejected by Telegram (401 Unauthorized): check the token from @BotFather");
  }
  if (!response.ok || !body?.ok || !body.result) throw unreachable(`HTTP ${response.status} ${response.statusText}`.trim());
  return body.result;
}

/**
 * Reports every call of `api` to `health`: a network failure or a 5xx counts against Telegram,
 * any other answer (errors about one chat included) shows it is reachable.
 */
export function watchTelegram(api: Api, health: Outage): void {
  api.config.use(async (previous, method, payload, signal) => {
    try {
      const result = await previous(method, payload, signal);
      if (!result.ok && result.error_code >= 500) health.failed("call", new Error(`${method}: ${result.error_code} ${result.description}`));
      else health.succeeded("call");
      return result;
    } catch (error) {
      // A call aborted by newswire itself (stopping) says nothing about Telegram.
      // fetch's own error ("fetch failed") names its cause (ECONNREFUSED, ENOTFOUND) in `cause`.
      if (error instanceof HttpError && !signal?.aborted) health.failed("call", (error.error as Error | undefined)?.cause ?? error.error ?? error);
      throw error;
    }
  });
}
