/**
 * The catalog: feeds, topics and channels from the config file (YAML; JSON is valid YAML) and
 * `FEEDS`, validated once at start into plain data the pipeline can trust.
 */
import { existsSync, readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ALL_TOPIC, TOPIC_ID, type TopicDefinition } from "../topics/topics.js";
import { ConfigError } from "./errors.js";
import type { Settings } from "./settings.js";

/** A feed newswire polls. */
export interface FeedDefinition {
  /** Stable id: configured, else derived from the host. Keys per-feed state in the store. */
  id: string;
  url: string;
  /** Configured display name; the feed's own title is used when absent. */
  title?: string;
  /** Topics every item of this feed belongs to. */
  topics: string[];
  /** Fetch the article page and summarise its main text instead of the feed's excerpt. */
  fulltext: boolean;
}

/** A channel the operator links in the config file. */
export interface ChannelDefinition {
  /** `@username` or numeric chat id. */
  chat: string | number;
  topics: string[];
  /** Subscribers of these topics get this channel's post as a forward. */
  home: boolean;
}

/** Everything the config file says. */
export interface Catalog {
  feeds: FeedDefinition[];
  topics: TopicDefinition[];
  channels: ChannelDefinition[];
}

const words = z.array(z.string().trim().min(1)).default([]);
/** Keywords and exclude phrases: a word or phrase, or one whose capitals must stay capitals. */
const phrase = z.string().trim().min(1, "must not be empty");
const keywords = z
  .array(
    z.union([phrase, z.strictObject({ word: phrase, case: z.literal("sensitive") })], {
      error: "must be a word or phrase, or { word: <word or phrase>, case: sensitive }",
    }),
  )
  .default([]);

const fileSchema = z
  .object({
    feeds: z
      .array(
        z.strictObject({
          url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
          id: z.string().trim().regex(TOPIC_ID, "must be lower-case letters, digits, _ or -").optional(),
          title: z.string().trim().min(1).optional(),
          topics: z.array(z.string().trim()).default([]),
          fulltext: z.boolean().default(false),
        }),
      )
      .default([]),
    topics: z
      .array(
        z.strictObject({
          id: z
            .string()
            .trim()
            .regex(TOPIC_ID, "must be lower-case letters, digits, _ or - (what users type)")
            // The topic menu's buttons carry `topic:<id>`, and Telegram allows 64 bytes of callback data.
            .max(40, "must be at most 40 characters"),
          title: z.string().trim().min(1).optional(),
          keywords,
          categories: words,
          exclude: keywords,
        }),
      )
      .default([]),
    channels: z
      .array(
        z.strictObject({
          chat: z.union([
            z.number().int(),
            z.string().trim().regex(/^(@[A-Za-z0-9_]{4,}|-?\d+)$/, "must be @username or a numeric chat id"),
          ]),
          topics: z.array(z.string().trim()).min(1, "must name at least one topic (or all)"),
          home: z.boolean().default(false),
        }),
      )
      .default([]),
  })
  .strict();

type ConfigFile = z.infer<typeof fileSchema>;

/** `news.example.org` → `news-example-org`; `www.` is dropped. */
export function feedIdFromUrl(url: string): string {
  const host = new URL(url).hostname.replace(/^www\./, "");
  return host.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "feed";
}

function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`CONFIG_FILE ${path} could not be read: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    const firstLine = String((error as Error).message).split("\n")[0];
    throw new ConfigError(`CONFIG_FILE ${path} is not valid YAML: ${firstLine}`);
  }
}

function issuePath(path: readonly PropertyKey[]): string {
  return path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("").replace(/^\./, "");
}

/**
 * Validates config-file data (already parsed from YAML) plus extra feed URLs into a `Catalog`.
 * @param source names the file in error messages.
 * @throws ConfigError with the file, the path inside it and what is wrong.
 */
export function buildCatalog(data: unknown, extraFeedUrls: readonly string[], source: string): Catalog {
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`CONFIG_FILE ${source}: ${issuePath(issue.path) || "top level"} ${issue.message}`);
  }
  const file: ConfigFile = parsed.data;
  const fail = (message: string): never => {
    throw new ConfigError(`CONFIG_FILE ${source}: ${message}`);
  };

  const topics: TopicDefinition[] = [];
  for (const topic of file.topics) {
    if (topic.id === ALL_TOPIC) fail(`topics: "${ALL_TOPIC}" always exists and cannot be defined`);
    if (topics.some((known) => known.id === topic.id)) fail(`topics: "${topic.id}" is defined twice`);
    topics.push({
      id: topic.id,
      title: topic.title ?? topic.id,
      keywords: topic.keywords,
      categories: topic.categories,
      exclude: topic.exclude,
    });
  }
  const topicIds = new Set([ALL_TOPIC, ...topics.map((topic) => topic.id)]);
  const checkTopics = (where: string, ids: readonly string[]): void => {
    for (const id of ids) {
      if (!topicIds.has(id)) fail(`${where} names topic "${id}", which is not defined (known: ${[...topicIds].join(", ")})`);
    }
  };

  const feeds: FeedDefinition[] = [];
  const seenUrls = new Set<string>();
  // Configured ids are the operator's; a derived id steps aside for them wherever they are listed.
  const configuredIds = new Set(file.feeds.flatMap((feed) => (feed.id === undefined ? [] : [feed.id])));
  const addFeed = (feed: Omit<FeedDefinition, "id"> & { id?: string }, where: string): void => {
    if (seenUrls.has(feed.url)) return;
    seenUrls.add(feed.url);
    checkTopics(where, feed.topics);
    const taken = (id: string) => feeds.some((known) => known.id === id);
    if (feed.id !== undefined) {
      if (taken(feed.id)) fail(`${where}.id "${feed.id}" is used twice`);
      feeds.push({ ...feed, id: feed.id });
      return;
    }
    let id = feedIdFromUrl(feed.url);
    for (let n = 2; taken(id) || configuredIds.has(id); n++) id = `${feedIdFromUrl(feed.url)}-${n}`;
    feeds.push({ ...feed, id });
  };
  file.feeds.forEach((feed, index) => addFeed(feed, `feeds[${index}]`));
  extraFeedUrls.forEach((url) => addFeed({ url, topics: [], fulltext: false }, `FEEDS ${url}`));

  const channels: ChannelDefinition[] = file.channels.map((channel, index) => {
    checkTopics(`channels[${index}].topics`, channel.topics);
    return channel;
  });
  return { feeds, topics, channels };
}

/**
 * Loads the catalog the settings point at: the config file (when present; a file named by
 * `CONFIG_FILE` must exist) plus `FEEDS`.
 * @throws ConfigError when neither gives a feed, or the file is unreadable or invalid.
 */
export function loadCatalog(settings: Pick<Settings, "configFile" | "feedUrls">): Catalog {
  const { path, explicit } = settings.configFile;
  const present = existsSync(path);
  if (!present && (explicit || settings.feedUrls.length === 0)) {
    throw new ConfigError(
      `CONFIG_FILE ${path} does not exist: create it (see newswire.example.yaml) or set FEEDS to comma-separated feed URLs`,
    );
  }
  const catalog = buildCatalog(present ? readConfigFile(path) : {}, settings.feedUrls, path);
  if (catalog.feeds.length === 0) {
    throw new ConfigError(`CONFIG_FILE ${path} lists no feeds: add some under feeds: or set FEEDS`);
  }
  return catalog;
}
