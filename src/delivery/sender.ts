/**
 * The sender: works through the outbox's deliveries at Telegram's ceiling. Each chat has a queue
 * of deliveries (each feed's in order, feeds taking turns); chats wait in a heap by the time they
 * may next be sent to; every send takes its slot from the bot's one Telegram budget (broadcasts
 * after replies and alerts); a few sends run at once. A delivery leaves the outbox only when it
 * was sent or can never be (the chat is gone, the message is refused as text too).
 */
import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { GrammyError, HttpError, type Api } from "grammy";
import type { Logger } from "pino";
import { localeOf } from "../i18n/i18n.js";
import { ALL_TOPIC } from "../topics/topics.js";
import type { Permit, TelegramBudget } from "./budget.js";
import { FairQueue } from "./fair-queue.js";
import { MinHeap } from "./heap.js";
import type { Delivery, Outbox } from "./outbox.js";
import { renderItem, renderPlain, type RenderedMessage, type RenderOptions } from "./render.js";
import type { ChatKind, SubscriberStore } from "./subscribers.js";

/** What became of one attempt to send a delivery. */
export type SendOutcome =
  | { kind: "sent"; messageId: number }
  /** Not yet: the home channel's post this target forwards is still to come. */
  | { kind: "wait" }
  /** Telegram will never take this message (logged); the delivery is done. */
  | { kind: "refused"; reason: string }
  /** Try again later (429, 5xx, network). */
  | { kind: "retry"; afterMs: number; reason: string }
  /** The chat blocked the bot, left, or no longer exists. */
  | { kind: "gone"; reason: string }
  /** The forum topic the message was for no longer exists (the group itself is fine). */
  | { kind: "thread-gone"; reason: string }
  /** The group became a supergroup with this id. */
  | { kind: "migrated"; toChatId: number };

/** Counters for `/status`. */
export interface SenderStats {
  sent: number;
  tooManyRequests: number;
  failures: Record<string, number>;
}

/** Sends per second over the last minute: 60 slots, each for one epoch second. */
class MinuteCounter {
  private readonly counts = new Array<number>(60).fill(0);
  private readonly seconds = new Array<number>(60).fill(-1);

  add(now: number): void {
    const second = Math.floor(now / 1000);
    const slot = second % 60;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot]!++;
  }

  /** Sends in the 60 seconds up to `now`. */
  total(now: number): number {
    const second = Math.floor(now / 1000);
    return this.counts.reduce((sum, count, slot) => (this.seconds[slot]! > second - 60 ? sum + count : sum), 0);
  }
}

interface ChatQueue {
  chatId: number;
  kind: ChatKind;
  deliveries: FairQueue<Delivery>;
  readyAt: number;
  /** Tie-break so chats ready at the same moment take turns. */
  turn: number;
  failures: number;
  inHeap: boolean;
  busy: boolean;
  /** Its head forwards a home post still to come: it sleeps until that post is done. */
  awaitingHome: boolean;
}

/** What the sender needs. */
export interface SenderDeps {
  api: Api;
  outbox: Outbox;
  subscribers: SubscriberStore;
  logger: Logger;
  /** The bot token's budget, shared with the bot's replies and the admin alerts. */
  budget: TelegramBudget;
  /** Sends at once: enough to cover Telegram's latency at the target rate, few enough to be gentle. */
  concurrency?: number;
  paidBroadcast?: boolean;
  now?: () => number;
}

const MAX_BACKOFF_MS = 5 * 60_000;
/** The longest wait between attempts to save a change (a delivery done, a chat gone) while the store fails. */
const SAVE_MAX_BACKOFF_MS = 30_000;

/** A chat's deliveries take turns by feed. */
const feedOf = (delivery: Delivery): string => delivery.job.item.feedId;

type ApiSignal = Parameters<Api["sendMessage"]>[3];

/** Telegram's answers for a forum topic that no longer exists. */
const THREAD_GONE = /message thread not found|TOPIC_DELETED/i;

/** Classifies a failed send by Telegram's answer. */
export function classifyError(error: unknown, failures: number): SendOutcome {
  const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures, 16));
  if (error instanceof GrammyError) {
    const description = error.description;
    const retryAfter = error.parameters.retry_after;
    if (error.error_code === 429) {
      return { kind: "retry", afterMs: (retryAfter ?? 1) * 1000, reason: "429" };
    }
    if (error.parameters.migrate_to_chat_id !== undefined) {
      return { kind: "migrated", toChatId: error.parameters.migrate_to_chat_id };
    }
    if (error.error_code === 403 || /chat not found|PEER_ID_INVALID|chat was deactivated|CHANNEL_PRIVATE|need administrator rights|not enough rights to send/i.test(description)) {
      return { kind: "gone", reason: description };
    }
    if (THREAD_GONE.test(description)) return { kind: "thread-gone", reason: description };
    if (error.error_code >= 500) return { kind: "retry", afterMs: backoff, reason: `http ${error.error_code}` };
    return { kind: "refused", reason: description };
  }
  if (error instanceof HttpError) return { kind: "retry", afterMs: backoff, reason: "network" };
  return { kind: "retry", afterMs: backoff, reason: (error as Error)?.message ?? String(error) };
}

/** Whether Telegram refused the message for its text (so the plain-text rendering may pass). */
function refusedForText(reason: string): boolean {
  return /message is too long|can't parse entities|unsupported start tag|entity|text must be non-empty/i.test(reason);
}

/** Sends the outbox's deliveries; see the module comment. */
export class Sender {
  readonly stats: SenderStats = { sent: 0, tooManyRequests: 0, failures: {} };
  private readonly lastMinute = new MinuteCounter();
  /** Each job's messages, rendered once per locale and kind of chat, not once per recipient. */
  private readonly rendered = new WeakMap<Delivery["job"], Map<string, RenderedMessage>>();
  private readonly chats = new Map<number, ChatQueue>();
  private readonly migrated = new Map<number, number>();
  /** Jobs whose home post is still to come, with the chats whose next delivery forwards it. */
  private readonly awaitingHome = new Map<string, Set<ChatQueue>>();
  private readonly heap = new MinHeap<ChatQueue>((a, b) => a.readyAt < b.readyAt || (a.readyAt === b.readyAt && a.turn < b.turn));
  private readonly concurrency: number;
  private readonly now: () => number;
  /** Aborts the sends in flight (after the stop's grace). */
  private readonly abort = new AbortController();
  /** Aborts the waits for a slot (at once on stop: nothing new goes out). */
  private readonly stopWaiting = new AbortController();
  private inFlight = new Set<Promise<void>>();
  private turn = 0;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private wakeUp: (() => void) | undefined;

  constructor(private readonly deps: SenderDeps) {
    this.now = deps.now ?? deps.budget.now;
    this.concurrency = deps.concurrency ?? (deps.paidBroadcast ? 32 : 3);
    // Every send in flight listens to the stop signals; past 10, Node would warn of a leak.
    setMaxListeners(this.concurrency, this.abort.signal, this.stopWaiting.signal);
  }

  /** Queues deliveries (from newly accepted jobs, or the outbox at start). */
  add(deliveries: readonly Delivery[]): void {
    for (const delivery of deliveries) {
      const target = delivery.job.targets[delivery.index]!;
      const chatId = this.currentChatId(target.chatId);
      let queue = this.chats.get(chatId);
      if (!queue) {
        queue = { chatId, kind: target.kind, deliveries: new FairQueue(feedOf), readyAt: 0, turn: 0, failures: 0, inHeap: false, busy: false, awaitingHome: false };
        this.chats.set(chatId, queue);
      }
      queue.deliveries.push(delivery);
      this.schedule(queue);
    }
    this.wake();
  }

  /** Messages sent in the last minute, for `/status`. */
  sentLastMinute(): number {
    return this.lastMinute.total(this.now());
  }

  /** Deliveries waiting in memory (not yet sent). */
  get queued(): number {
    let count = 0;
    for (const queue of this.chats.values()) count += queue.deliveries.length;
    return count;
  }

  /** Starts sending. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /**
   * Stops taking new deliveries and waits for the sends in flight; after `graceMs` they are
   * aborted (they stay in the outbox and are sent after the next start).
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.running = false;
    this.stopWaiting.abort();
    this.wake();
    await this.loopDone;
    const timer = setTimeout(() => this.abort.abort(), graceMs);
    await Promise.allSettled([...this.inFlight]);
    clearTimeout(timer);
  }

  /** Resolves when nothing is queued or in flight (for tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.queued > 0 || this.inFlight.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  private currentChatId(chatId: number): number {
    let current = chatId;
    for (let next = this.migrated.get(current); next !== undefined; next = this.migrated.get(current)) current = next;
    return current;
  }

  private schedule(queue: ChatQueue): void {
    if (queue.inHeap || queue.busy || queue.awaitingHome || queue.deliveries.length === 0) return;
    queue.turn = this.turn++;
    queue.inHeap = true;
    this.heap.push(queue);
  }

  private wake(): void {
    this.wakeUp?.();
  }

  private async pause(ms: number | undefined): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const head = this.heap.peek();
      if (this.inFlight.size >= this.concurrency || !head) {
        await this.pause(undefined);
        continue;
      }
      const now = this.now();
      if (head.readyAt > now) {
        await this.pause(head.readyAt - now);
        continue;
      }
      this.heap.pop();
      head.inHeap = false;
      head.busy = true;
      const send = this.sendHead(head).finally(() => {
        this.inFlight.delete(send);
        head.busy = false;
        this.schedule(head);
        this.wake();
      });
      this.inFlight.add(send);
    }
  }

  private async sendHead(queue: ChatQueue): Promise<void> {
    const delivery = queue.deliveries.peek()!;
    const outcome = await this.attempt(queue, delivery);
    const now = this.now();
    // The budget knows the chat's pace and any 429 it heard; a backoff of our own may come on top.
    queue.readyAt = this.deps.budget.chatReadyAt(queue.chatId);
    switch (outcome.kind) {
      case "sent":
      case "refused":
        queue.failures = 0;
        queue.deliveries.shift();
        await this.complete(delivery);
        this.homeDone(delivery);
        return;
      case "retry":
        queue.failures++;
        queue.readyAt = Math.max(queue.readyAt, now + outcome.afterMs);
        return;
      case "wait": {
        // The home post may have been done while this attempt was returning.
        if (this.deps.outbox.homePost(delivery.job).state !== "pending") return;
        // Out of the heap until the home post is done: no polling, no tokens spent on waiting.
        queue.awaitingHome = true;
        const waiters = this.awaitingHome.get(delivery.job.id) ?? new Set<ChatQueue>();
        waiters.add(queue);
        this.awaitingHome.set(delivery.job.id, waiters);
        return;
      }
      case "gone":
        await this.dropChat(queue, outcome.reason);
        return;
      case "thread-gone":
        await this.dropThread(queue, delivery.job.targets[delivery.index]!.threadId, outcome.reason);
        return;
      case "migrated":
        await this.migrateChat(queue, outcome.toChatId);
        return;
    }
  }

  /**
   * One attempt at a delivery: a forward of the home channel's post where the target takes one
   * (once that post exists), else the HTML message, falling back to plain text when Telegram
   * refuses the HTML. The home channel's own post is recorded so the forwards can follow it.
   */
  private async attempt(queue: ChatQueue, delivery: Delivery): Promise<SendOutcome> {
    const { job, index } = delivery;
    const target = job.targets[index]!;
    if (target.forward) {
      const home = this.deps.outbox.homePost(job);
      if (home.state === "pending") return { kind: "wait" };
      if (home.state === "posted") {
        const forwarded = await this.call(queue, (signal) =>
          this.deps.api.forwardMessage(queue.chatId, home.chatId, home.messageId, { message_thread_id: target.threadId }, signal),
        );
        if (forwarded.kind !== "refused") return forwarded;
        this.deps.logger.warn({ chatId: queue.chatId, item: job.id, reason: forwarded.reason }, "forward refused; sending the message itself");
      }
    }
    const options = { locale: localeOf(target.language), share: target.kind === "channel" };
    let outcome = await this.sendMessage(queue, target.threadId, this.render(job, "html", options, renderItem));
    if (outcome.kind === "refused" && refusedForText(outcome.reason)) {
      this.deps.logger.warn({ chatId: queue.chatId, item: job.id, reason: outcome.reason }, "HTML message refused; sending as plain text");
      outcome = await this.sendMessage(queue, target.threadId, this.render(job, "plain", options, renderPlain));
    }
    // Only a message for a forum topic can lose its topic; anything else saying so is just refused.
    if (outcome.kind === "thread-gone" && target.threadId === undefined) outcome = { kind: "refused", reason: outcome.reason };
    if (outcome.kind === "refused") {
      this.deps.logger.error({ chatId: queue.chatId, item: job.id, reason: outcome.reason }, "message refused by Telegram; giving up on it");
    }
    if (outcome.kind === "sent" && index === job.homeIndex) await this.deps.outbox.recordHomePost(job, outcome.messageId);
    return outcome;
  }

  private render(job: Delivery["job"], form: string, options: RenderOptions, render: typeof renderItem): RenderedMessage {
    let forms = this.rendered.get(job);
    if (!forms) this.rendered.set(job, (forms = new Map()));
    const key = `${form}:${options.locale}:${options.share}`;
    let message = forms.get(key);
    if (!message) forms.set(key, (message = render(job.item, options)));
    return message;
  }

  private sendMessage(queue: ChatQueue, threadId: number | undefined, message: RenderedMessage): Promise<SendOutcome> {
    return this.call(queue, (signal) =>
      this.deps.api.sendMessage(
        queue.chatId,
        message.text,
        {
          parse_mode: message.parseMode,
          link_preview_options: message.linkPreview,
          message_thread_id: threadId,
          reply_markup: message.replyMarkup,
          allow_paid_broadcast: this.deps.paidBroadcast || undefined,
        },
        signal,
      ),
    );
  }

  /**
   * One Bot API call that puts a message in a chat, in a slot of the budget, with its outcome
   * classified and counted. A 429 is the sender's own to handle (nothing retries beneath its Api): the
   * budget holds the chat for retry_after, and the delivery waits in the heap meanwhile.
   */
  private async call(queue: ChatQueue, send: (signal: ApiSignal) => Promise<{ message_id: number }>): Promise<SendOutcome> {
    let permit: Permit | undefined;
    try {
      permit = await this.deps.budget.acquire({
        priority: "broadcast",
        chat: { id: queue.chatId, kind: queue.kind },
        paid: this.deps.paidBroadcast === true,
        signal: this.stopWaiting.signal,
      });
      // grammY types the signal with its own shim; Node's AbortSignal is what it uses at run time.
      const message = await send(this.abort.signal as ApiSignal);
      permit.release();
      this.stats.sent++;
      this.lastMinute.add(this.now());
      return { kind: "sent", messageId: message.message_id };
    } catch (error) {
      // No slot yet: the sender is stopping; the delivery stays in the outbox.
      if (!permit) return { kind: "retry", afterMs: 0, reason: "stopping" };
      const retryAfter = error instanceof GrammyError ? error.parameters.retry_after : undefined;
      permit?.release(retryAfter === undefined ? undefined : retryAfter * 1000);
      const outcome = classifyError(error, queue.failures);
      if (outcome.kind === "retry" && outcome.reason === "429") this.stats.tooManyRequests++;
      const kind = outcome.kind === "retry" ? outcome.reason : outcome.kind;
      this.stats.failures[kind] = (this.stats.failures[kind] ?? 0) + 1;
      if (outcome.kind === "retry") this.deps.logger.warn({ chatId: queue.chatId, reason: outcome.reason, retryInMs: outcome.afterMs }, "send failed; will retry");
      return outcome;
    }
  }

  /**
   * Saves a change to the store, retrying with backoff while the store fails (the failure itself
   * is logged once by the store's health). The chat waits meanwhile. A stop gives up (false): the
   * deliveries the change was about stay in the outbox, and after the restart they are sent again
   * and meet the same outcome, so the change is made then.
   */
  private async save(what: string, context: object, write: () => Promise<unknown>): Promise<boolean> {
    for (let failures = 0; ; failures++) {
      try {
        await write();
        return true;
      } catch (error) {
        if (this.abort.signal.aborted) return false;
        const retryInMs = Math.min(SAVE_MAX_BACKOFF_MS, 500 * 2 ** failures);
        this.deps.logger.debug({ ...context, retryInMs, err: (error as Error).message }, `${what} not saved; will retry`);
        await sleep(retryInMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
  }

  /** Records a delivery as done (see {@link save}). */
  private async complete(delivery: Delivery): Promise<void> {
    await this.save("delivery done", { item: delivery.job.id }, () => this.deps.outbox.complete(delivery));
  }

  /** After a home post is sent or given up on, the chats forwarding it go on. */
  private homeDone(delivery: Delivery): void {
    if (delivery.index !== delivery.job.homeIndex) return;
    const waiters = this.awaitingHome.get(delivery.job.id);
    this.awaitingHome.delete(delivery.job.id);
    for (const queue of waiters ?? []) {
      queue.awaitingHome = false;
      queue.readyAt = Math.max(queue.readyAt, this.now());
      this.schedule(queue);
    }
    this.wake();
  }

  // The subscriber changes below are saved before the deliveries they end are done: were it the
  // other way round, a store failing in between would leave a subscription whose deliveries are
  // gone, and nothing would ever end it.

  /** A deleted forum topic: its subscription and queued messages end; the chat's others go on. */
  private async dropThread(queue: ChatQueue, threadId: number | undefined, reason: string): Promise<void> {
    this.deps.logger.info({ chatId: queue.chatId, threadId, reason }, "forum topic is gone; ending its subscription");
    const inThread = (delivery: Delivery) => delivery.job.targets[delivery.index]!.threadId === threadId;
    const dropped = queue.deliveries.remove(inThread);
    const recipient = { chatId: queue.chatId, threadId };
    if (!(await this.save("end of a forum topic's subscription", recipient, () => this.deps.subscribers.unsubscribe(recipient, [ALL_TOPIC])))) return;
    for (const delivery of dropped) {
      await this.complete(delivery);
      this.homeDone(delivery);
    }
  }

  private async dropChat(queue: ChatQueue, reason: string): Promise<void> {
    this.deps.logger.info({ chatId: queue.chatId, reason }, "chat is gone; ending its subscriptions");
    this.chats.delete(queue.chatId);
    const deliveries = queue.deliveries.drain();
    if (!(await this.save("end of a chat's subscriptions", { chatId: queue.chatId }, () => this.deps.subscribers.removeChat(queue.chatId)))) return;
    for (const delivery of deliveries) {
      await this.complete(delivery);
      this.homeDone(delivery);
    }
  }

  private async migrateChat(queue: ChatQueue, toChatId: number): Promise<void> {
    this.deps.logger.info({ chatId: queue.chatId, toChatId }, "group became a supergroup; moving its subscriptions");
    const moved = () => this.deps.subscribers.migrateChat(queue.chatId, toChatId);
    if (!(await this.save("move of a group's subscriptions", { chatId: queue.chatId, toChatId }, moved))) return;
    this.migrated.set(queue.chatId, toChatId);
    this.chats.delete(queue.chatId);
    const deliveries = queue.deliveries.drain();
    this.add(deliveries);
  }
}
