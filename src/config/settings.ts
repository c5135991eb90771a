/**
 * Settings from the environment (and an optional `.env` file), validated once at start.
 * The rest of the program receives a typed `Settings` and never reads `process.env` itself.
 */
import { existsSync } from "node:fs";
import { loadEnvFile } from "node:process";
import { validate as isValidCron } from "node-cron";
import { z } from "zod";
import { DEFAULT_ARCHIVE_DAYS } from "../items/archive.js";
import type { EmbeddingsOptions } from "../stories/embeddings.js";
import type { LlmSummarizerOptions } from "../summaries/llm.js";
import { ConfigError } from "./errors.js";
import { httpUrl } from "../text/url.js";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const STORE_SCHEMES = ["sqlite:", "redis:", "rediss:", "postgres:", "postgresql:"];

const commaList = (value: string | undefined): string[] =>
  (value ?? "").split(",").map((part) => part.trim()).filter((part) => part.length > 0);

const isHttpUrl = (value: string): boolean => httpUrl(value) !== undefined;

/** A yes/no setting; `fallback` when unset. */
const boolean = (fallback = false) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      const normalised = (value ?? "").trim().toLowerCase();
      if (normalised === "") return fallback;
      if (["0", "false", "no", "off"].includes(normalised)) return false;
      if (["1", "true", "yes", "on"].includes(normalised)) return true;
      ctx.addIssue({ code: "custom", message: `must be true or false, got ${JSON.stringify(value)}` });
      return z.NEVER;
    });

/** A positive whole number; `fallback` when unset (undefined: the consumer's own default). */
const positiveInt = <Fallback extends number | undefined>(fallback: Fallback) =>
  z
    .string()
    .optional()
    .transform((value, ctx): number | Fallback => {
      if (value === undefined || value.trim() === "") return fallback;
      const number = Number(value);
      if (!Number.isInteger(number) || number <= 0) {
        ctx.addIssue({ code: "custom", message: `must be a positive whole number, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return number;
    });

/** An OpenAI-compatible API's URL, as its base or the endpoint's full URL. */
const modelUrl = () =>
  z
    .string()
    .trim()
    .refine(isHttpUrl, "must be an http(s) URL such as http://127.0.0.1:11434/v1 (an OpenAI-compatible API)")
    .optional();

/** An optional model's URL and name: together or neither, the one missing named with what it is. */
function requirePair(ctx: z.RefinementCtx, url: [name: string, value: unknown, meaning: string], model: [name: string, value: unknown, meaning: string]): void {
  for (const [given, missing] of [[url, model], [model, url]] as const) {
    if (given[1] !== undefined && missing[1] === undefined) {
      ctx.addIssue({ code: "custom", path: [missing[0]], message: `is required when ${given[0]} is set: ${missing[2]}` });
    }
  }
}

/** A model endpoint's options when both its URL and model are set. */
function modelEndpoint(url: string | undefined, model: string | undefined, apiKey: string | undefined, timeoutMs: number) {
  if (url === undefined || model === undefined) return undefined;
  return { url, model, ...(apiKey ? { apiKey } : {}), timeoutMs };
}

/** The LLM summariser's settings: URL and model together or neither (extractive summaries). */
const summarizerFields = {
  SUMMARIZER_URL: modelUrl(),
  SUMMARIZER_MODEL: z.string().trim().optional(),
  SUMMARIZER_API_KEY: z.string().trim().optional(),
  SUMMARIZER_TIMEOUT_MS: positiveInt(20_000),
};

type SummarizerFields = z.infer<z.ZodObject<typeof summarizerFields>>;

function requireBothOrNeither(value: SummarizerFields, ctx: z.RefinementCtx): void {
  requirePair(ctx, ["SUMMARIZER_URL", value.SUMMARIZER_URL, "the server's chat-completions URL"], ["SUMMARIZER_MODEL", value.SUMMARIZER_MODEL, "the model's name on that server"]);
}

function summarizerOptions(value: SummarizerFields): LlmSummarizerOptions | undefined {
  return modelEndpoint(value.SUMMARIZER_URL, value.SUMMARIZER_MODEL, value.SUMMARIZER_API_KEY, value.SUMMARIZER_TIMEOUT_MS);
}

/** Story clustering, and its optional embeddings model: URL and model together or neither (words alone). */
const storyFields = {
  STORIES: boolean(true),
  STORY_WINDOW_HOURS: positiveInt(48),
  EMBEDDINGS_URL: modelUrl(),
  EMBEDDINGS_MODEL: z.string().trim().optional(),
  EMBEDDINGS_API_KEY: z.string().trim().optional(),
  EMBEDDINGS_TIMEOUT_MS: positiveInt(10_000),
};

type StoryFields = z.infer<z.ZodObject<typeof storyFields>>;

function requireEmbeddingsPair(value: StoryFields, ctx: z.RefinementCtx): void {
  requirePair(ctx, ["EMBEDDINGS_URL", value.EMBEDDINGS_URL, "the server's embeddings URL"], ["EMBEDDINGS_MODEL", value.EMBEDDINGS_MODEL, "the embedding model's name on that server"]);
}

function storySettings(value: StoryFields): Settings["stories"] {
  if (!value.STORIES) return undefined;
  const embeddings = modelEndpoint(value.EMBEDDINGS_URL, value.EMBEDDINGS_MODEL, value.EMBEDDINGS_API_KEY, value.EMBEDDINGS_TIMEOUT_MS);
  return { windowMs: value.STORY_WINDOW_HOURS * 3_600_000, ...(embeddings ? { embeddings } : {}) };
}

/** Telegram's rule for a webhook's secret token (setWebhook `secret_token`). */
const WEBHOOK_SECRET_PATTERN = /^[A-Za-z0-9_-]{1,256}$/;

/** The HTTP server and webhook mode: `WEBHOOK_URL` needs `WEBHOOK_SECRET` and `PORT` (its path is served there). */
const httpFields = {
  PORT: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined;
      const port = Number(value);
      if (!/^\d+$/.test(value) || port < 1 || port > 65_535) {
        ctx.addIssue({ code: "custom", message: `must be a TCP port from 1 to 65535, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return port;
    }),
  WEBHOOK_URL: z
    .string()
    .trim()
    .refine(isHttpUrl, "must be an http(s) URL such as https://bot.example.org/telegram (Telegram itself posts only to https)")
    .optional(),
  WEBHOOK_SECRET: z
    .string()
    .trim()
    .regex(WEBHOOK_SECRET_PATTERN, "must be 1 to 256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule for secret tokens)")
    .optional(),
};

type HttpFields = z.infer<z.ZodObject<typeof httpFields>>;

function requireWebhookCompanions(value: HttpFields, ctx: z.RefinementCtx): void {
  if (value.WEBHOOK_URL === undefined) return;
  if (value.WEBHOOK_SECRET === undefined) {
    ctx.addIssue({ code: "custom", path: ["WEBHOOK_SECRET"], message: "is required when WEBHOOK_URL is set: Telegram sends it with every update, other requests get 401" });
  }
  if (value.PORT === undefined) {
    ctx.addIssue({ code: "custom", path: ["PORT"], message: "is required when WEBHOOK_URL is set: the webhook's path is served on it" });
  }
}

/** What reading feeds needs (the bot, and tools such as `npm run preview` that run without a token). */
const feedReadingFields = {
  CONFIG_FILE: z.string().trim().optional(),
  FETCH_TIMEOUT_MS: positiveInt(15_000),
  MAX_FEED_BYTES: positiveInt(10 * 1024 * 1024),
  ALLOW_PRIVATE_ARTICLES: boolean(),
  ...summarizerFields,
};

/** The settings of {@link feedReadingFields}. */
export type FeedReadingSettings = Pick<Settings, "configFile" | "fetchTimeoutMs" | "maxFeedBytes" | "allowPrivateArticles" | "summarizer">;

function feedReadingSettings(value: z.infer<z.ZodObject<typeof feedReadingFields>>): FeedReadingSettings {
  const summarizer = summarizerOptions(value);
  return {
    configFile: { path: value.CONFIG_FILE || "./newswire.yaml", explicit: Boolean(value.CONFIG_FILE) },
    fetchTimeoutMs: value.FETCH_TIMEOUT_MS,
    maxFeedBytes: value.MAX_FEED_BYTES,
    allowPrivateArticles: value.ALLOW_PRIVATE_ARTICLES,
    ...(summarizer ? { summarizer } : {}),
  };
}

const schema = z.object({
  BOT_TOKEN: z
    .string({ error: "is required: the bot's token from @BotFather" })
    .trim()
    .regex(/^\d+:[\w-]+$/, "does not look like a bot token (digits, a colon, then letters)"),
  TELEGRAM_API_ROOT: z
    .string()
    .trim()
    .default("https://api.telegram.org")
    .refine(isHttpUrl, "must be an http(s) URL such as https://api.telegram.org")
    .transform((value) => value.replace(/\/+$/, "")),
  FEEDS: z
    .string()
    .optional()
    .transform((value, ctx) => {
      const urls = commaList(value);
      for (const url of urls) {
        if (!isHttpUrl(url)) ctx.addIssue({ code: "custom", message: `${JSON.stringify(url)} is not an http(s) URL` });
      }
      return urls;
    }),
  STORE_URL: z
    .string()
    .trim()
    .default("sqlite://data/newswire.sqlite")
    .refine(
      (value) => STORE_SCHEMES.some((scheme) => value.startsWith(`${scheme}//`)),
      "must be sqlite://PATH, redis://… or postgres://…",
    ),
  POLL_CRON: z
    .string()
    .trim()
    .default("*/5 * * * *")
    .refine((value) => isValidCron(value), "is not a valid cron expression (e.g. */5 * * * *)"),
  ADMIN_IDS: z
    .string()
    .optional()
    .transform((value, ctx) => {
      // Digits only: Number() would also take "0x10" or "1e3" and make some other user an admin.
      const parts = commaList(value);
      if (parts.some((part) => !/^\d+$/.test(part) || !Number.isSafeInteger(Number(part)))) {
        ctx.addIssue({ code: "custom", message: `must be comma-separated numeric Telegram user ids, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return parts.map(Number);
    }),
  LOG_LEVEL: z
    .string()
    .trim()
    .toLowerCase()
    .default("info")
    .pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` })),
  PAID_BROADCAST: boolean(),
  FEED_CONCURRENCY: positiveInt(8),
  SEND_CONCURRENCY: positiveInt(undefined),
  FEED_FAILURE_ALERT: positiveInt(5),
  MAX_NEW_ITEMS_PER_POLL: positiveInt(20),
  ARCHIVE_DAYS: positiveInt(DEFAULT_ARCHIVE_DAYS),
  ...feedReadingFields,
  ...storyFields,
  ...httpFields,
})
  .superRefine(requireBothOrNeither)
  .superRefine(requireEmbeddingsPair)
  .superRefine(requireWebhookCompanions);

/** Everything newswire is told by its environment, validated. */
export interface Settings {
  botToken: string;
  apiRoot: string;
  /** The config file's path and whether the operator named it (a named file must exist). */
  configFile: { path: string; explicit: boolean };
  /** Feed URLs from `FEEDS`, in addition to the config file's. */
  feedUrls: string[];
  storeUrl: string;
  pollCron: string;
  adminIds: number[];
  logLevel: (typeof LOG_LEVELS)[number];
  /** Send with `allow_paid_broadcast` (owners who pay for up to 1,000 messages a second). */
  paidBroadcast: boolean;
  /** Feeds fetched at once. */
  feedConcurrency: number;
  /** Broadcast sends in flight at once; unset: the sender's default (3, or 32 with paid broadcasts). */
  sendConcurrency?: number;
  fetchTimeoutMs: number;
  maxFeedBytes: number;
  /** Article pages may be fetched from private addresses too (an intranet); never from loopback or link-local. */
  allowPrivateArticles: boolean;
  /** Consecutive failed polls of a feed after which the admins are told (once, and again when it recovers). */
  feedFailureAlert: number;
  /** New items of one feed taken in per poll (the newest); the rest are marked seen unsent. */
  maxNewItemsPerPoll: number;
  /** How long the archive keeps an item after it is taken in (`ARCHIVE_DAYS`), for /search, /latest and "Read here". */
  archiveMs: number;
  /** The LLM summariser, when `SUMMARIZER_URL` and `SUMMARIZER_MODEL` are set; extractive summaries otherwise. */
  summarizer?: LlmSummarizerOptions;
  /**
   * Story clustering (`STORIES`, on unless turned off): an item that reports what another feed's
   * recent item did joins its story; undefined when off.
   */
  stories?: { windowMs: number; embeddings?: EmbeddingsOptions };
  /** Where `/healthz`, `/readyz`, `/metrics` (and the webhook) are served; no HTTP server when unset. */
  port?: number;
  /** Webhook mode (`WEBHOOK_URL`, `WEBHOOK_SECRET`); long polling when unset. */
  webhook?: { url: string; secret: string };
}

/**
 * Validates `env` against `schema`.
 * @throws ConfigError naming the first bad setting and what is wrong with it.
 */
function validate<T>(schema: z.ZodType<T>, env: Record<string, string | undefined>): T {
  // An empty value (`LOG_LEVEL=` in .env, an unset variable passed on by compose) means "not set".
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value?.trim()));
  const result = schema.safeParse(given);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = String(issue.path[0] ?? "settings");
    throw new ConfigError(`${name} ${issue.message}`);
  }
  return result.data;
}

/**
 * Validates `env` into `Settings`.
 * @throws ConfigError naming the first bad setting and what is wrong with it.
 */
export function parseSettings(env: Record<string, string | undefined>): Settings {
  const value = validate(schema, env);
  const stories = storySettings(value);
  return {
    ...feedReadingSettings(value),
    botToken: value.BOT_TOKEN,
    apiRoot: value.TELEGRAM_API_ROOT,
    feedUrls: value.FEEDS,
    storeUrl: value.STORE_URL,
    pollCron: value.POLL_CRON,
    adminIds: value.ADMIN_IDS,
    logLevel: value.LOG_LEVEL,
    paidBroadcast: value.PAID_BROADCAST,
    feedConcurrency: value.FEED_CONCURRENCY,
    ...(value.SEND_CONCURRENCY !== undefined ? { sendConcurrency: value.SEND_CONCURRENCY } : {}),
    feedFailureAlert: value.FEED_FAILURE_ALERT,
    maxNewItemsPerPoll: value.MAX_NEW_ITEMS_PER_POLL,
    archiveMs: value.ARCHIVE_DAYS * 24 * 3_600_000,
    ...(stories ? { stories } : {}),
    ...(value.PORT !== undefined ? { port: value.PORT } : {}),
    ...(value.WEBHOOK_URL !== undefined && value.WEBHOOK_SECRET !== undefined
      ? { webhook: { url: value.WEBHOOK_URL, secret: value.WEBHOOK_SECRET } }
      : {}),
  };
}

/**
 * The settings that reading feeds needs, alone (for tools such as `npm run preview`, which need
 * no token): the config file, fetch limits and the LLM summariser.
 * @throws ConfigError naming the bad or missing setting.
 */
export function parseFeedReadingSettings(env: Record<string, string | undefined>): FeedReadingSettings {
  return feedReadingSettings(validate(z.object(feedReadingFields).superRefine(requireBothOrNeither), env));
}

/**
 * Reads `.env` from the working directory into `process.env` (values already in the environment
 * win, as with dotenv) and validates the result.
 */
export function loadSettings(envFile = ".env"): Settings {
  loadDotEnv(envFile);
  return parseSettings(process.env);
}

/**
 * Reads `envFile` (when it exists) into `process.env`; values already in the environment win.
 * @throws ConfigError when the file cannot be read.
 */
export function loadDotEnv(envFile = ".env"): void {
  if (!existsSync(envFile)) return;
  try {
    loadEnvFile(envFile);
  } catch (error) {
    throw new ConfigError(`${envFile} could not be read: ${(error as Error).message}`);
  }
}
