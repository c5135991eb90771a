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
  /** The whole progress bitset (base64), absent before the first delivery is done. */
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
  /**
   * Writes the pages of a job's progress bitset that changed (page number → its bytes, base64; see
   * {@link PROGRESS_PAGE_BYTES}), so a write costs the same whatever the job's audience.
   */
  saveProgress(id: string, pages: ReadonlyMap<number, string>): Promise<void>;
  saveHomePost(id: string, messageId: number): Promise<void>;
  /** Removes finished jobs (their targets say how many progress pages each has). */
  remove(jobs: readonly Job[]): Promise<void>;
  /** Writes unfinished jobs back as they are (the store lost its data). */
  restore(jobs: readonly StoredJob[]): Promise<void>;
  /** Whether no job is recorded, by any instance. */
  isEmpty(): Promise<boolean>;
}

/** Bytes in a page of a progress bitset: 8,192 targets. */
export const PROGRESS_PAGE_BYTES = 1024;

/** How many pages a bitset of `targets` bits has. */
export const progressPages = (targets: number): number => Math.ceil(targets / 8 / PROGRESS_PAGE_BYTES);

/**
 * The whole bitset (base64) of `targets` bits from its stored parts: a whole bitset as written
 * by a restore (or a release before pages) and pages (base64, by number). Bits only get set, so
 * the parts are OR-ed: each holds some of the done deliveries, none undoes another's.
 */
export function joinProgress(targets: number, whole: string | undefined, pages: ReadonlyMap<number, string>): string | undefined {
  if (whole === undefined && pages.size === 0) return undefined;
  const bits = new Uint8Array(Math.ceil(targets / 8));
  if (whole !== undefined) bits.set(Buffer.from(whole, "base64").subarray(0, bits.length));
  for (const [page, encoded] of pages) {
    const offset = page * PROGRESS_PAGE_BYTES;
    Buffer.from(encoded, "base64")
      .subarray(0, Math.max(0, bits.length - offset))
      .forEach((byte, at) => (bits[offset + at]! |= byte));
  }
  return Buffer.from(bits).toString("base64");
}

const INDEX_KEY = "index";
const jobKey = (id: string) => `job:${id}`;
/** A whole bitset: written by restore (and by releases before pages). */
const progressKey = (id: string) => `progress:${id}`;
const pageKey = (id: string, page: number) => `progress:${id}:${page}`;
const homeKey = (id: string) => `home:${id}`;
/** Every progress key of a job of `targets` targets. */
const progressKeys = (id: string, targets: number) => [progressKey(id), ...Array.from({ length: progressPages(targets) }, (_, page) => pageKey(id, page))];

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
    await this.keyv.deleteMany(fresh.flatMap((job) => [...progressKeys(job.id, job.targets.length), homeKey(job.id)]));
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
    const [records, homes] = await Promise.all([this.keyv.getMany<StoredJobRecord>(ids.map(jobKey)), this.keyv.getMany<number>(ids.map(homeKey))]);
    const jobs = records.map((record) => (record ? readJob(record) : undefined));
    const keys = jobs.map((job) => (job ? progressKeys(job.id, job.targets.length) : []));
    const progress = await this.keyv.getMany<string>(keys.flat());
    let at = 0;
    return jobs.flatMap((job, position) => {
      const [whole, ...pages] = progress.slice(at, (at += keys[position]!.length));
      if (!job) return [];
      const written = new Map(pages.flatMap((page, number) => (page ? [[number, page] as const] : [])));
      return [{ job, ...optional("progress", joinProgress(job.targets.length, whole ?? undefined, written)), ...optional("homeMessageId", homes[position]) }];
    });
  }

  async isEmpty(): Promise<boolean> {
    return this.ids.size === 0;
  }

  async saveProgress(id: string, pages: ReadonlyMap<number, string>): Promise<void> {
    if (pages.size === 0) return;
    await this.keyv.setMany([...pages].map(([page, encoded]) => ({ key: pageKey(id, page), value: encoded })));
  }

  async saveHomePost(id: string, messageId: number): Promise<void> {
    await this.keyv.set(homeKey(id), messageId);
  }

  async remove(jobs: readonly Job[]): Promise<void> {
    for (const { id } of jobs) this.ids.delete(id);
    await this.saveIndex();
    await this.keyv.deleteMany(jobs.flatMap(({ id, targets }) => [jobKey(id), ...progressKeys(id, targets.length), homeKey(id)]));
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
