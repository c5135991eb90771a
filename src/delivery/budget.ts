/**
 * The bot token's one Telegram budget: every call that puts a message into a chat (replies,
 * admin alerts, broadcasts) waits here for a slot. Slots go out at the overall rate (a token
 * bucket), each chat at most at its own pace (the next slot counts from the end of its previous
 * call), and among the calls that may go, replies first, then alerts, then broadcasts, each in
 * order of asking. With `limits.paidPerSecond` (PAID_BROADCAST) that is the overall rate of the
 * calls that carry `allow_paid_broadcast`, while every other call also keeps to `limits.perSecond`,
 * Telegram's free limit. A 429's retry_after holds the chat; when many chats hear one at once, the
 * limit was the bot's own and every chat waits (see {@link TelegramBudget.flood}).
 */
import type { ChatKind } from "./subscribers.js";
import { chatInterval, TokenBucket, type PacingLimits } from "./pacing.js";

/** Who is asking, highest priority first. */
export type Priority = "reply" | "alert" | "broadcast";

const RANK: Record<Priority, number> = { reply: 0, alert: 1, broadcast: 2 };

/** The chat a call writes to: Telegram's id (or `@username`) and its kind, for its pace. */
export interface SlotChat {
  id: number | string;
  kind: ChatKind;
}

/** What a call asks for. */
export interface SlotRequest {
  priority: Priority;
  /** The chat it writes to; without one it takes an overall slot only. */
  chat?: SlotChat;
  /** The call carries `allow_paid_broadcast`, so it may go at `limits.paidPerSecond`. */
  paid?: boolean;
  /** When to give up waiting (ms, the budget's clock): the wait then rejects with {@link SlotExpired}. */
  deadline?: number;
  signal?: AbortSignal;
}

/** A granted slot; release it once the call is answered (or failed), exactly once. */
export interface Permit {
  /** @param retryAfterMs a 429's retry_after, when Telegram answered with one */
  release(retryAfterMs?: number): void;
}

/** The wait for a slot passed its deadline. */
export class SlotExpired extends Error {
  constructor(readonly waitedMs: number) {
    super(`no Telegram send slot within ${Math.round(waitedMs / 1000)} s`);
    this.name = "SlotExpired";
  }
}

/** 429s from this many different chats within {@link FLOOD_WINDOW_MS} mean the bot's overall limit. */
const FLOOD_CHATS = 3;
const FLOOD_WINDOW_MS = 1_000;

interface ChatState {
  /** A call to it is in flight. */
  busy: boolean;
  /** When its next call may go. */
  freeAt: number;
}

interface Waiter {
  request: SlotRequest;
  key: string | undefined;
  seq: number;
  askedAt: number;
  resolve(permit: Permit): void;
  reject(error: unknown): void;
  onAbort?: () => void;
}

/** Counters since the start, for `/status` and `/metrics`. */
export interface BudgetStats {
  /** Slots granted, by priority. */
  granted: Record<Priority, number>;
  /** 429s the calls heard. */
  tooManyRequests: number;
  /** Waits that passed their deadline (replies and alerts that never went). */
  expired: number;
}

/** See the module comment. One per bot token. */
export class TelegramBudget {
  readonly stats: BudgetStats = { granted: { reply: 0, alert: 0, broadcast: 0 }, tooManyRequests: 0, expired: 0 };
  /** Telegram's free rate: every call but a paid broadcast takes a token here. */
  private readonly free: TokenBucket;
  /** The paid ceiling (PAID_BROADCAST only): every call takes a token here. */
  private readonly paid: TokenBucket | undefined;
  private readonly chats = new Map<string, ChatState>();
  private waiting: Waiter[] = [];
  private seq = 0;
  private pausedUntil = 0;
  private recentFloods: { key: string; at: number; retryAfterMs: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sweepAt = 1_000;

  constructor(
    readonly limits: PacingLimits,
    readonly now: () => number = Date.now,
  ) {
    this.free = new TokenBucket(limits.perSecond, now());
    this.paid = limits.paidPerSecond === undefined ? undefined : new TokenBucket(limits.paidPerSecond, now());
  }

  /** Waits for a slot (see the module comment). Rejects on `deadline` or when `signal` aborts. */
  acquire(request: SlotRequest): Promise<Permit> {
    const { signal } = request;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Permit>((resolve, reject) => {
      const waiter: Waiter = {
        request,
        key: request.chat === undefined ? undefined : String(request.chat.id),
        seq: this.seq++,
        askedAt: this.now(),
        resolve,
        reject,
      };
      if (signal) {
        waiter.onAbort = () => this.leave(waiter, signal.reason);
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.waiting.push(waiter);
      this.pump();
    });
  }

  /** When a call to this chat could next go, as far as its own pace and 429s tell (now when free). */
  chatReadyAt(id: number | string): number {
    const state = this.chats.get(String(id));
    return Math.max(this.pausedUntil, state?.freeAt ?? 0, this.now());
  }

  private leave(waiter: Waiter, error: unknown): void {
    const index = this.waiting.indexOf(waiter);
    if (index < 0) return;
    this.waiting.splice(index, 1);
    this.settle(waiter);
    waiter.reject(error);
    this.pump();
  }

  private settle(waiter: Waiter): void {
    if (waiter.onAbort) waiter.request.signal?.removeEventListener("abort", waiter.onAbort);
  }

  /** When `waiter` may go: its chat free and not in flight, the bot not paused. */
  private readyAt(waiter: Waiter): number {
    const state = waiter.key === undefined ? undefined : this.chats.get(waiter.key);
    if (state?.busy) return Number.POSITIVE_INFINITY;
    return Math.max(this.pausedUntil, state?.freeAt ?? 0);
  }

  /** The token buckets a call takes from. */
  private bucketsOf(waiter: Waiter): TokenBucket[] {
    if (!this.paid) return [this.free];
    return waiter.request.paid ? [this.paid] : [this.free, this.paid];
  }

  /** Grants every slot that may go now, then sleeps until the next could. */
  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (;;) {
      const now = this.now();
      this.expire(now);
      // The first in line among the calls that may go, paid and not apart: they take from
      // different buckets, so one kind's spent rate must not hold up the other.
      const first = new Map<boolean, Waiter>();
      let wakeAt = Number.POSITIVE_INFINITY;
      for (const waiter of this.waiting) {
        const at = this.readyAt(waiter);
        if (waiter.request.deadline !== undefined) wakeAt = Math.min(wakeAt, waiter.request.deadline);
        if (at > now) {
          wakeAt = Math.min(wakeAt, at);
          continue;
        }
        const kind = this.paid !== undefined && waiter.request.paid === true;
        const best = first.get(kind);
        if (!best || RANK[waiter.request.priority] < RANK[best.request.priority] || (RANK[waiter.request.priority] === RANK[best.request.priority] && waiter.seq < best.seq)) {
          first.set(kind, waiter);
        }
      }
      const candidates = [...first.values()].sort((a, b) => RANK[a.request.priority] - RANK[b.request.priority] || a.seq - b.seq);
      const granted = candidates.find((waiter) => {
        const buckets = this.bucketsOf(waiter);
        const wait = Math.max(...buckets.map((bucket) => bucket.readyIn(now)));
        if (wait > 0) wakeAt = Math.min(wakeAt, now + wait);
        else for (const bucket of buckets) bucket.take(now);
        return wait === 0;
      });
      if (granted) {
        this.grant(granted);
        continue;
      }
      if (wakeAt !== Number.POSITIVE_INFINITY) this.timer = setTimeout(() => this.pump(), Math.max(0, wakeAt - now));
      return;
    }
  }

  private expire(now: number): void {
    const expired = this.waiting.filter((waiter) => waiter.request.deadline !== undefined && waiter.request.deadline <= now);
    if (expired.length === 0) return;
    this.waiting = this.waiting.filter((waiter) => !expired.includes(waiter));
    for (const waiter of expired) {
      this.stats.expired++;
      this.settle(waiter);
      waiter.reject(new SlotExpired(now - waiter.askedAt));
    }
  }

  private grant(waiter: Waiter): void {
    this.waiting.splice(this.waiting.indexOf(waiter), 1);
    this.settle(waiter);
    this.stats.granted[waiter.request.priority]++;
    const { key, request } = waiter;
    let state: ChatState | undefined;
    if (key !== undefined) {
      state = this.chats.get(key) ?? { busy: false, freeAt: 0 };
      state.busy = true;
      this.chats.set(key, state);
    }
    let released = false;
    waiter.resolve({
      release: (retryAfterMs) => {
        if (released) return;
        released = true;
        this.release(key, state, request.chat?.kind, retryAfterMs);
      },
    });
  }

  private release(key: string | undefined, state: ChatState | undefined, kind: ChatKind | undefined, retryAfterMs: number | undefined): void {
    const now = this.now();
    if (state && kind) {
      state.busy = false;
      state.freeAt = Math.max(state.freeAt, now + chatInterval(this.limits, kind));
    }
    if (retryAfterMs !== undefined) this.flood(key, state, now, retryAfterMs);
    this.sweep(now);
    this.pump();
  }

  /**
   * A 429: the chat waits `retryAfterMs`, and every chat does when 429s from at least
   * {@link FLOOD_CHATS} chats came within {@link FLOOD_WINDOW_MS}: that is the bot's overall limit.
   * Fewer is no proof: after a restart, two groups' backlogs hear their own per-chat limits (tens
   * of seconds) at once. And the pause is the shortest retry_after among them, since the bot-wide
   * wait is short and alike for all, while a longer one is that chat's own and holds only it.
   */
  private flood(key: string | undefined, state: ChatState | undefined, now: number, retryAfterMs: number): void {
    this.stats.tooManyRequests++;
    // A call without a chat has nothing else to hold.
    if (!state || key === undefined) {
      this.pausedUntil = Math.max(this.pausedUntil, now + retryAfterMs);
      return;
    }
    state.freeAt = Math.max(state.freeAt, now + retryAfterMs);
    this.recentFloods = this.recentFloods.filter((flood) => flood.at > now - FLOOD_WINDOW_MS && flood.key !== key);
    this.recentFloods.push({ key, at: now, retryAfterMs });
    if (this.recentFloods.length < FLOOD_CHATS) return;
    const shortest = Math.min(...this.recentFloods.map((flood) => flood.at + flood.retryAfterMs));
    this.pausedUntil = Math.max(this.pausedUntil, shortest);
  }

  /** Forgets chats that are idle and free, once their number has doubled since the last sweep. */
  private sweep(now: number): void {
    if (this.chats.size < this.sweepAt) return;
    const waitedFor = new Set(this.waiting.map((waiter) => waiter.key));
    for (const [key, state] of this.chats) {
      if (!state.busy && state.freeAt <= now && !waitedFor.has(key)) this.chats.delete(key);
    }
    this.sweepAt = Math.max(1_000, this.chats.size * 2);
  }
}
