/**
 * The outbox: the durable record of what must still be sent. An item accepted for delivery is
 * written here as one job (the item and its recipients) before anything is sent, so a crash at any
 * moment loses nothing. Recording a broadcast is one write however many recipients it has; per-
 * recipient progress is a bitset per job, persisted with coalesced writes as sends complete, so after
 * a restart delivery resumes exactly where it stopped (repeating at most the sends in flight). The
 * sender takes a job's deliveries as it has room for them (a cursor per job), so a broadcast to
 * many chats is held as the job, not as an object per recipient.
 */
import type Keyv from "keyv";
import type { Item } from "../items/item.js";
import { coalesce, type CoalescedWrite } from "../store/coalesce.js";
import { KeyvOutboxStore, PROGRESS_PAGE_BYTES, type OutboxStore, type StoredJob } from "./outbox-store.js";
import type { Payload } from "./payload.js";
import type { Subscriber } from "./subscribers.js";

/** Who a job sends to: what the sender needs to address, pace and word a message. */
export type Target = Pick<Subscriber, "chatId" | "threadId" | "kind" | "language"> & {
  /** Receives the job's home-channel post as a forward instead of a message of its own. */
  forward?: boolean;
  /** Without a sound (`disable_notification`): the chat's quiet hours. */
  silent?: boolean;
};

/** One payload to deliver to its recipients. */
export interface Job {
  /** One job per id, ever: an item's job has the item's key. */
  id: string;
  payload: Payload;
  /** Identity keys remembered as seen whenever the job is recovered (an item's). */
  identityKeys: string[];
  targets: Target[];
  /** Index of the home channel's post in `targets`, when targets receive it as a forward. */
  homeIndex?: number;
  createdAt: number;
}

/** The layout version of a stored job: 2 since a job carries a payload (1 carried its `item`). */
export const JOB_VERSION = 2;

/** A job as any version stored it. */
export type StoredJobRecord = (Job & { version?: number; item?: Item }) | (Omit<Job, "payload"> & { item: Item; version?: number });

/**
 * A job as stored today. An item's job carries its item as version 1 did too, so an instance of
 * the release before (in a rolling upgrade, or after a rollback) still reads and sends it.
 */
export function storedJob(job: Job): StoredJobRecord {
  return { version: JOB_VERSION, ...job, ...(job.payload.kind === "item" ? { item: job.payload.item } : {}) };
}

/** A stored job in today's layout: one of version 1 (an item) becomes an item payload. */
export function readJob(record: StoredJobRecord): Job {
  if ("payload" in record) {
    const { version: _version, item: _item, ...job } = record;
    return job;
  }
  const { item, version: _version, ...rest } = record;
  return { ...rest, payload: { kind: "item", item } };
}

/** Where a job's home post stands, for the targets that forward it. */
export type HomePost = { state: "pending" } | { state: "posted"; chatId: number; messageId: number } | { state: "failed" };

/** One job's message to one target: what the sender works through. */
export interface Delivery {
  job: Job;
  /** The target's index in `job.targets`, its bit in the progress bitset. */
  index: number;
}

/**
 * A job's progress: which targets are done (sent, or given up on for good). Written by pages:
 * those with a bit set since the last write.
 */
class Progress {
  readonly bits: Uint8Array;
  remaining: number;
  private readonly dirty = new Set<number>();

  constructor(size: number, encoded?: string) {
    this.bits = new Uint8Array(Math.ceil(size / 8));
    if (encoded) this.bits.set(Buffer.from(encoded, "base64").subarray(0, this.bits.length));
    this.remaining = size;
    for (let index = 0; index < size; index++) if (this.has(index)) this.remaining--;
  }

  has(index: number): boolean {
    return (this.bits[index >> 3]! & (1 << (index & 7))) !== 0;
  }

  /** Sets the bit; false when it was already set. */
  set(index: number): boolean {
    if (this.has(index)) return false;
    this.bits[index >> 3]! |= 1 << (index & 7);
    this.remaining--;
    this.dirty.add(Math.floor((index >> 3) / PROGRESS_PAGE_BYTES));
    return true;
  }

  encode(): string {
    return Buffer.from(this.bits).toString("base64");
  }

  /** The pages changed since the last call (number → bytes, base64), now counted as written. */
  takeChanged(): Map<number, string> {
    const pages = new Map<number, string>();
    for (const page of this.dirty) {
      const start = page * PROGRESS_PAGE_BYTES;
      pages.set(page, Buffer.from(this.bits.subarray(start, start + PROGRESS_PAGE_BYTES)).toString("base64"));
    }
    this.dirty.clear();
    return pages;
  }

  /** Pages whose write failed: the next write takes them again. */
  unwritten(pages: Iterable<number>): void {
    for (const page of pages) this.dirty.add(page);
  }
}

interface OpenJob {
  job: Job;
  progress: Progress;
  /** The cursor: targets before it were handed to the sender (or were done already). */
  next: number;
  persist: CoalescedWrite;
  /** The home post's message id, once it is posted. */
  homeMessageId?: number;
  /** The home post's id is not in the store yet (its write failed). */
  homeUnsaved?: boolean;
}

/** Tells the sender that deliveries wait to be taken ({@link Outbox.take}). */
export type Ready = () => void;

/**
 * The outbox over an {@link OutboxStore}. Every instance records jobs in it; the one that sends
 * (the only one on an embedded store) also tracks them: their progress, their home posts, and
 * which deliveries are still to be made, handed to the sender exactly once each.
 */
export class Outbox {
  /** The jobs this instance sends, by id. */
  private readonly jobs = new Map<string, OpenJob>();
  /** Tracked jobs with targets not yet handed out, in the order they were tracked. */
  private readonly handing: OpenJob[] = [];
  /** Finished jobs whose removal from the store has not been written yet (the store failed). */
  private readonly leaving = new Set<string>();
  /** Jobs this instance is recording right now: tracked by {@link enqueue} itself once recorded. */
  private readonly recording = new Set<string>();
  /** Reads of the store under way, and the jobs removed meanwhile (which those reads may still return). */
  private loads = 0;
  private readonly removedWhileLoading = new Set<string>();
  private tracking = false;
  private ready: Ready | undefined;

  /**
   * `remember` marks the items of jobs loaded from the store as seen before they are sent: the
   * instance (or the run before a crash) that accepted one may have died before it remembered it.
   */
  constructor(
    private readonly store: OutboxStore,
    private readonly remember: (jobs: readonly Job[]) => Promise<void> = async () => undefined,
  ) {}

  /** An embedded outbox over the store's `outbox` namespace, tracking every unfinished job (one instance). */
  static async open(keyv: Keyv, remember?: (jobs: readonly Job[]) => Promise<void>): Promise<Outbox> {
    const outbox = new Outbox(await KeyvOutboxStore.open(keyv), remember);
    await outbox.resume();
    return outbox;
  }

  /** Whether this instance tracks (and so sends) the outbox's jobs. */
  get sending(): boolean {
    return this.tracking;
  }

  /**
   * Makes this instance the one that sends: every unfinished job is tracked, and so is every job
   * recorded from now on, here or (see {@link adopt}) by another instance; `ready` is called
   * whenever there are deliveries to {@link take}, now first.
   */
  async startSending(ready: Ready): Promise<void> {
    await this.resume();
    this.ready = ready;
    ready();
  }

  /**
   * Takes in the jobs other instances recorded since the last look, their deliveries ready to take.
   * @returns how many jobs were new here.
   */
  async adopt(): Promise<number> {
    const taken = await this.resume();
    if (taken > 0) this.ready?.();
    return taken;
  }

  /**
   * Hands out up to `limit` deliveries not handed out before, job by job in the order they were
   * tracked (each chat's order of arrival), each once; none before {@link startSending}.
   */
  take(limit: number): Delivery[] {
    const deliveries: Delivery[] = [];
    if (!this.ready) return deliveries;
    while (deliveries.length < limit && this.handing.length > 0) {
      const open = this.handing[0]!;
      const { job, progress } = open;
      // A job that finished or left (with bits done before it was loaded) has nothing to hand out.
      if (this.jobs.get(job.id) === open) {
        while (open.next < job.targets.length && deliveries.length < limit) {
          const index = open.next++;
          if (!progress.has(index)) deliveries.push({ job, index });
        }
        if (open.next < job.targets.length) break;
      }
      this.handing.shift();
    }
    return deliveries;
  }

  /** Whether deliveries wait to be taken. */
  get untaken(): boolean {
    return this.ready !== undefined && this.handing.some((open) => this.jobs.get(open.job.id) === open && open.next < open.job.targets.length);
  }

  /**
   * Tracks every unfinished job of the store not tracked yet; a job whose last bit was saved just
   * before a stop cut off its removal has nothing left to send, and is removed.
   * @returns how many jobs are now tracked with deliveries to make.
   */
  private async resume(): Promise<number> {
    this.tracking = true;
    const known = (id: string) => this.jobs.has(id) || this.leaving.has(id) || this.recording.has(id) || this.removedWhileLoading.has(id);
    this.loads++;
    let stored: StoredJob[];
    try {
      stored = (await this.store.load(new Set([...this.jobs.keys(), ...this.leaving, ...this.recording]))).filter(({ job }) => !known(job.id));
      if (stored.length > 0) await this.remember(stored.map(({ job }) => job));
    } finally {
      this.loads--;
    }
    let taken = 0;
    const finished: Job[] = [];
    for (const { job, progress, homeMessageId } of stored) {
      // Recorded or finished here meanwhile.
      if (known(job.id)) continue;
      const open = this.track(job, progress, homeMessageId);
      if (open.progress.remaining > 0) taken++;
      else {
        this.jobs.delete(job.id);
        finished.push(job);
      }
    }
    if (this.loads === 0) this.removedWhileLoading.clear();
    // Not tracked any more: a removal that fails now is made when the next look loads them again.
    if (finished.length > 0) await this.store.remove(finished).catch(() => undefined);
    return taken;
  }

  /**
   * Records jobs durably before anything is sent. Idempotent: a job already in the outbox is left
   * as it is (with its progress), so re-accepting an item after a crash sends nothing twice.
   * @returns the jobs that were new.
   */
  async enqueue(jobs: readonly Job[]): Promise<Job[]> {
    const candidates = jobs.filter((job) => !this.jobs.has(job.id) && !this.recording.has(job.id) && job.targets.length > 0);
    if (candidates.length === 0) return [];
    for (const job of candidates) this.recording.add(job.id);
    let fresh: Job[];
    try {
      const inserted = await this.store.insert(candidates);
      fresh = candidates.filter((job) => inserted.has(job.id));
    } finally {
      for (const job of candidates) this.recording.delete(job.id);
    }
    if (this.tracking) {
      for (const job of fresh) this.track(job);
      if (fresh.length > 0) this.ready?.();
    }
    return fresh;
  }

  /**
   * Writes every unfinished job held in memory back to the store (one that lost its data): its
   * record, progress and home post, so the deliveries still go out after a restart.
   */
  async restore(): Promise<void> {
    await this.store.restore(
      [...this.jobs.values()].map(({ job, progress, homeMessageId }) => ({
        job,
        progress: progress.encode(),
        ...(homeMessageId !== undefined ? { homeMessageId } : {}),
      })),
    );
  }

  /** Every delivery not yet done, job by job in the order they were accepted (handed out or not). */
  pending(): Delivery[] {
    const deliveries: Delivery[] = [];
    for (const { job, progress } of this.jobs.values()) {
      job.targets.forEach((_, index) => {
        if (!progress.has(index)) deliveries.push({ job, index });
      });
    }
    return deliveries;
  }

  /** Every unfinished job. */
  openJobs(): Job[] {
    return [...this.jobs.values()].map(({ job }) => job);
  }

  /**
   * Marks a delivery done (sent, or given up on for good) and resolves once that is durable.
   * A job whose deliveries are all done leaves the outbox. When the store fails this rejects, and
   * calling it again for the same delivery retries the write.
   */
  async complete(delivery: Delivery): Promise<void> {
    const id = delivery.job.id;
    const open = this.jobs.get(id);
    if (open) {
      if (delivery.index === open.job.homeIndex) await this.saveHomePost(open);
      open.progress.set(delivery.index);
      if (open.progress.remaining > 0) {
        await open.persist();
        return;
      }
      this.jobs.delete(id);
      this.leaving.add(id);
    }
    if (!this.leaving.has(id)) return;
    await this.store.remove([delivery.job]);
    this.leaving.delete(id);
    if (this.loads > 0) this.removedWhileLoading.add(id);
  }

  /**
   * Records the home channel's post of a job, durably, before that delivery is completed: after a
   * restart the forwards still know which message to forward. The forwards may go on at once; if
   * the store write fails (its health reports that), it is made again by that delivery's
   * {@link complete}, which rejects until it works.
   */
  async recordHomePost(job: Job, messageId: number): Promise<void> {
    const open = this.jobs.get(job.id);
    if (!open) return;
    open.homeMessageId = messageId;
    open.homeUnsaved = true;
    await this.saveHomePost(open).catch(() => undefined);
  }

  private async saveHomePost(open: OpenJob): Promise<void> {
    if (!open.homeUnsaved) return;
    await this.store.saveHomePost(open.job.id, open.homeMessageId!);
    open.homeUnsaved = false;
  }

  /** The home post of a job: pending, posted (with its message), or failed (forwards send normally). */
  homePost(job: Job): HomePost {
    const open = this.jobs.get(job.id);
    const homeIndex = job.homeIndex;
    if (!open || homeIndex === undefined) return { state: "failed" };
    if (open.homeMessageId !== undefined) {
      return { state: "posted", chatId: job.targets[homeIndex]!.chatId, messageId: open.homeMessageId };
    }
    return open.progress.has(homeIndex) ? { state: "failed" } : { state: "pending" };
  }

  /** Whether the store holds no job, recorded by any instance (this one may track none of them). */
  isEmpty(): Promise<boolean> {
    return this.store.isEmpty();
  }

  /** Unfinished jobs and deliveries this instance tracks. */
  get size(): { jobs: number; deliveries: number } {
    let deliveries = 0;
    for (const { progress } of this.jobs.values()) deliveries += progress.remaining;
    return { jobs: this.jobs.size, deliveries };
  }

  private track(job: Job, encodedProgress?: string, homeMessageId?: number): OpenJob {
    const progress = new Progress(job.targets.length, encodedProgress);
    const persist = coalesce(async () => {
      const pages = progress.takeChanged();
      try {
        await this.store.saveProgress(job.id, pages);
      } catch (error) {
        progress.unwritten(pages.keys());
        throw error;
      }
    });
    const open: OpenJob = { job, progress, next: 0, persist, ...(homeMessageId !== undefined ? { homeMessageId } : {}) };
    this.jobs.set(job.id, open);
    this.handing.push(open);
    return open;
  }
}
