/**
 * Settings from the environment (and an optional `.env` file), validated once at start.
 * The rest of the program receives a typed `Settings` and never reads `process.env` itself.
 */
import { existsSync } from "node:fs";
import { loadEnvFile } from "node:process";
import { validate as isValidCron } from "node-cron";
import { z } from "zod";
import { ConfigError } from "./errors.js";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const STORE_SCHEMES = ["sqlite:", "redis:", "rediss:", "postgres:", "postgresql:"];

const commaList = (value: string | undefined): string[] =>
  (value ?? "").split(",").map((part) => part.trim()).filter((part) => part.length > 0);

const httpUrl = (value: string): boolean => {
  try {
    const { protocol } = new URL(value);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
};

const boolean = () =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      const normalised = (value ?? "").trim().toLowerCase();
      if (["", "0", "false", "no", "off"].includes(normalised)) return false;
      if (["1", "true", "yes", "on"].includes(normalised)) return true;
      ctx.addIssue({ code: "custom", message: `must be true or false, got ${JSON.stringify(value)}` });
      return z.NEVER;
    });

const positiveInt = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return fallback;
      const number = Number(value);
      if (!Number.isInteger(number) || number <= 0) {
        ctx.addIssue({ code: "custom", message: `must be a positive whole number, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return number;
    });

const schema = z.object({
  BOT_TOKEN: z
    .string({ error: "is required: the bot's token from @BotFather" })
    .trim()
    .regex(/^\d+:[\w-]+$/, "does not look like a bot token (digits, a colon, then letters)"),
  TELEGRAM_API_ROOT: z
    .string()
    .trim()
    .default("https://api.telegram.org")
    .refine(httpUrl, "must be an http(s) URL such as https://api.telegram.org")
    .transform((value) => value.replace(/\/+$/, "")),
  CONFIG_FILE: z.string().trim().optional(),
  FEEDS: z
    .string()
    .optional()
    .transform((value, ctx) => {
      const urls = commaList(value);
      for (const url of urls) {
        if (!httpUrl(url)) ctx.addIssue({ code: "custom", message: `${JSON.stringify(url)} is not an http(s) URL` });
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
  FETCH_TIMEOUT_MS: positiveInt(15_000),
  MAX_FEED_BYTES: positiveInt(10 * 1024 * 1024),
  FEED_FAILURE_ALERT: positiveInt(5),
});

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
  fetchTimeoutMs: number;
  maxFeedBytes: number;
  /** Consecutive failed polls of a feed after which the admins are told (once, and again when it recovers). */
  feedFailureAlert: number;
}

/**
 * Validates `env` into `Settings`.
 * @throws ConfigError naming the first bad setting and what is wrong with it.
 */
export function parseSettings(env: Record<string, string | undefined>): Settings {
  // An empty value (`LOG_LEVEL=` in .env, an unset variable passed on by compose) means "not set".
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value?.trim()));
  const result = schema.safeParse(given);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = String(issue.path[0] ?? "settings");
    throw new ConfigError(`${name} ${issue.message}`);
  }
  const value = result.data;
  return {
    botToken: value.BOT_TOKEN,
    apiRoot: value.TELEGRAM_API_ROOT,
    configFile: { path: value.CONFIG_FILE || "./newswire.yaml", explicit: Boolean(value.CONFIG_FILE) },
    feedUrls: value.FEEDS,
    storeUrl: value.STORE_URL,
    pollCron: value.POLL_CRON,
    adminIds: value.ADMIN_IDS,
    logLevel: value.LOG_LEVEL,
    paidBroadcast: value.PAID_BROADCAST,
    feedConcurrency: value.FEED_CONCURRENCY,
    fetchTimeoutMs: value.FETCH_TIMEOUT_MS,
    maxFeedBytes: value.MAX_FEED_BYTES,
    feedFailureAlert: value.FEED_FAILURE_ALERT,
  };
}

/**
 * Reads `.env` from the working directory into `process.env` (values already in the environment
 * win, as with dotenv) and validates the result.
 */
export function loadSettings(envFile = ".env"): Settings {
  if (existsSync(envFile)) {
    try {
      loadEnvFile(envFile);
    } catch (error) {
      throw new ConfigError(`.env could not be read: ${(error as Error).message}`);
    }
  }
  return parseSettings(process.env);
}
