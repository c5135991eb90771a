-- Up Migration
-- The outbox on PostgreSQL (src/delivery/postgres-outbox.ts): one row per unfinished job, written
-- by whichever instance accepted the item and sent by the one instance holding the sender lease.
-- `job` is the job as JSON in format `version`; `progress` its bitset of done deliveries (base64);
-- `home_message_id` the home channel's post; `seq` the order jobs were recorded in.
CREATE TABLE newswire_jobs (
  id text PRIMARY KEY,
  seq bigserial NOT NULL,
  version int NOT NULL,
  job jsonb NOT NULL,
  progress text,
  home_message_id bigint,
  created_at bigint NOT NULL
);

-- Down Migration
DROP TABLE newswire_jobs;
