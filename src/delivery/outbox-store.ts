/**
 * Where the outbox keeps its jobs: a narrow port with an embedded side (Keyv, one instance) and a
 * PostgreSQL side (src/delivery/postgres-outbox.ts, shared by every instance), so the outbox does
 * not know which it runs on.
 */
import type Keyv from "keyv";
import { coalesce } from "../store/coalesce.js";
import { readJob, storedJob, type Job, type StoredJobRecord } from "./outbox.js";

/** A job as stored, with where its deliveries stand. */
export interface StoredJob {
  job: Job;
  /** The progress bitset (base64), absent before the first delivery is done. */
  progress?: string;
  /** The home channel's post, once it is posted. */
  homeMessageId?: number;
}

/** The outbox's storage. Every method rejects when the store fails. */
export interface OutboxStore {
  /**
   * Records jobs durably, leaving any already recorded as it is (with its progress), so that
   * re-accepting an item after a crash sends nothing twice.
   * @returns the ids of the jobs that were new.
   */
  insert(jobs: readonly Job[]): Promise<Set<string>>;
  /** Every unfinished job except those named, in the order they were recorded. */
  load(except: ReadonlySet<string>): Promise<StoredJob[]>;
  saveProgress(id: string, encoded: string): Promise<void>;
  saveHomePost(id: string, messageId: number): Promise<void>;
  /** Removes finished jobs. */
  remove(ids: readonly string[]): Promise<void>;
  /** Writes unfinished jobs back as they are (the store lost its data). */
  restore(jobs: readonly StoredJob[]): Promise<void>;
  /** Whether no job is recorded, by any instance. */
  isEmpty(): Promise<boolean>;
}

const INDEX_KEY = "index";
const jobKey = (id: string) => `job:${id}`;
const progressKey = (id: string) => `progress:${id}`;
const homeKey = (id: string) => `home:${id}`;

/**
 * The outbox on the store's `outbox` namespace: a record, a progress bitset and a home post per
 * job, and one index of the unfinished jobs. One instance owns the namespace (the instance lease),
 * so the index is held in memory and written whole; recording a job is one write however many
 * recipients it has.
 */
export class KeyvOutboxStore implements OutboxStore {
  private readonly ids: Set<string>;
  /** Many jobs finish at once: their index updates share writes. */
  private readonly saveIndex = coalesce(async () => {
    await this.keyv.set(INDEX_KEY, [...this.ids]);
  });

  private constructor(
    private readonly keyv: Keyv,
    ids: readonly string[],
  ) {
    this.ids = new Set(ids);
  }

  static async open(keyv: Keyv): Promise<KeyvOutboxStore> {
    return new KeyvOutboxStore(keyv, (await keyv.get<string[]>(INDEX_KEY)) ?? []);
  }

  async insert(jobs: readonly Job[]): Promise<Set<string>> {
    const fresh = jobs.filter((job) => !this.ids.has(job.id));
    if (fresh.length === 0) return new Set();
    // A job record without an index entry is invisible after a restart, so records go first.
    await this.keyv.setMany(fresh.map((job) => ({ key: jobKey(job.id), value: storedJob(job) })));
    await this.keyv.deleteMany(fresh.flatMap((job) => [progressKey(job.id), homeKey(job.id)]));
    for (const job of fresh) this.ids.add(job.id);
    try {
      await this.saveIndex();
    } catch (error) {
      for (const job of fresh) this.ids.delete(job.id);
      throw error;
    }
    return new Set(fresh.map((job) => job.id));
  }

  async load(except: ReadonlySet<string>): Promise<StoredJob[]> {
    const ids = [...this.ids].filter((id) => !except.has(id));
    if (ids.length === 0) return [];
    const [jobs, progress, homes] = await Promise.all([
      this.keyv.getMany<StoredJobRecord>(ids.map(jobKey)),
      this.keyv.getMany<string>(ids.map(progressKey)),
      this.keyv.getMany<number>(ids.map(homeKey)),
    ]);
    return jobs.flatMap((job, position) =>
      job ? [{ job: readJob(job), ...optional("progress", progress[position]), ...optional("homeMessageId", homes[position]) }] : [],
    );
  }

  async isEmpty(): Promise<boolean> {
    return this.ids.size === 0;
  }

  async saveProgress(id: string, encoded: string): Promise<void> {
    await this.keyv.set(progressKey(id), encoded);
  }

  async saveHomePost(id: string, messageId: number): Promise<void> {
    await this.keyv.set(homeKey(id), messageId);
  }

  async remove(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.ids.delete(id);
    await this.saveIndex();
    await this.keyv.deleteMany(ids.flatMap((id) => [jobKey(id), progressKey(id), homeKey(id)]));
  }

  async restore(jobs: readonly StoredJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.keyv.setMany(
      jobs.flatMap(({ job, progress, homeMessageId }) => [
        { key: jobKey(job.id), value: storedJob(job) },
        ...(progress !== undefined ? [{ key: progressKey(job.id), value: progress }] : []),
        ...(homeMessageId !== undefined ? [{ key: homeKey(job.id), value: homeMessageId }] : []),
      ]),
    );
    for (const { job } of jobs) this.ids.add(job.id);
    await this.saveIndex();
  }
}

/** `{ [name]: value }` when the value is there, `{}` otherwise (exactOptionalPropertyTypes). */
const optional = <Name extends string, Value>(name: Name, value: Value | undefined): { [key in Name]?: Value } =>
  (value === undefined || value === null ? {} : { [name]: value }) as { [key in Name]?: Value };
