/**
 * A strict in-process double of the Telegram Bot API for end-to-end tests.
 *
 * The bot under test talks HTTP to it exactly as to api.telegram.org (`TELEGRAM_API_ROOT`), and the
 * double answers as Telegram does, errors included: HTML that Telegram would refuse, texts over the
 * limits, flood limits with `retry_after`, blocked and migrated chats, missing admin rights.
 * Tests drive users with `sendText` / `pressButton` / `sendInlineQuery` and observe the bot through
 * `sent` and `waitFor` (and `inlineAnswers` / `waitForInlineAnswer` for inline mode).
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type {
  BotCommand,
  Chat,
  ChatFullInfo,
  ChatMember,
  ChatMemberAdministrator,
  ForceReply,
  InlineKeyboardMarkup,
  InlineQuery,
  InlineQueryResult,
  InlineQueryResultsButton,
  InputRichMessage,
  Message,
  MessageEntity,
  MessageOrigin,
  ReplyKeyboardMarkup,
  ReplyKeyboardRemove,
  RichBlock,
  RichBlockCaption,
  RichBlockListItem,
  RichBlockMap,
  RichBlockTableCell,
  RichMessage,
  RichMessageButton,
  RichText,
  Update,
  User,
  UserFromGetMe,
} from "grammy/types";
import { MESSAGE_LIMIT, checkTextLength, parseTelegramHtml } from "./telegram-html.js";

/** Telegram's caption limit, in UTF-16 units after entity parsing. */
export const CAPTION_LIMIT = 1024;

/** Telegram's flood limits; a send beyond any of them is answered 429 with `retry_after`. */
export interface FloodLimits {
  /** Sends to all chats together per second. */
  globalPerSecond: number;
  /** Sends to one chat per second. */
  perChatPerSecond: number;
  /** Sends to one group, supergroup or channel per minute. */
  groupPerMinute: number;
}

/** Telegram's documented limits (about 30/s overall, 1/s per chat, 20/min per group or channel). */
export const TELEGRAM_LIMITS: Readonly<FloodLimits> = { globalPerSecond: 30, perChatPerSecond: 1, groupPerMinute: 20 };

/**
 * Flood limits to enforce: absent fields take Telegram's value, `Infinity` switches one limit off,
 * `false` switches them all off.
 */
export type FloodLimitOptions = Partial<FloodLimits> | false;

/** Options of {@link startFakeTelegram}. */
export interface FakeTelegramOptions {
  /** The only token the double accepts; default "123456:TEST-TOKEN". */
  token?: string;
  /** The bot's username; default "newswire_test_bot". */
  botUsername?: string;
  /** The bot's user id; default 999. */
  botId?: number;
  /** Flood limits; default Telegram's ({@link TELEGRAM_LIMITS}). */
  limits?: FloodLimitOptions;
  /** Milliseconds since the epoch; drives flood limits, `at` and message dates. Default Date.now. */
  clock?: () => number;
}

/** An error answer, exactly as Telegram puts it in the JSON body. */
export interface TelegramError {
  error_code: number;
  description: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

/** One request the bot made, successful or not. */
export interface ApiCall {
  method: string;
  params: Params;
  /** Clock time of the request, ms. */
  at: number;
  /** Set when the double answered with an error. */
  error?: TelegramError;
}

/** The methods that put a message into a chat (and count against flood limits). */
export type SendMethod = "sendMessage" | "forwardMessage" | "copyMessage" | "sendPhoto" | "sendRichMessage";

/** Any reply markup the Bot API accepts. */
export type ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply;

/** A message the bot successfully put into a chat. */
export interface SentMessage {
  method: SendMethod;
  chat_id: number;
  message_id: number;
  /**
   * The text as the bot sent it (the caption for sendPhoto; the source text for forwards and copies;
   * for sendRichMessage the plain text of the blocks, joined with blank lines).
   */
  text: string;
  /** sendRichMessage: the rich message as the bot sent it (its `blocks`). */
  rich?: InputRichMessage;
  parse_mode?: string;
  message_thread_id?: number;
  reply_markup?: ReplyMarkup;
  /** sendPhoto: the URL, file_id or `attach://…` reference. */
  photo?: string;
  /** forwardMessage / copyMessage: the source message. */
  from_chat_id?: number;
  source_message_id?: number;
  /** Clock time, ms. */
  at: number;
  /** The message as Telegram returned it (parsed text, entities). */
  message: Message;
}

/** An inline query the bot answered (answerInlineQuery). */
export interface InlineAnswer {
  queryId: string;
  /** The query's text and author, as the bot got them. */
  query: string;
  from: User;
  results: InlineQueryResult[];
  /** Seconds; Telegram's default of 300 when the bot did not say. */
  cacheTime: number;
  /** "" when the bot did not say (no more results). */
  nextOffset: string;
  isPersonal: boolean;
  button?: InlineQueryResultsButton;
  /** Clock time of the answer, ms. */
  at: number;
}

/** What a test may set up about a chat. */
export interface ChatSpec {
  id: number;
  /** Default: "private" for positive ids, "supergroup" otherwise. */
  type?: Chat["type"];
  title?: string;
  /** With or without the leading "@"; lets the bot address the chat as "@username". */
  username?: string;
  first_name?: string;
}

/** A member's status, as getChatMember reports it. */
export type MemberStatus = "creator" | "administrator" | "member" | "left" | "kicked";

/** Administrator rights (can_post_messages, can_delete_messages, …); unset ones are false. */
export type AdminRights = Partial<Omit<ChatMemberAdministrator, "status" | "user">>;

/** Parameters of a request after decoding (JSON body, form fields or query string). */
export type Params = Record<string, unknown>;

/** An error the double answers with. */
class ApiError extends Error implements TelegramError {
  constructor(
    readonly error_code: number,
    readonly description: string,
    readonly parameters?: TelegramError["parameters"],
  ) {
    super(description);
  }

  toJSON(): TelegramError {
    const { error_code, description, parameters } = this;
    return parameters ? { error_code, description, parameters } : { error_code, description };
  }
}

function badRequest(text: string): ApiError {
  return new ApiError(400, `Bad Request: ${text}`);
}

type Handler = (params: Params, signal: AbortSignal) => unknown;

interface Membership {
  status: MemberStatus;
  rights: AdminRights;
}

interface StoredMessage {
  message: Message;
  byBot: boolean;
}

/** An inline query a user sent, and the bot's answer once it gave one. */
interface InlineQueryState {
  query: InlineQuery;
  /** Clock time of the query, ms. */
  at: number;
  answer?: InlineAnswer;
  /** The message each result of the answer puts into a chat when a user chooses it, by result id. */
  contents?: Map<string, Partial<Message>>;
}

/** Everything a test can change; `reset()` starts a fresh one. */
class World {
  readonly calls: ApiCall[] = [];
  readonly sent: SentMessage[] = [];
  readonly updates: Update[] = [];
  nextUpdateId = 1;
  nextQueryId = 1;
  floodRejections = 0;
  readonly chats = new Map<number, Chat>();
  readonly users = new Map<number, User>();
  readonly members = new Map<number, Map<number, Membership>>();
  readonly blocked = new Set<number>();
  readonly deleted = new Set<number>();
  readonly migrated = new Map<number, number>();
  readonly messages = new Map<number, Map<number, StoredMessage>>();
  readonly openQueries = new Set<string>();
  readonly inlineQueries = new Map<string, InlineQueryState>();
  readonly inlineAnswers: InlineAnswer[] = [];
  readonly commands = new Map<string, BotCommand[]>();
  readonly failures = new Map<string, { error: TelegramError; remaining: number }[]>();
  /** Accepted send times, ms: all chats, and per chat. */
  readonly sendTimes: number[] = [];
  readonly chatSendTimes = new Map<number, number[]>();
  /** Webhook mode (see the section "webhooks"). */
  webhook: Webhook | undefined;
  readonly webhookDeliveries: WebhookDelivery[] = [];
}

/** The user who writes in groups when a test does not say who. */
const GROUP_USER_ID = 100;

const NO_ADMIN_RIGHTS: Omit<ChatMemberAdministrator, "status" | "user"> = {
  can_be_edited: false,
  is_anonymous: false,
  can_manage_chat: true,
  can_delete_messages: false,
  can_manage_video_chats: false,
  can_restrict_members: false,
  can_promote_members: false,
  can_change_info: false,
  can_invite_users: false,
  can_post_stories: false,
  can_edit_stories: false,
  can_delete_stories: false,
  can_send_welcome_messages: false,
};

/** Telegram drops an inline query the bot has not answered within about 10 seconds. */
export const INLINE_ANSWER_WINDOW_MS = 10_000;

const QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid";

const CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";

const WEBHOOK_CONFLICT = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";

/** Pause before the double retries an update the webhook did not accept (Telegram waits longer). */
const WEBHOOK_RETRY_MS = 200;

/** The webhook set with setWebhook. */
interface Webhook {
  url: string;
  secretToken?: string;
  /** An update is being POSTed (or waiting to be retried). */
  delivering: boolean;
  lastError?: { at: number; message: string };
}

/** One POST of an update to the webhook: the HTTP status it got (0: no answer). */
export interface WebhookDelivery {
  update_id: number;
  status: number;
  /** Where it was posted: the webhook's URL, or the backend {@link FakeTelegram.balance} chose. */
  url: string;
  /** Clock time, ms. */
  at: number;
}

/** POSTs `update` as Telegram does; the status, or 0 when the webhook could not be reached. */
async function postUpdate(url: string, update: Update, secretToken: string | undefined, signal: AbortSignal): Promise<number> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(secretToken !== undefined ? { "x-telegram-bot-api-secret-token": secretToken } : {}) },
      body: JSON.stringify(update),
      signal,
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** The identity of the bot under test (what getMe answers). */
export function testBotInfo(id = 999, username = "newswire_test_bot"): UserFromGetMe {
  return {
    id,
    is_bot: true,
    first_name: "Newswire Test",
    username,
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
    has_topics_enabled: false,
    allows_users_to_create_topics: false,
    can_manage_bots: false,
    supports_join_request_queries: false,
  };
}

/** The double. Create it with {@link startFakeTelegram}. */
export class FakeTelegram {
  /** What the bot gets as TELEGRAM_API_ROOT, e.g. "http://127.0.0.1:40123". */
  readonly apiRoot: string;
  readonly token: string;
  /** The bot's own user, as getMe returns it. */
  readonly bot: UserFromGetMe;
  private world = new World();
  private limits: FloodLimits;
  private readonly clock: () => number;
  /** The long poll being held, if any: Telegram serves one getUpdates at a time. */
  private poller: { wake(): void; conflict(): void } | undefined;
  private readonly sentListeners = new Set<() => void>();
  private readonly inlineAnswerListeners = new Set<() => void>();
  private readonly closeListeners = new Set<() => void>();
  private readonly inFlight = new Set<ServerResponse>();
  private readonly handlers: Readonly<Record<string, Handler>>;
  private readonly methodNames: ReadonlyMap<string, string>;
  /** Aborted by close(): ends webhook deliveries under way. */
  private readonly closing = new AbortController();
  private readonly deliveryListeners = new Set<() => void>();
  /** Where webhook deliveries go in turn instead of the webhook's URL; see {@link balance}. */
  private backends: string[] = [];
  private nextBackend = 0;

  /** @internal use {@link startFakeTelegram} */
  constructor(
    private readonly server: Server,
    options: FakeTelegramOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.apiRoot = `http://127.0.0.1:${port}`;
    this.token = options.token ?? "123456:TEST-TOKEN";
    this.clock = options.clock ?? Date.now;
    this.limits = floodLimits(options.limits);
    this.bot = testBotInfo(options.botId, options.botUsername);
    this.handlers = {
      getMe: () => this.bot,
      getUpdates: (p, signal) => this.getUpdates(p, signal),
      deleteWebhook: (p) => this.deleteWebhook(p),
      setWebhook: (p) => this.setWebhook(p),
      getWebhookInfo: () => this.getWebhookInfo(),
      setMyCommands: (p) => this.setMyCommands(p),
      getMyCommands: (p) => this.commands(optionalObject(p, "scope"), optionalString(p, "language_code")),
      deleteMyCommands: (p) => this.deleteMyCommands(p),
      sendMessage: (p) => this.sendMessage(p),
      sendPhoto: (p) => this.sendPhoto(p),
      sendRichMessage: (p) => this.sendRichMessage(p),
      forwardMessage: (p) => this.forwardOrCopy("forwardMessage", p),
      copyMessage: (p) => this.forwardOrCopy("copyMessage", p),
      editMessageText: (p) => this.editMessage(p, "text"),
      editMessageReplyMarkup: (p) => this.editMessage(p, "markup"),
      answerCallbackQuery: (p) => this.answerCallbackQuery(p),
      answerInlineQuery: (p) => this.answerInlineQuery(p),
      getChat: (p) => this.getChat(p),
      getChatMember: (p) => this.chatMember(this.resolveChat(p).id, requiredInt(p, "user_id")),
      getChatAdministrators: (p) => this.getChatAdministrators(p),
    };
    // Telegram's method names are case-insensitive.
    this.methodNames = new Map(Object.keys(this.handlers).map((name) => [name.toLowerCase(), name]));
    server.on("request", (req: IncomingMessage, res: ServerResponse) => void this.serve(req, res));
  }

  /** Every request so far, oldest first. */
  get calls(): readonly ApiCall[] {
    return this.world.calls;
  }

  /** Every message the bot put into a chat, oldest first. */
  get sent(): readonly SentMessage[] {
    return this.world.sent;
  }

  /** How many sends were refused with 429 for exceeding a flood limit (not counting injected errors). */
  get floodRejections(): number {
    return this.world.floodRejections;
  }

  /** Changes the flood limits from now on (see {@link FloodLimitOptions}). */
  setLimits(limits: FloodLimitOptions): void {
    this.limits = floodLimits(limits);
  }

  /** Makes the next `times` calls of `method` fail with `error`, before any other check. */
  failNext(method: string, error: TelegramError, times = 1): void {
    const name = this.methodNames.get(method.toLowerCase()) ?? method;
    const queue = this.world.failures.get(name) ?? [];
    queue.push({ error, remaining: times });
    this.world.failures.set(name, queue);
  }

  /** Registers (or redefines) a chat: its type, title and @username. */
  addChat(spec: ChatSpec): Chat {
    const chat = makeChat(spec);
    this.world.chats.set(chat.id, chat);
    return chat;
  }

  /** Sets a user's (or the bot's, with `fake.bot.id`) status in a chat. */
  setMember(chatId: number, userId: number, status: MemberStatus, rights: AdminRights = {}): void {
    const chat = this.world.members.get(chatId) ?? new Map<number, Membership>();
    chat.set(userId, { status, rights });
    this.world.members.set(chatId, chat);
  }

  /**
   * The chat stops accepting the bot: a user blocked it (403 "bot was blocked by the user"),
   * or the bot was removed from a group or channel (403 "bot was kicked from the … chat").
   */
  blockChat(chatId: number): void {
    if (this.chat(chatId).type === "private") this.world.blocked.add(chatId);
    else this.setMember(chatId, this.bot.id, "kicked");
  }

  /** The group became supergroup `newId`: the old id answers 400 with `migrate_to_chat_id`. */
  migrateChat(oldId: number, newId: number): void {
    const old = this.chat(oldId);
    this.world.migrated.set(oldId, newId);
    this.addChat({ id: newId, type: "supergroup", title: old.title ?? `Chat ${newId}` });
    const members = this.world.members.get(oldId);
    if (members) this.world.members.set(newId, new Map(members));
  }

  /** The chat no longer exists: 400 "chat not found". */
  deleteChat(chatId: number): void {
    this.world.deleted.add(chatId);
  }

  /** Queues an update for getUpdates, assigning its `update_id`. */
  pushUpdate(update: Omit<Update, "update_id">): Update {
    const full: Update = { ...update, update_id: this.world.nextUpdateId++ };
    this.world.updates.push(full);
    this.poller?.wake();
    void this.deliverUpdates();
    return full;
  }

  /**
   * A user writes `text` in a chat (a channel post when the chat is a channel).
   *
   * @param from the author; default: the private chat's user, or a fixed group member
   * @param chatType registers the chat with this type (default: private for positive ids, else supergroup)
   */
  sendText(chatId: number, text: string, from?: Partial<User>, chatType?: Chat["type"]): Update {
    const chat = chatType
      ? this.addChat({ ...this.world.chats.get(chatId), id: chatId, type: chatType })
      : this.chat(chatId);
    const entities = commandEntity(text);
    const content: Partial<Message> = { text, ...(entities.length > 0 && { entities }) };
    if (chat.type === "channel") {
      const post = this.storeMessage(chat, { ...content, sender_chat: chat }, false);
      return this.pushUpdate({ channel_post: { ...post, chat } });
    }
    const author = this.author(chat, from);
    const message = this.storeMessage(chat, { ...content, from: author }, false);
    return this.pushUpdate({ message: { ...message, chat, from: author } });
  }

  /**
   * A user presses the inline button with callback data `data` under a message of the bot.
   *
   * @throws Error when the message has no such button (a real user could not press it).
   */
  pressButton(chatId: number, messageId: number, data: string, from?: Partial<User>): Update {
    const stored = this.world.messages.get(chatId)?.get(messageId);
    if (!stored) throw new Error(`pressButton: no message ${messageId} in chat ${chatId}`);
    const markup = stored.message.reply_markup;
    const buttons = markup?.inline_keyboard.flat().flatMap((b) => ("callback_data" in b ? [b.callback_data] : [])) ?? [];
    if (!buttons.includes(data)) {
      const has = JSON.stringify(buttons);
      throw new Error(`pressButton: message ${messageId} in chat ${chatId} has no button "${data}"; it has ${has}`);
    }
    const id = String(this.world.nextQueryId++);
    this.world.openQueries.add(id);
    const chat = stored.message.chat;
    const user = this.author(chat, from);
    return this.pushUpdate({
      callback_query: { id, from: user, message: stored.message, chat_instance: `instance${chatId}`, data },
    });
  }

  // ---- inline mode (answerInlineQuery below, with the other answers) ----

  /**
   * A user types `@bot query` in a chat: pushes an `inline_query` update. The bot may answer it
   * once, within {@link INLINE_ANSWER_WINDOW_MS} of the double's clock.
   *
   * @param from the user; default the fixed user who writes in groups (id 100)
   */
  sendInlineQuery(query: string, from?: Partial<User>, offset = ""): Update {
    if ([...query].length > 256) throw new Error("sendInlineQuery: an inline query has at most 256 characters");
    const id = String(this.world.nextQueryId++);
    const user: User = { ...this.user(from?.id ?? GROUP_USER_ID), ...from };
    this.world.users.set(user.id, user);
    const inline_query: InlineQuery = { id, from: user, query, offset, chat_type: "sender" };
    this.world.inlineQueries.set(id, { query: inline_query, at: this.clock() });
    return this.pushUpdate({ inline_query });
  }

  /** Every inline query the bot answered, oldest first. */
  get inlineAnswers(): readonly InlineAnswer[] {
    return this.world.inlineAnswers;
  }

  /** Resolves with the bot's answer to inline query `queryId`; rejects after `timeoutMs` or when the double closes. */
  waitForInlineAnswer(queryId: string, timeoutMs = 5000): Promise<InlineAnswer> {
    return new Promise((resolve, reject) => {
      const found = (): InlineAnswer | undefined => this.world.inlineAnswers.find((a) => a.queryId === queryId);
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.inlineAnswerListeners.delete(check);
        this.closeListeners.delete(onClose);
        if (error) reject(error);
        else resolve(found()!);
      };
      const check = (): void => {
        if (found()) finish();
      };
      const fail = (why: string): void => {
        const failed = this.world.calls
          .filter((c) => c.method === "answerInlineQuery" && c.error)
          .map((c) => `  ${JSON.stringify(c.params["inline_query_id"] ?? "")}: ${c.error?.description}`);
        const answered = this.world.inlineAnswers.map((a) => a.queryId);
        finish(
          new Error(
            `waitForInlineAnswer: no answer to inline query ${queryId} ${why}; answered: ${JSON.stringify(answered)}\n` +
              [`Failed answerInlineQuery calls (${failed.length}):`, ...failed].join("\n"),
          ),
        );
      };
      const onClose = (): void => fail("before the fake Telegram was closed");
      const timer = setTimeout(() => fail(`within ${timeoutMs} ms`), timeoutMs);
      this.inlineAnswerListeners.add(check);
      this.closeListeners.add(onClose);
      check();
    });
  }

  /**
   * The user who sent inline query `queryId` chooses result `resultId` of the bot's answer: its
   * message content is posted in chat `chatId` as the user's message, `via_bot` the bot. It is
   * stored in the chat (see {@link message}) but is no send of the bot: not in `sent`, no flood slot.
   *
   * @throws Error when the query was not answered or the answer has no such result.
   */
  chooseInlineResult(queryId: string, resultId: string, chatId: number): Message {
    const state = this.world.inlineQueries.get(queryId);
    if (!state?.answer || !state.contents) throw new Error(`chooseInlineResult: inline query ${queryId} was not answered`);
    const content = state.contents.get(resultId);
    if (!content) {
      const ids = JSON.stringify(state.answer.results.map((r) => r.id));
      throw new Error(`chooseInlineResult: the answer to inline query ${queryId} has no result "${resultId}"; it has ${ids}`);
    }
    const chat = this.chat(chatId);
    const author = chat.type === "channel" ? { sender_chat: chat } : { from: state.query.from };
    return this.storeMessage(chat, { ...content, ...author, via_bot: this.bot }, false);
  }

  /**
   * Resolves once `count` sent messages match `predicate` (with all matches), or rejects after
   * `timeoutMs` listing what was sent and which calls failed.
   */
  waitFor(
    predicate: (message: SentMessage) => boolean = () => true,
    { count = 1, timeoutMs = 5000 }: { count?: number; timeoutMs?: number } = {},
  ): Promise<SentMessage[]> {
    return new Promise((resolve, reject) => {
      const matches = (): SentMessage[] => this.world.sent.filter(predicate);
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.sentListeners.delete(check);
        this.closeListeners.delete(onClose);
        if (error) reject(error);
        else resolve(matches());
      };
      const check = (): void => {
        if (matches().length >= count) finish();
      };
      const fail = (why: string): void => {
        const got = matches().length;
        finish(new Error(`waitFor: expected ${count} matching message(s) ${why}, got ${got}.\n${this.describe()}`));
      };
      const onClose = (): void => fail("but the fake Telegram was closed");
      const timer = setTimeout(() => fail(`within ${timeoutMs} ms`), timeoutMs);
      this.sentListeners.add(check);
      this.closeListeners.add(onClose);
      check();
    });
  }

  /** The current state of a message (edits applied), or undefined. */
  message(chatId: number, messageId: number): Message | undefined {
    return this.world.messages.get(chatId)?.get(messageId)?.message;
  }

  /** The bot's commands for a scope and language, as getMyCommands answers. */
  commands(scope?: Params, languageCode?: string): BotCommand[] {
    return this.world.commands.get(commandsKey(scope, languageCode)) ?? [];
  }

  /** Forgets everything (calls, sends, updates, chats, members, injected errors); keeps token and limits. */
  reset(): void {
    this.world = new World();
  }

  /** Answers a held long poll with no updates, fails pending waitFor calls, and stops the server. */
  async close(): Promise<void> {
    this.closing.abort();
    this.poller?.wake();
    for (const listener of [...this.closeListeners]) listener();
    await Promise.all([...this.inFlight].map((res) => new Promise((done) => res.once("close", done))));
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---- HTTP ----

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight.add(res);
    const aborted = new AbortController();
    res.on("close", () => {
      this.inFlight.delete(res);
      if (!res.writableFinished) aborted.abort();
    });
    try {
      const result = await this.route(req, aborted.signal);
      reply(res, 200, { ok: true, result });
    } catch (error) {
      const answer = error instanceof ApiError ? error : new ApiError(500, `Internal Server Error: ${String(error)}`);
      reply(res, answer.error_code, { ok: false, ...answer.toJSON() });
    }
  }

  private async route(req: IncomingMessage, signal: AbortSignal): Promise<unknown> {
    const url = new URL(req.url ?? "/", this.apiRoot);
    const match = /^\/bot([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (!match) throw new ApiError(404, "Not Found");
    if (decodeURIComponent(match[1] ?? "") !== this.token) throw new ApiError(401, "Unauthorized");
    const params = { ...Object.fromEntries(url.searchParams), ...(await readBody(req)) };
    const name = match[2] ?? "";
    const method = this.methodNames.get(name.toLowerCase());
    const call: ApiCall = { method: method ?? name, params: normaliseParams(params), at: this.clock() };
    this.world.calls.push(call);
    try {
      const failure = this.takeFailure(call.method);
      if (failure) throw new ApiError(failure.error_code, failure.description, failure.parameters);
      const handler = method === undefined ? undefined : this.handlers[method];
      if (!handler) throw new ApiError(404, "Not Found: method not found");
      return await handler(call.params, signal);
    } catch (error) {
      if (error instanceof ApiError) call.error = error.toJSON();
      throw error;
    }
  }

  private takeFailure(method: string): TelegramError | undefined {
    const queue = this.world.failures.get(method);
    const next = queue?.[0];
    if (!queue || !next) return undefined;
    if (--next.remaining <= 0) queue.shift();
    return next.error;
  }

  // ---- updates ----

  private async getUpdates(p: Params, signal: AbortSignal): Promise<Update[]> {
    const offset = optionalInt(p, "offset");
    if (offset !== undefined) this.confirmUpdates(offset);
    const limit = Math.min(Math.max(optionalInt(p, "limit") ?? 100, 1), 100);
    const timeout = Math.max(optionalInt(p, "timeout") ?? 0, 0);
    if (this.world.webhook) throw new ApiError(409, WEBHOOK_CONFLICT);
    this.poller?.conflict();
    if (this.world.updates.length === 0 && timeout > 0) await this.holdPoll(timeout * 1000, signal);
    return this.world.updates.slice(0, limit);
  }

  /** Telegram forgets updates below `offset`; a negative offset keeps only the last -offset ones. */
  private confirmUpdates(offset: number): void {
    const updates = this.world.updates;
    const keep = offset < 0 ? updates.slice(offset) : updates.filter((u) => u.update_id >= offset);
    updates.splice(0, updates.length, ...keep);
  }

  /** Holds a long poll until an update arrives, the timeout passes, the client leaves or another poll comes. */
  private holdPoll(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: ApiError): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (this.poller === poller) this.poller = undefined;
        if (error) reject(error);
        else resolve();
      };
      const onAbort = (): void => done();
      const poller = { wake: () => done(), conflict: () => done(new ApiError(409, CONFLICT)) };
      const timer = setTimeout(onAbort, ms);
      signal.addEventListener("abort", onAbort);
      this.poller = poller;
    });
  }

  private deleteWebhook(p: Params): true {
    if (optionalBool(p, "drop_pending_updates")) this.world.updates.length = 0;
    this.world.webhook = undefined;
    return true;
  }

  private setMyCommands(p: Params): true {
    const commands = p["commands"];
    if (!Array.isArray(commands) || commands.length > 100) {
      throw badRequest("commands must be an array of at most 100 BotCommand");
    }
    const checked = commands.map((c: unknown): BotCommand => {
      const command = isRecord(c) ? c["command"] : undefined;
      const description = isRecord(c) ? c["description"] : undefined;
      if (typeof command !== "string" || !/^[a-z0-9_]{1,32}$/.test(command)) throw badRequest("BOT_COMMAND_INVALID");
      if (typeof description !== "string" || description.length < 1 || description.length > 256) {
        throw badRequest("BOT_COMMAND_DESCRIPTION_INVALID");
      }
      return { command, description };
    });
    this.world.commands.set(commandsKey(optionalObject(p, "scope"), optionalString(p, "language_code")), checked);
    return true;
  }

  private deleteMyCommands(p: Params): true {
    this.world.commands.delete(commandsKey(optionalObject(p, "scope"), optionalString(p, "language_code")));
    return true;
  }

  // ---- webhooks (setWebhook, getWebhookInfo; deleteWebhook above) ----
  // Like Telegram: while a webhook is set, updates are POSTed to it one at a time, in order, with
  // the secret token header, and kept (and retried) until it answers 2xx; getUpdates answers 409.
  // Unlike Telegram, http:// and any port are accepted (a loopback test cannot serve TLS).

  /** The webhook in use, as getWebhookInfo reports it; undefined in long-polling mode. */
  get webhook(): Readonly<{ url: string; secretToken?: string }> | undefined {
    const hook = this.world.webhook;
    return hook && { url: hook.url, ...(hook.secretToken !== undefined ? { secretToken: hook.secretToken } : {}) };
  }

  /**
   * Stands in for a load balancer at the webhook's address: updates are posted to `urls` in turn
   * (round-robin) instead of the URL the bot set. An empty list posts to that URL again.
   */
  balance(urls: readonly string[]): void {
    this.backends = [...urls];
    this.nextBackend = 0;
  }

  /** Every POST of an update to the webhook so far, oldest first. */
  get webhookDeliveries(): readonly WebhookDelivery[] {
    return this.world.webhookDeliveries;
  }

  /**
   * POSTs `update` to the webhook with the secret token header `secretToken` (none: no header),
   * as anyone who learned the URL could; resolves with the HTTP status. Not recorded as a delivery.
   */
  async postToWebhook(update: Update, secretToken: string | undefined): Promise<number> {
    const hook = this.world.webhook;
    if (!hook) throw new Error("postToWebhook: no webhook is set");
    return postUpdate(hook.url, update, secretToken, this.closing.signal);
  }

  /** Resolves once a delivery matches `predicate`; rejects after `timeoutMs` or when the double closes. */
  waitForDelivery(predicate: (delivery: WebhookDelivery) => boolean, timeoutMs = 5000): Promise<WebhookDelivery> {
    return new Promise((resolve, reject) => {
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.deliveryListeners.delete(check);
        this.closeListeners.delete(onClose);
        const found = this.world.webhookDeliveries.find(predicate);
        if (error) reject(error);
        else resolve(found!);
      };
      const check = (): void => {
        if (this.world.webhookDeliveries.some(predicate)) finish();
      };
      const fail = (why: string) => finish(new Error(`waitForDelivery: no matching delivery ${why}; deliveries: ${JSON.stringify(this.world.webhookDeliveries)}`));
      const onClose = (): void => fail("before the fake Telegram was closed");
      const timer = setTimeout(() => fail(`within ${timeoutMs} ms`), timeoutMs);
      this.deliveryListeners.add(check);
      this.closeListeners.add(onClose);
      check();
    });
  }

  private setWebhook(p: Params): true {
    const url = optionalString(p, "url") ?? "";
    // Telegram: an empty URL removes the webhook.
    if (url === "") return this.deleteWebhook(p);
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw badRequest("bad webhook: Failed to resolve host: Name or service not known");
    }
    if (protocol !== "https:" && protocol !== "http:") throw badRequest("bad webhook: An HTTPS URL must be provided for webhook");
    const secretToken = optionalString(p, "secret_token");
    if (secretToken !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secretToken)) {
      throw badRequest("bad webhook: secret token contains unallowed characters");
    }
    if (optionalBool(p, "drop_pending_updates")) this.world.updates.length = 0;
    this.world.webhook = { url, ...(secretToken !== undefined ? { secretToken } : {}), delivering: false };
    // A long poll held now ends as Telegram ends it when a webhook is set.
    this.poller?.conflict();
    setImmediate(() => void this.deliverUpdates());
    return true;
  }

  private getWebhookInfo(): Params {
    const hook = this.world.webhook;
    return stripUndefined({
      url: hook?.url ?? "",
      has_custom_certificate: false,
      pending_update_count: this.world.updates.length,
      max_connections: hook ? 1 : undefined,
      last_error_date: hook?.lastError && unixTime(hook.lastError.at),
      last_error_message: hook?.lastError?.message,
    });
  }

  /** Delivers the queued updates to the webhook, one at a time, until the queue is empty or the webhook changes. */
  private async deliverUpdates(): Promise<void> {
    const world = this.world;
    const hook = world.webhook;
    if (!hook || hook.delivering) return;
    hook.delivering = true;
    try {
      while (world.webhook === hook && !this.closing.signal.aborted) {
        const update = world.updates[0];
        if (!update) break;
        const url = this.backends.length > 0 ? this.backends[this.nextBackend++ % this.backends.length]! : hook.url;
        const status = await postUpdate(url, update, hook.secretToken, this.closing.signal);
        world.webhookDeliveries.push({ update_id: update.update_id, status, url, at: this.clock() });
        for (const listener of [...this.deliveryListeners]) listener();
        if (status >= 200 && status < 300) {
          const index = world.updates.indexOf(update);
          if (index >= 0) world.updates.splice(index, 1);
          continue;
        }
        hook.lastError = { at: this.clock(), message: status === 0 ? "Connection refused" : `Wrong response from the webhook: ${status}` };
        await new Promise((resolve) => setTimeout(resolve, WEBHOOK_RETRY_MS).unref());
      }
    } finally {
      hook.delivering = false;
    }
  }

  // ---- sending ----

  private sendMessage(p: Params): Message {
    const chat = this.sendableChat(p);
    const content = formatted(optionalString(p, "text"), optionalString(p, "parse_mode"), "text");
    const reply_markup = checkReplyMarkup(p["reply_markup"]);
    const placement = this.placement(chat, p);
    this.takeSendSlot(chat);
    const message = this.storeMessage(chat, {
      text: content.text,
      ...(content.entities.length > 0 && { entities: content.entities }),
      ...withMarkup(reply_markup),
      ...placement,
    });
    return this.recordSent("sendMessage", p, message, { text: optionalString(p, "text") ?? "", reply_markup });
  }

  private sendPhoto(p: Params): Message {
    const chat = this.sendableChat(p);
    const photo = optionalString(p, "photo");
    const attached = photo?.startsWith("attach://") ? p[photo.slice("attach://".length)] !== undefined : true;
    if (!photo || !attached) throw badRequest("there is no photo in the request");
    const caption = optionalString(p, "caption");
    const content = formatted(caption, optionalString(p, "parse_mode"), "caption");
    const reply_markup = checkReplyMarkup(p["reply_markup"]);
    const placement = this.placement(chat, p);
    this.takeSendSlot(chat);
    const fileId = `photo${this.world.sent.length + 1}`;
    const message = this.storeMessage(chat, {
      photo: [{ file_id: fileId, file_unique_id: fileId, width: 800, height: 600 }],
      ...(content.text !== "" && { caption: content.text }),
      ...(content.entities.length > 0 && { caption_entities: content.entities }),
      ...withMarkup(reply_markup),
      ...placement,
    });
    return this.recordSent("sendPhoto", p, message, { text: caption ?? "", photo, reply_markup });
  }

  private sendRichMessage(p: Params): Message {
    const chat = this.sendableChat(p);
    const value = p["rich_message"];
    if (value === undefined || value === null || value === "") throw badRequest("rich_message is empty");
    const rich = checkRichMessage(value, { uploadsOnly: false });
    const reply_markup = checkReplyMarkup(p["reply_markup"]);
    const placement = this.placement(chat, p);
    this.takeSendSlot(chat);
    const message = this.storeMessage(chat, {
      rich_message: rich.message,
      ...withMarkup(reply_markup),
      ...placement,
      ...(optionalBool(p, "protect_content") && { has_protected_content: true }),
    });
    const input = value as object as InputRichMessage;
    return this.recordSent("sendRichMessage", p, message, { text: rich.text, rich: input, reply_markup });
  }

  private forwardOrCopy(method: "forwardMessage" | "copyMessage", p: Params): Message | { message_id: number } {
    const chat = this.sendableChat(p);
    const from = this.resolveChat(p, "from_chat_id");
    const sourceId = requiredInt(p, "message_id");
    const source = this.world.messages.get(from.id)?.get(sourceId)?.message;
    if (!source) throw badRequest(`message to ${method === "forwardMessage" ? "forward" : "copy"} not found`);
    const reply_markup = method === "copyMessage" ? checkReplyMarkup(p["reply_markup"]) : undefined;
    this.takeSendSlot(chat);
    const { text, entities, caption, caption_entities, photo, rich_message } = source;
    const message = this.storeMessage(chat, {
      ...(text !== undefined && { text }),
      ...(rich_message && { rich_message }),
      ...(entities && { entities }),
      ...(caption !== undefined && { caption }),
      ...(caption_entities && { caption_entities }),
      ...(photo && { photo }),
      ...withMarkup(reply_markup),
      ...(method === "forwardMessage" && { forward_origin: originOf(source) }),
    });
    const plain = text ?? caption ?? (rich_message ? richPlainText(rich_message.blocks) : "");
    const details = { text: plain, from_chat_id: from.id, source_message_id: sourceId, reply_markup };
    this.recordSent(method, p, message, details);
    return method === "copyMessage" ? { message_id: message.message_id } : message;
  }

  private editMessage(p: Params, part: "text" | "markup"): Message {
    if (p["inline_message_id"] !== undefined) throw badRequest("inline messages are not supported by the fake Telegram");
    const chat = this.resolveChat(p);
    this.assertCanSend(chat);
    const stored = this.world.messages.get(chat.id)?.get(requiredInt(p, "message_id"));
    if (!stored) throw badRequest("message to edit not found");
    if (!stored.byBot) throw badRequest("message can't be edited");
    const old = stored.message;
    // Like Telegram, an edit without reply_markup removes the inline keyboard.
    const reply_markup = checkReplyMarkup(p["reply_markup"]);
    let edited: Message = { ...old, reply_markup: undefined, ...withMarkup(reply_markup) };
    if (part === "text") {
      if (old.text === undefined) throw badRequest("there is no text in the message to edit");
      const content = formatted(optionalString(p, "text"), optionalString(p, "parse_mode"), "text");
      edited = { ...edited, text: content.text, entities: content.entities.length > 0 ? content.entities : undefined };
    }
    if (sameContent(old, edited)) {
      throw badRequest(
        "message is not modified: specified new message content and reply markup are exactly the same " +
          "as a current content and reply markup of the message",
      );
    }
    stored.message = stripUndefined({ ...edited, edit_date: unixTime(this.clock()) });
    return stored.message;
  }

  private answerCallbackQuery(p: Params): true {
    const id = optionalString(p, "callback_query_id") ?? "";
    if (!this.world.openQueries.has(id)) throw badRequest(QUERY_INVALID);
    if ((optionalString(p, "text") ?? "").length > 200) throw badRequest("MESSAGE_TOO_LONG");
    checkBool(p, "show_alert");
    if ((optionalInt(p, "cache_time") ?? 0) < 0) throw badRequest("cache_time must be non-negative");
    // A bot without games may only send the user to itself, with a start parameter.
    const url = optionalString(p, "url");
    if (url !== undefined && url !== "" && !isStartLink(url, this.bot.username)) throw badRequest("URL_INVALID");
    // A refused answer leaves the query open, as Telegram does.
    this.world.openQueries.delete(id);
    return true;
  }

  private answerInlineQuery(p: Params): true {
    const id = optionalString(p, "inline_query_id") ?? "";
    const state = this.world.inlineQueries.get(id);
    if (!state || state.answer || this.clock() - state.at > INLINE_ANSWER_WINDOW_MS) throw badRequest(QUERY_INVALID);
    const { results, contents } = checkInlineResults(p["results"]);
    const cacheTime = optionalInt(p, "cache_time") ?? 300;
    if (cacheTime < 0) throw badRequest("cache_time must be non-negative");
    const isPersonal = checkBool(p, "is_personal");
    const nextOffset = optionalString(p, "next_offset") ?? "";
    if (Buffer.byteLength(nextOffset) > 64) throw badRequest("NEXT_OFFSET_INVALID");
    const button = checkResultsButton(optionalObject(p, "button"));
    const answer: InlineAnswer = {
      queryId: id,
      query: state.query.query,
      from: state.query.from,
      results,
      cacheTime,
      nextOffset,
      isPersonal,
      ...(button && { button }),
      at: this.clock(),
    };
    state.answer = answer;
    state.contents = contents;
    this.world.inlineAnswers.push(answer);
    for (const listener of [...this.inlineAnswerListeners]) listener();
    return true;
  }

  /** The destination of a send: it exists, has not moved, and accepts the bot. */
  private sendableChat(p: Params): Chat {
    const chat = this.resolveChat(p);
    this.assertCanSend(chat);
    return chat;
  }

  private assertCanSend(chat: Chat): void {
    if (chat.type === "private") {
      if (this.world.blocked.has(chat.id)) throw new ApiError(403, "Forbidden: bot was blocked by the user");
      return;
    }
    const { status, rights } = this.membership(chat, this.bot.id);
    if (status === "kicked") throw new ApiError(403, `Forbidden: bot was kicked from the ${chat.type} chat`);
    if (status === "left") throw new ApiError(403, `Forbidden: bot is not a member of the ${chat.type} chat`);
    if (chat.type === "channel" && status !== "creator" && !(status === "administrator" && rights.can_post_messages)) {
      throw badRequest("need administrator rights in the channel chat");
    }
  }

  /**
   * Where a new message goes: its forum topic, and the message it replies to, which must exist
   * unless the bot allowed sending without it.
   */
  private placement(chat: Chat, p: Params): Pick<Message, "message_thread_id" | "reply_to_message"> {
    const message_thread_id = optionalInt(p, "message_thread_id");
    const thread = message_thread_id === undefined ? {} : { message_thread_id };
    const parameters = optionalObject(p, "reply_parameters");
    const id = parameters ? requiredInt(parameters, "message_id") : optionalInt(p, "reply_to_message_id");
    if (id === undefined) return thread;
    const target = this.world.messages.get(chat.id)?.get(id)?.message;
    const allowMissing = optionalBool(parameters ?? p, "allow_sending_without_reply");
    if (!target && !allowMissing) throw badRequest("message to be replied not found");
    return target ? { ...thread, reply_to_message: { ...target, reply_to_message: undefined } } : thread;
  }

  /** Counts a send against the flood limits, or refuses it with 429 and the seconds until a slot frees. */
  private takeSendSlot(chat: Chat): void {
    const now = this.clock();
    const chatTimes = this.world.chatSendTimes.get(chat.id) ?? [];
    const waits = [
      waitMs(this.world.sendTimes, now, 1000, this.limits.globalPerSecond),
      waitMs(chatTimes, now, 1000, this.limits.perChatPerSecond),
      chat.type === "private" ? 0 : waitMs(chatTimes, now, 60_000, this.limits.groupPerMinute),
    ];
    const wait = Math.max(...waits);
    if (wait > 0) {
      this.world.floodRejections++;
      const retry_after = Math.ceil(wait / 1000);
      throw new ApiError(429, `Too Many Requests: retry after ${retry_after}`, { retry_after });
    }
    this.world.sendTimes.push(now);
    chatTimes.push(now);
    this.world.chatSendTimes.set(chat.id, chatTimes);
    // Only the last minute matters to any limit; dropped in bulk, since shifting one at a time
    // copies the whole array each time.
    for (const times of [this.world.sendTimes, chatTimes]) {
      const expired = firstAfter(times, now - 60_000);
      if (expired > 0 && (expired >= 1024 || expired === times.length || times.length < 2048)) times.splice(0, expired);
    }
  }

  private recordSent(
    method: SendMethod,
    p: Params,
    message: Message,
    details: Pick<SentMessage, "text" | "rich" | "reply_markup" | "photo" | "from_chat_id" | "source_message_id">,
  ): Message {
    const parse_mode = optionalString(p, "parse_mode");
    const message_thread_id = optionalInt(p, "message_thread_id");
    this.world.sent.push(
      stripUndefined({
        method,
        chat_id: message.chat.id,
        message_id: message.message_id,
        parse_mode,
        message_thread_id,
        ...details,
        at: this.clock(),
        message,
      }),
    );
    for (const listener of [...this.sentListeners]) listener();
    return message;
  }

  // ---- chats, users, messages ----

  /** The chat a parameter names, after Telegram's checks for deleted and migrated chats. */
  private resolveChat(p: Params, name = "chat_id"): Chat {
    const value = p[name];
    if (value === undefined || value === "") throw badRequest(`${name} is empty`);
    let id: number | undefined;
    if (typeof value === "number" && Number.isSafeInteger(value)) id = value;
    else if (typeof value === "string" && /^-?\d+$/.test(value)) id = Number(value);
    else if (typeof value === "string" && value.startsWith("@")) {
      const username = value.slice(1).toLowerCase();
      id = [...this.world.chats.values()].find((c) => c.username?.toLowerCase() === username)?.id;
    }
    if (id === undefined || this.world.deleted.has(id)) throw badRequest("chat not found");
    const migrate_to_chat_id = this.world.migrated.get(id);
    if (migrate_to_chat_id !== undefined) {
      throw new ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat", { migrate_to_chat_id });
    }
    return this.chat(id);
  }

  /** A chat by id, created with default type and title the first time it is mentioned. */
  private chat(id: number): Chat {
    return this.world.chats.get(id) ?? this.addChat({ id });
  }

  private getChat(p: Params): ChatFullInfo {
    const chat = this.resolveChat(p);
    const common = {
      accent_color_id: 0,
      max_reaction_count: 11,
      accepted_gift_types: {
        unlimited_gifts: false,
        limited_gifts: false,
        unique_gifts: false,
        premium_subscription: false,
        gifts_from_channels: false,
      },
    };
    // The union of chat kinds does not narrow through the spread; the fields are right for every kind.
    return { ...chat, ...common } as ChatFullInfo;
  }

  private getChatAdministrators(p: Params): ChatMember[] {
    const chat = this.resolveChat(p);
    if (chat.type === "private") throw badRequest("there are no administrators in the private chat");
    const ids = [...(this.world.members.get(chat.id)?.keys() ?? [])];
    // Like Telegram, bots are not listed.
    return ids
      .map((id) => this.chatMember(chat.id, id))
      .filter((m) => (m.status === "creator" || m.status === "administrator") && !m.user.is_bot);
  }

  private membership(chat: Chat, userId: number): Membership {
    const set = this.world.members.get(chat.id)?.get(userId);
    if (set) return set;
    // A bot cannot be a plain member of a channel: until a test makes it an admin, it is not in it.
    const status = chat.type === "channel" && userId === this.bot.id ? "left" : "member";
    return { status, rights: {} };
  }

  private chatMember(chatId: number, userId: number): ChatMember {
    const { status, rights } = this.membership(this.chat(chatId), userId);
    const user = this.user(userId);
    switch (status) {
      case "creator":
        return { status, user, is_anonymous: false };
      case "administrator":
        return { ...NO_ADMIN_RIGHTS, ...rights, status, user };
      case "kicked":
        return { status, user, until_date: 0 };
      default:
        return { status, user };
    }
  }

  private user(id: number): User {
    if (id === this.bot.id) return this.bot;
    return this.world.users.get(id) ?? { id, is_bot: false, first_name: `User ${id}`, language_code: "en" };
  }

  /** The author of a user action: `from` over the known user, else the private chat's user or a group member. */
  private author(chat: Chat, from: Partial<User> = {}): User {
    const id = from.id ?? (chat.type === "private" ? chat.id : GROUP_USER_ID);
    const user: User = { ...this.user(id), ...from };
    this.world.users.set(user.id, user);
    return user;
  }

  /** Stores a new message in a chat; message ids count up per chat, shared by users and the bot. */
  private storeMessage(chat: Chat, content: Partial<Message>, byBot = true): Message {
    const chatMessages = this.world.messages.get(chat.id) ?? new Map<number, StoredMessage>();
    this.world.messages.set(chat.id, chatMessages);
    const author = chat.type === "channel" ? { sender_chat: chat } : { from: this.bot };
    const message: Message = {
      message_id: chatMessages.size + 1,
      date: unixTime(this.clock()),
      chat,
      ...(byBot && author),
      ...content,
    };
    chatMessages.set(message.message_id, { message, byBot });
    return message;
  }

  private describe(): string {
    const sent = this.world.sent.map(
      (m, i) => `  ${i + 1}. ${m.method} → ${m.chat_id} #${m.message_id}: ${JSON.stringify(m.text.slice(0, 200))}`,
    );
    const failed = this.world.calls
      .filter((c) => c.error)
      .map((c) => `  ${c.method} ${JSON.stringify(c.params["chat_id"] ?? "")}: ${c.error?.description}`);
    return [`Sent (${sent.length}):`, ...sent, `Failed calls (${failed.length}):`, ...failed].join("\n");
  }
}

/** Starts the double on 127.0.0.1 at a free port. */
export async function startFakeTelegram(options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return new FakeTelegram(server, options);
}

// ---- pure helpers ----

function floodLimits(options: FloodLimitOptions | undefined): FloodLimits {
  if (options === false) return { globalPerSecond: Infinity, perChatPerSecond: Infinity, groupPerMinute: Infinity };
  return { ...TELEGRAM_LIMITS, ...options };
}

/** The index of the first time after `after` in ascending `times` (binary search: a broadcast's minute holds 100,000s). */
function firstAfter(times: readonly number[], after: number): number {
  let low = 0;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (times[middle]! > after) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** Milliseconds until fewer than `limit` of `times` fall in the window ending now (0: a slot is free). */
function waitMs(times: readonly number[], now: number, windowMs: number, limit: number): number {
  const inWindow = times.length - firstAfter(times, now - windowMs);
  if (inWindow < limit) return 0;
  const oldestBlocking = times[times.length - limit] ?? now;
  return oldestBlocking + windowMs - now;
}

function makeChat(spec: ChatSpec): Chat {
  const { id } = spec;
  const type = spec.type ?? (id > 0 ? "private" : "supergroup");
  if ((type === "private") !== id > 0) throw new Error(`addChat: a ${type} chat cannot have id ${id}`);
  const username = spec.username?.replace(/^@/, "");
  const named = username ? { username } : {};
  switch (type) {
    case "private":
      return { id, type, first_name: spec.first_name ?? `User ${id}`, ...named };
    case "group":
      return { id, type, title: spec.title ?? `Group ${id}` };
    case "supergroup":
    case "channel":
      return { id, type, title: spec.title ?? `Chat ${id}`, ...named };
  }
}

/** The bot_command entity Telegram marks on a message that starts with a command. */
function commandEntity(text: string): MessageEntity[] {
  const command = /^\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?/.exec(text)?.[0];
  return command ? [{ type: "bot_command", offset: 0, length: command.length }] : [];
}

function originOf(source: Message): MessageOrigin {
  const { date, chat } = source;
  if (chat.type === "channel") return { type: "channel", date, chat, message_id: source.message_id };
  if (source.from) return { type: "user", date, sender_user: source.from };
  return { type: "chat", date, sender_chat: source.sender_chat ?? chat };
}

/** The text or caption as Telegram stores it, or Telegram's refusal. */
function formatted(
  raw: string | undefined,
  parseMode: string | undefined,
  kind: "text" | "caption",
): { text: string; entities: MessageEntity[] } {
  const limit = kind === "text" ? MESSAGE_LIMIT : CAPTION_LIMIT;
  let parsed: { text: string; entities: MessageEntity[] };
  if (parseMode === undefined || parseMode === "") {
    parsed = { text: (raw ?? "").trim(), entities: [] };
  } else if (parseMode.toLowerCase() === "html") {
    const result = parseTelegramHtml(raw ?? "");
    if (!result.ok) throw new ApiError(400, result.error);
    parsed = result;
  } else {
    // Accepting Markdown unchecked would let broken markup through; the bot is meant to use HTML.
    throw badRequest(`unsupported parse_mode "${parseMode}" (the fake Telegram checks only HTML)`);
  }
  if (kind === "caption") {
    if (parsed.text.length > limit) throw badRequest("message caption is too long");
    return parsed;
  }
  const error = checkTextLength(parsed.text, limit);
  if (error) throw new ApiError(400, error);
  return parsed;
}

/** Checks reply markup the way Telegram refuses it; inline keyboards in detail. */
function checkReplyMarkup(value: unknown): ReplyMarkup | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (!isRecord(value)) throw badRequest("can't parse reply keyboard markup JSON object");
  if (!("inline_keyboard" in value)) {
    // Reply keyboards only matter to users; their shape is not checked further.
    if ("keyboard" in value || "remove_keyboard" in value || "force_reply" in value) return value as object as ReplyMarkup;
    throw badRequest("can't parse reply keyboard markup JSON object");
  }
  const rows = value["inline_keyboard"];
  if (!Array.isArray(rows) || !rows.every(Array.isArray)) {
    throw badRequest('field "inline_keyboard" must be an Array of Arrays');
  }
  for (const button of rows.flat() as unknown[]) {
    if (!isRecord(button) || typeof button["text"] !== "string" || button["text"] === "") {
      throw badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
    }
    const data = button["callback_data"];
    const url = button["url"];
    if (data !== undefined && (typeof data !== "string" || data === "" || Buffer.byteLength(data) > 64)) {
      throw badRequest("BUTTON_DATA_INVALID");
    }
    if (url !== undefined && (typeof url !== "string" || !isButtonUrl(url))) {
      throw badRequest(`inline keyboard button URL '${String(url)}' is invalid: Wrong HTTP URL`);
    }
    if (Object.keys(button).length < 2) throw badRequest("Text buttons are unallowed in the inline keyboard");
  }
  return value as object as ReplyMarkup;
}

function isButtonUrl(url: string): boolean {
  try {
    return ["http:", "https:", "tg:"].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

function isHttpUrl(url: unknown, protocols = ["http:", "https:"]): url is string {
  if (typeof url !== "string") return false;
  try {
    return protocols.includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

/** A deep-link start parameter (also InlineQueryResultsButton's `start_parameter`). */
const START_PARAMETER = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Whether `url` opens this bot with a start parameter (`https://t.me/<bot>?start=XXX`): the only URL
 * answerCallbackQuery takes from a bot without games.
 */
function isStartLink(url: string, botUsername: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return false;
  if (!["t.me", "telegram.me"].includes(parsed.hostname.toLowerCase())) return false;
  if (parsed.pathname.replace(/\/$/, "").toLowerCase() !== `/${botUsername.toLowerCase()}`) return false;
  const start = parsed.searchParams.get("start");
  return [...parsed.searchParams.keys()].length === 1 && start !== null && START_PARAMETER.test(start);
}

/** A Boolean parameter: absent is false; anything but true/false is refused. */
function checkBool(p: Params, name: string): boolean {
  const value = p[name];
  if (value === undefined || value === null || value === "") return false;
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  throw badRequest(`${name} must be a Boolean`);
}

// ---- inline query results ----

/**
 * Checks answerInlineQuery's `results` as Telegram does (the types article and photo only), and
 * gives the message each result posts when a user chooses it, by result id.
 */
function checkInlineResults(value: unknown): { results: InlineQueryResult[]; contents: Map<string, Partial<Message>> } {
  if (!Array.isArray(value)) throw badRequest("can't parse inline query results JSON object");
  if (value.length > 50) throw badRequest("RESULTS_TOO_MUCH");
  const contents = new Map<string, Partial<Message>>();
  value.forEach((result: unknown, index) => {
    if (!isRecord(result)) throw badRequest(`can't parse inline query result: result ${index} must be an Object`);
    const id = result["id"];
    if (id === undefined) throw badRequest(`can't parse inline query result: Can't find field "id"`);
    if (typeof id !== "string" || id === "" || Buffer.byteLength(id) > 64) throw badRequest("RESULT_ID_INVALID");
    if (contents.has(id)) throw badRequest("RESULT_ID_DUPLICATE");
    let content: Partial<Message>;
    switch (result["type"]) {
      case "article":
        content = articleContent(result);
        break;
      case "photo":
        content = photoResultContent(result, id);
        break;
      default:
        throw badRequest(
          `can't parse inline query result: unsupported type ${JSON.stringify(result["type"])} (the fake Telegram knows article and photo)`,
        );
    }
    let markup: ReplyMarkup | undefined;
    if (result["reply_markup"] !== undefined) {
      markup = checkReplyMarkup(result["reply_markup"]);
      if (!markup || !("inline_keyboard" in markup)) throw badRequest("REPLY_MARKUP_INVALID");
    }
    contents.set(id, { ...content, ...withMarkup(markup) });
  });
  return { results: value as InlineQueryResult[], contents };
}

/** A result's field that must be a String. */
function resultString(result: Params, name: string, required: true): string;
function resultString(result: Params, name: string, required: false): string | undefined;
function resultString(result: Params, name: string, required: boolean): string | undefined {
  const value = result[name];
  if (value === undefined || value === null) {
    if (required) throw badRequest(`can't parse inline query result: Can't find field "${name}"`);
    return undefined;
  }
  if (typeof value !== "string") throw badRequest(`can't parse inline query result: Field "${name}" must be of type String`);
  return value;
}

function resultUrl(result: Params, name: string, required: boolean): void {
  const url = required ? resultString(result, name, true) : resultString(result, name, false);
  if (url !== undefined && !isHttpUrl(url)) {
    throw badRequest(`can't parse inline query result: Field "${name}" must be an HTTP or HTTPS URL`);
  }
}

function articleContent(result: Params): Partial<Message> {
  if (resultString(result, "title", true).trim() === "") {
    throw badRequest(`can't parse inline query result: Field "title" must be non-empty`);
  }
  resultString(result, "description", false);
  resultUrl(result, "url", false);
  resultUrl(result, "thumbnail_url", false);
  if (result["input_message_content"] === undefined) {
    throw badRequest(`can't parse inline query result: Can't find field "input_message_content"`);
  }
  return inputMessageContent(result["input_message_content"]);
}

function photoResultContent(result: Params, id: string): Partial<Message> {
  resultUrl(result, "photo_url", true);
  resultUrl(result, "thumbnail_url", true);
  resultString(result, "title", false);
  resultString(result, "description", false);
  const caption = formatted(resultString(result, "caption", false), resultString(result, "parse_mode", false), "caption");
  if (result["input_message_content"] !== undefined) return inputMessageContent(result["input_message_content"]);
  const fileId = `inline-photo-${id}`;
  return {
    photo: [{ file_id: fileId, file_unique_id: fileId, width: 800, height: 600 }],
    ...(caption.text !== "" && { caption: caption.text }),
    ...(caption.entities.length > 0 && { caption_entities: caption.entities }),
  };
}

/** A result's `input_message_content` (text or rich), checked, as the message it becomes. */
function inputMessageContent(value: unknown): Partial<Message> {
  if (!isRecord(value)) throw badRequest(`can't parse inline query result: Field "input_message_content" must be of type Object`);
  if (value["message_text"] !== undefined) {
    const raw = value["message_text"];
    const parseMode = value["parse_mode"];
    if (typeof raw !== "string") throw badRequest(`can't parse input message content: Field "message_text" must be of type String`);
    if (parseMode !== undefined && typeof parseMode !== "string") {
      throw badRequest(`can't parse input message content: Field "parse_mode" must be of type String`);
    }
    let content: { text: string; entities: MessageEntity[] };
    try {
      content = formatted(raw, parseMode, "text");
    } catch (error) {
      // Inline results report the lengths in their own words.
      if (error instanceof ApiError && error.description === "Bad Request: message text is empty") throw badRequest("MESSAGE_EMPTY");
      if (error instanceof ApiError && error.description === "Bad Request: message is too long") throw badRequest("MESSAGE_TOO_LONG");
      throw error;
    }
    const given = parseMode === undefined && Array.isArray(value["entities"]) ? (value["entities"] as MessageEntity[]) : [];
    const entities = content.entities.length > 0 ? content.entities : given;
    return { text: content.text, ...(entities.length > 0 && { entities }) };
  }
  if (value["rich_message"] !== undefined) {
    return { rich_message: checkRichMessage(value["rich_message"], { uploadsOnly: true }).message };
  }
  throw badRequest("can't parse input message content: the fake Telegram supports only message_text and rich_message");
}

/** answerInlineQuery's `button`: a text and exactly one of start_parameter and web_app. */
function checkResultsButton(button: Params | undefined): InlineQueryResultsButton | undefined {
  if (!button) return undefined;
  const text = button["text"];
  if (typeof text !== "string" || text.trim() === "") {
    throw badRequest(`can't parse InlineQueryResultsButton: Field "text" must be a non-empty String`);
  }
  const start = button["start_parameter"];
  const webApp = button["web_app"];
  if ((start === undefined) === (webApp === undefined)) {
    throw badRequest("can't parse InlineQueryResultsButton: exactly one of start_parameter and web_app must be specified");
  }
  if (start !== undefined && (typeof start !== "string" || !START_PARAMETER.test(start))) throw badRequest("START_PARAM_INVALID");
  // Web Apps are served over HTTPS only.
  if (webApp !== undefined && !(isRecord(webApp) && isHttpUrl(webApp["url"], ["https:"]))) throw badRequest("BUTTON_URL_INVALID");
  return button as object as InlineQueryResultsButton;
}

// ---- rich messages (sendRichMessage; rich input_message_content) ----

/** Telegram's limits on one rich message. */
export const RICH_LIMITS = {
  /** Unicode code points of all its text: captions, credits, alternative texts and formulas included. */
  chars: 32768,
  /** Blocks, nested ones, list items and table rows included. */
  blocks: 500,
  /** Levels of nested blocks and formatting. */
  depth: 16,
  media: 50,
  tableColumns: 20,
  rowButtons: 8,
} as const;

/** What a rich message uses of the limits, while it is checked. */
interface RichTally {
  chars: number;
  blocks: number;
  media: number;
  /** Inline results may only reuse uploaded files, which the double has none of: no media then. */
  uploadsOnly: boolean;
}

type RichMediaType = "photo" | "video" | "animation" | "audio" | "document" | "voice_note";

const RICH_MEDIA = new Set<string>(["photo", "video", "animation", "audio", "document", "voice_note"]);

/** RichText types that only format their `text`. */
const RICH_TEXT_STYLES = new Set([
  "bold", "italic", "underline", "strikethrough", "spoiler", "subscript", "superscript", "marked", "code",
]);

/** RichText types with a `text` and one more String field, by type. */
const RICH_TEXT_WITH_FIELD = new Map([
  ["email_address", "email_address"],
  ["phone_number", "phone_number"],
  ["bank_card_number", "bank_card_number"],
  ["mention", "username"],
  ["hashtag", "hashtag"],
  ["cashtag", "cashtag"],
  ["bot_command", "bot_command"],
  ["anchor_link", "anchor_name"],
  ["reference", "name"],
  ["reference_link", "reference_name"],
]);

const BUTTON_ACTIONS = [
  "url", "callback_data", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
  "switch_inline_query_chosen_chat", "copy_text", "disabled",
];

function richError(path: string, what: string): ApiError {
  return badRequest(`can't parse rich message: ${path} ${what}`);
}

function richRequired(value: Params, name: string, path: string): unknown {
  const field = value[name];
  if (field === undefined || field === null) throw richError(`${path}.${name}`, "is required");
  return field;
}

function richString(value: Params, name: string, path: string, { nonEmpty = true, optional = false } = {}): string | undefined {
  const field = value[name];
  if (field === undefined && optional) return undefined;
  if (typeof field !== "string" || (nonEmpty && field === "")) {
    throw richError(`${path}.${name}`, nonEmpty ? "must be a non-empty String" : "must be a String");
  }
  return field;
}

/** Counts a block (or list item, or table row) at `level` against the limits. */
function richCount(level: number, tally: RichTally): void {
  if (level > RICH_LIMITS.depth) throw badRequest("RICH_MESSAGE_TOO_DEEP");
  if (++tally.blocks > RICH_LIMITS.blocks) throw badRequest("RICH_MESSAGE_TOO_MANY_BLOCKS");
}

function codePoints(text: string): number {
  return text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
}

/**
 * Checks an InputRichMessage as Telegram does, and gives the RichMessage a message then holds and
 * its plain text. Only the `blocks` form is understood; `html` and `markdown` are refused.
 */
function checkRichMessage(value: unknown, { uploadsOnly }: { uploadsOnly: boolean }): { message: RichMessage; text: string } {
  if (!isRecord(value)) throw badRequest("can't parse rich message JSON object");
  const forms = ["blocks", "html", "markdown"].filter((form) => value[form] !== undefined && value[form] !== null);
  if (forms.length !== 1) throw badRequest("RICH_MESSAGE_INVALID: exactly one of blocks, html and markdown must be specified");
  if (forms[0] !== "blocks") {
    throw badRequest(`rich_message.${forms[0]} is not supported by the fake Telegram (it checks blocks only)`);
  }
  const isRtl = checkBool(value, "is_rtl");
  checkBool(value, "skip_entity_detection");
  const tally: RichTally = { chars: 0, blocks: 0, media: 0, uploadsOnly };
  const blocks = richBlocks(value["blocks"], 1, "blocks", tally);
  if (tally.chars > RICH_LIMITS.chars) throw badRequest("RICH_MESSAGE_TOO_LONG");
  const text = richPlainText(blocks);
  if (text.trim() === "" && tally.media === 0) throw badRequest("message text is empty");
  return { message: { blocks, ...(isRtl && { is_rtl: true }) }, text };
}

function richBlocks(value: unknown, level: number, path: string, tally: RichTally): RichBlock[] {
  if (!Array.isArray(value)) throw richError(path, "must be an Array of InputRichBlock");
  return value.map((block: unknown, index) => richBlock(block, level, `${path}[${index}]`, tally));
}

/** One InputRichBlock at nesting `level` (1: top), checked, as the RichBlock a message holds. */
function richBlock(value: unknown, level: number, path: string, tally: RichTally): RichBlock {
  if (!isRecord(value)) throw richError(path, "must be an Object");
  richCount(level, tally);
  const text = (name = "text"): RichText => richText(richRequired(value, name, path), level, `${path}.${name}`, tally);
  const credit = (): { credit?: RichText } =>
    value["credit"] === undefined ? {} : { credit: richText(value["credit"], level, `${path}.credit`, tally) };
  const children = (): RichBlock[] => richBlocks(richRequired(value, "blocks", path), level + 1, `${path}.blocks`, tally);
  const type = value["type"];
  switch (type) {
    case "paragraph":
    case "footer":
      return { type, text: text() };
    case "heading": {
      const size = value["size"];
      if (typeof size !== "number" || !Number.isInteger(size) || size < 1 || size > 6) {
        throw richError(`${path}.size`, "must be an Integer from 1 to 6");
      }
      return { type, text: text(), size: size as 1 | 2 | 3 | 4 | 5 | 6 };
    }
    case "pre": {
      const language = richString(value, "language", path, { optional: true, nonEmpty: false });
      return { type, text: text(), ...(language !== undefined && { language }) };
    }
    case "pullquote":
    case "expandable_blockquote":
      return { type, text: text(), ...credit() };
    case "divider":
      return { type };
    case "mathematical_expression": {
      const expression = richString(value, "expression", path)!;
      tally.chars += codePoints(expression);
      return { type, expression };
    }
    case "anchor":
      return { type, name: richString(value, "name", path)! };
    case "list":
      return { type, items: richListItems(richRequired(value, "items", path), level, `${path}.items`, tally) };
    case "blockquote":
      return { type, blocks: children(), ...credit() };
    case "collage":
    case "slideshow": {
      const blocks = children();
      if (!blocks.every((block) => RICH_MEDIA.has(block.type))) throw richError(`${path}.blocks`, "may hold media blocks only");
      return { type, blocks, ...richCaption(value, level, path, tally) };
    }
    case "table":
      return richTable(value, level, path, tally);
    case "details":
      return { type, summary: text("summary"), blocks: children(), ...(value["is_open"] === true && { is_open: true }) };
    case "map":
      return richMap(value, level, path, tally);
    case "photo":
    case "video":
    case "animation":
    case "audio":
    case "document":
    case "voice_note":
      return richMedia(type, value, level, path, tally);
    case "buttons": {
      const buttons = richRequired(value, "buttons", path);
      if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > RICH_LIMITS.rowButtons) {
        throw richError(`${path}.buttons`, `must be an Array of 1-${RICH_LIMITS.rowButtons} buttons`);
      }
      const align = value["align"];
      if (align !== undefined && align !== "left" && align !== "center" && align !== "right") {
        throw richError(`${path}.align`, `must be "left", "center" or "right"`);
      }
      const checked = buttons.map((button: unknown, index) => richButton(button, level, `${path}.buttons[${index}]`, tally));
      return { type, buttons: checked, ...(align !== undefined && { align }) };
    }
    case "thinking":
      throw richError(`${path}.type`, `"thinking" may be used only in sendRichMessageDraft`);
    default:
      throw richError(`${path}.type`, `${JSON.stringify(type)} is not a supported block type`);
  }
}

function richCaption(value: Params, level: number, path: string, tally: RichTally): { caption?: RichBlockCaption } {
  const caption = value["caption"];
  if (caption === undefined) return {};
  const at = `${path}.caption`;
  if (!isRecord(caption)) throw richError(at, "must be a RichBlockCaption object");
  const text = richText(richRequired(caption, "text", at), level, `${at}.text`, tally);
  const credit = caption["credit"] === undefined ? {} : { credit: richText(caption["credit"], level, `${at}.credit`, tally) };
  return { caption: { text, ...credit } };
}

function richListItems(value: unknown, level: number, path: string, tally: RichTally): RichBlockListItem[] {
  if (!Array.isArray(value) || value.length === 0) throw richError(path, "must be a non-empty Array of list items");
  return value.map((item: unknown, index): RichBlockListItem => {
    const at = `${path}[${index}]`;
    if (!isRecord(item)) throw richError(at, "must be an Object");
    richCount(level + 1, tally);
    const blocks = richBlocks(richRequired(item, "blocks", at), level + 2, `${at}.blocks`, tally);
    const labelType = item["type"];
    if (labelType !== undefined && !["a", "A", "i", "I", "1"].includes(labelType as string)) {
      throw richError(`${at}.type`, `must be one of "a", "A", "i", "I" and "1"`);
    }
    const number = item["value"];
    if (number !== undefined && !Number.isSafeInteger(number)) throw richError(`${at}.value`, "must be an Integer");
    const ordered = labelType !== undefined || number !== undefined;
    const type = labelType as RichBlockListItem["type"];
    return {
      label: ordered ? `${listLabel((number as number | undefined) ?? index + 1, type ?? "1")}.` : "•",
      blocks,
      ...(item["has_checkbox"] === true && { has_checkbox: true }),
      ...(item["is_checked"] === true && { is_checked: true }),
      ...(number !== undefined && { value: number as number }),
      ...(type !== undefined && { type }),
    };
  });
}

/** An ordered list's label: 3 is "3", "c", "C", "iii" or "III". */
function listLabel(n: number, type: NonNullable<RichBlockListItem["type"]>): string {
  let label = String(n);
  if ((type === "a" || type === "A") && n > 0) {
    label = "";
    for (let k = n; k > 0; k = Math.floor((k - 1) / 26)) label = String.fromCharCode(97 + ((k - 1) % 26)) + label;
  } else if ((type === "i" || type === "I") && n > 0 && n < 4000) {
    const numerals: [number, string][] = [
      [1000, "m"], [900, "cm"], [500, "d"], [400, "cd"], [100, "c"], [90, "xc"],
      [50, "l"], [40, "xl"], [10, "x"], [9, "ix"], [5, "v"], [4, "iv"], [1, "i"],
    ];
    label = "";
    let rest = n;
    for (const [worth, numeral] of numerals) {
      for (; rest >= worth; rest -= worth) label += numeral;
    }
  }
  return type === "A" || type === "I" ? label.toUpperCase() : label;
}

function richTable(value: Params, level: number, path: string, tally: RichTally): RichBlock {
  const rows = richRequired(value, "cells", path);
  if (!Array.isArray(rows) || !rows.every(Array.isArray)) throw richError(`${path}.cells`, "must be an Array of Arrays of table cells");
  const cells = (rows as unknown[][]).map((row, r): RichBlockTableCell[] => {
    richCount(level + 1, tally);
    const checked = row.map((cell, c) => richCell(cell, level + 1, `${path}.cells[${r}][${c}]`, tally));
    const columns = checked.reduce((sum, cell) => sum + (cell.colspan ?? 1), 0);
    if (columns > RICH_LIMITS.tableColumns) throw badRequest("RICH_MESSAGE_TABLE_TOO_WIDE");
    return checked;
  });
  const caption = value["caption"] === undefined ? {} : { caption: richText(value["caption"], level, `${path}.caption`, tally) };
  return {
    type: "table",
    cells,
    ...(value["is_bordered"] === true && { is_bordered: true }),
    ...(value["is_striped"] === true && { is_striped: true }),
    ...(value["is_compact"] === true && { is_compact: true }),
    ...caption,
  };
}

function richCell(value: unknown, level: number, path: string, tally: RichTally): RichBlockTableCell {
  if (!isRecord(value)) throw richError(path, "must be a RichBlockTableCell object");
  const span = (name: "colspan" | "rowspan"): { colspan?: number } | { rowspan?: number } => {
    const n = value[name];
    if (n === undefined) return {};
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) throw richError(`${path}.${name}`, "must be a positive Integer");
    return { [name]: n };
  };
  const align = value["align"] ?? "left";
  const valign = value["valign"] ?? "top";
  if (align !== "left" && align !== "center" && align !== "right") throw richError(`${path}.align`, `must be "left", "center" or "right"`);
  if (valign !== "top" && valign !== "middle" && valign !== "bottom") throw richError(`${path}.valign`, `must be "top", "middle" or "bottom"`);
  return {
    ...(value["text"] !== undefined && { text: richText(value["text"], level, `${path}.text`, tally) }),
    ...(value["is_header"] === true && { is_header: true }),
    ...span("colspan"),
    ...span("rowspan"),
    align,
    valign,
  };
}

function richMap(value: Params, level: number, path: string, tally: RichTally): RichBlock {
  const location = richRequired(value, "location", path);
  const inRange = (n: unknown, low: number, high: number): n is number => typeof n === "number" && n >= low && n <= high;
  if (!isRecord(location) || !inRange(location["latitude"], -90, 90) || !inRange(location["longitude"], -180, 180)) {
    throw richError(`${path}.location`, "must be a Location with a latitude and a longitude");
  }
  const { zoom, width, height } = value;
  if (!inRange(zoom, 0, 24) || !Number.isInteger(zoom)) throw richError(`${path}.zoom`, "must be an Integer from 0 to 24");
  if (!inRange(width, 0, 10000) || !inRange(height, 0, 10000) || !Number.isInteger(width) || !Number.isInteger(height)) {
    throw richError(path, "width and height must be Integers from 0 to 10000");
  }
  if (width + height > 10000) throw richError(path, "width and height must not exceed 10000 in total");
  if (Math.min(width, height) > 0 && Math.max(width, height) / Math.min(width, height) > 20) {
    throw richError(path, "width and height ratio must be at most 20");
  }
  return {
    type: "map",
    location: { latitude: location["latitude"], longitude: location["longitude"] },
    // Received maps are typed with zoom levels 13-20 only.
    zoom: Math.min(20, Math.max(13, zoom)) as RichBlockMap["zoom"],
    width,
    height,
    ...richCaption(value, level, path, tally),
  };
}

function richMedia(type: RichMediaType, value: Params, level: number, path: string, tally: RichTally): RichBlock {
  const media = value[type];
  const at = `${path}.${type}`;
  if (!isRecord(media)) throw richError(at, `must be an InputMedia object of type "${type}"`);
  if (media["type"] !== type) throw richError(`${at}.type`, `must be "${type}"`);
  if (++tally.media > RICH_LIMITS.media) throw badRequest("RICH_MESSAGE_TOO_MANY_MEDIA");
  if (tally.uploadsOnly) throw richError(`${at}.media`, "must be a file uploaded before, and the fake Telegram has none");
  if (!isHttpUrl(media["media"])) {
    throw richError(`${at}.media`, "must be an HTTP or HTTPS URL (the fake Telegram takes no uploads or file_ids here)");
  }
  const caption = richCaption(value, level, path, tally);
  const spoiler = media["has_spoiler"] === true ? { has_spoiler: true as const } : {};
  const id = `rich-${type}-${tally.media}`;
  const file = { file_id: id, file_unique_id: id };
  const screen = { width: 800, height: 600, duration: 1 };
  switch (type) {
    case "photo":
      return { type, photo: [{ ...file, width: 800, height: 600 }], ...spoiler, ...caption };
    case "video":
      return { type, video: { ...file, ...screen }, ...spoiler, ...caption };
    case "animation":
      return { type, animation: { ...file, ...screen }, ...spoiler, ...caption };
    case "audio":
      return { type, audio: { ...file, duration: 1 }, ...caption };
    case "document":
      return { type, document: file, ...caption };
    case "voice_note":
      return { type, voice_note: { ...file, duration: 1 }, ...caption };
  }
}

function richButton(value: unknown, level: number, path: string, tally: RichTally): RichMessageButton {
  if (!isRecord(value)) throw richError(path, "must be a RichMessageButton object");
  const text = richText(richRequired(value, "text", path), level, `${path}.text`, tally);
  const style = value["style"];
  if (style !== undefined && !["danger", "success", "primary", "link"].includes(style as string)) {
    throw richError(`${path}.style`, `must be "danger", "success", "primary" or "link"`);
  }
  const actions = BUTTON_ACTIONS.filter((action) => value[action] !== undefined);
  if (actions.length !== 1) throw richError(path, `must have exactly one of ${BUTTON_ACTIONS.join(", ")}`);
  const data = value["callback_data"];
  if (data !== undefined && (typeof data !== "string" || data === "" || Buffer.byteLength(data) > 64)) {
    throw badRequest("BUTTON_DATA_INVALID");
  }
  const url = value["url"];
  if (url !== undefined && (typeof url !== "string" || !isButtonUrl(url))) {
    throw badRequest(`rich message button URL '${String(url)}' is invalid: Wrong HTTP URL`);
  }
  const webApp = value["web_app"];
  if (webApp !== undefined && !(isRecord(webApp) && isHttpUrl(webApp["url"], ["https:"]))) throw badRequest("BUTTON_URL_INVALID");
  return { ...value, text } as object as RichMessageButton;
}

/** A RichText inside something at nesting `level`; each formatting object is one level deeper. */
function richText(value: unknown, level: number, path: string, tally: RichTally): RichText {
  if (typeof value === "string") {
    tally.chars += codePoints(value);
    return value;
  }
  if (Array.isArray(value)) return value.map((part: unknown, index) => richText(part, level, `${path}[${index}]`, tally));
  if (!isRecord(value) || typeof value["type"] !== "string") {
    throw richError(path, "must be a String, an Array of RichText or a RichText object with a type");
  }
  const inner = level + 1;
  if (inner > RICH_LIMITS.depth) throw badRequest("RICH_MESSAGE_TOO_DEEP");
  const type = value["type"];
  const text = (): RichText => richText(richRequired(value, "text", path), inner, `${path}.text`, tally);
  const field = RICH_TEXT_WITH_FIELD.get(type);
  if (RICH_TEXT_STYLES.has(type)) {
    text();
  } else if (field !== undefined) {
    text();
    // An anchor link with an empty name leads back to the top of the message.
    richString(value, field, path, { nonEmpty: type !== "anchor_link" });
  } else {
    switch (type) {
      case "url":
        text();
        if (!isHttpUrl(value["url"])) throw richError(`${path}.url`, "must be an HTTP or HTTPS URL");
        break;
      case "date_time": {
        text();
        if (!Number.isSafeInteger(value["unix_time"])) throw richError(`${path}.unix_time`, "must be an Integer");
        const format = value["date_time_format"];
        if (typeof format !== "string" || !/^(?:r|w?[dD]?[tT]?)$/.test(format)) {
          throw richError(`${path}.date_time_format`, "must be a date-time format such as \"r\", \"wDT\" or \"d\"");
        }
        break;
      }
      case "text_mention": {
        text();
        const user = value["user"];
        if (!isRecord(user) || !Number.isSafeInteger(user["id"])) throw richError(`${path}.user`, "must be a User with an id");
        break;
      }
      case "custom_emoji":
        richString(value, "custom_emoji_id", path);
        tally.chars += codePoints(richString(value, "alternative_text", path)!);
        break;
      case "mathematical_expression":
        tally.chars += codePoints(richString(value, "expression", path)!);
        break;
      case "anchor":
        richString(value, "name", path);
        break;
      case "button":
        richButton(richRequired(value, "button", path), inner, `${path}.button`, tally);
        break;
      default:
        throw richError(`${path}.type`, `${JSON.stringify(type)} is not a supported RichText type`);
    }
  }
  return value as object as RichText;
}

/** The plain text of rich blocks: top-level blocks separated by blank lines, nested ones by line breaks. */
function richPlainText(blocks: readonly RichBlock[], separator = "\n\n"): string {
  return blocks
    .map(blockPlainText)
    .filter((text) => text !== "")
    .join(separator);
}

function blockPlainText(block: RichBlock): string {
  const lines = (...parts: (string | undefined)[]): string => parts.filter((part) => part !== undefined && part !== "").join("\n");
  const caption = (c: RichBlockCaption | undefined): string =>
    c ? lines(plainRichText(c.text), c.credit === undefined ? undefined : plainRichText(c.credit)) : "";
  const credit = (c: RichText | undefined): string | undefined => (c === undefined ? undefined : plainRichText(c));
  switch (block.type) {
    case "paragraph":
    case "heading":
    case "pre":
    case "footer":
    case "thinking":
      return plainRichText(block.text);
    case "pullquote":
    case "expandable_blockquote":
      return lines(plainRichText(block.text), credit(block.credit));
    case "divider":
    case "anchor":
      return "";
    case "mathematical_expression":
      return block.expression;
    case "list":
      return block.items.map((item) => `${item.label} ${richPlainText(item.blocks, "\n")}`).join("\n");
    case "blockquote":
      return lines(richPlainText(block.blocks, "\n"), credit(block.credit));
    case "collage":
    case "slideshow":
      return lines(richPlainText(block.blocks, "\n"), caption(block.caption));
    case "table": {
      const rows = block.cells.map((row) => row.map((cell) => (cell.text === undefined ? "" : plainRichText(cell.text))).join("\t"));
      return lines(rows.join("\n"), credit(block.caption));
    }
    case "details":
      return lines(plainRichText(block.summary), richPlainText(block.blocks, "\n"));
    case "buttons":
      return block.buttons.map((button) => plainRichText(button.text)).join(" ");
    default:
      // Maps and media: their captions.
      return caption(block.caption);
  }
}

function plainRichText(text: RichText): string {
  if (typeof text === "string") return text;
  if (Array.isArray(text)) return text.map(plainRichText).join("");
  switch (text.type) {
    case "custom_emoji":
      return text.alternative_text;
    case "mathematical_expression":
      return text.expression;
    case "anchor":
      return "";
    case "button":
      return plainRichText(text.button.text);
    default:
      return plainRichText(text.text);
  }
}

/** `{ reply_markup }` when the markup is an inline keyboard (the only kind a message shows back). */
function withMarkup(markup: ReplyMarkup | undefined): { reply_markup?: InlineKeyboardMarkup } {
  return markup && "inline_keyboard" in markup ? { reply_markup: markup } : {};
}

function sameContent(a: Message, b: Message): boolean {
  const content = (m: Message): string => JSON.stringify([m.text, m.entities ?? [], m.reply_markup ?? null]);
  return content(a) === content(b);
}

function commandsKey(scope: Params | undefined, languageCode: string | undefined): string {
  const s = scope ?? { type: "default" };
  return JSON.stringify([s["type"], s["chat_id"] ?? null, s["user_id"] ?? null, languageCode ?? ""]);
}

function unixTime(ms: number): number {
  return Math.floor(ms / 1000);
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

// ---- request decoding ----

/** The body's parameters: JSON (grammY), urlencoded or multipart form (files become "file:NAME"). */
async function readBody(req: IncomingMessage): Promise<Params> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const type = req.headers["content-type"] ?? "";
  if (body.length === 0) return {};
  if (type.startsWith("application/json")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      throw badRequest("can't parse JSON body");
    }
    if (!isRecord(parsed)) throw badRequest("JSON body must be an object");
    return parsed;
  }
  if (type.startsWith("application/x-www-form-urlencoded")) {
    return Object.fromEntries(new URLSearchParams(body.toString("utf8")));
  }
  const boundary = /^multipart\/form-data;.*\bboundary="?([^";]+)"?/i.exec(type)?.[1];
  if (boundary) return readMultipart(body, boundary);
  throw badRequest(`unsupported content type "${type}"`);
}

/**
 * A minimal multipart/form-data reader. Written here because undici's refuses grammY's
 * unquoted `filename=` (which Telegram accepts).
 */
function readMultipart(body: Buffer, boundary: string): Params {
  const params: Params = {};
  // Parts are separated by "--boundary"; binary file bytes survive latin1 round trips.
  for (const part of body.toString("latin1").split(`--${boundary}`)) {
    const split = part.indexOf("\r\n\r\n");
    if (split < 0) continue;
    const headers = part.slice(0, split);
    const name = /[;:\s]name="([^"]*)"/i.exec(headers)?.[1];
    if (name === undefined) continue;
    const filename = /filename="?([^";\r\n]*)"?/i.exec(headers)?.[1];
    const value = part.slice(split + 4).replace(/\r\n$/, "");
    params[name] = filename === undefined ? Buffer.from(value, "latin1").toString("utf8") : `file:${filename}`;
  }
  return params;
}

/** Form and query values are strings; JSON-serialized objects in them are decoded, as Telegram does. */
function normaliseParams(params: Params): Params {
  return Object.fromEntries(
    Object.entries(params).map(([key, value]) => {
      if (typeof value === "string" && /^\s*[[{]/.test(value)) {
        try {
          return [key, JSON.parse(value) as unknown];
        } catch {
          return [key, value];
        }
      }
      return [key, value];
    }),
  );
}

function isRecord(value: unknown): value is Params {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalInt(p: Params, name: string): number | undefined {
  const value = p[name];
  if (value === undefined || value === null || value === "") return undefined;
  const n = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) throw badRequest(`${name} must be an Integer`);
  return n;
}

function requiredInt(p: Params, name: string): number {
  const n = optionalInt(p, name);
  if (n === undefined) throw badRequest(`${name} is empty`);
  return n;
}

function optionalString(p: Params, name: string): string | undefined {
  const value = p[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") return String(value);
  if (typeof value !== "string") throw badRequest(`${name} must be a String`);
  return value;
}

function optionalBool(p: Params, name: string): boolean {
  const value = p[name];
  return value === true || value === "true";
}

function optionalObject(p: Params, name: string): Params | undefined {
  const value = p[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (!isRecord(value)) throw badRequest(`${name} must be an Object`);
  return value;
}
