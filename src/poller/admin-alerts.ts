/**
 * Feed-health alerts to the bot's admins. Telegram takes about one message a second per chat, so
 * alerts go out one at a time, and those raised while one is being sent go out together in the
 * next message. A burst (the server lost its network and every feed fails) lists the first few and
 * counts the rest, instead of thousands of messages.
 */
import type { Logger } from "pino";
import { packMessages } from "../delivery/render.js";
import { clip } from "../text/clip.js";
import type { AdminAlerts } from "./poll-feed.js";

/** Alerts listed per round; the rest of a burst is counted. */
const MAX_LISTED_ALERTS = 10;
/** An alert is a few lines; one carrying a huge URL or error is clipped to stay readable. */
const MAX_ALERT_LENGTH = 1_000;

/** Sends one plain-text message to a chat (the bot's `api.sendMessage`); may reject. */
export type SendText = (chatId: number, text: string) => Promise<unknown>;

/** The messages for one round of alerts: packed up to Telegram's length, long ones clipped, a burst cut short. */
export function alertMessages(alerts: readonly string[]): string[] {
  const listed = alerts.slice(0, alerts.length > MAX_LISTED_ALERTS ? MAX_LISTED_ALERTS - 1 : MAX_LISTED_ALERTS);
  const rest = alerts.length - listed.length;
  const more = rest > 0 ? [`…and ${rest} more feed alerts; /status shows every feed.`] : [];
  return packMessages("", [...listed.map((text) => clip(text, MAX_ALERT_LENGTH)), ...more]);
}

/** {@link AdminAlerts} over a send function: queued, coalesced, one message at a time. */
export class AdminNotifier implements AdminAlerts {
  private pending: string[] = [];
  private sending: Promise<void> | undefined;

  constructor(
    readonly afterFailures: number,
    private readonly adminIds: readonly number[],
    private readonly send: SendText,
    private readonly logger: Logger,
  ) {}

  /** Queues an alert and resolves at once: a poll never waits for Telegram. */
  async notify(text: string): Promise<void> {
    if (this.adminIds.length === 0) return;
    this.pending.push(text);
    this.sending ??= this.sendPending();
  }

  /** Waits, at most `timeoutMs`, for the alerts still queued to go out (at a clean stop). */
  async drain(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.sending ?? Promise.resolve(), deadline]);
    clearTimeout(timer);
  }

  private async sendPending(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        for (const text of alertMessages(this.pending.splice(0))) {
          for (const chatId of this.adminIds) {
            try {
              await this.send(chatId, text);
            } catch (error) {
              // An admin who never started the bot can't be written to; the others still are.
              this.logger.warn({ admin: chatId, err: (error as Error).message }, "admin alert not delivered");
            }
          }
        }
      }
    } finally {
      // In the same step as the loop's end, so an alert queued right after starts a new round.
      this.sending = undefined;
    }
  }
}
