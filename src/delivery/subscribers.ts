/**
 * Subscribers: the chats (and forum threads) that receive items, with their topics. One store
 * record per subscriber, so every change is one atomic write; all of them are held in memory,
 * so a broadcast's fan-out costs no store reads.
 */
import type Keyv from "keyv";
import { readAll } from "../store/guard.js";
import { ALL_TOPIC } from "../topics/topics.js";

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

/** All subscribers, in memory and in the store's `subscribers` namespace. */
export class Subscribers {
  private constructor(
    private readonly keyv: Keyv,
    private readonly byKey: Map<string, Subscriber>,
  ) {}

  /** Loads every subscriber from the store. */
  static async open(keyv: Keyv): Promise<Subscribers> {
    const byKey = await readAll(keyv);
    for (const [key, value] of byKey) if (!value || typeof value !== "object") byKey.delete(key);
    return new Subscribers(keyv, byKey as Map<string, Subscriber>);
  }

  /** The subscriber at this recipient, if it has one. */
  get(recipient: Recipient): Subscriber | undefined {
    return this.byKey.get(recipientKey(recipient));
  }

  /** Every subscriber. */
  all(): Subscriber[] {
    return [...this.byKey.values()];
  }

  /** Every subscriber of a chat (the chat itself and its forum threads). */
  ofChat(chatId: number): Subscriber[] {
    return this.all().filter((subscriber) => subscriber.chatId === chatId);
  }

  /** Subscribers that follow any of `topics` (or `all`), each once. */
  following(topics: readonly string[]): Subscriber[] {
    const wanted = new Set(topics);
    return this.all().filter((subscriber) =>
      subscriber.topics.some((topic) => topic === ALL_TOPIC || wanted.has(topic)),
    );
  }

  /** Adds topics to a recipient's subscription, creating it when new. */
  async subscribe(
    target: Omit<Subscriber, "topics" | "since">,
    topics: readonly string[],
    now = Date.now(),
  ): Promise<TopicChange> {
    const current = this.get(target);
    const have = new Set(current?.topics ?? []);
    const changed = [...new Set(topics)].filter((topic) => !have.has(topic));
    const next: Subscriber = {
      ...current,
      ...target,
      topics: [...have, ...changed],
      since: current?.since ?? now,
    };
    await this.put(next);
    return { changed, unchanged: topics.filter((topic) => have.has(topic)) };
  }

  /** Removes topics (or, with `all`, every topic) from a recipient's subscription. */
  async unsubscribe(recipient: Recipient, topics: readonly string[]): Promise<TopicChange> {
    const current = this.get(recipient);
    if (!current) return { changed: [], unchanged: [...topics] };
    const removeAll = topics.includes(ALL_TOPIC);
    const changed = removeAll ? [...current.topics] : current.topics.filter((topic) => topics.includes(topic));
    const unchanged = removeAll ? [] : topics.filter((topic) => !current.topics.includes(topic));
    const remaining = current.topics.filter((topic) => !changed.includes(topic));
    if (remaining.length === 0) await this.delete(current);
    else await this.put({ ...current, topics: remaining });
    return { changed, unchanged };
  }

  /** Ends every subscription of a chat (it blocked the bot, left or was deleted). */
  async removeChat(chatId: number): Promise<Subscriber[]> {
    const removed = this.ofChat(chatId);
    for (const subscriber of removed) await this.delete(subscriber);
    return removed;
  }

  /** Moves a group's subscriptions to the supergroup it became. */
  async migrateChat(fromChatId: number, toChatId: number): Promise<void> {
    for (const subscriber of this.ofChat(fromChatId)) {
      await this.put({ ...subscriber, chatId: toChatId, kind: "supergroup" });
      await this.delete(subscriber);
    }
  }

  /** Replaces a subscriber's settings (e.g. its language). */
  async update(subscriber: Subscriber): Promise<void> {
    await this.put(subscriber);
  }

  /** Writes every subscriber held in memory back to the store (one that lost its data). */
  async restore(): Promise<void> {
    if (this.byKey.size === 0) return;
    await this.keyv.setMany([...this.byKey].map(([key, value]) => ({ key, value })));
  }

  /** How many subscribers there are. */
  get size(): number {
    return this.byKey.size;
  }

  // Memory first, then the store: a change that starts while another is being written (a command
  // and the sender's removeChat, say) then builds on it instead of overwriting it. A write that
  // fails is undone in memory too (unless a later change replaced it), so no chat receives what
  // it was told was not saved.
  private async put(subscriber: Subscriber): Promise<void> {
    await this.change(recipientKey(subscriber), subscriber, (key) => this.keyv.set(key, subscriber));
  }

  private async delete(recipient: Recipient): Promise<void> {
    await this.change(recipientKey(recipient), undefined, (key) => this.keyv.delete(key));
  }

  private async change(key: string, next: Subscriber | undefined, write: (key: string) => Promise<unknown>): Promise<void> {
    const previous = this.byKey.get(key);
    if (next) this.byKey.set(key, next);
    else this.byKey.delete(key);
    try {
      await write(key);
    } catch (error) {
      if (this.byKey.get(key) === next) {
        if (previous) this.byKey.set(key, previous);
        else this.byKey.delete(key);
      }
      throw error;
    }
  }
}
