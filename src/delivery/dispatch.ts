/**
 * Acceptance for delivery: new items become outbox jobs addressed to every subscriber of their
 * topics, recorded durably, then handed to the sender.
 */
import type { Item } from "../items/item.js";
import type { Job, Outbox } from "./outbox.js";
import type { Sender } from "./sender.js";
import type { Subscribers } from "./subscribers.js";

/** An item ready for delivery, with the identity keys that mark it seen. */
export interface AcceptedItem {
  item: Item;
  identityKeys: string[];
}

/** Turns accepted items into outbox jobs and sender work. */
export class Dispatcher {
  constructor(
    private readonly subscribers: Subscribers,
    private readonly outbox: Outbox,
    private readonly sender: Sender,
  ) {}

  /**
   * Records one job per item (in the given order, which is each chat's order of arrival) and
   * starts sending. Resolves once the jobs are durable.
   * @returns how many messages were queued.
   */
  async accept(accepted: readonly AcceptedItem[], now = Date.now()): Promise<number> {
    const jobs: Job[] = accepted.map(({ item, identityKeys }) => ({
      id: item.key,
      item,
      identityKeys,
      targets: this.subscribers
        .following(item.topics)
        .map(({ chatId, threadId, kind, language }) => ({ chatId, threadId, kind, language })),
      createdAt: now,
    }));
    const fresh = await this.outbox.enqueue(jobs);
    const deliveries = fresh.flatMap((job) => job.targets.map((_, index) => ({ job, index })));
    this.sender.add(deliveries);
    return deliveries.length;
  }
}
