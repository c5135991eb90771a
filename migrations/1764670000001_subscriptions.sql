-- Up Migration
-- Subscriptions as rows, so instances sharing the database query them by topic and change them
-- atomically (a Keyv record per subscriber held in each instance's memory missed the others' changes).
-- key is recipientKey (`chatId` or `chatId:threadId`); record holds the rest of the Subscriber
-- (kind, language, title, linkedBy, home); version is the layout version of the row.
CREATE TABLE newswire_subscriptions (
  key text PRIMARY KEY,
  chat_id bigint NOT NULL,
  thread_id bigint,
  topics text[] NOT NULL,
  record jsonb NOT NULL,
  since bigint NOT NULL,
  version int NOT NULL DEFAULT 1
);
CREATE INDEX newswire_subscriptions_chat_id ON newswire_subscriptions (chat_id);
CREATE INDEX newswire_subscriptions_topics ON newswire_subscriptions USING gin (topics);
CREATE INDEX newswire_subscriptions_linked_by ON newswire_subscriptions (((record ->> 'linkedBy')::bigint)) WHERE record ? 'linkedBy';

-- The subscribers Keyv kept in its table newswire_subscribers (key 'subscribers:<recipientKey>',
-- value the text '{"value":{...Subscriber}}'), when there is one. Keyv's serializer escapes a
-- string that begins with ':' with another ':' in front: a title's is taken off.
DO $$
BEGIN
  IF to_regclass('public.newswire_subscribers') IS NOT NULL THEN
    INSERT INTO newswire_subscriptions (key, chat_id, thread_id, topics, record, since, version)
    SELECT substr(old.key, length('subscribers:') + 1),
           (old.subscriber ->> 'chatId')::bigint,
           (old.subscriber ->> 'threadId')::bigint,
           ARRAY(SELECT jsonb_array_elements_text(old.subscriber -> 'topics')),
           (old.subscriber - ARRAY['chatId', 'threadId', 'topics', 'since', 'version'])
             || CASE WHEN old.subscriber ->> 'title' LIKE ':%'
                     THEN jsonb_build_object('title', substr(old.subscriber ->> 'title', 2)) ELSE '{}' END,
           coalesce((old.subscriber ->> 'since')::bigint, 0),
           1
    FROM (SELECT key, value::jsonb -> 'value' AS subscriber FROM public.newswire_subscribers WHERE key LIKE 'subscribers:%') AS old
    WHERE jsonb_typeof(old.subscriber) = 'object'
      AND jsonb_typeof(old.subscriber -> 'topics') = 'array'
      AND jsonb_array_length(old.subscriber -> 'topics') > 0
    ON CONFLICT (key) DO NOTHING;
  END IF;
END
$$;

-- Down Migration
DROP TABLE newswire_subscriptions;
