-- Up Migration
-- Item claims (src/items/postgres-item-claims.ts): the identity keys a poll of some instance is
-- taking in right now; `owner` names the instance, `at` when it claimed (epoch ms), so that a
-- claim left by an instance that died is taken over.
CREATE TABLE newswire_item_claims (
  key text PRIMARY KEY,
  owner text NOT NULL,
  at bigint NOT NULL
);

-- Down Migration
DROP TABLE newswire_item_claims;
