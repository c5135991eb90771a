import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseFeedReadingSettings, parseSettings } from "../../src/config/settings.js";
import { ConfigError } from "../../src/config/errors.js";

const TOKEN = "123456:ABC-def_ghi";

/** Parses `env` with a valid token unless `env` says otherwise. */
const parse = (env: Record<string, string | undefined>) => parseSettings({ BOT_TOKEN: TOKEN, ...env });

/** Asserts that `env` is refused with a one-line ConfigError starting with `name`. */
function assertRejected(env: Record<string, string | undefined>, name: string, mentions?: RegExp): void {
  assert.throws(
    () => parse(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      assert.ok(error.message.startsWith(`${name} `), `"${error.message}" should start with ${name}`);
      assert.ok(!error.message.includes("\n"), `"${error.message}" should be one line`);
      if (mentions) assert.match(error.message, mentions);
      return true;
    },
  );
}

describe("parseSettings defaults", () => {
  const settings = parse({});

  test("every optional setting has its documented default", () => {
    assert.equal(settings.botToken, TOKEN);
    assert.equal(settings.apiRoot, "https://api.telegram.org");
    assert.deepEqual(settings.configFile, { path: "./newswire.yaml", explicit: false });
    assert.deepEqual(settings.feedUrls, []);
    assert.equal(settings.storeUrl, "sqlite://data/newswire.sqlite");
    assert.equal(settings.pollCron, "*/5 * * * *");
    assert.deepEqual(settings.adminIds, []);
    assert.equal(settings.logLevel, "info");
    assert.equal(settings.paidBroadcast, false);
    assert.equal(settings.feedConcurrency, 8);
    assert.equal(settings.sendConcurrency, undefined, "unset: the sender's own default");
    assert.equal(settings.fetchTimeoutMs, 15_000);
    assert.equal(settings.maxFeedBytes, 10 * 1024 * 1024);
    assert.equal(settings.allowPrivateArticles, false);
  });

  test("empty values (as a .env or compose file leaves them) mean the default", () => {
    const empty = parse({
      TELEGRAM_API_ROOT: "",
      CONFIG_FILE: "",
      FEEDS: "",
      STORE_URL: " ",
      POLL_CRON: "",
      ADMIN_IDS: "",
      LOG_LEVEL: "",
      PAID_BROADCAST: "",
      FEED_CONCURRENCY: "",
      FETCH_TIMEOUT_MS: "",
      MAX_FEED_BYTES: "",
      ALLOW_PRIVATE_ARTICLES: "",
    });
    assert.deepEqual(empty, settings);
  });
});

describe("parseSettings values", () => {
  test("reads every setting", () => {
    const settings = parse({
      TELEGRAM_API_ROOT: "http://localhost:8081/",
      CONFIG_FILE: "/etc/newswire.yml",
      FEEDS: " https://a.example/rss , http://b.example/atom.xml,,",
      STORE_URL: "redis://localhost:6379",
      POLL_CRON: "*/30 * * * * *",
      ADMIN_IDS: "42, 7",
      LOG_LEVEL: "DEBUG",
      PAID_BROADCAST: "yes",
      FEED_CONCURRENCY: "3",
      FETCH_TIMEOUT_MS: "2000",
      MAX_FEED_BYTES: "1024",
      ALLOW_PRIVATE_ARTICLES: "on",
    });
    assert.equal(settings.apiRoot, "http://localhost:8081", "trailing slash removed (grammY refuses it)");
    assert.deepEqual(settings.configFile, { path: "/etc/newswire.yml", explicit: true });
    assert.deepEqual(settings.feedUrls, ["https://a.example/rss", "http://b.example/atom.xml"]);
    assert.equal(settings.storeUrl, "redis://localhost:6379");
    assert.equal(settings.pollCron, "*/30 * * * * *");
    assert.deepEqual(settings.adminIds, [42, 7]);
    assert.equal(settings.logLevel, "debug");
    assert.equal(settings.paidBroadcast, true);
    assert.equal(settings.feedConcurrency, 3);
    assert.equal(settings.fetchTimeoutMs, 2000);
    assert.equal(settings.maxFeedBytes, 1024);
    assert.equal(settings.allowPrivateArticles, true);
  });

  test("accepts every store scheme", () => {
    for (const url of ["sqlite://x.db", "redis://h", "rediss://h", "postgres://u@h/db", "postgresql://u@h/db"]) {
      assert.equal(parse({ STORE_URL: url }).storeUrl, url);
    }
  });

  test("booleans take the usual spellings", () => {
    for (const yes of ["1", "true", "TRUE", "on", "yes"]) assert.equal(parse({ PAID_BROADCAST: yes }).paidBroadcast, true);
    for (const no of ["0", "false", "off", "no"]) assert.equal(parse({ PAID_BROADCAST: no }).paidBroadcast, false);
  });

  test("SEND_CONCURRENCY overrides the sender's default", () => {
    assert.equal(parse({ SEND_CONCURRENCY: "8" }).sendConcurrency, 8);
  });

  test("the token is trimmed", () => {
    assert.equal(parse({ BOT_TOKEN: `  ${TOKEN}\n` }).botToken, TOKEN);
  });
});

describe("parseSettings errors", () => {
  test("a missing or empty BOT_TOKEN is required", () => {
    assert.throws(() => parseSettings({}), (error: unknown) => error instanceof ConfigError && /^BOT_TOKEN is required/.test(error.message));
    assertRejected({ BOT_TOKEN: "" }, "BOT_TOKEN", /required/);
    assertRejected({ BOT_TOKEN: "   " }, "BOT_TOKEN", /required/);
  });

  test("a malformed BOT_TOKEN is named and never printed", () => {
    assertRejected({ BOT_TOKEN: "not-a-token" }, "BOT_TOKEN");
    assert.throws(() => parse({ BOT_TOKEN: "secret token value" }), (error: Error) => !error.message.includes("secret"));
  });

  test("each kind of bad value names its setting in one line", () => {
    const cases: [Record<string, string>, string, RegExp?][] = [
      [{ TELEGRAM_API_ROOT: "ftp://example.org" }, "TELEGRAM_API_ROOT", /http/],
      [{ TELEGRAM_API_ROOT: "not a url" }, "TELEGRAM_API_ROOT"],
      [{ FEEDS: "https://ok.example/rss,notaurl" }, "FEEDS", /notaurl/],
      [{ FEEDS: "file:///etc/passwd" }, "FEEDS"],
      [{ STORE_URL: "mysql://localhost/db" }, "STORE_URL", /sqlite/],
      [{ STORE_URL: "data/newswire.sqlite" }, "STORE_URL"],
      [{ POLL_CRON: "every five minutes" }, "POLL_CRON", /cron/],
      [{ POLL_CRON: "61 * * * *" }, "POLL_CRON"],
      [{ ADMIN_IDS: "42,bob" }, "ADMIN_IDS", /42,bob/],
      [{ ADMIN_IDS: "1.5" }, "ADMIN_IDS"],
      [{ ADMIN_IDS: "0x10" }, "ADMIN_IDS"],
      [{ LOG_LEVEL: "verbose" }, "LOG_LEVEL", /info/],
      [{ PAID_BROADCAST: "maybe" }, "PAID_BROADCAST", /maybe/],
      [{ FEED_CONCURRENCY: "0" }, "FEED_CONCURRENCY", /positive/],
      [{ FEED_CONCURRENCY: "2.5" }, "FEED_CONCURRENCY"],
      [{ SEND_CONCURRENCY: "0" }, "SEND_CONCURRENCY", /positive/],
      [{ FETCH_TIMEOUT_MS: "soon" }, "FETCH_TIMEOUT_MS"],
      [{ MAX_FEED_BYTES: "-1" }, "MAX_FEED_BYTES"],
      [{ ALLOW_PRIVATE_ARTICLES: "intranet" }, "ALLOW_PRIVATE_ARTICLES", /intranet/],
    ];
    for (const [env, name, mentions] of cases) assertRejected(env, name, mentions);
  });

  test("a bad value containing a line break still gives one line", () => {
    assertRejected({ ADMIN_IDS: "1\n2x" }, "ADMIN_IDS");
    assertRejected({ PAID_BROADCAST: "yes\nno" }, "PAID_BROADCAST");
    assertRejected({ FEED_CONCURRENCY: "3\n4" }, "FEED_CONCURRENCY");
  });
});

describe("story settings", () => {
  test("on by default with a 48-hour window and no embeddings; STORIES=false turns it off", () => {
    assert.deepEqual(parse({}).stories, { windowMs: 48 * 3_600_000 });
    assert.equal(parse({ STORIES: "false" }).stories, undefined);
    assert.deepEqual(parse({ STORY_WINDOW_HOURS: "12" }).stories, { windowMs: 12 * 3_600_000 });
  });

  test("embeddings: URL and model together, with the default timeout and an optional key", () => {
    assert.deepEqual(parse({ EMBEDDINGS_URL: "http://127.0.0.1:11434/v1", EMBEDDINGS_MODEL: "nomic-embed-text", EMBEDDINGS_API_KEY: "k" }).stories?.embeddings, {
      url: "http://127.0.0.1:11434/v1",
      model: "nomic-embed-text",
      apiKey: "k",
      timeoutMs: 10_000,
    });
  });

  test("bad values and halves of a pair name their setting", () => {
    assertRejected({ STORIES: "maybe" }, "STORIES", /true or false/);
    assertRejected({ STORY_WINDOW_HOURS: "0" }, "STORY_WINDOW_HOURS");
    assertRejected({ EMBEDDINGS_URL: "http://127.0.0.1:11434/v1" }, "EMBEDDINGS_MODEL", /EMBEDDINGS_URL/);
    assertRejected({ EMBEDDINGS_MODEL: "m" }, "EMBEDDINGS_URL", /EMBEDDINGS_MODEL/);
    assertRejected({ EMBEDDINGS_URL: "localhost", EMBEDDINGS_MODEL: "m" }, "EMBEDDINGS_URL", /http/);
  });
});

describe("archive settings", () => {
  test("ARCHIVE_DAYS: a year by default, in days; not a positive whole number names the setting", () => {
    assert.equal(parse({}).archiveMs, 365 * 24 * 3_600_000);
    assert.equal(parse({ ARCHIVE_DAYS: "30" }).archiveMs, 30 * 24 * 3_600_000);
    assertRejected({ ARCHIVE_DAYS: "0" }, "ARCHIVE_DAYS");
    assertRejected({ ARCHIVE_DAYS: "a year" }, "ARCHIVE_DAYS", /positive whole number/);
  });
});

describe("LLM summariser settings", () => {
  test("absent: extractive summaries", () => {
    assert.equal(parse({}).summarizer, undefined);
  });

  test("URL and model together, with the default timeout and an optional key", () => {
    assert.deepEqual(parse({ SUMMARIZER_URL: "http://127.0.0.1:11434/v1", SUMMARIZER_MODEL: " qwen2.5:7b " }).summarizer, {
      url: "http://127.0.0.1:11434/v1",
      model: "qwen2.5:7b",
      timeoutMs: 20_000,
    });
    const keyed = parse({ SUMMARIZER_URL: "https://api.example/v1/chat/completions", SUMMARIZER_MODEL: "m", SUMMARIZER_API_KEY: "k", SUMMARIZER_TIMEOUT_MS: "5000" });
    assert.deepEqual(keyed.summarizer, { url: "https://api.example/v1/chat/completions", model: "m", apiKey: "k", timeoutMs: 5_000 });
  });

  test("one without the other names the missing one", () => {
    assertRejected({ SUMMARIZER_URL: "http://127.0.0.1:8080/v1" }, "SUMMARIZER_MODEL", /SUMMARIZER_URL/);
    assertRejected({ SUMMARIZER_MODEL: "llama3" }, "SUMMARIZER_URL", /SUMMARIZER_MODEL/);
    assertRejected({ SUMMARIZER_URL: "http://127.0.0.1:8080/v1", SUMMARIZER_MODEL: " " }, "SUMMARIZER_MODEL");
  });

  test("bad values name their setting", () => {
    assertRejected({ SUMMARIZER_URL: "localhost:11434", SUMMARIZER_MODEL: "m" }, "SUMMARIZER_URL", /http/);
    assertRejected({ SUMMARIZER_URL: "http://127.0.0.1/v1", SUMMARIZER_MODEL: "m", SUMMARIZER_TIMEOUT_MS: "20s" }, "SUMMARIZER_TIMEOUT_MS");
  });

  test("parseFeedReadingSettings reads them (and the fetch limits and config file) without a bot token", () => {
    assert.deepEqual(parseFeedReadingSettings({ SUMMARIZER_URL: "http://127.0.0.1:8080", SUMMARIZER_MODEL: "m" }).summarizer, {
      url: "http://127.0.0.1:8080",
      model: "m",
      timeoutMs: 20_000,
    });
    assert.equal(parseFeedReadingSettings({}).summarizer, undefined);
    assert.throws(() => parseFeedReadingSettings({ SUMMARIZER_MODEL: "m" }), /^ConfigError: SUMMARIZER_URL is required/);
    assert.deepEqual(parseFeedReadingSettings({ FETCH_TIMEOUT_MS: "2000", CONFIG_FILE: "feeds.yaml" }), {
      configFile: { path: "feeds.yaml", explicit: true },
      fetchTimeoutMs: 2000,
      maxFeedBytes: 10 * 1024 * 1024,
      allowPrivateArticles: false,
    });
  });
});

describe("HTTP server and webhook settings", () => {
  const WEBHOOK = { PORT: "8080", WEBHOOK_URL: "https://bot.example.org/telegram/hook", WEBHOOK_SECRET: "s3cret_token-A" };

  test("absent: no HTTP server, long polling", () => {
    const settings = parse({});
    assert.equal(settings.port, undefined);
    assert.equal(settings.webhook, undefined);
  });

  test("PORT alone serves HTTP and keeps long polling", () => {
    const settings = parse({ PORT: " 9100 " });
    assert.equal(settings.port, 9100);
    assert.equal(settings.webhook, undefined);
  });

  test("WEBHOOK_URL with its secret and PORT selects webhook mode", () => {
    const settings = parse(WEBHOOK);
    assert.equal(settings.port, 8080);
    assert.deepEqual(settings.webhook, { url: WEBHOOK.WEBHOOK_URL, secret: WEBHOOK.WEBHOOK_SECRET });
  });

  test("a bad PORT is named", () => {
    for (const port of ["0", "65536", "80.5", "-1", "http", "8080x"]) assertRejected({ PORT: port }, "PORT", /1 to 65535/);
    assert.equal(parse({ PORT: "65535" }).port, 65535);
    assert.equal(parse({ PORT: "1" }).port, 1);
  });

  test("WEBHOOK_URL needs WEBHOOK_SECRET and PORT", () => {
    assertRejected({ ...WEBHOOK, WEBHOOK_SECRET: undefined }, "WEBHOOK_SECRET", /required when WEBHOOK_URL/);
    assertRejected({ ...WEBHOOK, WEBHOOK_SECRET: "  " }, "WEBHOOK_SECRET", /required when WEBHOOK_URL/);
    assertRejected({ ...WEBHOOK, PORT: undefined }, "PORT", /required when WEBHOOK_URL/);
  });

  test("WEBHOOK_URL must be an http(s) URL", () => {
    for (const url of ["bot.example.org/hook", "ftp://bot.example.org/hook"]) assertRejected({ ...WEBHOOK, WEBHOOK_URL: url }, "WEBHOOK_URL");
  });

  test("WEBHOOK_SECRET keeps to Telegram's characters and length", () => {
    for (const secret of ["has space", "semi;colon", "ünïcode", "a".repeat(257), "line\nbreak"]) {
      assertRejected({ ...WEBHOOK, WEBHOOK_SECRET: secret }, "WEBHOOK_SECRET", /A-Z, a-z, 0-9, _ and -/);
    }
    assert.equal(parse({ ...WEBHOOK, WEBHOOK_SECRET: "a".repeat(256) }).webhook?.secret.length, 256);
    assert.equal(parse({ ...WEBHOOK, WEBHOOK_SECRET: "x" }).webhook?.secret, "x");
  });
});
