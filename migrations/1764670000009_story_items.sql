-- Up Migration
-- Stories' items (src/stories/postgres-story-items.ts): every instance's accepted items of the
-- story window, so each instance's story index knows the items the others took in, and the
-- sending instance can render a story's message again. `stored_at` is the database's clock (an
-- instance catches up from it); `expires_at` epoch ms.
CREATE TABLE newswire_story_items (
  key text PRIMARY KEY,
  item jsonb NOT NULL,
  version integer NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at bigint NOT NULL
);
CREATE INDEX newswire_story_items_stored_at ON newswire_story_items (stored_at);
CREATE INDEX newswire_story_items_expires_at ON newswire_story_items (expires_at);

-- Down Migration
DROP TABLE newswire_story_items;
