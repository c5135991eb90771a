/**
 * Acceptance for delivery: new items become outbox jobs addressed to every subscriber of their
 * topics that takes them now (silently in its quiet hours, when it chose so), recorded durably;
 * the outbox hands them to the sender (on whichever instance sends). Subscribers that take them
 * later (a digest, or the end of quiet hours) have them held, durably too.
 */
import type { Item } from "../items/item.js";
import { ALL_TOPIC } from "../topics/topics.js";
import type { HeldEntry, HeldItemStore } from "./held-items.js";
import type { Job, Outbox, Target } from "./outbox.js";
import { timing } from "./schedule.js";
import type { Subscriber, SubscriberStore } from "./subscribers.js";

/** An item ready for delivery, with the identity keys that mark it seen. */
export interface AcceptedItem {
  item: Item;
  identityKeys: string[];
}

/** How a job addresses a subscriber. */
export const targetOf = ({ chatId, threadId, kind, language }: Subscriber, silent: boolean, forward = false): Target => ({
  chatId,
  threadId,
  kind,
  language,
  ...(forward ? { forward } : {}),
  ...(silent ? { silent } : {}),
});

/**
 * Who receives an item, and how: every subscriber of its topics once; when a home channel covers
 * one of them, that channel's post comes first and the item's other readers of those topics get
 * it as a forward of that post.
 */
export function addressItem(item: Item, subscribers: readonly Subscriber[], silent: ReadonlySet<Subscriber> = new Set()): Pick<Job, "targets" | "homeIndex"> {
  // The item's topics a subscriber follows (`all` follows every one of them).
  const followed = (subscriber: Subscriber) =>
    subscriber.topics.includes(ALL_TOPIC) ? item.topics : item.topics.filter((topic) => subscriber.topics.includes(topic));
  const home = subscribers.find((subscriber) => subscriber.kind === "channel" && subscriber.home);
  if (!home) return { targets: subscribers.map((subscriber) => targetOf(subscriber, silent.has(subscriber))) };
  const homeTopics = new Set(followed(home));
  const forwards = (subscriber: Subscriber) =>
    subscriber.kind !== "channel" && followed(subscriber).some((topic) => homeTopics.has(topic));
  const others = subscribers.filter((subscriber) => subscriber !== home);
  return { targets: [targetOf(home, silent.has(home)), ...others.map((subscriber) => targetOf(subscriber, silent.has(subscriber), forwards(subscriber)))], homeIndex: 0 };
}

/** Turns accepted items into outbox jobs, and holds them for the subscribers that take them later. */
export class Dispatcher {
  constructor(
    private readonly subscribers: SubscriberStore,
    private readonly outbox: Outbox,
    private readonly held: HeldItemStore,
  ) {}

  /**
   * Records one job per item (in the given order, which is each chat's order of arrival), and the
   * items held. Resolves once both are durable.
   * @returns how many messages were queued.
   */
  async accept(accepted: readonly AcceptedItem[], now = Date.now()): Promise<number> {
    const held: HeldEntry[] = [];
    const jobs: Job[] = await Promise.all(
      accepted.map(async ({ item, identityKeys }) => {
        const atOnce: Subscriber[] = [];
        const silent = new Set<Subscriber>();
        for (const subscriber of await this.subscribers.following(item.topics)) {
          const when = timing(subscriber.schedule, now);
          if (when.send === "held") {
            held.push({ recipient: { chatId: subscriber.chatId, ...(subscriber.threadId !== undefined ? { threadId: subscriber.threadId } : {}) }, item, until: when.until });
            continue;
          }
          atOnce.push(subscriber);
          if (when.silent) silent.add(subscriber);
        }
        return { id: item.key, payload: { kind: "item" as const, item }, identityKeys, ...addressItem(item, atOnce, silent), createdAt: now };
      }),
    );
    const fresh = await this.outbox.enqueue(jobs);
    await this.held.hold(held);
    return fresh.reduce((messages, job) => messages + job.targets.length, 0);
  }
}
