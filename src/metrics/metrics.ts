/**
 * newswire's Prometheus metrics: one prom-client Registry per process (not prom-client's global
 * one, so tests and tools can make their own), Node's default process metrics, and typed metric
 * objects behind narrow interfaces. The parts of the program that count things see only those
 * interfaces (the poller its {@link PollMetrics}); nothing but this module and `GET /metrics`
 * knows prom-client.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Transformer } from "grammy";
import type { BudgetStats } from "../delivery/budget.js";
import type { Outbox } from "../delivery/outbox.js";
import type { PollMetrics, PollOutcome } from "../poller/poller.js";

/** What Telegram answered a send: sent, or why not. */
export type TelegramAnswer = "sent" | "flood" | "blocked" | "rejected" | "failed";

/** The queue the sender works through, read at each scrape. */
export interface QueueReading {
  /** Deliveries accepted and not yet done. */
  deliveries: number;
  /** When the oldest unfinished job was accepted (ms since the epoch); undefined when the queue is empty. */
  oldestQueuedAt: number | undefined;
}

/** Bot API methods that put a message into a chat. */
const SEND_METHODS = new Set(["sendMessage", "sendPhoto", "forwardMessage", "copyMessage"]);

/** Seconds; a feed poll runs from a few milliseconds (304) to the fetch timeout (15 s by default). */
const POLL_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60];

/** The metrics of one newswire process. */
export class Metrics implements PollMetrics {
  readonly registry = new Registry();

  /** Feed polls by outcome: ok, not-modified, failed (the feed's fault), error (ours). */
  readonly polls = new Counter({
    name: "newswire_feed_polls_total",
    help: "Feed polls by outcome: ok, not-modified, failed (the feed's fault), error (newswire's or the store's)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  readonly pollDuration = new Histogram({
    name: "newswire_feed_poll_duration_seconds",
    help: "Time of one feed poll, fetch to stored items, by outcome",
    labelNames: ["outcome"] as const,
    buckets: POLL_BUCKETS,
    registers: [this.registry],
  });

  /** New items accepted; `baseline="true"` for a feed's first poll, which records and does not push. */
  readonly itemsAccepted = new Counter({
    name: "newswire_items_accepted_total",
    help: "New items accepted from feeds; baseline=true: a feed's first poll (recorded for /latest, not pushed)",
    labelNames: ["baseline"] as const,
    registers: [this.registry],
  });

  readonly pollCycles = new Counter({
    name: "newswire_poll_cycles_total",
    help: "Completed poll cycles (one per tick of POLL_CRON)",
    registers: [this.registry],
  });

  readonly lastPollCycle = new Gauge({
    name: "newswire_last_poll_cycle_timestamp_seconds",
    help: "When the last poll cycle completed, seconds since the epoch",
    registers: [this.registry],
  });

  /** Sends to Telegram by outcome (see {@link TelegramAnswer}). */
  readonly sends = new Counter({
    name: "newswire_telegram_sends_total",
    help: "Messages sent to Telegram by outcome: sent, flood (429), blocked (403), rejected (other 4xx), failed (5xx, network)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  /** Telegram's 429 answers, to any method. */
  readonly floodWaits = new Counter({
    name: "newswire_telegram_429_total",
    help: "Telegram's 429 Too Many Requests answers",
    registers: [this.registry],
  });

  readonly storeErrors = new Counter({
    name: "newswire_store_errors_total",
    help: "Store calls that failed or timed out, by namespace",
    labelNames: ["namespace"] as const,
    registers: [this.registry],
  });

  private readQueue: (() => QueueReading) | undefined;

  readonly queuedDeliveries = new Gauge({
    name: "newswire_queued_deliveries",
    help: "Deliveries accepted and not yet sent",
    registers: [this.registry],
    // prom-client runs a gauge's collect before reading it.
    collect: () => this.collectQueue(),
  });

  readonly oldestQueuedAge = new Gauge({
    name: "newswire_oldest_queued_delivery_age_seconds",
    help: "Age of the oldest delivery still queued, seconds (0 when the queue is empty)",
    registers: [this.registry],
    collect: () => this.collectQueue(),
  });

  private readBudget: (() => BudgetStats) | undefined;

  readonly budgetTooManyRequests: Counter = new Counter({
    name: "newswire_budget_429_total",
    help: "429s heard by the calls that write messages (replies, alerts, broadcasts), as told to the Telegram budget",
    registers: [this.registry],
    collect: (): void => this.collectBudget(this.budgetTooManyRequests, (stats) => stats.tooManyRequests),
  });

  readonly budgetExpired: Counter = new Counter({
    name: "newswire_budget_expired_total",
    help: "Replies and alerts dropped unsent: no Telegram slot within their wait (3 min for a reply, 30 for an alert)",
    registers: [this.registry],
    collect: (): void => this.collectBudget(this.budgetExpired, (stats) => stats.expired),
  });

  constructor(private readonly now: () => number = Date.now) {
    collectDefaultMetrics({ register: this.registry });
  }

  // ---- PollMetrics ----

  polled(outcome: PollOutcome, seconds: number): void {
    this.polls.inc({ outcome });
    this.pollDuration.observe({ outcome }, seconds);
  }

  accepted(items: number, baseline: boolean): void {
    if (items > 0) this.itemsAccepted.inc({ baseline: String(baseline) }, items);
  }

  cycleCompleted(at: number): void {
    this.pollCycles.inc();
    this.lastPollCycle.set(at / 1000);
  }

  // ---- wiring ----

  /** Reads the queue at every scrape (queue depth, age of the oldest delivery). */
  observeQueue(read: () => QueueReading): void {
    this.readQueue = read;
  }

  private collectQueue(): void {
    if (!this.readQueue) return;
    const { deliveries, oldestQueuedAt } = this.readQueue();
    this.queuedDeliveries.set(deliveries);
    this.oldestQueuedAge.set(oldestQueuedAt === undefined ? 0 : Math.max(0, this.now() - oldestQueuedAt) / 1000);
  }

  /** Reads the Telegram budget's counters at every scrape. */
  observeBudget(read: () => BudgetStats): void {
    this.readBudget = read;
  }

  /** The budget keeps the counts; the counter shows the latest. */
  private collectBudget(counter: Counter, pick: (stats: BudgetStats) => number): void {
    if (!this.readBudget) return;
    counter.reset();
    counter.inc(pick(this.readBudget()));
  }

  /**
   * A store call of `namespace` failed or timed out: the store guard's `Reporting.failed`. (Keyv's
   * "error" events miss them: under throwOnErrors its reads reject without emitting one.)
   */
  storeFailed(namespace: string): void {
    this.storeErrors.inc({ namespace });
  }

  /**
   * A grammY API transformer counting Telegram's answers: sends by outcome and every 429. Install
   * it where no retrying transformer sits beneath it, or retried 429s go uncounted.
   */
  telegramCalls(): Transformer {
    return async (prev, method, payload, signal) => {
      // grammY throws HttpError for network failures; the API's own errors come back as results.
      let outcome: TelegramAnswer = "failed";
      try {
        const result = await prev(method, payload, signal);
        outcome = result.ok ? "sent" : outcomeOf(result.error_code);
        return result;
      } finally {
        if (outcome === "flood") this.floodWaits.inc();
        if (SEND_METHODS.has(method)) this.sends.inc({ outcome });
      }
    };
  }

  /** The Prometheus text exposition and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function outcomeOf(errorCode: number): TelegramAnswer {
  if (errorCode === 429) return "flood";
  if (errorCode === 403) return "blocked";
  return errorCode >= 500 ? "failed" : "rejected";
}

/** The outbox's reading for {@link Metrics.observeQueue}. */
export function queueReading(outbox: Pick<Outbox, "size" | "openJobs">): QueueReading {
  let oldestQueuedAt: number | undefined;
  for (const job of outbox.openJobs()) oldestQueuedAt = Math.min(oldestQueuedAt ?? job.createdAt, job.createdAt);
  return { deliveries: outbox.size.deliveries, oldestQueuedAt };
}
