/**
 * Subscribers: the chats (and forum threads) that receive items, with their topics, behind one
 * async port ({@link SubscriberStore}). Here its one-instance form (SQLite, Redis): one Keyv record
 * per subscriber, so every change is one atomic write, and all of them in memory, so a broadcast's
 * fan-out costs no store reads. Instances sharing PostgreSQL query it instead
 * (postgres-subscribers.ts): memory held by one would miss the others' changes.
 */
import type Keyv from "keyv";
import { readAll } from "../store/guard.js";
import { ALL_TOPIC } from "../topics/topics.js";
import type { DeliverySchedule } from "./schedule.js";

/** The kinds of Telegram chat a subscriber can be. */
export type ChatKind = "private" | "group" | "supergroup" | "channel";

/** Where a message goes: a chat, and in a forum supergroup the thread it was subscribed from. */
export interface Recipient {
  chatId: number;
  threadId?: number;
}

/** A chat or thread that receives the items of its topics. */
export interface Subscriber extends Recipient {
  kind: ChatKind;
  topics: string[];
  /** Language of the bot's own words for this chat (`en`, `ru`). */
  language?: string;
  /** Channel or group title, for lists. */
  title?: string;
  /** The user who linked a channel, told when the link ends. */
  linkedBy?: number;
  /**
   * A channel that is its topics' home: items are posted there once, and other subscribers of
   * those topics receive that post as a forward, so readers see (and can join) the channel.
   */
  home?: boolean;
  /** Epoch ms of the first subscription. */
  since: number;
  /** When the chat takes its items (digests, time zone, quiet hours); at once when absent. */
  schedule?: DeliverySchedule;
}

/** The store key of a recipient: `chatId`, or `chatId:threadId` inside a forum thread. */
export function recipientKey(recipient: Recipient): string {
  return recipient.threadId === undefined ? String(recipient.chatId) : `${recipient.chatId}:${recipient.threadId}`;
}

/** What a subscription change did. */
export interface TopicChange {
  changed: string[];
  unchanged: string[];
}

/** A subscriber as stored: its record's layout version with it (absent in records written before it). */
export type StoredSubscriber = Subscriber & { version?: number };

/** The layout version of what is written now. */
export const SUBSCRIBER_VERSION = 1;

/** What a subscriber's target may say besides its topics and start (for {@link SubscriberStore.subscribe}). */
export type SubscriberTarget = Omit<Subscriber, "topics" | "since">;

/** The subscriptions, wherever they are kept. Every change is atomic in the store: none reads, changes and writes back. */
export interface SubscriberStore {
  /** The subscriber at this recipient, if it has one. */
  get(recipient: Recipient): Promise<Subscriber | undefined>;
  /** Every subscriber of a chat (the chat itself and its forum threads). */
  ofChat(chatId: number): Promise<Subscriber[]>;
  /** Subscribers that follow any of `topics` (or `all`), each once, in a stable order. */
  following(topics: readonly string[]): Promise<Subscriber[]>;
  /** The channels this user linked. */
  linkedBy(userId: number): Promise<Subscriber[]>;
  /** How many subscribers there are. */
  count(): Promise<number>;
  /** Adds topics to a recipient's subscription, creating it when new; the target's other fields replace the stored ones. */
  subscribe(target: SubscriberTarget, topics: readonly string[], now?: number): Promise<TopicChange>;
  /** Removes topics (or, with `all`, every topic) from a recipient's subscription; one left with none ends. */
  unsubscribe(recipient: Recipient, topics: readonly string[]): Promise<TopicChange>;
  /** Ends every subscription of a chat (it blocked the bot, left or was deleted); resolves with them. */
  removeChat(chatId: number): Promise<Subscriber[]>;
  /** Moves a group's subscriptions to the supergroup it became. */
  migrateChat(fromChatId: number, toChatId: number): Promise<void>;
  /** Replaces a subscriber's settings (e.g. its language), creating it when new. */
  update(subscriber: Subscriber): Promise<void>;
  /** Sets (undefined: clears) a subscriber's schedule, its other fields untouched; false when it has no subscription. */
  setSchedule(recipient: Recipient, schedule: DeliverySchedule | undefined): Promise<boolean>;
}

/** Topics to add: each of `topics` not in `have`, once, in the given order. */
export function topicsToAdd(have: readonly string[], topics: readonly string[]): string[] {
  return [...new Set(topics)].filter((topic) => !have.includes(topic));
}

/** What subscribing to `topics` does to a subscription that had `have`. */
export function subscribeChange(have: readonly string[], topics: readonly string[]): TopicChange {
  return { changed: topicsToAdd(have, topics), unchanged: topics.filter((topic) => have.includes(topic)) };
}

/** What unsubscribing from `topics` (`all`: every topic) does to a subscription that had `have`. */
export function unsubscribeChange(have: readonly string[], topics: readonly string[]): TopicChange {
  const removeAll = topics.includes(ALL_TOPIC);
  return {
    changed: removeAll ? [...have] : have.filter((topic) => topics.includes(topic)),
    unchanged: removeAll ? [] : topics.filter((topic) => !have.includes(topic)),
  };
}

/** Whether a subscriber is a channel this user linked. */
export function isLinkedBy(subscriber: Subscriber, userId: number): boolean {
  return subscriber.kind === "channel" && subscriber.linkedBy === userId;
}

/** All subscribers, in memory and in the store's `subscribers` namespace (one instance on SQLite or Redis). */
export class Subscribers implements SubscriberStore {
  /**
   * The keys of each chat's subscribers: a chat's changes (gone, migrated) cost its own, not a scan
   * of all. Nearly every chat has one: its key alone, an array only for forum threads.
   */
  private readonly byChat = new Map<number, string | string[]>();

  private constructor(
    private readonly keyv: Keyv,
    private readonly byKey: Map<string, Subscriber>,
  ) {
    for (const [key, subscriber] of byKey) this.index(key, subscriber);
  }

  /** Loads every subscriber from the store. */
  static async open(keyv: Keyv): Promise<Subscribers> {
    const stored = await readAll(keyv);
    const byKey = new Map<string, Subscriber>();
    for (const [key, value] of stored) {
      if (!value || typeof value !== "object") continue;
      const { version: _version, ...subscriber } = value as StoredSubscriber;
      byKey.set(key, subscriber);
    }
    return new Subscribers(keyv, byKey);
  }

  async get(recipient: Recipient): Promise<Subscriber | undefined> {
    return this.byKey.get(recipientKey(recipient));
  }

  async ofChat(chatId: number): Promise<Subscriber[]> {
    return this.ofChatNow(chatId);
  }

  async following(topics: readonly string[]): Promise<Subscriber[]> {
    const wanted = new Set(topics);
    return this.matching((subscriber) => subscriber.topics.some((topic) => topic === ALL_TOPIC || wanted.has(topic)));
  }

  async linkedBy(userId: number): Promise<Subscriber[]> {
    return this.matching((subscriber) => isLinkedBy(subscriber, userId));
  }

  async count(): Promise<number> {
    return this.byKey.size;
  }

  // Each change reads memory and writes it before its first await, so changes never interleave.
  async subscribe(target: SubscriberTarget, topics: readonly string[], now = Date.now()): Promise<TopicChange> {
    const current = this.byKey.get(recipientKey(target));
    const have = current?.topics ?? [];
    const change = subscribeChange(have, topics);
    await this.put({ ...current, ...target, topics: [...have, ...change.changed], since: current?.since ?? now });
    return change;
  }

  async unsubscribe(recipient: Recipient, topics: readonly string[]): Promise<TopicChange> {
    const current = this.byKey.get(recipientKey(recipient));
    if (!current) return { changed: [], unchanged: [...topics] };
    const change = unsubscribeChange(current.topics, topics);
    const remaining = current.topics.filter((topic) => !change.changed.includes(topic));
    if (remaining.length === 0) await this.delete(current);
    else await this.put({ ...current, topics: remaining });
    return change;
  }

  async removeChat(chatId: number): Promise<Subscriber[]> {
    const removed = this.ofChatNow(chatId);
    for (const subscriber of removed) await this.delete(subscriber);
    return removed;
  }

  async migrateChat(fromChatId: number, toChatId: number): Promise<void> {
    for (const subscriber of this.ofChatNow(fromChatId)) {
      await this.put({ ...subscriber, chatId: toChatId, kind: "supergroup" });
      await this.delete(subscriber);
    }
  }

  async update(subscriber: Subscriber): Promise<void> {
    await this.put(subscriber);
  }

  async setSchedule(recipient: Recipient, schedule: DeliverySchedule | undefined): Promise<boolean> {
    const current = this.byKey.get(recipientKey(recipient));
    if (!current) return false;
    const { schedule: _old, ...rest } = current;
    await this.put(schedule ? { ...rest, schedule } : rest);
    return true;
  }

  /** Writes every subscriber held in memory back to the store (one that lost its data). */
  async restore(): Promise<void> {
    if (this.byKey.size === 0) return;
    await this.keyv.setMany([...this.byKey].map(([key, value]) => ({ key, value: stored(value) })));
  }

  /** How many subscribers there are (at once: the epoch check and start-up read it). */
  get size(): number {
    return this.byKey.size;
  }

  private matching(test: (subscriber: Subscriber) => boolean): Subscriber[] {
    return [...this.byKey.values()].filter(test);
  }

  private keysOfChat(chatId: number): string[] {
    const keys = this.byChat.get(chatId);
    return keys === undefined ? [] : typeof keys === "string" ? [keys] : keys;
  }

  private ofChatNow(chatId: number): Subscriber[] {
    return this.keysOfChat(chatId).map((key) => this.byKey.get(key)!);
  }

  private index(key: string, subscriber: Subscriber): void {
    const keys = this.keysOfChat(subscriber.chatId);
    if (keys.length === 0) this.byChat.set(subscriber.chatId, key);
    else if (!keys.includes(key)) this.byChat.set(subscriber.chatId, [...keys, key]);
  }

  private unindex(key: string, subscriber: Subscriber): void {
    const keys = this.keysOfChat(subscriber.chatId).filter((each) => each !== key);
    if (keys.length === 0) this.byChat.delete(subscriber.chatId);
    else this.byChat.set(subscriber.chatId, keys.length === 1 ? keys[0]! : keys);
  }

  /**
   * Sets (or, without `next`, deletes) the subscriber at `key` in memory, its chat index with it
   * (a key names its chat, so a subscriber replaced keeps its place there).
   */
  private hold(key: string, next: Subscriber | undefined): void {
    const previous = this.byKey.get(key);
    if (next) {
      this.byKey.set(key, next);
      if (!previous) this.index(key, next);
    } else if (previous) {
      this.byKey.delete(key);
      this.unindex(key, previous);
    }
  }

  // Memory first, then the store: a change that starts while another is being written (a command
  // and the sender's removeChat, say) then builds on it instead of overwriting it. A write that
  // fails is undone in memory too (unless a later change replaced it), so no chat receives what
  // it was told was not saved.
  private async put(subscriber: Subscriber): Promise<void> {
    await this.change(recipientKey(subscriber), subscriber, (key) => this.keyv.set(key, stored(subscriber)));
  }

  private async delete(recipient: Recipient): Promise<void> {
    await this.change(recipientKey(recipient), undefined, (key) => this.keyv.delete(key));
  }

  private async change(key: string, next: Subscriber | undefined, write: (key: string) => Promise<unknown>): Promise<void> {
    const previous = this.byKey.get(key);
    this.hold(key, next);
    try {
      await write(key);
    } catch (error) {
      if (this.byKey.get(key) === next) this.hold(key, previous);
      throw error;
    }
  }
}

/** A subscriber as written to the store. */
function stored(subscriber: Subscriber): StoredSubscriber {
  return { ...subscriber, version: SUBSCRIBER_VERSION };
}
