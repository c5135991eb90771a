-- Up Migration
-- Held items (src/delivery/postgres-held-items.ts): items chats take later, in a digest. A row per
-- recipient (recipientKey) and item, `until` when it is due (epoch ms); the items once each in
-- newswire_held_item_texts, kept past any digest (`expires_at`, epoch ms).
CREATE TABLE newswire_held (
  recipient text NOT NULL,
  chat_id bigint NOT NULL,
  thread_id bigint,
  item_key text NOT NULL,
  until bigint NOT NULL,
  PRIMARY KEY (recipient, item_key)
);
CREATE INDEX newswire_held_until ON newswire_held (until);
CREATE TABLE newswire_held_item_texts (
  key text PRIMARY KEY,
  item jsonb NOT NULL,
  version integer NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX newswire_held_item_texts_expires_at ON newswire_held_item_texts (expires_at);

-- Down Migration
DROP TABLE newswire_held_item_texts;
DROP TABLE newswire_held;
