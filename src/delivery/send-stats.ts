/** The sender's counters, for `/status` and the metrics: sends, 429s, failures by kind, the last minute's rate. */
import type { SendOutcome } from "./send-outcome.js";

/** Counters for `/status`. */
export interface SenderStats {
  sent: number;
  tooManyRequests: number;
  failures: Record<string, number>;
}

/** Sends per second over the last minute: 60 slots, each for one epoch second. */
class MinuteCounter {
  private readonly counts = new Array<number>(60).fill(0);
  private readonly seconds = new Array<number>(60).fill(-1);

  add(now: number): void {
    const second = Math.floor(now / 1000);
    const slot = second % 60;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot]!++;
  }

  /** Sends in the 60 seconds up to `now`. */
  total(now: number): number {
    const second = Math.floor(now / 1000);
    return this.counts.reduce((sum, count, slot) => (this.seconds[slot]! > second - 60 ? sum + count : sum), 0);
  }
}

/** Counts what became of each Bot API call that puts a message in a chat. */
export class SendStats implements SenderStats {
  sent = 0;
  tooManyRequests = 0;
  readonly failures: Record<string, number> = {};
  private readonly lastMinute = new MinuteCounter();

  sentAt(now: number): void {
    this.sent++;
    this.lastMinute.add(now);
  }

  failed(outcome: SendOutcome): void {
    if (outcome.kind === "retry" && outcome.reason === "429") this.tooManyRequests++;
    const kind = outcome.kind === "retry" ? outcome.reason : outcome.kind;
    this.failures[kind] = (this.failures[kind] ?? 0) + 1;
  }

  /** Messages sent in the 60 seconds up to `now`. */
  sentInMinuteTo(now: number): number {
    return this.lastMinute.total(now);
  }
}
