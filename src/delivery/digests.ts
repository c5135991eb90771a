/**
 * Releasing held items: every few seconds, each recipient whose held items are due gets them as
 * its digest, recorded in the outbox as one job per part, and only then are the items released.
 * A job's id names the recipient, the due time and the items it holds: a digest built again after
 * a crash before the release is the same jobs (taken once while they are queued), and an item
 * held late for a time already served (its poll began before it) makes a digest of its own
 * instead of being folded into a job the outbox already has. A recipient that no longer
 * subscribes has its items released unsent. Runs on the instance that sends, so no two build one.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { localeOf } from "../i18n/i18n.js";
import type { TopicDefinition } from "../topics/topics.js";
import { digestParts, digestSections } from "./digest.js";
import { targetOf } from "./dispatch.js";
import type { HeldItemStore } from "./held-items.js";
import type { Job, Outbox } from "./outbox.js";
import { releasedSilently } from "./schedule.js";
import { recipientKey, type SubscriberStore } from "./subscribers.js";

export interface DigestsDeps {
  held: HeldItemStore;
  subscribers: SubscriberStore;
  outbox: Outbox;
  /** The catalog's topics: their order and titles are a digest's sections. */
  topics: readonly TopicDefinition[];
  logger: Logger;
  now?: () => number;
}

/** How often due items are looked for: a digest comes within this of its time. */
export const RELEASE_EVERY_MS = 5_000;
/** Recipients taken per look at the store. */
const BATCH = 100;

export class Digests {
  private timer: NodeJS.Timeout | undefined;
  /** Set by stop: a look under way ends after its batch. */
  private stopped = false;
  private running: Promise<void> | undefined;
  private readonly titles: ReadonlyMap<string, string>;
  private readonly now: () => number;

  constructor(private readonly deps: DigestsDeps) {
    this.titles = new Map(deps.topics.map((topic) => [topic.id, topic.title]));
    this.now = deps.now ?? Date.now;
  }

  /** Looks for due items every RELEASE_EVERY_MS, and at once. */
  start(): void {
    this.stopped = false;
    const look = () => {
      // One look at a time; a failing store is its health's to tell, and the next look tries again.
      this.running ??= this.releaseDue()
        .then(
          () => undefined,
          (error: unknown) => void this.deps.logger.warn({ err: (error as Error).message }, "held items not released; will retry"),
        )
        .finally(() => (this.running = undefined));
    };
    look();
    this.timer = setInterval(look, RELEASE_EVERY_MS);
    this.timer.unref();
  }

  /** Stops looking, and waits for a look under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Records the digests due now and releases their items; resolves with how many digests. */
  async releaseDue(): Promise<number> {
    let digests = 0;
    for (;;) {
      const now = this.now();
      const due = await this.deps.held.due(now, BATCH);
      for (const { recipient, until, items, missing } of due) {
        const keys = [...items.map((item) => item.key), ...missing];
        const subscriber = await this.deps.subscribers.get(recipient);
        if (subscriber && items.length > 0) {
          const parts = digestParts(digestSections(items, subscriber.topics, this.titles), localeOf(subscriber.language));
          const target = targetOf(subscriber, releasedSilently(subscriber.schedule, now));
          const contents = createHash("sha256").update([...keys].sort().join("\n")).digest("base64url").slice(0, 16);
          const jobs: Job[] = parts.map((payload) => ({
            id: `digest:${recipientKey(recipient)}:${until}:${contents}:${payload.part}`,
            payload,
            identityKeys: [],
            targets: [target],
            createdAt: now,
          }));
          // None fresh: the same digest was recorded before a release that failed, and is still queued.
          if ((await this.deps.outbox.enqueue(jobs)).length > 0) {
            digests++;
            this.deps.logger.info({ chatId: recipient.chatId, threadId: recipient.threadId, items: items.length, stories: parts[0]!.stories, parts: parts.length }, "digest queued");
          }
        }
        await this.deps.held.release(recipient, keys);
      }
      if (due.length < BATCH || this.stopped) return digests;
    }
  }
}
