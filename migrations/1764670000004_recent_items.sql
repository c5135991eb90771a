-- Up Migration
-- Recent items for /latest, shared by every instance (src/items/postgres-recent.ts): `at` is the
-- item's publication time (newest first), `expires_at` when it is no longer kept (both epoch ms),
-- `version` the format of `item`.
CREATE TABLE newswire_recent_items (
  key text PRIMARY KEY,
  at bigint NOT NULL,
  topics text[] NOT NULL,
  item jsonb NOT NULL,
  version int NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX newswire_recent_items_topics ON newswire_recent_items USING gin (topics);
CREATE INDEX newswire_recent_items_at ON newswire_recent_items (at DESC, key);

-- Down Migration
DROP TABLE newswire_recent_items;
