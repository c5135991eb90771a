/**
 * The outbox on PostgreSQL: one table every instance records jobs in (an item accepted by two
 * instances at once is one row: the insert does nothing on a conflict) and the sending instance
 * reads, so a job recorded anywhere is sent, and a sender that dies leaves every job, with its
 * progress, to the next one.
 */
import type { Postgres } from "../store/postgres.js";
import type { Job } from "./outbox.js";
import type { OutboxStore, StoredJob } from "./outbox-store.js";

/** The format of the stored job (the `Job` interface), raised when it changes incompatibly. */
const JOB_VERSION = 1;

/** Rows go in id order, so two instances inserting overlapping batches wait instead of deadlocking. */
const INSERT = `
  INSERT INTO newswire_jobs (id, version, job, created_at)
  SELECT job ->> 'id', $2, job, (job ->> 'createdAt')::bigint
  FROM jsonb_array_elements($1::jsonb) AS job
  ORDER BY job ->> 'id'
  ON CONFLICT (id) DO NOTHING
  RETURNING id`;

const LOAD = `
  SELECT job, progress, home_message_id FROM newswire_jobs
  WHERE NOT (id = ANY($1::text[]))
  ORDER BY seq`;

/** Jobs in the table `newswire_jobs` (migrations/1764670000005_jobs.sql). */
export class PostgresOutboxStore implements OutboxStore {
  constructor(private readonly database: Postgres) {}

  async insert(jobs: readonly Job[]): Promise<Set<string>> {
    if (jobs.length === 0) return new Set();
    const rows = await this.database.query<{ id: string }>(INSERT, [JSON.stringify(jobs), JOB_VERSION]);
    return new Set(rows.map(({ id }) => id));
  }

  async load(except: ReadonlySet<string>): Promise<StoredJob[]> {
    const rows = await this.database.query<{ job: Job; progress: string | null; home_message_id: string | null }>(LOAD, [[...except]]);
    return rows.map(({ job, progress, home_message_id: home }) => ({
      job,
      ...(progress !== null ? { progress } : {}),
      ...(home !== null ? { homeMessageId: Number(home) } : {}),
    }));
  }

  async saveProgress(id: string, encoded: string): Promise<void> {
    await this.database.query("UPDATE newswire_jobs SET progress = $2 WHERE id = $1", [id, encoded]);
  }

  async saveHomePost(id: string, messageId: number): Promise<void> {
    await this.database.query("UPDATE newswire_jobs SET home_message_id = $2 WHERE id = $1", [id, messageId]);
  }

  async remove(ids: readonly string[]): Promise<void> {
    await this.database.query("DELETE FROM newswire_jobs WHERE id = ANY($1::text[])", [[...ids]]);
  }

  async restore(jobs: readonly StoredJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.insert(jobs.map(({ job }) => job));
    for (const { job, progress, homeMessageId } of jobs) {
      if (progress !== undefined) await this.saveProgress(job.id, progress);
      if (homeMessageId !== undefined) await this.saveHomePost(job.id, homeMessageId);
    }
  }
}
