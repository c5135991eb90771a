/**
 * The outbox on PostgreSQL: one table every instance records jobs in (an item accepted by two
 * instances at once is one row: the insert does nothing on a conflict) and the sending instance
 * reads, so a job recorded anywhere is sent, and a sender that dies leaves every job, with its
 * progress, to the next one.
 */
import type Keyv from "keyv";
import type { Postgres } from "../store/postgres.js";
import { JOB_VERSION, readJob, storedJob, type Job, type StoredJobRecord } from "./outbox.js";
import { joinProgress, KeyvOutboxStore, type OutboxStore, type StoredJob } from "./outbox-store.js";

/**
 * One batch's jobs share a number of the sequence and keep their places in it (the order each
 * chat gets them in); rows go in id order, so two instances inserting overlapping batches wait
 * for each other instead of deadlocking.
 */
const INSERT = `
  WITH batch AS (SELECT nextval('newswire_jobs_seq') AS seq)
  INSERT INTO newswire_jobs (id, seq, position, version, job)
  SELECT job ->> 'id', batch.seq, position, $2, job
  FROM batch, jsonb_array_elements($1::jsonb) WITH ORDINALITY AS jobs (job, position)
  ORDER BY job ->> 'id'
  ON CONFLICT (id) DO NOTHING
  RETURNING id`;

/** Jobs written back whole, with where they stand: one statement however many. */
const RESTORE = `
  WITH batch AS (SELECT nextval('newswire_jobs_seq') AS seq)
  INSERT INTO newswire_jobs (id, seq, position, version, job, progress, home_message_id)
  SELECT entry -> 'job' ->> 'id', batch.seq, position, $2, entry -> 'job', entry ->> 'progress', (entry ->> 'homeMessageId')::bigint
  FROM batch, jsonb_array_elements($1::jsonb) WITH ORDINALITY AS entries (entry, position)
  ORDER BY entry -> 'job' ->> 'id'
  ON CONFLICT (id) DO UPDATE SET
    progress = COALESCE(EXCLUDED.progress, newswire_jobs.progress),
    home_message_id = COALESCE(EXCLUDED.home_message_id, newswire_jobs.home_message_id)`;

/** Each job with its pages (page → base64), in one statement: one snapshot of both. */
const LOAD = `
  SELECT jobs.job, jobs.progress, jobs.home_message_id, pages.pages FROM newswire_jobs AS jobs
  LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(page, encode(bits, 'base64')) AS pages FROM newswire_job_progress WHERE job = jobs.id
  ) AS pages ON true
  WHERE NOT (jobs.id = ANY($1::text[]))
  ORDER BY jobs.seq, jobs.position`;

/**
 * The job's row is locked against removal first: a write racing the job's removal either goes
 * before it (and its pages go with the job) or finds no job and writes nothing.
 */
const SAVE_PAGES = `
  WITH parent AS (SELECT id FROM newswire_jobs WHERE id = $1 FOR KEY SHARE)
  INSERT INTO newswire_job_progress (job, page, bits)
  SELECT parent.id, page, decode(bits, 'base64') FROM parent, unnest($2::int[], $3::text[]) AS pages (page, bits)
  ON CONFLICT (job, page) DO UPDATE SET bits = EXCLUDED.bits`;

/**
 * Jobs in the table `newswire_jobs` (migrations/1764670000005_jobs.sql), their progress pages in
 * `newswire_job_progress` (migrations/1764670000008_job_progress.sql).
 */
export class PostgresOutboxStore implements OutboxStore {
  constructor(private readonly database: Postgres) {}

  /**
   * Moves the jobs newswire 0.x kept in the Keyv namespace (`legacy`) into the table, with their
   * progress, so that an upgrade sends what was still queued. Idempotent: instances starting at
   * once may each move them.
   */
  async takeOver(legacy: Keyv): Promise<number> {
    const old = await KeyvOutboxStore.open(legacy);
    const jobs = await old.load(new Set());
    if (jobs.length === 0) return 0;
    await this.restore(jobs);
    await old.remove(jobs.map(({ job }) => job));
    return jobs.length;
  }

  async insert(jobs: readonly Job[]): Promise<Set<string>> {
    if (jobs.length === 0) return new Set();
    const rows = await this.database.query<{ id: string }>(INSERT, [JSON.stringify(jobs.map(storedJob)), JOB_VERSION]);
    return new Set(rows.map(({ id }) => id));
  }

  async load(except: ReadonlySet<string>): Promise<StoredJob[]> {
    const rows = await this.database.query<{ job: StoredJobRecord; progress: string | null; home_message_id: string | null; pages: Record<string, string> | null }>(LOAD, [
      [...except],
    ]);
    return rows.map(({ job: record, progress, home_message_id: home, pages }) => {
      const job = readJob(record);
      const written = new Map(Object.entries(pages ?? {}).map(([page, bits]) => [Number(page), bits] as const));
      const joined = joinProgress(job.targets.length, progress ?? undefined, written);
      return { job, ...(joined !== undefined ? { progress: joined } : {}), ...(home !== null ? { homeMessageId: Number(home) } : {}) };
    });
  }

  async isEmpty(): Promise<boolean> {
    return (await this.database.query("SELECT 1 FROM newswire_jobs LIMIT 1")).length === 0;
  }

  async saveProgress(id: string, pages: ReadonlyMap<number, string>): Promise<void> {
    if (pages.size === 0) return;
    await this.database.query(SAVE_PAGES, [id, [...pages.keys()], [...pages.values()]]);
  }

  async saveHomePost(id: string, messageId: number): Promise<void> {
    await this.database.query("UPDATE newswire_jobs SET home_message_id = $2 WHERE id = $1", [id, messageId]);
  }

  async remove(jobs: readonly Job[]): Promise<void> {
    await this.database.query("DELETE FROM newswire_jobs WHERE id = ANY($1::text[])", [jobs.map(({ id }) => id)]);
  }

  async restore(jobs: readonly StoredJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.database.query(RESTORE, [JSON.stringify(jobs.map((stored) => ({ ...stored, job: storedJob(stored.job) }))), JOB_VERSION]);
  }
}
