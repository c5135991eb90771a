/**
 * Acceptance for delivery: new items become outbox jobs addressed to every subscriber of their
 * topics, recorded durably; the outbox hands them to the sender (on whichever instance sends).
 */
import type { Item } from "../items/item.js";
import { ALL_TOPIC } from "../topics/topics.js";
import type { Job, Outbox, Target } from "./outbox.js";
import type { Subscriber, SubscriberStore } from "./subscribers.js";

/** An item ready for delivery, with the identity keys that mark it seen. */
export interface AcceptedItem {
  item: Item;
  identityKeys: string[];
}

const target = ({ chatId, threadId, kind, language }: Subscriber, forward = false): Target => ({
  chatId,
  threadId,
  kind,
  language,
  ...(forward ? { forward } : {}),
});

/**
 * Who receives an item, and how: every subscriber of its topics once; when a home channel covers
 * one of them, that channel's post comes first and the item's other readers of those topics get
 * it as a forward of that post.
 */
export function addressItem(item: Item, subscribers: readonly Subscriber[]): Pick<Job, "targets" | "homeIndex"> {
  // The item's topics a subscriber follows (`all` follows every one of them).
  const followed = (subscriber: Subscriber) =>
    subscriber.topics.includes(ALL_TOPIC) ? item.topics : item.topics.filter((topic) => subscriber.topics.includes(topic));
  const home = subscribers.find((subscriber) => subscriber.kind === "channel" && subscriber.home);
  if (!home) return { targets: subscribers.map((subscriber) => target(subscriber)) };
  const homeTopics = new Set(followed(home));
  const forwards = (subscriber: Subscriber) =>
    subscriber.kind !== "channel" && followed(subscriber).some((topic) => homeTopics.has(topic));
  const others = subscribers.filter((subscriber) => subscriber !== home);
  return { targets: [target(home), ...others.map((subscriber) => target(subscriber, forwards(subscriber)))], homeIndex: 0 };
}

/** Turns accepted items into outbox jobs. */
export class Dispatcher {
  constructor(
    private readonly subscribers: SubscriberStore,
    private readonly outbox: Outbox,
  ) {}

  /**
   * Records one job per item (in the given order, which is each chat's order of arrival).
   * Resolves once the jobs are durable.
   * @returns how many messages were queued.
   */
  async accept(accepted: readonly AcceptedItem[], now = Date.now()): Promise<number> {
    const jobs: Job[] = await Promise.all(
      accepted.map(async ({ item, identityKeys }) => ({
        id: item.key,
        payload: { kind: "item", item },
        identityKeys,
        ...addressItem(item, await this.subscribers.following(item.topics)),
        createdAt: now,
      })),
    );
    const fresh = await this.outbox.enqueue(jobs);
    return fresh.reduce((messages, job) => messages + job.targets.length, 0);
  }
}
