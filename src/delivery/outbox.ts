/**
 * The outbox: the durable record of what must still be sent. An item accepted for delivery is
 * written here as one job (the item and its recipients) before anything is sent, so a crash at any
 * moment loses nothing. Recording a broadcast is one write however many recipients it has; per-
 * recipient progress is a bitset per job, persisted with coalesced writes as sends complete, so after
 * a restart delivery resumes exactly where it stopped (repeating at most the sends in flight).
 */
import type Keyv from "keyv";
import type { Item } from "../items/item.js";
import { coalesce, type CoalescedWrite } from "../store/coalesce.js";
import type { Subscriber } from "./subscribers.js";

/** Who a job sends to: what the sender needs to address, pace and word a message. */
export type Target = Pick<Subscriber, "chatId" | "threadId" | "kind" | "language"> & {
  /** Receives the job's home-channel post as a forward instead of a message of its own. */
  forward?: boolean;
};

/** One item to deliver to its recipients. */
export interface Job {
  /** The item's key: one job per item, ever. */
  id: string;
  item: Item;
  /** The item's identity keys, remembered as seen whenever the job is recovered. */
  identityKeys: string[];
  targets: Target[];
  /** Index of the home channel's post in `targets`, when targets receive it as a forward. */
  homeIndex?: number;
  createdAt: number;
}

/** Where a job's home post stands, for the targets that forward it. */
export type HomePost = { state: "pending" } | { state: "posted"; chatId: number; messageId: number } | { state: "failed" };

/** One job's message to one target: what the sender works through. */
export interface Delivery {
  job: Job;
  /** The target's index in `job.targets`, its bit in the progress bitset. */
  index: number;
}

const INDEX_KEY = "index";
const jobKey = (id: string) => `job:${id}`;
const progressKey = (id: string) => `progress:${id}`;
const homeKey = (id: string) => `home:${id}`;

/** A job's progress: which targets are done (sent, or given up on for good). */
class Progress {
  readonly bits: Uint8Array;
  remaining: number;

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
    return true;
  }

  encode(): string {
    return Buffer.from(this.bits).toString("base64");
  }
}

interface OpenJob {
  job: Job;
  progress: Progress;
  persist: CoalescedWrite;
  /** The home post's message id, once it is posted. */
  homeMessageId?: number;
  /** The home post's id is not in the store yet (its write failed). */
  homeUnsaved?: boolean;
}

/** The outbox over the store's `outbox` namespace. */
export class Outbox {
  private readonly jobs = new Map<string, OpenJob>();
  /** Finished jobs whose removal from the store has not been written yet (the store failed). */
  private readonly leaving = new Set<string>();
  private readonly persistIndex: CoalescedWrite;

  private constructor(private readonly keyv: Keyv) {
    this.persistIndex = coalesce(async () => {
      await this.keyv.set(INDEX_KEY, [...this.jobs.keys()]);
    });
  }

  /** Loads every unfinished job and its progress. */
  static async open(keyv: Keyv): Promise<Outbox> {
    const outbox = new Outbox(keyv);
    const ids = (await keyv.get<string[]>(INDEX_KEY)) ?? [];
    if (ids.length === 0) return outbox;
    const jobs = await keyv.getMany<Job>(ids.map(jobKey));
    const progress = await keyv.getMany<string>(ids.map(progressKey));
    const homes = await keyv.getMany<number>(ids.map(homeKey));
    jobs.forEach((job, position) => {
      if (job) outbox.track(job, progress[position], homes[position]);
    });
    // A coalesced progress write may have saved a job's last bit just before a stop cut off the
    // index update that removes it: such a job has nothing left to send.
    const finished = [...outbox.jobs.values()].filter(({ progress }) => progress.remaining === 0).map(({ job }) => job.id);
    if (finished.length > 0) {
      for (const id of finished) outbox.jobs.delete(id);
      await outbox.persistIndex();
      await keyv.deleteMany(finished.flatMap((id) => [jobKey(id), progressKey(id), homeKey(id)]));
    }
    return outbox;
  }

  /**
   * Records jobs durably before anything is sent. Idempotent: a job already in the outbox is left
   * as it is (with its progress), so re-accepting an item after a crash sends nothing twice.
   * @returns the jobs that were new.
   */
  async enqueue(jobs: readonly Job[]): Promise<Job[]> {
    const fresh = jobs.filter((job) => !this.jobs.has(job.id) && job.targets.length > 0);
    if (fresh.length === 0) return [];
    // A job record without an index entry is invisible after a restart, so records go first.
    await this.keyv.setMany(fresh.map((job) => ({ key: jobKey(job.id), value: job })));
    await this.keyv.deleteMany(fresh.flatMap((job) => [progressKey(job.id), homeKey(job.id)]));
    for (const job of fresh) this.track(job);
    try {
      await this.persistIndex();
    } catch (error) {
      // Not accepted after all: the caller takes the items in again once the store is back.
      for (const job of fresh) this.jobs.delete(job.id);
      throw error;
    }
    return fresh;
  }

  /**
   * Writes every unfinished job held in memory back to the store (one that lost its data): its
   * record, progress and home post, then the index, so the deliveries still go out after a restart.
   */
  async restore(): Promise<void> {
    const open = [...this.jobs.values()];
    if (open.length === 0) return;
    await this.keyv.setMany(
      open.flatMap(({ job, progress, homeMessageId }) => [
        { key: jobKey(job.id), value: job },
        { key: progressKey(job.id), value: progress.encode() },
        ...(homeMessageId !== undefined ? [{ key: homeKey(job.id), value: homeMessageId }] : []),
      ]),
    );
    await this.persistIndex();
  }

  /** Every delivery not yet done, job by job in the order they were accepted. */
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
    await this.persistIndex();
    await this.keyv.deleteMany([jobKey(id), progressKey(id), homeKey(id)]);
    this.leaving.delete(id);
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
    await this.keyv.set(homeKey(open.job.id), open.homeMessageId);
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

  /** Unfinished jobs and deliveries. */
  get size(): { jobs: number; deliveries: number } {
    let deliveries = 0;
    for (const { progress } of this.jobs.values()) deliveries += progress.remaining;
    return { jobs: this.jobs.size, deliveries };
  }

  private track(job: Job, encodedProgress?: string, homeMessageId?: number): void {
    const progress = new Progress(job.targets.length, encodedProgress);
    const persist = coalesce(async () => {
      await this.keyv.set(progressKey(job.id), progress.encode());
    });
    this.jobs.set(job.id, { job, progress, persist, ...(homeMessageId !== undefined ? { homeMessageId } : {}) });
  }
}
