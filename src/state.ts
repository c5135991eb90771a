/**
 * The state newswire starts on, opened from the store's namespaces: on PostgreSQL (instances
 * sharing it) the schema migrated and its tables queried, nothing of the audience read whole;
 * on SQLite (one instance) the subscriptions and the archive queried from tables of their own;
 * on Redis (one instance) the subscriptions and the recent items held in memory, and no archive. Then the store's epoch:
 * whether it is the store newswire ran on before, or an empty one.
 */
import type Keyv from "keyv";
import type { Logger } from "pino";
import type { FeedDefinition } from "./config/catalog.js";
import { KeyvHeldItems, type HeldItemStore } from "./delivery/held-items.js";
import { Outbox, type Job } from "./delivery/outbox.js";
import { PostgresHeldItems } from "./delivery/postgres-held-items.js";
import { PostgresOutboxStore } from "./delivery/postgres-outbox.js";
import { PostgresSubscribers } from "./delivery/postgres-subscribers.js";
import { SqliteSubscribers } from "./delivery/sqlite-subscribers.js";
import { Subscribers, type SubscriberStore } from "./delivery/subscribers.js";
import { FeedStates } from "./feeds/feed-state.js";
import { PostgresItemClaims } from "./items/postgres-item-claims.js";
import type { Archive } from "./items/archive.js";
import { PostgresArchive } from "./items/postgres-archive.js";
import { RecentItems } from "./items/recent.js";
import { RECENT_LIMIT, type RecentStore } from "./items/recent-store.js";
import { SqliteArchive } from "./items/sqlite-archive.js";
import { SeenItems } from "./items/seen.js";
import { StoreEpoch, type EpochStart } from "./store/epoch.js";
import { postgresOf, sqliteOf, type Namespace, type Sqlite } from "./store/keyv.js";
import { migrate, type Postgres } from "./store/postgres.js";

export interface State {
  /** The shared database, when the store is PostgreSQL. */
  database: Postgres | undefined;
  seen: SeenItems;
  /** The newest items for `/latest`: the archive on SQLite and PostgreSQL, a list on Redis. */
  recent: RecentStore;
  /** Every item kept, searchable (SQLite and PostgreSQL; none on Redis). */
  archive: Archive | undefined;
  feedStates: FeedStates;
  subscribers: SubscriberStore;
  /** The subscribers this instance holds in memory (Redis): a store that lost its data gets them back. */
  memory: Subscribers | undefined;
  outbox: Outbox;
  /** Items held for chats' digests and quiet hours. */
  held: HeldItemStore;
  epoch: StoreEpoch;
  /** What the epoch found: the store newswire ran on, or an empty one. */
  found: EpochStart;
}

/**
 * The outbox on PostgreSQL, shared by the instances: its jobs in their table, with any that
 * newswire 0.x left in the Keyv namespace moved there first.
 */
async function sharedOutbox(database: Postgres, legacy: Keyv, remember: (jobs: readonly Job[]) => Promise<void>, logger: Logger): Promise<Outbox> {
  const store = new PostgresOutboxStore(database);
  const moved = await store.takeOver(legacy);
  if (moved > 0) logger.info({ jobs: moved }, "queued deliveries moved into the shared table newswire_jobs");
  return new Outbox(store, remember);
}

/** The subscriptions on SQLite, in their table, with any that Keyv's namespace kept moved there first. */
async function sqliteSubscribers(file: Sqlite, logger: Logger): Promise<SqliteSubscribers> {
  const subscribers = await SqliteSubscribers.open(file);
  const moved = await subscribers.takeOver();
  if (moved > 0) logger.info({ subscribers: moved }, "subscriptions moved into the table newswire_subscriptions");
  return subscribers;
}

const sweepFailed = (logger: Logger) => (error: unknown) => logger.warn({ err: error }, "items past ARCHIVE_DAYS not deleted; tried again within the hour");

/** The archive on PostgreSQL, with the recent items newswire kept before it moved in. */
async function sharedArchive(database: Postgres, retentionMs: number, logger: Logger): Promise<PostgresArchive> {
  const archive = new PostgresArchive(database, retentionMs, Date.now, sweepFailed(logger));
  const moved = await archive.takeOver();
  if (moved > 0) logger.info({ items: moved }, "recent items moved into the archive, newswire_archive");
  return archive;
}

/**
 * The archive in the SQLite file, with the recent items that Keyv's namespaces kept before it
 * moved in (the items stay there, to expire).
 */
async function sqliteArchive(file: Sqlite, store: Record<Namespace, Keyv>, retentionMs: number, logger: Logger): Promise<SqliteArchive> {
  const archive = await SqliteArchive.open(file, retentionMs, Date.now, sweepFailed(logger));
  const recent = await RecentItems.open(store.items, store.recent);
  if (recent.size === 0) return archive;
  // Oldest first: on SQLite a search's candidates are the items taken in last.
  const items = (await recent.latest(RECENT_LIMIT)).reverse();
  await archive.add(items.map((item) => ({ item })));
  // Moved: its index goes, so a later start does not bring them back (the items expire by themselves).
  await recent.clear();
  logger.info({ items: items.length }, "recent items moved into the archive, newswire_archive");
  return archive;
}

/** `retentionMs`: how long the archive keeps an item (`ARCHIVE_DAYS`). */
export async function openState(store: Record<Namespace, Keyv>, feeds: readonly FeedDefinition[], retentionMs: number, logger: Logger): Promise<State> {
  const database = postgresOf(store);
  const file = sqliteOf(store);
  if (database) await migrate(database.pool, logger.child({ part: "store" }));
  const seen = new SeenItems(store.seen, undefined, database ? new PostgresItemClaims(database) : undefined);
  // Jobs found in the store: their items count as seen before anything is sent, even if the
  // instance that accepted one died before that was recorded.
  const rememberJobs = (jobs: readonly Job[]) => seen.remember(jobs.flatMap((job) => job.identityKeys));
  const [recent, feedStates, subscribers, outbox, held] = await Promise.all([
    database
      ? sharedArchive(database, retentionMs, logger)
      : file
        ? sqliteArchive(file, store, retentionMs, logger)
        : RecentItems.open(store.items, store.recent, (error) => logger.error({ err: error }, "recent-items index not saved")),
    FeedStates.open(store.feeds, feeds),
    database ? new PostgresSubscribers(database) : file ? sqliteSubscribers(file, logger) : Subscribers.open(store.subscribers),
    database ? sharedOutbox(database, store.outbox, rememberJobs, logger) : Outbox.open(store.outbox, rememberJobs),
    database ? new PostgresHeldItems(database) : KeyvHeldItems.open(store.held),
  ]);
  const hasData = (await subscribers.count()) > 0 || !(await outbox.isEmpty()) || !(await recent.isEmpty()) || feedStates.anyBaselined;
  const { epoch, start: found } = await StoreEpoch.open(store.meta, hasData);
  const archive = recent instanceof SqliteArchive || recent instanceof PostgresArchive ? recent : undefined;
  return { database, seen, recent, archive, feedStates, subscribers, memory: subscribers instanceof Subscribers ? subscribers : undefined, outbox, held, epoch, found };
}
