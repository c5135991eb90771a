-- Up Migration
-- The poll schedule (src/poller/postgres-poll-schedule.ts): per feed (its id), the last cycle (a
-- tick of POLL_CRON, its scheduled time in epoch ms) an instance claimed it for, which instance
-- (`owner`) and when (`claimed_at`, epoch ms).
CREATE TABLE newswire_poll_schedule (
  feed text PRIMARY KEY,
  cycle bigint NOT NULL,
  owner text,
  claimed_at bigint
);

-- Down Migration
DROP TABLE newswire_poll_schedule;
