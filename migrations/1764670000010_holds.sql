-- Up Migration
-- Held items (src/delivery/postgres-held-items.ts), not Keyv's namespace `held` (its table is newswire_held):
-- items chats take later, in a digest. A row per recipient (recipientKey) and item, `until` when it is due (epoch ms); the items once each in
-- newswire_hold_items, kept past any digest (`expires_at`, epoch ms).
CREATE TABLE newswire_holds (
  recipient text NOT NULL,
  chat_id bigint NOT NULL,
  thread_id bigint,
  item_key text NOT NULL,
  until bigint NOT NULL,
  PRIMARY KEY (recipient, item_key)
);
CREATE INDEX newswire_holds_until ON newswire_holds (until);
-- The sweep of items no row holds, and a group's move to its supergroup.
CREATE INDEX newswire_holds_item_key ON newswire_holds (item_key);
CREATE INDEX newswire_holds_chat_id ON newswire_holds (chat_id);
CREATE TABLE newswire_hold_items (
  key text PRIMARY KEY,
  item jsonb NOT NULL,
  version integer NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX newswire_hold_items_expires_at ON newswire_hold_items (expires_at);

-- Down Migration
DROP TABLE newswire_hold_items;
DROP TABLE newswire_holds;
