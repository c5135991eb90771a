/**
 * newswire's entry point: validate settings and the catalog, open the store, recover the outbox,
 * start sending, polling and answering, and stop cleanly on SIGTERM/SIGINT.
 */
import { run, type RunnerHandle } from "@grammyjs/runner";
import { Api, GrammyError } from "grammy";
import { pino, type Logger } from "pino";
import { mayPost } from "./bot/chat.js";
import { createBot, commandMenu } from "./bot/create-bot.js";
import { loadCatalog, type Catalog } from "./config/catalog.js";
import { ConfigError } from "./config/errors.js";
import { loadSettings, type Settings } from "./config/settings.js";
import { Dispatcher } from "./delivery/dispatch.js";
import { Outbox } from "./delivery/outbox.js";
import { Sender } from "./delivery/sender.js";
import { Subscribers } from "./delivery/subscribers.js";
import { FeedStates } from "./feeds/feed-state.js";
import { RecentItems } from "./items/recent.js";
import { SeenItems } from "./items/seen.js";
import { AdminNotifier } from "./poller/admin-alerts.js";
import { Poller } from "./poller/poller.js";
import { startHttp } from "./http/instance.js";
import { Metrics, queueReading } from "./metrics/metrics.js";
import { closeNamespaces, openNamespaces, sweepPeriodically } from "./store/keyv.js";
import { configuredSummarizer } from "./summaries/llm.js";
import { compileTopics } from "./topics/topics.js";

/** Grace for the whole stop; the spec allows 10 s. */
const STOP_DEADLINE_MS = 9_000;

/**
 * Links the config file's channels (resolving `@username` to an id) with exactly the topics the file
 * gives. A channel the bot can't see is logged and skipped; one where it may not post yet is linked
 * with a warning saying what to fix.
 */
async function linkConfiguredChannels(catalog: Catalog, api: Api, botId: number, subscribers: Subscribers, logger: Logger): Promise<void> {
  for (const channel of catalog.channels) {
    try {
      const chat = await api.getChat(channel.chat);
      const member = await api.getChatMember(chat.id, botId).catch(() => undefined);
      if (!mayPost(member)) {
        logger.warn({ channel: channel.chat }, "the bot is not an admin allowed to post in this configured channel: add it as an admin with the right to post messages");
      }
      // The config file is the truth for its channels: topics it no longer lists end there too.
      const current = subscribers.get({ chatId: chat.id });
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

async function start(settings: Settings, logger: Logger): Promise<() => Promise<void>> {
  const catalog = loadCatalog(settings);
  const topics = compileTopics(catalog.topics);
  const store = await openNamespaces(settings.storeUrl);
  const sweeper = sweepPeriodically(store, logger.child({ part: "store" }));

  // The sender's own Api has no auto-retry: the sender obeys retry_after per chat and retries
  // 5xx and network errors itself, and a transformer resending outside its pacing causes more 429s.
  const broadcastApi = new Api(settings.botToken, { apiRoot: settings.apiRoot });
  const [seen, recent, feedStates, subscribers, outbox] = await Promise.all([
    new SeenItems(store.seen),
    RecentItems.open(store.items, store.recent, (error) => logger.error({ err: error }, "recent-items index not saved")),
    FeedStates.open(store.feeds, catalog.feeds.map((feed) => feed.id)),
    Subscribers.open(store.subscribers),
    Outbox.open(store.outbox),
  ]);
  const sender = new Sender({
    api: broadcastApi,
    outbox,
    subscribers,
    logger: logger.child({ part: "sender" }),
    paidBroadcast: settings.paidBroadcast,
    concurrency: settings.sendConcurrency,
  });
  const dispatcher = new Dispatcher(subscribers, outbox, sender);
  const bot = createBot(
    { token: settings.botToken, apiRoot: settings.apiRoot },
    { logger: logger.child({ part: "bot" }), topics: catalog.topics, feeds: catalog.feeds, subscribers, recent, feedStates, outbox, sender, adminIds: settings.adminIds },
  );

  try {
    await bot.init();
  } catch (error) {
    if (error instanceof GrammyError && (error.error_code === 401 || error.error_code === 404)) {
      throw new ConfigError("BOT_TOKEN was rejected by Telegram (401 Unauthorized): check the token from @BotFather");
    }
    throw error;
  }

  // Jobs accepted before a crash: their items count as seen even if the crash came before that
  // was recorded, and their unsent deliveries go out first.
  await seen.remember(outbox.openJobs().flatMap((job) => job.identityKeys));
  sender.add(outbox.pending());
  sender.start();

  await linkConfiguredChannels(catalog, bot.api, bot.botInfo.id, subscribers, logger);
  await commandMenu(settings.adminIds)
    .setCommands(bot)
    .catch((error: Error) => logger.warn({ err: error.message }, "command menu not registered"));

  const alerts = new AdminNotifier(
    settings.feedFailureAlert,
    settings.adminIds,
    (chatId, text) => bot.api.sendMessage(chatId, text, { link_preview_options: { is_disabled: true } }),
    logger.child({ part: "alerts" }),
  );
  // Metrics are kept only where they are served (PORT).
  const metrics = settings.port === undefined ? undefined : new Metrics();
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
      alerts,
    },
    settings.feedConcurrency,
    metrics,
  );
  poller.start(settings.pollCron);

  // ---- updates and HTTP (PORT, WEBHOOK_URL, WEBHOOK_SECRET): src/http, src/metrics ----
  // Webhook mode: Telegram posts updates to the HTTP server, and nothing polls. Long polling first
  // removes a webhook left from an earlier webhook run, or Telegram would answer every poll 409.
  let runner: RunnerHandle | undefined;
  if (!settings.webhook) {
    await bot.api.deleteWebhook({ drop_pending_updates: false });
    runner = run(bot, { runner: { silent: true } });
  }
  const http = metrics && settings.port !== undefined
    ? await startHttp(settings.port, settings.webhook, { bot, probeApi: new Api(settings.botToken, { apiRoot: settings.apiRoot }), store: store.feeds, poller, metrics, logger: logger.child({ part: "http" }) })
    : undefined;
  if (metrics) {
    broadcastApi.config.use(metrics.telegramCalls());
    metrics.watchStore(store);
    metrics.observeQueue(() => queueReading(outbox));
  }
  // ---- end of updates and HTTP ----
  logger.info(
    { bot: bot.botInfo.username, feeds: catalog.feeds.length, topics: catalog.topics.length, subscribers: subscribers.size, queued: outbox.size.deliveries },
    "newswire started",
  );

  return async () => {
    await Promise.allSettled([poller.stop(), runner?.isRunning() ? runner.stop() : undefined, http?.close(3_000)]);
    await Promise.all([sender.stop(5_000), alerts.drain(5_000)]);
    await sweeper.stop();
    await recent.flush();
    await closeNamespaces(store);
  };
}

async function main(): Promise<void> {
  let logger: Logger | undefined;
  let stop: () => Promise<void>;
  try {
    const settings = loadSettings();
    logger = pino({ level: settings.logLevel, base: { app: "newswire" } });
    stop = await start(settings, logger);
  } catch (error) {
    // An operator's mistake gets one line, no stack trace; anything else is a crash worth a trace.
    if (error instanceof ConfigError) process.stderr.write(`newswire: ${error.message}\n`);
    else if (logger) logger.fatal({ err: error }, "newswire could not start");
    else console.error(error);
    process.exit(1);
  }

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    const deadline = setTimeout(() => {
      logger.warn("stop took too long; exiting");
      process.exit(0);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    stop().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "error while stopping");
        process.exit(0);
      },
    );
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

await main();
