/**
 * Pacing for Telegram's flood limits: a token bucket for the bot's overall rate and a minimum
 * interval per chat (about one message a second to a private chat, 20 a minute to a group or
 * channel). Pure time arithmetic, no timers: the budget (budget.ts) keeps the state and the clock.
 */
import type { ChatKind } from "./subscribers.js";

/** Telegram's documented limits, which the budget keeps every call of the token under. */
export interface PacingLimits {
  /** Messages per second overall for calls that are not paid broadcasts (30 in Telegram's FAQ). */
  perSecond: number;
  /**
   * With `allow_paid_broadcast`: the ceiling for all calls together (Telegram allows up to 1,000);
   * only the calls that carry the flag may go past `perSecond`.
   */
  paidPerSecond?: number;
  /** Minimum milliseconds between two messages to one private chat. */
  privateIntervalMs: number;
  /** Minimum milliseconds between two messages to one group or channel (20 a minute). */
  groupIntervalMs: number;
}

/**
 * Default limits: just under Telegram's 30/s. The bucket's burst of 2 keeps any one-second window
 * at 30 at most, replies, alerts and broadcasts together (they share one budget).
 */
export const TELEGRAM_LIMITS: PacingLimits = { perSecond: 29, privateIntervalMs: 1_000, groupIntervalMs: 3_000 };
/** `PAID_BROADCAST`: paid broadcasts up to 900 a second, everything else still at 29. */
export const PAID_BROADCAST_LIMITS: PacingLimits = { ...TELEGRAM_LIMITS, paidPerSecond: 900 };

/** The minimum interval between two messages to a chat of this kind. */
export function chatInterval(limits: PacingLimits, kind: ChatKind): number {
  return kind === "private" ? limits.privateIntervalMs : limits.groupIntervalMs;
}

/**
 * A token bucket with a small burst: Telegram counts messages in any one-second window, and
 * burst + rate must stay under its limit there, so sends are spread evenly through the second.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private readonly burst: number;

  constructor(
    private readonly perSecond: number,
    now: number,
  ) {
    this.burst = Math.max(1, Math.floor(perSecond / 14));
    this.tokens = this.burst;
    this.updatedAt = now;
  }

  /** The ms until a token will be there (0: one is), taking none. */
  readyIn(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond);
    this.updatedAt = now;
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }

  /** Takes a token if one is there; otherwise returns the ms until one will be. */
  take(now: number): number {
    const wait = this.readyIn(now);
    if (wait === 0) this.tokens -= 1;
    return wait;
  }
}
