/**
 * The sender's queues: each chat's waiting deliveries (lanes taking turns, see FairQueue), and the
 * chats in a heap by when each may next be sent to. A chat whose next delivery forwards a home post
 * still to come is held out of the heap until that post is done; a group that became a supergroup
 * is queued under its new id. A chat with nothing waiting is forgotten (its pace is the budget's),
 * so the queues hold what is waiting, not every chat ever sent to. Memory only: the outbox is what
 * is durable.
 */
import { FairQueue } from "./fair-queue.js";
import { MinHeap } from "./heap.js";
import type { Delivery } from "./outbox.js";
import { laneOf } from "./payload.js";
import type { ChatKind } from "./subscribers.js";

export interface ChatQueue {
  chatId: number;
  kind: ChatKind;
  deliveries: FairQueue<Delivery>;
  readyAt: number;
  /** Tie-break so chats ready at the same moment take turns. */
  turn: number;
  /** Failed attempts in a row (the backoff grows with them). */
  failures: number;
  inHeap: boolean;
  /** Its head is being sent. */
  busy: boolean;
  /** Its head forwards a home post still to come: it sleeps until that post is done. */
  awaitingHome: boolean;
}

const laneOfDelivery = (delivery: Delivery): string => laneOf(delivery.job.payload);

export class ChatQueues {
  private readonly chats = new Map<number, ChatQueue>();
  private readonly migrated = new Map<number, number>();
  /** Jobs whose home post is still to come, with the chats whose next delivery forwards it. */
  private readonly awaitingHome = new Map<string, Set<ChatQueue>>();
  private readonly heap = new MinHeap<ChatQueue>((a, b) => a.readyAt < b.readyAt || (a.readyAt === b.readyAt && a.turn < b.turn));
  private turn = 0;
  private count = 0;
  /** Deliveries of chats held for a home post. */
  private held = 0;

  /** `readyAt`: when a chat may next be sent to (its pace), for a chat queued anew. */
  constructor(private readonly readyAt: (chatId: number) => number) {}

  /** Queues a delivery in its chat's queue (under the chat's current id). */
  add(delivery: Delivery): void {
    const target = delivery.job.targets[delivery.index]!;
    const chatId = this.currentChatId(target.chatId);
    let queue = this.chats.get(chatId);
    if (!queue) {
      queue = {
        chatId,
        kind: target.kind,
        deliveries: new FairQueue(laneOfDelivery),
        readyAt: this.readyAt(chatId),
        turn: 0,
        failures: 0,
        inHeap: false,
        busy: false,
        awaitingHome: false,
      };
      this.chats.set(chatId, queue);
    }
    queue.deliveries.push(delivery);
    this.count++;
    if (queue.awaitingHome) this.held++;
    this.schedule(queue);
  }

  /** Deliveries waiting (not yet sent). */
  get queued(): number {
    return this.count;
  }

  /** Deliveries waiting that are not held for a home post: those the chats' paces alone decide. */
  get sendable(): number {
    return this.count - this.held;
  }

  /** Takes a chat's head delivery out (it is done). */
  shift(queue: ChatQueue): void {
    if (queue.deliveries.shift() !== undefined) this.count--;
  }

  /** Takes out a chat's deliveries that `predicate` holds for. */
  removeWhere(queue: ChatQueue, predicate: (delivery: Delivery) => boolean): Delivery[] {
    const removed = queue.deliveries.remove(predicate);
    this.count -= removed.length;
    if (queue.awaitingHome) this.held -= removed.length;
    return removed;
  }

  /** The chat sent to next, and when it may be; undefined when none waits. */
  peek(): ChatQueue | undefined {
    return this.heap.peek();
  }

  /** Takes the next chat out of the heap to send its head; {@link schedule} puts it back. */
  take(): ChatQueue {
    const queue = this.heap.pop()!;
    queue.inHeap = false;
    queue.busy = true;
    return queue;
  }

  /** Puts a chat back in the heap when it has deliveries, and is neither busy nor held; forgets it when it has none. */
  schedule(queue: ChatQueue): void {
    if (queue.inHeap || queue.busy || queue.awaitingHome) return;
    if (queue.deliveries.length === 0) {
      // Only this queue: a chat removed while busy may have a new queue by now.
      if (this.chats.get(queue.chatId) === queue) this.chats.delete(queue.chatId);
      return;
    }
    queue.turn = this.turn++;
    queue.inHeap = true;
    this.heap.push(queue);
  }

  /** Holds a chat out of the heap until the home post of `jobId` is done. */
  holdForHome(queue: ChatQueue, jobId: string): void {
    queue.awaitingHome = true;
    this.held += queue.deliveries.length;
    const waiters = this.awaitingHome.get(jobId) ?? new Set<ChatQueue>();
    waiters.add(queue);
    this.awaitingHome.set(jobId, waiters);
  }

  /** The home post of `jobId` was sent or given up on: the chats forwarding it go on. */
  homeDone(jobId: string, now: number): void {
    const waiters = this.awaitingHome.get(jobId);
    this.awaitingHome.delete(jobId);
    for (const queue of waiters ?? []) {
      queue.awaitingHome = false;
      this.held -= queue.deliveries.length;
      queue.readyAt = Math.max(queue.readyAt, now);
      this.schedule(queue);
    }
  }

  /** Forgets a chat; resolves with the deliveries it still had. */
  remove(queue: ChatQueue): Delivery[] {
    if (this.chats.get(queue.chatId) === queue) this.chats.delete(queue.chatId);
    return this.removeWhere(queue, () => true);
  }

  /** The group became a supergroup: its deliveries, now and later, go to the new id. */
  migrate(queue: ChatQueue, toChatId: number): void {
    this.migrated.set(queue.chatId, toChatId);
    for (const delivery of this.remove(queue)) this.add(delivery);
  }

  private currentChatId(chatId: number): number {
    let current = chatId;
    for (let next = this.migrated.get(current); next !== undefined; next = this.migrated.get(current)) current = next;
    return current;
  }
}
