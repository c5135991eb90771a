/**
 * `npm run preview -- URL_OR_FILE [--fulltext] [--count N] [--lang ru|en]`: the messages newswire
 * would send for a feed's latest items (title, summary, topics, length and the Telegram HTML),
 * built by the poller's own code, with no token and no Telegram. How an operator tunes feeds and
 * topics before going live.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { gunzipSync } from "node:zlib";
import { pino, type DestinationStream } from "pino";
import { loadCatalog } from "./config/catalog.js";
import { ConfigError } from "./config/errors.js";
import { loadDotEnv, parseFeedReadingSettings } from "./config/settings.js";
import { MESSAGE_LIMIT, renderItem, type RenderedMessage } from "./delivery/render.js";
import { addressPolicy } from "./feeds/address-policy.js";
import { decodeText } from "./feeds/decode.js";
import { FetchError, fetchResource, USER_AGENT } from "./feeds/fetch.js";
import { parseFeed } from "./feeds/parse.js";
import type { Locale } from "./i18n/i18n.js";
import { identityKeys } from "./items/identity.js";
import type { Item } from "./items/item.js";
import { buildItem, oldestFirst, type PollDeps } from "./poller/poll-feed.js";
import { configuredSummarizer } from "./summaries/llm.js";
import { compileTopics } from "./topics/topics.js";

type FetchLimits = PollDeps["fetch"];

const USAGE = "usage: npm run preview -- URL_OR_FILE [--fulltext] [--count N] [--lang ru|en]";

/** Items shown when `--count` is not given. */
const DEFAULT_COUNT = 5;

/** What the command line asks for. */
interface PreviewOptions {
  /** An http(s) feed URL or a path to a feed file. */
  source: string;
  /** Fetch each item's article page, as for a feed with `fulltext: true`. */
  fulltext: boolean;
  /** How many of the latest items to show. */
  count: number;
  /** The language of the bot's own words in the message. */
  locale: Locale;
}

/** A mistake on the command line; reported in one line with the usage. */
class UsageError extends Error {}

/**
 * Reads the command line (the arguments after `--`).
 * @throws UsageError naming what is wrong.
 */
function parsePreviewArgs(args: readonly string[]): PreviewOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { fulltext: { type: "boolean" }, count: { type: "string" }, lang: { type: "string" } },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { positionals, values } = parsed;
  if (positionals.length !== 1) throw new UsageError("give exactly one feed URL or file");
  const count = values.count === undefined ? DEFAULT_COUNT : Number(values.count);
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`--count must be a positive whole number, got ${JSON.stringify(values.count)}`);
  const locale = values.lang ?? "en";
  if (locale !== "en" && locale !== "ru") throw new UsageError(`--lang must be en or ru, got ${JSON.stringify(locale)}`);
  return { source: positionals[0]!, fulltext: values.fulltext ?? false, count, locale };
}

/** Where the preview writes: its report, and errors and warnings. */
export interface PreviewOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** The pipeline's log lines (pino JSON) as one readable line each: "warning: what (why)". */
function readableWarnings(stderr: PreviewOutput["stderr"]): DestinationStream {
  return {
    write(line: string) {
      const { msg, err } = JSON.parse(line) as { msg?: string; err?: unknown };
      stderr.write(`warning: ${msg ?? line.trim()}${typeof err === "string" ? ` (${err})` : ""}\n`);
    },
  };
}

/**
 * The length Telegram counts for a message of `renderItem`: its text without tags, entities
 * decoded, trimmed. (The renderer writes only `<b>`, `<a href="…">` and the four escapes.)
 */
function telegramLength(html: string): number {
  return html
    .replace(/<[^>]*>/g, "")
    .replace(/&(?:lt|gt|quot|amp);/g, "&") // one character each
    .trim().length;
}

function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** The feed document's bytes: fetched as the poller fetches, or read from disk (gunzipped if saved compressed). */
async function feedBytes(source: string, limits: FetchLimits): Promise<{ bytes: Uint8Array; contentType?: string }> {
  if (!isUrl(source)) {
    const bytes = readFileSync(source);
    return { bytes: bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes };
  }
  const response = await fetchResource(source, { ...limits, userAgent: USER_AGENT });
  // No validators were sent, so there is no 304 to expect.
  if (response.status !== "ok") throw new FetchError("http", `no content from ${source}`);
  return response;
}

function previewPreface(message: RenderedMessage): string {
  const preview = message.linkPreview;
  const length = telegramLength(message.text);
  const limit = length > MESSAGE_LIMIT ? " — OVER THE LIMIT, Telegram would refuse it" : "";
  const shown = preview.is_disabled ? "no link preview" : "link preview: large image above the text";
  return `Message (${length} of ${MESSAGE_LIMIT} characters${limit}; ${shown}):`;
}

/** One item as the report shows it. */
function formatItem(item: Item, message: RenderedMessage, index: number, total: number): string {
  return [
    `━━ ${index} of ${total} ${"━".repeat(40)}`,
    `Title:     ${item.title}`,
    `Link:      ${item.link ?? "(none)"}`,
    `Published: ${new Date(item.publishedAt).toISOString()}`,
    `Topics:    ${item.topics.join(", ")}`,
    `Summary (${item.summary.length} characters):`,
    item.summary || "(empty)",
    "",
    previewPreface(message),
    message.text,
    "",
  ].join("\n");
}

/**
 * Runs the preview for `args` (the command line after `--`), with settings from `env`
 * (`CONFIG_FILE`, `SUMMARIZER_*`). Resolves with the process exit code: 0, or 1 after one line
 * on stderr for a mistake on the command line, in the config or settings, or a feed that fails.
 */
export async function runPreview(args: readonly string[], env: Record<string, string | undefined>, out: PreviewOutput): Promise<number> {
  const logger = pino({ level: "warn" }, readableWarnings(out.stderr));
  try {
    const options = parsePreviewArgs(args);
    const settings = parseFeedReadingSettings(env);
    const { configFile } = settings;
    const limits: FetchLimits = { timeoutMs: settings.fetchTimeoutMs, maxBytes: settings.maxFeedBytes };
    // The previewed feed joins the catalog like a FEEDS entry; a URL the config lists keeps its definition there.
    const feedUrl = isUrl(options.source) ? options.source : pathToFileURL(resolve(options.source)).href;
    const catalog = loadCatalog({ configFile, feedUrls: [feedUrl] });
    const feed = catalog.feeds.find((candidate) => candidate.url === feedUrl)!;
    const deps = {
      topics: compileTopics(catalog.topics),
      summarizer: configuredSummarizer(settings.summarizer, logger),
      fetch: limits,
      addressPolicy: addressPolicy(catalog.feeds.map((candidate) => candidate.url), settings.allowPrivateArticles),
      logger,
    };

    const { bytes, contentType } = await feedBytes(options.source, limits);
    const parsed = await parseFeed(decodeText(bytes, contentType), feedUrl);
    const source = feed.title ?? parsed.title ?? feed.id;
    const fulltext = options.fulltext || feed.fulltext;
    const latest = oldestFirst(parsed.entries.map((entry) => ({ entry }))).reverse().slice(0, options.count);
    const summaries = settings.summarizer ? `LLM ${settings.summarizer.model} at ${settings.summarizer.url}` : "extractive";
    out.stdout.write(
      `${source}: ${parsed.entries.length} items, the latest ${latest.length} below ` +
        `(summaries: ${summaries}; full text: ${fulltext ? "yes" : "no"}; config: ${existsSync(configFile.path) ? configFile.path : "none"})\n\n`,
    );
    for (const [index, { entry }] of latest.entries()) {
      const { item } = await buildItem(entry, identityKeys(entry, feed.id), { ...feed, fulltext }, source, deps, Date.now());
      out.stdout.write(`${formatItem(item, renderItem(item, { locale: options.locale }), index + 1, latest.length)}\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) out.stderr.write(`newswire preview: ${error.message}\n${USAGE}\n`);
    else if (error instanceof ConfigError || error instanceof FetchError) out.stderr.write(`newswire preview: ${error.message}\n`);
    else if ((error as NodeJS.ErrnoException).code === "ENOENT") out.stderr.write(`newswire preview: ${(error as Error).message}\n`);
    else throw error;
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    loadDotEnv();
    process.exitCode = await runPreview(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`newswire preview: ${error.message}\n`);
    process.exitCode = 1;
  }
}
