/**
 * Shared builders for unit and bot tests: items, a temporary SQLite store, a scripted fake of the
 * Bot API below grammY (its client `fetch` option), Telegram updates, and the bot's dependencies.
 */
import { KeyvHeldItems } from "../../src/delivery/held-items.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Keyv from "keyv";
import { pino, type Logger } from "pino";
import { Api } from "grammy";
import type { Chat, Message, MessageEntity, Update, User, UserFromGetMe } from "grammy/types";
import type { Item } from "../../src/items/item.js";
import { openNamespaces, sqliteOf, type Namespace } from "../../src/store/keyv.js";
import type { BotDeps } from "../../src/bot/deps.js";
import { Subscribers, type SubscriberStore } from "../../src/delivery/subscribers.js";
import { SqliteSubscribers } from "../../src/delivery/sqlite-subscribers.js";
import type { Archive } from "../../src/items/archive.js";
import { RecentItems } from "../../src/items/recent.js";
import { FeedStates } from "../../src/feeds/feed-state.js";
import { Outbox, type Job, type Target } from "../../src/delivery/outbox.js";
import { Sender } from "../../src/delivery/sender.js";
import { TelegramBudget } from "../../src/delivery/budget.js";
import type { PacingLimits } from "../../src/delivery/pacing.js";
import type { TopicDefinition } from "../../src/topics/topics.js";
import type { FeedDefinition } from "../../src/config/catalog.js";
import { testBotInfo } from "./fake-telegram.js";

/** The token every fake accepts. */
export const TOKEN = "123456:TEST-TOKEN";
/** The API root the fake fetch answers for. */
export const API_ROOT = "http://fake.telegram";
/** Pacing that keeps tests fast: no per-chat interval, a high overall rate. */
export const FAST_LIMITS: PacingLimits = { perSecond: 1000, privateIntervalMs: 0, groupIntervalMs: 0 };

/** The bot's identity, so grammY never calls getMe. */
export const BOT_INFO: UserFromGetMe = testBotInfo();

/** A logger that prints nothing. */
export const silentLogger: Logger = pino({ level: "silent" });

let itemCounter = 0;

/** An item with plausible values; every call gets a fresh key unless one is given. */
export function makeItem(overrides: Partial<Item> = {}): Item {
  itemCounter++;
  return {
    key: `l:item-${itemCounter}`,
    feedId: "example",
    source: "Example News",
    title: `Story number ${itemCounter}`,
    link: `https://example.org/story/${itemCounter}`,
    summary: "A short summary of the story, in one sentence.",
    topics: ["all"],
    categories: [],
    publishedAt: Date.UTC(2024, 0, 1) + itemCounter * 60_000,
    seenAt: Date.UTC(2024, 0, 1) + itemCounter * 60_000,
    ...overrides,
  };
}

/** A private-chat target. */
export function privateTarget(chatId: number, language?: string): Target {
  return { chatId, kind: "private", ...(language ? { language } : {}) };
}

/** A job for an item to these targets. */
/** The item an item job carries (a test's own jobs are item jobs). */
export function itemOf(job: Job): Item {
  if (job.payload.kind !== "item") throw new Error(`job ${job.id} carries a ${job.payload.kind}, not an item`);
  return job.payload.item;
}

export function makeJob(targets: Target[], item: Item = makeItem(), createdAt = 0): Job {
  return { id: item.key, payload: { kind: "item", item }, identityKeys: [item.key], targets, createdAt };
}

/** A SQLite store in a fresh temporary folder that can be closed and reopened. */
export interface TempStore {
  url: string;
  dir: string;
  /** Opens (or reopens) every namespace. */
  open(): Promise<Record<Namespace, Keyv>>;
  /** Disconnects whatever `open` returned, then deletes the folder. */
  dispose(): Promise<void>;
}

/** Creates a temporary SQLite store (`sqlite://<tmp>/x.sqlite`). */
export function tempStore(): TempStore {
  const dir = mkdtempSync(join(tmpdir(), "newswire-test-"));
  const url = `sqlite://${dir}/x.sqlite`;
  const opened: Keyv[] = [];
  return {
    url,
    dir,
    async open() {
      const namespaces = await openNamespaces(url);
      opened.push(...Object.values(namespaces));
      return namespaces;
    },
    async dispose() {
      await Promise.all(opened.splice(0).map((keyv) => keyv.disconnect()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** In-memory namespaces (Keyv's default Map store). */
export function memoryNamespaces(): Record<Namespace, Keyv> {
  const make = (namespace: Namespace) => new Keyv({ namespace });
  return {
    seen: make("seen"),
    items: make("items"),
    recent: make("recent"),
    feeds: make("feeds"),
    subscribers: make("subscribers"),
    outbox: make("outbox"),
    meta: make("meta"),
    stories: make("stories"),
    held: make("held"),
  };
}

/** A Bot API answer as Telegram puts it in the JSON body. */
export type ApiAnswer =
  | { ok: true; result: unknown }
  | { ok: false; error_code: number; description: string; parameters?: { retry_after?: number; migrate_to_chat_id?: number } };

/** One request the bot made. */
export interface ApiRequest {
  method: string;
  params: Record<string, unknown>;
}

type Responder = (request: ApiRequest) => ApiAnswer | undefined;

/** Error answers as Telegram gives them. */
export const answers = {
  tooManyRequests: (retryAfter: number): ApiAnswer => ({
    ok: false,
    error_code: 429,
    description: `Too Many Requests: retry after ${retryAfter}`,
    parameters: { retry_after: retryAfter },
  }),
  blocked: (): ApiAnswer => ({ ok: false, error_code: 403, description: "Forbidden: bot was blocked by the user" }),
  migrated: (toChatId: number): ApiAnswer => ({
    ok: false,
    error_code: 400,
    description: "Bad Request: group chat was upgraded to a supergroup chat",
    parameters: { migrate_to_chat_id: toChatId },
  }),
  badRequest: (description: string): ApiAnswer => ({ ok: false, error_code: 400, description }),
  cantParse: (): ApiAnswer => ({
    ok: false,
    error_code: 400,
    description: "Bad Request: can't parse entities: Unsupported start tag \"foo\" at byte offset 3",
  }),
};

/**
 * A scripted fake of the Bot API's HTTP side, used as grammY's client `fetch`: it records every
 * request and answers from one-off scripted answers, then from `respond`, then with a default success.
 */
export class ScriptedTelegram {
  readonly requests: ApiRequest[] = [];
  /** Answers every request the script leaves to it (return undefined for the default). */
  respond: Responder = () => undefined;
  /** Milliseconds before a request is answered (0: at once). */
  latency: (request: ApiRequest) => number = () => 0;
  private readonly scripted: Responder[] = [];
  private messageId = 0;

  /** The fetch to hand to grammY. */
  readonly fetch = async (url: unknown, init?: { body?: unknown }): Promise<Response> => {
    const method = String(url).split("/").pop() ?? "";
    const params = typeof init?.body === "string" ? (JSON.parse(init.body) as Record<string, unknown>) : {};
    const request = { method, params };
    this.requests.push(request);
    let answer: ApiAnswer | undefined;
    const index = this.scripted.findIndex((responder) => (answer = responder(request)) !== undefined);
    if (index >= 0) this.scripted.splice(index, 1);
    answer ??= this.respond(request) ?? this.success(request);
    const wait = this.latency(request);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return new Response(JSON.stringify(answer), { status: answer.ok ? 200 : answer.error_code });
  };

  /** Answers the next request for which `match` is true with `answer`, once. */
  once(match: (request: ApiRequest) => boolean, answer: ApiAnswer): this {
    this.scripted.push((request) => (match(request) ? answer : undefined));
    return this;
  }

  /** The requests of one method. */
  calls(method: string): ApiRequest[] {
    return this.requests.filter((request) => request.method === method);
  }

  /** The texts sent with sendMessage, optionally to one chat. */
  texts(chatId?: number): string[] {
    return this.calls("sendMessage")
      .filter((request) => chatId === undefined || request.params.chat_id === chatId)
      .map((request) => String(request.params.text));
  }

  /** Forgets the requests so far. */
  clear(): void {
    this.requests.length = 0;
  }

  /** A bare grammY `Api` over this fake, as the sender's (no transformer: the sender handles 429s itself). */
  api(): Api {
    return new Api(TOKEN, { apiRoot: API_ROOT, fetch: this.fetch as never });
  }

  private success({ method, params }: ApiRequest): ApiAnswer {
    switch (method) {
      case "sendMessage":
        return {
          ok: true,
          result: {
            message_id: ++this.messageId,
            date: 1_700_000_000,
            chat: { id: params.chat_id, type: Number(params.chat_id) > 0 ? "private" : "supergroup" },
            text: params.text,
          },
        };
      case "getChatMember":
        return { ok: true, result: { status: "member", user: { id: params.user_id, is_bot: false, first_name: "U" } } };
      default:
        return { ok: true, result: true };
    }
  }
}

/** A private chat with user `id`. */
export function privateChat(id: number): Chat.PrivateChat {
  return { id, type: "private", first_name: `User${id}` };
}

/** A group or supergroup. */
export function groupChat(id: number, type: "group" | "supergroup" = "supergroup", isForum = false): Chat {
  return type === "group"
    ? { id, type, title: `Group ${id}` }
    : { id, type, title: `Group ${id}`, ...(isForum ? { is_forum: true as const } : {}) };
}

/** A user. */
export function user(id: number, languageCode = "en"): User {
  return { id, is_bot: false, first_name: `User${id}`, language_code: languageCode };
}

let updateId = 0;
let messageId = 1_000;

/** Options of a message update. */
export interface MessageOptions {
  chat?: Chat;
  from?: User;
  /** Sent inside this forum thread. */
  threadId?: number;
  /** Extra message fields (e.g. migrate_to_chat_id). */
  extra?: Partial<Message>;
}

/** An update with a text message; a leading `/command` gets its bot_command entity. */
export function messageUpdate(text: string, options: MessageOptions = {}): Update {
  const from = options.from ?? user(100);
  const chat = options.chat ?? privateChat(from.id);
  const command = /^\/\S+/.exec(text);
  const entities: MessageEntity[] = command ? [{ type: "bot_command", offset: 0, length: command[0].length }] : [];
  const message = {
    message_id: ++messageId,
    date: 1_700_000_000,
    chat,
    from,
    text,
    ...(entities.length > 0 ? { entities } : {}),
    ...(options.threadId !== undefined ? { message_thread_id: options.threadId, is_topic_message: true as const } : {}),
    ...options.extra,
  } as Message;
  return { update_id: ++updateId, message } as Update;
}

/** An update for a service message (no text), e.g. `{ migrate_to_chat_id }`. */
export function serviceUpdate(chat: Chat, fields: Partial<Message>, from: User = user(100)): Update {
  const message = { message_id: ++messageId, date: 1_700_000_000, chat, from, ...fields } as Message;
  return { update_id: ++updateId, message } as Update;
}

/** A button press on a message the bot sent in `chat`. */
export function callbackUpdate(data: string, options: { chat?: Chat; from?: User; threadId?: number } = {}): Update {
  const from = options.from ?? user(100);
  const chat = options.chat ?? privateChat(from.id);
  const message = {
    message_id: ++messageId,
    date: 1_700_000_000,
    chat,
    from: BOT_INFO,
    text: "Topics",
    ...(options.threadId !== undefined ? { message_thread_id: options.threadId, is_topic_message: true as const } : {}),
  } as Message;
  return {
    update_id: ++updateId,
    callback_query: { id: `cq${updateId}`, from, chat_instance: "ci", data, message },
  } as Update;
}

/** The bot's membership in `chat` changed to `status`. */
export function myChatMemberUpdate(chat: Chat, status: "member" | "kicked" | "left", from: User = user(100)): Update {
  return {
    update_id: ++updateId,
    my_chat_member: {
      chat,
      from,
      date: 1_700_000_000,
      old_chat_member: { status: "member", user: BOT_INFO },
      new_chat_member: status === "kicked" ? { status, user: BOT_INFO, until_date: 0 } : { status, user: BOT_INFO },
    },
  } as Update;
}

/** Options of {@link buildDeps}. */
export interface DepsOptions {
  namespaces?: Record<Namespace, Keyv>;
  topics?: TopicDefinition[];
  feeds?: FeedDefinition[];
  adminIds?: number[];
  telegram?: ScriptedTelegram;
  limits?: PacingLimits;
  store?: BotDeps["store"];
  /** The archive, which is then the recent items too (as on SQLite and PostgreSQL); none (Redis) when absent. */
  archive?: Archive;
}

/** The bot's dependencies over in-memory (or given) namespaces and a scripted Telegram. */
export async function buildDeps(options: DepsOptions = {}): Promise<BotDeps & { telegram: ScriptedTelegram; budget: TelegramBudget }> {
  const namespaces = options.namespaces ?? memoryNamespaces();
  const telegram = options.telegram ?? new ScriptedTelegram();
  const feeds = options.feeds ?? [{ id: "example", url: "https://example.org/rss", topics: [], fulltext: false }];
  const subscribers = await Subscribers.open(namespaces.subscribers);
  const outbox = await Outbox.open(namespaces.outbox);
  const budget = new TelegramBudget(options.limits ?? FAST_LIMITS);
  return {
    telegram,
    budget,
    logger: silentLogger,
    topics: options.topics ?? [topic("china", "China"), topic("science", "Science")],
    feeds,
    subscribers,
    held: await KeyvHeldItems.open(namespaces.held),
    recent: options.archive ?? (await RecentItems.open(namespaces.items, namespaces.recent)),
    archive: options.archive,
    feedStates: await FeedStates.open(namespaces.feeds, feeds),
    outbox,
    sender: new Sender({ api: telegram.api(), outbox, subscribers, logger: silentLogger, budget }),
    adminIds: options.adminIds ?? [],
    store: options.store ?? { state: undefined },
  };
}

/** A topic definition with no matching rules. */
export function topic(id: string, title: string): TopicDefinition {
  return { id, title, keywords: [], categories: [], exclude: [] };
}

/** The subscriptions of a store opened by openNamespaces, where newswire keeps them there (SQLite: their table; Redis: Keyv's namespace). */
export async function storedSubscribers(store: Record<Namespace, Keyv>): Promise<SubscriberStore> {
  const file = sqliteOf(store);
  return file ? SqliteSubscribers.open(file) : Subscribers.open(store.subscribers);
}
