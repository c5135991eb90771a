/**
 * The catalog: feeds, topics and channels from the config file (YAML; JSON is valid YAML) and
 * `FEEDS`, validated once at start into plain data the pipeline can trust.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ALL_TOPIC, TOPIC_ID, type TopicDefinition } from "../topics/topics.js";
import { ConfigError } from "./errors.js";
import type { Settings } from "./settings.js";

/** A feed newswire polls. */
export interface FeedDefinition {
  /**
   * Configured, else derived from the URL alone (see {@link deriveFeedIds}), never from the feed's
   * place in the list. Names the feed in logs, alerts and `/status`; stored state is keyed by the
   * URL (src/feeds/feed-state.ts), so a changed id loses nothing.
   */
  id: string;
  url: string;
  /**
   * The id the order-dependent rule of newswire 0.1 gave this feed, when it differs from `id`: where
   * its stored state may still be, to be taken over once (src/feeds/feed-state.ts).
   */
  legacyId?: string;
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

/** Lower-case letters and digits of `text`, runs of anything else as one `-`. */
function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** The host a feed's id starts with: lower case (as URL gives it), without `www.`. */
const bareHost = (hostname: string): string => hostname.replace(/^www\./, "");

/** A host's part of a feed id. */
const hostId = (host: string): string => slug(host) || "feed";

/** `news.example.org` → `news-example-org`; `www.` is dropped. */
export function feedIdFromUrl(url: string): string {
  return hostId(bareHost(new URL(url).hostname));
}

/**
 * One feed URL in the form two spellings of it share: no scheme, `www.`, default port, fragment
 * or trailing slash. Unlike an item link's normal form, every query parameter is kept: `?rss=world`
 * and `?rss=sport` are different feeds.
 */
export function feedUrlKey(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port ? `:${parsed.port}` : "";
  return `//${bareHost(parsed.hostname)}${port}${parsed.pathname.replace(/\/+$/, "")}${parsed.search}`;
}

/** Longest path part of a derived id, so ids stay readable in `/status`. */
const MAX_PATH_SLUG = 40;

/**
 * Ids for feeds without a configured one, from each URL and the set of URLs, never their order:
 * the host alone when no other feed shares it (`lenta-ru`), else host and path (`lenta-ru-rss-world`);
 * an id that still clashes (with another derived id or a configured one) gets a hash of its URL.
 */
function deriveFeedIds(urls: readonly string[], configuredIds: ReadonlySet<string>): Map<string, string> {
  const parsed = urls.map((url) => new URL(url));
  const hosts = parsed.map(({ hostname }) => bareHost(hostname));
  const hostCount = new Map<string, number>();
  for (const host of hosts) hostCount.set(host, (hostCount.get(host) ?? 0) + 1);
  const readable = parsed.map(({ pathname, search }, index) => {
    const host = hostId(hosts[index]!);
    if (hostCount.get(hosts[index]!) === 1) return host;
    return [host, slug(`${pathname}${search}`).slice(0, MAX_PATH_SLUG).replace(/-$/, "")].filter(Boolean).join("-");
  });
  const uses = new Map<string, number>();
  for (const id of readable) uses.set(id, (uses.get(id) ?? 0) + 1);
  return new Map(
    urls.map((url, index) => {
      const id = readable[index]!;
      const clashes = uses.get(id)! > 1 || configuredIds.has(id);
      return [url, clashes ? `${id}-${createHash("sha256").update(feedUrlKey(url)).digest("hex").slice(0, 6)}` : id];
    }),
  );
}

/**
 * The ids newswire 0.1 gave, in list order: configured, else the host, numbered `-2`, `-3`… when
 * taken or configured anywhere. Kept only to find state stored under them (see `legacyId`).
 */
function legacyFeedIds(feeds: readonly { url: string; id?: string }[]): string[] {
  const configured = new Set(feeds.flatMap((feed) => (feed.id === undefined ? [] : [feed.id])));
  const ids: string[] = [];
  const taken = new Set<string>();
  // Per host, the first number not yet found taken: ids are only ever added, so none below it frees up.
  const nextNumber = new Map<string, number>();
  const free = (id: string) => !taken.has(id) && !configured.has(id);
  for (const feed of feeds) {
    let id = feed.id ?? feedIdFromUrl(feed.url);
    if (feed.id === undefined && !free(id)) {
      const host = id;
      let n = nextNumber.get(host) ?? 2;
      while (!free(`${host}-${n}`)) n++;
      id = `${host}-${n}`;
      nextNumber.set(host, n + 1);
    }
    ids.push(id);
    taken.add(id);
  }
  return ids;
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

  // Each feed once (by its URL's normal form, which keys its state), the file's first, then FEEDS.
  const listed: (Omit<FeedDefinition, "id"> & { id?: string; where: string })[] = [];
  const seenUrls = new Set<string>();
  const list = (feed: Omit<FeedDefinition, "id"> & { id?: string }, where: string): void => {
    const key = feedUrlKey(feed.url);
    if (seenUrls.has(key)) return;
    seenUrls.add(key);
    checkTopics(where, feed.topics);
    listed.push({ ...feed, where });
  };
  file.feeds.forEach((feed, index) => list(feed, `feeds[${index}]`));
  extraFeedUrls.forEach((url) => list({ url, topics: [], fulltext: false }, `FEEDS ${url}`));

  const configuredIds = new Set<string>();
  for (const feed of listed) {
    if (feed.id === undefined) continue;
    if (configuredIds.has(feed.id)) fail(`${feed.where}.id "${feed.id}" is used twice`);
    configuredIds.add(feed.id);
  }
  const derived = deriveFeedIds(listed.flatMap((feed) => (feed.id === undefined ? [feed.url] : [])), configuredIds);
  const legacy = legacyFeedIds(listed);
  const feeds = listed.map(({ where: _where, ...feed }, index): FeedDefinition => {
    const id = feed.id ?? derived.get(feed.url)!;
    return { ...feed, id, ...(legacy[index] !== id && { legacyId: legacy[index] }) };
  });

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
