-- Up Migration
-- The outbox on PostgreSQL (src/delivery/postgres-outbox.ts): one row per unfinished job, written
-- by whichever instance accepted the item and sent by the one instance holding the sender lease.
-- `job` is the job as JSON in format `version`; `progress` its bitset of done deliveries (base64);
-- `home_message_id` the home channel's post. Jobs are sent in the order recorded: by `seq` (one per
-- insert statement's batch) and `position` within the batch.
CREATE TABLE newswire_jobs (
  id text PRIMARY KEY,
  seq bigint NOT NULL,
  position int NOT NULL,
  version int NOT NULL,
  job jsonb NOT NULL,
  progress text,
  home_message_id bigint
);
CREATE SEQUENCE newswire_jobs_seq;

-- Down Migration
DROP TABLE newswire_jobs;
DROP SEQUENCE newswire_jobs_seq;
