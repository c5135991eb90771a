/**
 * What each recipient holds of a story: the message it got, so that a later source of the same
 * story edits that message ("Also in: …") instead of sending another. Only the sending instance
 * reads and writes these records (one sends at a time), in the store's `stories` namespace, kept
 * as long as the story's items are.
 *
 * A broadcast records one message per recipient: the records are written behind, in batches
 * (coalesced, as the outbox's progress is), and reads see those not yet written. A crash loses at
 * most the last batch: those chats get a later source as a message of its own, never lose it.
 */
import type Keyv from "keyv";
import type { Logger } from "pino";
import { coalesce } from "../store/coalesce.js";
import type { OtherSource } from "./render.js";
import { recipientKey, type Recipient } from "./subscribers.js";

/** The layout version of a stored {@link StoryMessage}. */
export const STORY_MESSAGE_VERSION = 1;

/** A recipient's message of a story. */
export interface StoryMessage {
  version: typeof STORY_MESSAGE_VERSION;
  messageId: number;
  /** The bot's own message; a forward of the home channel's post cannot be edited. */
  editable: boolean;
  /** The item the message shows. */
  itemKey: string;
  /** The story's other sources it names, in the order they joined, with their items' keys. */
  others: Array<OtherSource & { key: string }>;
}

const PREFIX = "message:";

/** How long a record waits to be written with others. */
const WRITE_DELAY_MS = 200;
/** Records that are written at once without waiting for the delay. */
const WRITE_BATCH = 500;
/** The longest wait between attempts to write while the store fails. */
const RETRY_MAX_MS = 30_000;

export class StoryMessages {
  /** Records not yet written, by key; a newer record of a key replaces the older. */
  private pending = new Map<string, StoryMessage>();
  /** The batch being written: still what reads see until it is durable. */
  private writing = new Map<string, StoryMessage>();
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private readonly write = coalesce(() => this.writeBatch());

  constructor(
    private readonly store: Keyv,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  /** What `recipient` holds of story `storyId`, if anything. */
  async held(storyId: string, recipient: Recipient): Promise<StoryMessage | undefined> {
    const key = `${PREFIX}${storyId}|${recipientKey(recipient)}`;
    return this.pending.get(key) ?? this.writing.get(key) ?? (await this.store.get<StoryMessage>(key));
  }

  /** Records what `recipient` now holds of story `storyId`; written within WRITE_DELAY_MS. */
  record(storyId: string, recipient: Recipient, message: StoryMessage): void {
    this.pending.set(`${PREFIX}${storyId}|${recipientKey(recipient)}`, message);
    if (this.pending.size >= WRITE_BATCH) this.flushSoon(0);
    else this.flushSoon(WRITE_DELAY_MS);
  }

  /** Writes what is pending now (a clean stop). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.size > 0) await this.write();
  }

  private flushSoon(delayMs: number): void {
    if (this.timer !== undefined && delayMs > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write().catch(() => undefined);
    }, delayMs).unref();
  }

  private async writeBatch(): Promise<void> {
    if (this.pending.size === 0) return;
    this.writing = this.pending;
    this.pending = new Map();
    try {
      await this.store.setMany([...this.writing].map(([key, value]) => ({ key, value, ttl: this.ttlMs })));
      this.failures = 0;
    } catch (error) {
      // Back into pending, unless a newer record of the key came meanwhile; tried again later.
      for (const [key, value] of this.writing) if (!this.pending.has(key)) this.pending.set(key, value);
      this.failures++;
      this.logger.debug({ records: this.writing.size, err: (error as Error).message }, "story messages not saved; will retry");
      this.flushSoon(Math.min(RETRY_MAX_MS, WRITE_DELAY_MS * 2 ** this.failures));
      throw error;
    } finally {
      this.writing = new Map();
    }
  }
}
