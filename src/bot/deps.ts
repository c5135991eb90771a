/**
 * Everything the bot's features use, passed in once by `createBot`. Features read state through
 * these objects and never open stores or read settings themselves.
 */
import type { Logger } from "pino";
import type { FeedDefinition } from "../config/catalog.js";
import type { TelegramBudget } from "../delivery/budget.js";
import type { HeldItemStore } from "../delivery/held-items.js";
import type { Outbox } from "../delivery/outbox.js";
import type { Sender } from "../delivery/sender.js";
import type { SubscriberStore } from "../delivery/subscribers.js";
import type { FeedStates } from "../feeds/feed-state.js";
import type { Outage } from "../health/outage.js";
import type { ArchiveReader } from "../items/archive.js";
import type { RecentStore } from "../items/recent-store.js";
import type { TopicDefinition } from "../topics/topics.js";

/** The bot's dependencies. */
export interface BotDeps {
  logger: Logger;
  /** Topics users can pick (without `all`, which always exists). */
  topics: readonly TopicDefinition[];
  feeds: readonly FeedDefinition[];
  subscribers: SubscriberStore;
  /** Items held for chats' digests: a changed schedule makes them due at its new time. */
  held: HeldItemStore;
  recent: RecentStore;
  /** The archive behind `/search`, inline mode and "Read here"; undefined on Redis, which keeps none. */
  archive: ArchiveReader | undefined;
  feedStates: FeedStates;
  outbox: Outbox;
  sender: Sender;
  /** The bot token's Telegram budget, for its counters in `/status`. */
  budget: Pick<TelegramBudget, "stats">;
  /** Telegram user ids allowed to run admin commands. */
  adminIds: readonly number[];
  /** The store's health, for `/status`. */
  store: Pick<Outage, "state">;
}
