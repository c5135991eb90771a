-- Up Migration
-- The archive of items (src/items/postgres-archive.ts): every item accepted, kept for
-- ARCHIVE_DAYS after `stored_at` (epoch ms), found by `words`, its search terms as newswire computes them
-- (src/items/search-words.ts; the title's weighted A). `at` is the item's publication time,
-- `ref` the short reference in callback data and inline results, `version` the format of
-- `item` and `article` (the page's text, when it was read). It takes over from
-- newswire_recent_items, whose rows an instance moves here when it starts.
CREATE TABLE newswire_archive (
  key text PRIMARY KEY,
  ref text NOT NULL UNIQUE,
  at bigint NOT NULL,
  stored_at bigint NOT NULL,
  topics text[] NOT NULL,
  item jsonb NOT NULL,
  article jsonb,
  words tsvector NOT NULL,
  version int NOT NULL
);
CREATE INDEX newswire_archive_words ON newswire_archive USING gin (words);
CREATE INDEX newswire_archive_topics ON newswire_archive USING gin (topics);
CREATE INDEX newswire_archive_at ON newswire_archive (at DESC, key);
CREATE INDEX newswire_archive_stored_at ON newswire_archive (stored_at);

-- Down Migration
DROP TABLE newswire_archive;
