-- Up Migration
-- A job's progress by pages (src/delivery/postgres-outbox.ts): a write rewrites only the pages of
-- the bitset that changed (8,192 deliveries each), not the whole bitset, so a send costs the same
-- whatever the audience. `newswire_jobs.progress` stays: restores write the whole bitset there,
-- and a job's progress is both OR-ed. A job's pages go with it (no page outlives its job to be
-- inherited by a job recorded later under the same id).
CREATE TABLE newswire_job_progress (
  job text NOT NULL REFERENCES newswire_jobs (id) ON DELETE CASCADE,
  page int NOT NULL,
  bits bytea NOT NULL,
  PRIMARY KEY (job, page)
);

-- Down Migration
DROP TABLE newswire_job_progress;
