/**
 * The sender: works through the outbox's deliveries at Telegram's ceiling. It takes the next chat
 * that may be sent to (ChatQueues), makes one attempt at its next delivery (a forward of the home
 * channel's post, or the payload's message: HTML, then plain text), and acts on the outcome: the
 * delivery is done, retried later, or its chat is gone, moved or lost its forum topic. A few sends
 * run at once, each in a slot of the token's one budget (TelegramCalls). A delivery leaves the
 * outbox only when it was sent or can never be.
 */
import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { Api } from "grammy";
import type { Logger } from "pino";
import { localeOf } from "../i18n/i18n.js";
import { ALL_TOPIC } from "../topics/topics.js";
import type { TelegramBudget } from "./budget.js";
import { ChatQueues, type ChatQueue } from "./chat-queues.js";
import type { HeldItemStore } from "./held-items.js";
import type { Delivery, Outbox } from "./outbox.js";
import type { Item } from "../items/item.js";
import type { StoryItemStore } from "../stories/story-items.js";
import { Renderings, storyOf } from "./payload.js";
import { renderItem, renderPlain, type RenderOptions } from "./render.js";
import { refusedForText, type SendOutcome } from "./send-outcome.js";
import { SendStats, type SenderStats } from "./send-stats.js";
import { STORY_MESSAGE_VERSION, type StoryMessage, type StoryMessages } from "./story-messages.js";
import { recipientKey, type SubscriberStore } from "./subscribers.js";
import { TelegramCalls, type CallTarget } from "./telegram-calls.js";

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
  /** Deliveries held in the sender's queues (see QUEUE_WINDOW). */
  queueWindow?: number;
  /**
   * Stories (when clustering is on): what each chat holds of a story, and the stories' items, so
   * that a later source of a story edits the chat's message of it instead of sending another.
   */
  stories?: { messages: StoryMessages; items: StoryItemStore };
  /** Items held for chats' digests: a group's move to a supergroup takes them along. */
  held?: HeldItemStore;
  now?: () => number;
}

/** The longest wait between attempts to save a change (a delivery done, a chat gone) while the store fails. */
const SAVE_MAX_BACKOFF_MS = 30_000;

/**
 * Deliveries the sender takes from the outbox into its queues: while fewer are queued, it takes
 * more. A broadcast costs memory for these, not for each of its recipients.
 */
const QUEUE_WINDOW = 5_000;

/**
 * While no queued chat may be sent to yet (each waits for its pace), it takes more, up to this
 * many windows: other chats further on in the outbox need not wait behind a few slow ones.
 */
const QUEUE_WINDOWS_MAX = 10;

/** Stories with a later source remembered at most: older ones are forgotten first. */
const JOINED_STORIES_MAX = 10_000;

/** Sends the outbox's deliveries; see the module comment. */
export class Sender {
  private readonly counters = new SendStats();
  private readonly renderings = new Renderings();
  private readonly queues: ChatQueues;
  private readonly calls: TelegramCalls;
  private readonly concurrency: number;
  private readonly window: number;
  private readonly now: () => number;
  /** Aborts the sends in flight (after the stop's grace). */
  private readonly abort = new AbortController();
  /** Aborts the waits for a slot (at once on stop: nothing new goes out). */
  private readonly stopWaiting = new AbortController();
  private inFlight = new Set<Promise<void>>();
  /** Deliveries to gone recipients being recorded as done (see {@link takeUpTo}). */
  private readonly abandoning = new Set<Promise<void>>();
  /**
   * Recipients found gone in this run (a chat's id, or a forum thread's recipient key), with when:
   * their deliveries still in the outbox, of jobs accepted before that, are given up on as they are
   * taken, instead of being sent to meet the same answer once per job.
   */
  private readonly gone = new Map<string, number>();
  /**
   * Stories a later source of which this run has sent: only their deliveries look up what a chat
   * holds, so the first source's broadcast does not read the store once per send.
   */
  private readonly joinedStories = new Set<string>();
  /** Jobs found in the outbox at start (see {@link start}). */
  private readonly recovered = new Set<string>();
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private wakeUp: (() => void) | undefined;

  constructor(private readonly deps: SenderDeps) {
    this.now = deps.now ?? deps.budget.now;
    this.concurrency = deps.concurrency ?? (deps.paidBroadcast ? 32 : 3);
    this.window = deps.queueWindow ?? QUEUE_WINDOW;
    this.queues = new ChatQueues((chatId) => deps.budget.chatReadyAt(chatId));
    // Every send in flight listens to the stop signals; past 10, Node would warn of a leak.
    setMaxListeners(this.concurrency, this.abort.signal, this.stopWaiting.signal);
    this.calls = new TelegramCalls({
      api: deps.api,
      budget: deps.budget,
      stats: this.counters,
      logger: deps.logger,
      ...(deps.paidBroadcast !== undefined ? { paidBroadcast: deps.paidBroadcast } : {}),
      now: this.now,
      stopWaiting: this.stopWaiting.signal,
      abort: this.abort.signal,
    });
  }

  /** Counters for `/status`. */
  get stats(): SenderStats {
    return this.counters;
  }

  /** The outbox has deliveries to take (see {@link Outbox.startSending}). */
  deliveriesReady(): void {
    this.wake();
  }

  /** Messages sent in the last minute, for `/status`. */
  sentLastMinute(): number {
    return this.counters.sentInMinuteTo(this.now());
  }

  /** Deliveries waiting in memory (not yet sent). */
  get queued(): number {
    return this.queues.queued;
  }

  /** Starts sending. */
  start(): void {
    if (this.running) return;
    this.running = true;
    // The jobs found at start (after a restart, or taken over from another instance): a chat may
    // have got a later source of their stories before, so their deliveries look up what it holds.
    for (const job of this.deps.outbox.openJobs()) {
      this.recovered.add(job.id);
      const story = storyOf(job.payload);
      if (story && story.storyId !== story.item.key) this.noteJoined(story.storyId);
    }
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
    await Promise.allSettled([...this.inFlight, ...this.abandoning]);
    clearTimeout(timer);
    await this.deps.stories?.messages.flush().catch((error: unknown) => this.deps.logger.warn({ err: (error as Error).message }, "story messages not saved at stop"));
  }

  /** Resolves when nothing is queued, in flight or waiting in the outbox to be taken (for tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.queued > 0 || this.inFlight.size > 0 || this.abandoning.size > 0 || this.deps.outbox.untaken) await new Promise((resolve) => setTimeout(resolve, 20));
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

  /**
   * Takes deliveries from the outbox up to `upTo` queued (not counting those held for a home post,
   * which wait for one send, not for the chats' paces); whether it took any.
   */
  private takeUpTo(upTo: number): boolean {
    const limit = upTo - this.queues.sendable;
    const deliveries = this.deps.outbox.take(limit);
    const toGone: Delivery[] = [];
    for (const delivery of deliveries) {
      if (this.isGone(delivery)) toGone.push(delivery);
      else this.queues.add(delivery);
    }
    // The outbox has handed out everything: none of its deliveries to a recipient found gone is left.
    if (deliveries.length < limit) this.gone.clear();
    if (toGone.length > 0) {
      const abandoned = this.abandon(toGone).finally(() => this.abandoning.delete(abandoned));
      this.abandoning.add(abandoned);
    }
    return deliveries.length > 0;
  }

  private isGone({ job, index }: Delivery): boolean {
    if (this.gone.size === 0) return false;
    const target = job.targets[index]!;
    const since = this.gone.get(recipientKey({ chatId: target.chatId })) ?? this.gone.get(recipientKey(target));
    return since !== undefined && job.createdAt <= since;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.takeUpTo(this.window);
      const head = this.queues.peek();
      if (this.inFlight.size >= this.concurrency) {
        await this.pause(undefined);
        continue;
      }
      const now = this.now();
      if (!head || head.readyAt > now) {
        if (this.takeUpTo(Math.min(this.window * QUEUE_WINDOWS_MAX, this.queues.sendable + this.window))) continue;
        await this.pause(head ? head.readyAt - now : undefined);
        continue;
      }
      const queue = this.queues.take();
      const send = this.sendHead(queue).finally(() => {
        this.inFlight.delete(send);
        queue.busy = false;
        this.queues.schedule(queue);
        this.wake();
      });
      this.inFlight.add(send);
    }
  }

  private async sendHead(queue: ChatQueue): Promise<void> {
    const delivery = queue.deliveries.peek()!;
    let outcome: SendOutcome;
    try {
      outcome = await this.attempt(queue, delivery);
    } catch (error) {
      // A store read that failed (what a chat holds of a story, its item): the delivery waits, as
      // for a network error; the store's health tells of the failure.
      const afterMs = Math.min(SAVE_MAX_BACKOFF_MS, 1000 * 2 ** Math.min(queue.failures, 16));
      this.deps.logger.debug({ chatId: queue.chatId, job: delivery.job.id, retryInMs: afterMs, err: (error as Error).message }, "delivery not attempted; will retry");
      outcome = { kind: "retry", afterMs, reason: (error as Error).message };
    }
    const now = this.now();
    // The budget knows the chat's pace and any 429 it heard; a backoff of our own may come on top.
    queue.readyAt = this.deps.budget.chatReadyAt(queue.chatId);
    switch (outcome.kind) {
      case "sent":
      case "refused":
        queue.failures = 0;
        this.queues.shift(queue);
        await this.complete(delivery);
        this.homeDone(delivery);
        return;
      case "retry":
        queue.failures++;
        queue.readyAt = Math.max(queue.readyAt, now + outcome.afterMs);
        return;
      case "wait":
        // The home post may have been done while this attempt was returning.
        if (this.deps.outbox.homePost(delivery.job).state !== "pending") return;
        // Out of the heap until the home post is done: no polling, no tokens spent on waiting.
        this.queues.holdForHome(queue, delivery.job.id);
        return;
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
   * One attempt at a delivery. A later source of a story the chat holds a message of edits that
   * message to name it; anything else is sent (see {@link send}). The home channel's own post is
   * recorded so the forwards can follow it, and a story's message so later sources can edit it.
   */
  private async attempt(queue: ChatQueue, delivery: Delivery): Promise<SendOutcome> {
    const { job, index } = delivery;
    const target = job.targets[index]!;
    const to: CallTarget = { chatId: queue.chatId, kind: queue.kind, threadId: target.threadId, failures: queue.failures, ...(target.silent ? { silent: true } : {}) };
    const options = { locale: localeOf(target.language), share: target.kind === "channel" };
    const story = this.deps.stories ? storyOf(job.payload) : undefined;
    const recipient = { chatId: queue.chatId, threadId: target.threadId };
    let outcome: SendOutcome | undefined;
    if (story) {
      if (story.storyId !== story.item.key) this.noteJoined(story.storyId);
      const look = this.joinedStories.has(story.storyId) || this.recovered.has(job.id);
      const held = look ? await this.deps.stories!.messages.held(story.storyId, recipient) : undefined;
      if (held) outcome = await this.addSource(to, delivery, story, held, options);
    }
    if (!outcome) {
      const sent = await this.send(to, delivery, options);
      outcome = sent.outcome;
      if (story && outcome.kind === "sent") {
        const message: StoryMessage = { version: STORY_MESSAGE_VERSION, messageId: outcome.messageId, editable: !sent.forwarded, itemKey: story.item.key, others: [] };
        this.deps.stories!.messages.record(story.storyId, recipient, message);
      }
    }
    if (outcome.kind === "sent" && index === job.homeIndex) await this.deps.outbox.recordHomePost(job, outcome.messageId);
    return outcome;
  }

  private noteJoined(storyId: string): void {
    if (this.joinedStories.has(storyId)) return;
    // A Set iterates in insertion order: the first is the oldest.
    if (this.joinedStories.size >= JOINED_STORIES_MAX) this.joinedStories.delete(this.joinedStories.values().next().value!);
    this.joinedStories.add(storyId);
  }

  /**
   * Edits the chat's message of the story to name this source too ("Also in: …"). Undefined when
   * the message cannot be edited any more (deleted, too old, its item gone): the source is then
   * sent as a message of its own. A chat whose message is a forward of the home channel's post
   * (not the bot's to edit) has the story already: the delivery is done.
   */
  private async addSource(
    to: CallTarget,
    { job }: Delivery,
    { storyId, item }: { storyId: string; item: Item },
    held: StoryMessage,
    options: RenderOptions,
  ): Promise<SendOutcome | undefined> {
    const done: SendOutcome = { kind: "sent", messageId: held.messageId };
    // Named already: an attempt repeated after a crash, or the source the message shows.
    if (held.itemKey === item.key || held.others.some((other) => other.key === item.key)) return done;
    if (!held.editable) return done;
    const shown = await this.deps.stories!.items.get(held.itemKey);
    if (!shown) return undefined;
    const others = [...held.others, { key: item.key, source: item.source, ...(item.link ? { link: item.link } : {}) }];
    let outcome = await this.calls.edit(to, held.messageId, renderItem(shown, options, others));
    if (outcome.kind === "refused" && refusedForText(outcome.reason)) outcome = await this.calls.edit(to, held.messageId, renderPlain(shown, options, others));
    if (outcome.kind === "refused" || outcome.kind === "thread-gone") {
      this.deps.logger.info({ chatId: to.chatId, job: job.id, story: storyId, reason: outcome.reason }, "story's message cannot be edited; sending this source as a message of its own");
      return undefined;
    }
    if (outcome.kind === "sent") this.deps.stories!.messages.record(storyId, { chatId: to.chatId, threadId: to.threadId }, { ...held, others });
    return outcome;
  }

  /**
   * Sends a delivery: a forward of the home channel's post where the target takes one (once that
   * post exists), else the payload's HTML message, falling back to plain text when Telegram
   * refuses the HTML.
   */
  private async send(to: CallTarget, { job, index }: Delivery, options: RenderOptions): Promise<{ outcome: SendOutcome; forwarded: boolean }> {
    const target = job.targets[index]!;
    if (target.forward) {
      const home = this.deps.outbox.homePost(job);
      if (home.state === "pending") return { outcome: { kind: "wait" }, forwarded: false };
      if (home.state === "posted") {
        const forwarded = await this.calls.forward(to, home);
        if (forwarded.kind !== "refused") return { outcome: forwarded, forwarded: true };
        this.deps.logger.warn({ chatId: to.chatId, job: job.id, reason: forwarded.reason }, "forward refused; sending the message itself");
      }
    }
    let outcome = await this.calls.message(to, this.renderings.of(job.payload, "html", options));
    if (outcome.kind === "refused" && refusedForText(outcome.reason)) {
      this.deps.logger.warn({ chatId: to.chatId, job: job.id, reason: outcome.reason }, "HTML message refused; sending as plain text");
      outcome = await this.calls.message(to, this.renderings.of(job.payload, "plain", options));
    }
    // Only a message for a forum topic can lose its topic; anything else saying so is just refused.
    if (outcome.kind === "thread-gone" && target.threadId === undefined) outcome = { kind: "refused", reason: outcome.reason };
    if (outcome.kind === "refused") {
      this.deps.logger.error({ chatId: to.chatId, job: job.id, reason: outcome.reason }, "message refused by Telegram; giving up on it");
    }
    return { outcome, forwarded: false };
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
    await this.save("delivery done", { job: delivery.job.id }, () => this.deps.outbox.complete(delivery));
  }

  /** After a home post is sent or given up on, the chats forwarding it go on. */
  private homeDone(delivery: Delivery): void {
    if (delivery.index !== delivery.job.homeIndex) return;
    this.queues.homeDone(delivery.job.id, this.now());
    this.wake();
  }

  /** Completes deliveries that can never be made (their chat or topic is gone). */
  private async abandon(deliveries: readonly Delivery[]): Promise<void> {
    for (const delivery of deliveries) {
      await this.complete(delivery);
      this.homeDone(delivery);
    }
  }

  // The subscriber changes below are saved before the deliveries they end are done: were it the
  // other way round, a store failing in between would leave a subscription whose deliveries are
  // gone, and nothing would ever end it.

  /** A deleted forum topic: its subscription and queued messages end; the chat's others go on. */
  private async dropThread(queue: ChatQueue, threadId: number | undefined, reason: string): Promise<void> {
    this.deps.logger.info({ chatId: queue.chatId, threadId, reason }, "forum topic is gone; ending its subscription");
    const dropped = this.queues.removeWhere(queue, (delivery) => delivery.job.targets[delivery.index]!.threadId === threadId);
    const recipient = { chatId: queue.chatId, threadId };
    if (!(await this.save("end of a forum topic's subscription", recipient, () => this.deps.subscribers.unsubscribe(recipient, [ALL_TOPIC])))) return;
    this.gone.set(recipientKey(recipient), this.now());
    await this.abandon(dropped);
  }

  private async dropChat(queue: ChatQueue, reason: string): Promise<void> {
    this.deps.logger.info({ chatId: queue.chatId, reason }, "chat is gone; ending its subscriptions");
    const dropped = this.queues.remove(queue);
    if (!(await this.save("end of a chat's subscriptions", { chatId: queue.chatId }, () => this.deps.subscribers.removeChat(queue.chatId)))) return;
    this.gone.set(recipientKey({ chatId: queue.chatId }), this.now());
    await this.abandon(dropped);
  }

  private async migrateChat(queue: ChatQueue, toChatId: number): Promise<void> {
    this.deps.logger.info({ chatId: queue.chatId, toChatId }, "group became a supergroup; moving its subscriptions");
    const moved = () => Promise.all([this.deps.subscribers.migrateChat(queue.chatId, toChatId), this.deps.held?.migrateChat(queue.chatId, toChatId)]);
    if (!(await this.save("move of a group's subscriptions", { chatId: queue.chatId, toChatId }, moved))) return;
    this.queues.migrate(queue, toChatId);
    this.wake();
  }
}
