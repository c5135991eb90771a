/**
 * newswire's entry point: validate settings and the catalog, probe Telegram and open the store
 * (each with a deadline), recover the outbox, start sending, polling and answering, and stop
 * cleanly on SIGTERM/SIGINT.
 */
import { run, type RunnerHandle } from "@grammyjs/runner";
import { Api } from "grammy";
import type Keyv from "keyv";
import type { Logger } from "pino";
import { mayPost } from "./bot/chat.js";
import { budgetTransformer, createBot, commandMenu } from "./bot/create-bot.js";
import { probeTelegram, watchTelegram } from "./bot/telegram-health.js";
import { loadCatalog, type Catalog } from "./config/catalog.js";
import { ConfigError } from "./config/errors.js";
import { loadSettings, type Settings } from "./config/settings.js";
import { createLogger } from "./logging.js";
import { TelegramBudget } from "./delivery/budget.js";
import { Digests } from "./delivery/digests.js";
import { Dispatcher } from "./delivery/dispatch.js";
import type { Outbox } from "./delivery/outbox.js";
import { PAID_BROADCAST_LIMITS, TELEGRAM_LIMITS } from "./delivery/pacing.js";
import { Sender } from "./delivery/sender.js";
import { StoryMessages } from "./delivery/story-messages.js";
import { Subscribers, type SubscriberStore } from "./delivery/subscribers.js";
import { addressPolicy } from "./feeds/address-policy.js";
import { FeedStates } from "./feeds/feed-state.js";
import { Outage } from "./health/outage.js";
import { AdminNotifier } from "./poller/admin-alerts.js";
import type { RecentStore } from "./items/recent-store.js";
import { Poller } from "./poller/poller.js";
import { PostgresPollSchedule } from "./poller/postgres-poll-schedule.js";
import { StoreEpoch } from "./store/epoch.js";
import { startHttp } from "./http/instance.js";
import { Metrics, queueReading } from "./metrics/metrics.js";
import { takeInstanceLease } from "./store/instance-lease.js";
import { takeSenderLease, type SenderLease } from "./store/sender-lease.js";
import { closeNamespaces, openNamespaces, sweepPeriodically } from "./store/keyv.js";
import type { Postgres } from "./store/postgres.js";
import { openState } from "./state.js";
import { StoreError } from "./store/guard.js";
import { embeddingsClient } from "./stories/embeddings.js";
import { Stories } from "./stories/stories.js";
import { PostgresStoryItems } from "./stories/postgres-story-items.js";
import { KeyvStoryItems } from "./stories/story-items.js";
import { configuredSummarizer } from "./summaries/llm.js";
import { compileTopics } from "./topics/topics.js";

/** Grace for the whole stop; the spec allows 10 s. */
const STOP_DEADLINE_MS = 9_000;

/** How often the sending instance on PostgreSQL takes in the jobs other instances recorded. */
const ADOPT_EVERY_MS = 500;

/**
 * Links the config file's channels (resolving `@username` to an id) with exactly the topics the file
 * gives. A channel the bot can't see is logged and skipped; one where it may not post yet is linked
 * with a warning saying what to fix.
 */
async function linkConfiguredChannels(catalog: Catalog, api: Api, botId: number, subscribers: SubscriberStore, logger: Logger): Promise<void> {
  for (const channel of catalog.channels) {
    try {
      const chat = await api.getChat(channel.chat);
      const member = await api.getChatMember(chat.id, botId).catch(() => undefined);
      if (!mayPost(member)) {
        logger.warn({ channel: channel.chat }, "the bot is not an admin allowed to post in this configured channel: add it as an admin with the right to post messages");
      }
      // The config file is the truth for its channels: topics it no longer lists end there too.
      const current = await subscribers.get({ chatId: chat.id });
      await subscribers.update({
        ...current,
        chatId: chat.id,
        kind: "channel",
        home: channel.home,
        topics: [...new Set(channel.topics)],
        since: current?.since ?? Date.now(),
        ...("title" in chat && chat.title ? { title: chat.title } : {}),
      });
    } catch (error) {
      logger.warn({ channel: channel.chat, err: (error as Error).message }, "configured channel cannot be linked");
    }
  }
}

/**
 * Story clustering's parts: the assignment at acceptance, and what the sender keeps to edit a
 * chat's message of a story. Items and messages are kept twice the window: a story joined late in
 * its window still finds its first item and the messages to edit.
 */
async function openStories(settings: NonNullable<Settings["stories"]>, namespace: Keyv, database: Postgres | undefined, recent: RecentStore, logger: Logger) {
  const keptMs = 2 * settings.windowMs;
  const items = database ? new PostgresStoryItems(database, keptMs) : new KeyvStoryItems(namespace, keptMs);
  const messages = new StoryMessages(namespace, keptMs, logger.child({ part: "sender" }));
  const storiesLogger = logger.child({ part: "stories" });
  const assignment = await Stories.open({
    recent,
    items,
    logger: storiesLogger,
    windowMs: settings.windowMs,
    ...(settings.embeddings ? { embedder: embeddingsClient(settings.embeddings, storiesLogger) } : {}),
  });
  return { assignment, kept: { items, messages } };
}

/** Store outages as the admins hear of them. */
const storeAlerts = (notify: (text: string) => void) => ({
  down: ({ error }: { error: string }) =>
    notify(`The store is failing: ${error}\nChanges users ask for are refused (they are told), and deliveries wait until it works again. /status shows it.`),
  up: ({ since, failures }: { since: number; failures: number }) =>
    notify(`The store works again after ${Math.round((Date.now() - since) / 1000)} s (${failures} failed calls).`),
});

/**
 * Before each poll cycle: whether the store still is the one newswire started on. One that lost its
 * data (epoch marker gone) would make every item of every feed look new, so each feed is
 * re-baselined (its next poll sends nothing), and the unfinished jobs, still in memory, are written
 * back, with the subscribers where this instance holds them in memory (`memory`: Redis). Resolves false (skip this cycle) while the store fails; its health reports that.
 */
function epochCheck(
  epoch: StoreEpoch,
  deps: { catalog: Catalog; feedStates: FeedStates; memory: Subscribers | undefined; outbox: Outbox; logger: Logger; notify: (text: string) => void },
): () => Promise<boolean> {
  // One check at a time: a re-baseline of many feeds outlasts a tick, and a second check meanwhile
  // would find the loss again (the marker is renewed last) and re-baseline and alert once more.
  let checking: Promise<boolean> | undefined;
  return () => (checking ??= check().finally(() => (checking = undefined)));
  async function check(): Promise<boolean> {
    try {
      if (await epoch.intact()) return true;
    } catch {
      return false;
    }
    const { catalog, feedStates, memory, outbox, logger } = deps;
    // In memory first: the polls read it (those under way too), so none of them takes the back
    // catalogue for news even if writing fails now.
    const writes: Promise<unknown>[] = [outbox.restore()];
    if (memory) writes.push(memory.restore());
    // Settled from the start: a restore that fails while the states are written is counted, not unhandled.
    const restored = Promise.allSettled(writes);
    const failedStates = await feedStates.rebaseline(catalog.feeds.map((feed) => feed.id));
    const failed = failedStates + (await restored).filter((write) => write.status === "rejected").length;
    const message =
      `The store lost its data (its epoch marker is gone: a Redis without persistence restarted, or the database was wiped). ` +
      `Everything it held is gone, the subscriptions too: ${memory ? `the ${memory.size} known to this run were written back` : "they are kept in the database only"}, and deliveries already queued are still sent. ` +
      `Every feed's next poll is a baseline, so nothing old is sent.`;
    logger.error({ feeds: catalog.feeds.length, subscribers: memory?.size, failedWrites: failed }, message);
    deps.notify(message);
    try {
      await epoch.renew();
    } catch {
      return false;
    }
    return true;
  }
}

/** Starts newswire; resolves with its stop. `stopSelf` is how it stops on its own (its store's lease lost). */
async function start(settings: Settings, logger: Logger, stopSelf: () => void): Promise<() => Promise<void>> {
  const catalog = loadCatalog(settings);
  const topics = compileTopics(catalog.topics);
  // The admins are told through the bot, which exists only once the store is open.
  let notifyAdmins = (_text: string): void => undefined;
  const storeHealth = new Outage("store", logger.child({ part: "store" }), storeAlerts((text) => notifyAdmins(text)));
  // Metrics are kept only where they are served (PORT).
  const metrics = settings.port === undefined ? undefined : new Metrics();
  const storeReports = { health: storeHealth, ...(metrics ? { failed: (namespace: string) => metrics.storeFailed(namespace) } : {}) };
  // Both at once, each within its deadline: whichever is unreachable is named well within 30 s.
  const [botInfo, store] = await Promise.all([probeTelegram(settings.apiRoot, settings.botToken), openNamespaces(settings.storeUrl, storeReports)]);
  // Before any state is read: a second process on a store would corrupt the first one's state.
  const lease = await takeInstanceLease(settings.storeUrl, { logger: logger.child({ part: "store" }), lost: stopSelf });
  const sweeper = sweepPeriodically(store, logger.child({ part: "store" }));

  // One budget for every message of the token: replies, then admin alerts, then broadcasts. The
  // sender's own Api is bare: it takes its slots from the budget and handles 429s, 5xx and
  // network errors itself, per chat. PAID_BROADCAST lifts the broadcasts' rate only.
  const budget = new TelegramBudget(settings.paidBroadcast ? PAID_BROADCAST_LIMITS : TELEGRAM_LIMITS);
  const broadcastApi = new Api(settings.botToken, { apiRoot: settings.apiRoot });
  const alertApi = new Api(settings.botToken, { apiRoot: settings.apiRoot });
  alertApi.config.use(budgetTransformer(budget, "alert"));
  const { database, seen, recent, archive, feedStates, subscribers, memory, outbox, held, epoch, found } = await openState(
    store,
    catalog.feeds,
    settings.archiveMs,
    logger,
  );
  if (found === "empty") {
    logger.warn(
      "the store is empty: a first start, or the store lost its data while newswire was stopped (a Redis without persistence restarted?), in which case every subscription is gone. Each feed's first poll is a baseline: nothing old is sent",
    );
  }
  const stories = settings.stories && (await openStories(settings.stories, store.stories, database, recent, logger));
  const sender = new Sender({
    api: broadcastApi,
    ...(stories ? { stories: stories.kept } : {}),
    held,
    outbox,
    subscribers,
    logger: logger.child({ part: "sender" }),
    budget,
    paidBroadcast: settings.paidBroadcast,
    concurrency: settings.sendConcurrency,
  });
  const dispatcher = new Dispatcher(subscribers, outbox, held);
  const digests = new Digests({ held, subscribers, outbox, topics: catalog.topics, logger: logger.child({ part: "digests" }) });
  const bot = createBot(
    { token: settings.botToken, apiRoot: settings.apiRoot, budget, botInfo },
    {
      logger: logger.child({ part: "bot" }),
      topics: catalog.topics,
      feeds: catalog.feeds,
      subscribers,
      held,
      recent,
      archive,
      feedStates,
      outbox,
      sender,
      adminIds: settings.adminIds,
      budget,
      store: storeHealth,
    },
  );
  const telegramHealth = new Outage("Telegram", logger.child({ part: "telegram" }));
  watchTelegram(bot.api, telegramHealth);
  watchTelegram(broadcastApi, telegramHealth);
  await bot.init();

  // ---- sending: one instance sends, within the token's one budget, and (unless webhooks bring
  // the updates) polls Telegram: on SQLite and Redis this one, at once; on PostgreSQL the holder of
  // the sender lease, which also takes in the jobs the other instances record. ----
  let stopping = false;
  let sending = false;
  let runner: RunnerHandle | undefined;
  let adopting: NodeJS.Timeout | undefined;
  let adoptRunning = false;
  const adopt = () => {
    if (adoptRunning) return;
    adoptRunning = true;
    outbox
      .adopt()
      // A store failure is its health's to tell, once; the next look tries again.
      .catch((error: unknown) => error instanceof StoreError || logger.error({ err: error }, "jobs of other instances not taken in"))
      .finally(() => (adoptRunning = false));
  };
  const startSending = async () => {
    // Unsent deliveries go out first.
    await outbox.startSending(() => sender.deliveriesReady());
    if (stopping) return;
    sender.start();
    digests.start();
    sending = true;
    if (database) adopting = setInterval(adopt, ADOPT_EVERY_MS);
  };
  // Long polling first removes a webhook left from an earlier webhook run, or Telegram would answer every poll 409.
  const startLongPolling = async () => {
    if (settings.webhook || stopping) return;
    await bot.api.deleteWebhook({ drop_pending_updates: false });
    if (!stopping) runner = run(bot, { runner: { silent: true } });
  };
  if (!database) await startSending();

  await linkConfiguredChannels(catalog, bot.api, bot.botInfo.id, subscribers, logger);
  await commandMenu(settings.adminIds)
    .setCommands(bot)
    .catch((error: Error) => logger.warn({ err: error.message }, "command menu not registered"));

  const alerts = new AdminNotifier(
    settings.feedFailureAlert,
    settings.adminIds,
    (chatId, text) => alertApi.sendMessage(chatId, text, { link_preview_options: { is_disabled: true } }),
    logger.child({ part: "alerts" }),
  );
  notifyAdmins = (text) => void alerts.notify(text);
  const poller = new Poller(
    catalog.feeds,
    {
      feedStates,
      seen,
      recent,
      dispatcher,
      topics,
      logger: logger.child({ part: "poller" }),
      summarizer: configuredSummarizer(settings.summarizer, logger.child({ part: "summarizer" })),
      fetch: { timeoutMs: settings.fetchTimeoutMs, maxBytes: settings.maxFeedBytes },
      addressPolicy: addressPolicy(catalog.feeds.map((feed) => feed.url), settings.allowPrivateArticles),
      alerts,
      maxNewItems: settings.maxNewItemsPerPoll,
      ...(stories ? { stories: stories.assignment } : {}),
    },
    settings.feedConcurrency,
    {
      beforeCycle: epochCheck(epoch, { catalog, feedStates, memory, outbox, logger, notify: (text) => notifyAdmins(text) }),
      ...(metrics ? { metrics } : {}),
      ...(database ? { schedule: new PostgresPollSchedule(database) } : {}),
    },
  );
  poller.start(settings.pollCron);

  // ---- updates and HTTP (PORT, WEBHOOK_URL, WEBHOOK_SECRET): src/http, src/metrics ----
  let senderLease: SenderLease | undefined;
  if (database) {
    senderLease = takeSenderLease(settings.storeUrl, {
      logger: logger.child({ part: "sender" }),
      acquired: () =>
        void (async () => {
          await startSending();
          await startLongPolling();
        })().catch((error: unknown) => {
          logger.error({ err: error }, "could not start sending; stopping so that another instance takes over");
          stopSelf();
        }),
      // Another instance may be sending already: no new send starts here from now on.
      lost: () => {
        sending = false;
        void digests.stop();
        void sender.stop(0);
        stopSelf();
      },
    });
  } else {
    await startLongPolling();
  }
  const part = () => ({ role: settings.webhook ? ("webhook" as const) : runner ? ("long-polling" as const) : ("standby" as const), sending });
  const http = metrics && settings.port !== undefined
    ? await startHttp(settings.port, settings.webhook, { bot, probeApi: new Api(settings.botToken, { apiRoot: settings.apiRoot }), store: store.feeds, storeHealth, poller, metrics, part, logger: logger.child({ part: "http" }) })
    : undefined;
  if (metrics) {
    // Replies and alerts are counted after their budget's waits and retries: their final outcome.
    for (const api of [broadcastApi, bot.api, alertApi]) api.config.use(metrics.telegramCalls());
    metrics.observeQueue(() => queueReading(outbox));
    metrics.observeBudget(() => budget.stats);
  }
  // ---- end of updates and HTTP ----
  logger.info(
    { bot: bot.botInfo.username, feeds: catalog.feeds.length, topics: catalog.topics.length, subscribers: await subscribers.count(), queued: outbox.size.deliveries },
    "newswire started",
  );

  return async () => {
    stopping = true;
    // A standby stops asking first, so that it cannot become the sender while it stops.
    if (!senderLease?.held) await senderLease?.release();
    clearInterval(adopting);
    await Promise.allSettled([poller.stop(), runner?.isRunning() ? runner.stop() : undefined, http?.close(3_000)]);
    await digests.stop();
    await Promise.all([sender.stop(5_000), alerts.drain(5_000)]);
    await senderLease?.release();
    await sweeper.stop();
    await recent.flush();
    await closeNamespaces(store);
    await lease.release();
  };
}

async function main(): Promise<void> {
  let logger: Logger | undefined;
  let stop: (() => Promise<void>) | undefined;
  let stopping = false;
  // `exitCode` 1 when newswire stops on its own: a supervisor should know it did not ask for it.
  const shutdown = (reason: NodeJS.Signals | "lease lost", exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger?.info({ signal: reason }, "stopping");
    const deadline = setTimeout(() => {
      logger?.warn("stop took too long; exiting");
      process.exit(exitCode);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    (stop ?? (async () => undefined))().then(
      () => {
        logger?.info("stopped");
        process.exit(exitCode);
      },
      (error: unknown) => {
        logger?.error({ err: error }, "error while stopping");
        process.exit(exitCode);
      },
    );
  };
  // Before start-up work, which can take a while (probes, the store): a stop asked for meanwhile
  // is a clean stop too. A signal listener is called with the signal's number too, which is no exit code.
  process.on("SIGTERM", (signal) => shutdown(signal));
  process.on("SIGINT", (signal) => shutdown(signal));
  try {
    const settings = loadSettings();
    logger = createLogger(settings.logLevel, [settings.botToken, settings.summarizer?.apiKey, settings.webhook?.secret]);
    stop = await start(settings, logger, () => shutdown("lease lost", 1));
  } catch (error) {
    // An operator's mistake gets one line, no stack trace; anything else is a crash worth a trace.
    if (error instanceof ConfigError) process.stderr.write(`newswire: ${error.message}\n`);
    else if (logger) logger.fatal({ err: error }, "newswire could not start");
    else console.error(error);
    process.exit(1);
  }
}

await main();
