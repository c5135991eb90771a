/**
 * Keyv instances for a `STORE_URL`, one per namespace, through the official adapters:
 * SQLite (embedded default; one table per namespace in one WAL-mode file), Redis or PostgreSQL.
 * Every adapter call has a deadline and every failure reaches its caller (see guard.ts): Keyv
 * would otherwise answer a failed read with "not found" and a failed write with `false`.
 * Keyv's TTL is lazy on SQLite and PostgreSQL (an expired row stays until it is read), so the
 * namespaces with expiring entries are swept of them now and then. Values are serialised as Keyv
 * does, only faster, and SQLite writes many entries in one statement.
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Keyv, { type DeserializedData, type StoredData } from "keyv";
import KeyvSqlite from "@keyv/sqlite";
import type { Logger } from "pino";
import { ConfigError } from "../config/errors.js";
import { errorLine } from "../health/outage.js";
import { postgres, type Postgres } from "./postgres.js";
import { guardAdapter, STORE_TIMEOUT_MS, withDeadline, type Reporting, type StoredPage } from "./guard.js";
import { inOrder } from "./in-order.js";
import { reportedQuery, type Query } from "./sql.js";

/** The namespaces newswire keeps state in; each is a table (SQLite, PostgreSQL) or key prefix (Redis). */
export const NAMESPACES = ["seen", "items", "recent", "feeds", "subscribers", "outbox", "meta", "stories", "held"] as const;
export type Namespace = (typeof NAMESPACES)[number];

/** The namespaces whose entries expire (seen keys, stored items, stories' items and messages, held items). */
export const EXPIRING_NAMESPACES = ["seen", "items", "stories", "held"] as const satisfies readonly Namespace[];

/**
 * A JSON text with a string that begins with ":": a `"` opening a value (after `:`, `,` or `[`) or
 * a key (after `{` or `,`), followed by `:`. Inside a string a `"` is escaped, so nothing else
 * matches; a key matching costs only the slower path.
 */
const LEADING_COLON = /[:,[{]\s*":/;

/**
 * Keyv's own serializer, byte for byte, at native speed: Keyv's walks every value in JavaScript
 * (10 ms for the 2,000-entry recent index, persisted after every poll with new items), where
 * JSON.stringify takes 1 ms. The one difference is Keyv's escape of a string value that begins with
 * ":" (another ":" in front); only the rare texts with such a string take the slower path that escapes.
 * (Keyv's other special form, `:base64:` for Buffers, is unused: newswire stores no Buffers.)
 */
export function serialize(data: unknown): string {
  const text = JSON.stringify(data);
  return LEADING_COLON.test(text) ? JSON.stringify(data, escapeLeadingColon) : text;
}

function escapeLeadingColon(_key: string, value: unknown): unknown {
  return typeof value === "string" && value.startsWith(":") ? `:${value}` : value;
}

/**
 * Keyv's own deserializer, at native speed: Keyv's calls a JavaScript reviver for every value of
 * the text (6 µs per subscriber, 6 s of a start with 1,000,000), which changes only strings that
 * begin with ":" (its escape, and `:base64:`); texts without such a string are plain JSON.
 */
export function deserialize<Value>(text: string): DeserializedData<Value> {
  return LEADING_COLON.test(text) ? (JSON.parse(text, unescapeLeadingColon) as DeserializedData<Value>) : (JSON.parse(text) as DeserializedData<Value>);
}

function unescapeLeadingColon(_key: string, value: unknown): unknown {
  if (typeof value !== "string" || !value.startsWith(":")) return value;
  return value.startsWith(":base64:") ? Buffer.from(value.slice(8), "base64") : value.slice(1);
}

/**
 * Test-only fault injection (end-to-end tests of a full disk): while the file this variable names
 * exists, every SQLite write statement fails as on a full disk, at the driver boundary, so the
 * adapter, Keyv and newswire all take their real error paths. Unset in production.
 */
const DISK_FULL_FLAG = process.env.NEWSWIRE_TEST_DISK_FULL_FLAG;
const WRITE_STATEMENT = /^\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b/i;

/** A row of a namespace's table: the key with Keyv's prefix, the value as Keyv's stored text. */
interface StoredRow {
  key: string;
  value: string;
}

/** Rows per page when a namespace is read whole: few queries, small pauses of the event loop. */
const SQLITE_PAGE = 1_000;

/**
 * @keyv/sqlite with these fixes:
 * - statements run in the order they are issued. node-sqlite3 hands each statement to libuv's
 *   thread pool, where two writes of one key could run in either order and the older value win
 *   (three quick changes to one chat's subscription lost one about 1 time in 4 after a reopen).
 * - a one-statement `setMany`: without it Keyv writes each entry by itself, one statement and one
 *   transaction each (a feed's first poll stores 50 items and 100 seen keys).
 * - a linear `getMany`, and `readPage` for reading a namespace whole (see each), so reading
 *   100,000 feed states or 1,000,000 subscribers at start takes seconds, not minutes, and does not crash.
 */
class SqliteAdapter extends KeyvSqlite {
  constructor(options: ConstructorParameters<typeof KeyvSqlite>[0]) {
    super(options);
    const run = this.query;
    const inTurn = inOrder();
    this.query = (sql, ...parameters) =>
      inTurn(() => {
        if (DISK_FULL_FLAG && WRITE_STATEMENT.test(sql) && existsSync(DISK_FULL_FLAG)) {
          throw Object.assign(new Error("SQLITE_FULL: database or disk is full"), { code: "SQLITE_FULL", errno: 13 });
        }
        return run(sql, ...parameters);
      });
  }

  // @keyv/sqlite finds each key's row by a linear search of all the rows: quadratic (48 s for 100,000 feeds).
  override async getMany<Value>(keys: string[]): Promise<StoredData<Value | undefined>[]> {
    const rows = (await this.query(
      `SELECT key, value FROM ${this.opts.table} WHERE key IN (SELECT value FROM json_each(?))`,
      JSON.stringify(keys),
    )) as StoredRow[];
    const values = new Map(rows.map((row) => [row.key, row.value]));
    return keys.map((key) => values.get(key) as StoredData<Value | undefined>);
  }

  /**
   * One page of the namespace read whole (see readAll in guard.ts), in key order from the cursor
   * `after`. @keyv/sqlite's iterator pages with OFFSET, each page rescanning every row before it
   * (quadratic), through one recursive `yield*` per 10 rows (the stack overflows past ~31,000
   * rows); these pages start after the last key read. node-sqlite3 makes an object per row, so a
   * page is one row: its keys as a JSON array and its stored texts joined into one, parsed at once.
   */
  async readPage(after = ""): Promise<StoredPage> {
    const prefix = this.namespace ? `${this.namespace}:` : "";
    const [page] = (await this.query(
      `SELECT json_group_array(key) AS keys, '[' || group_concat(coalesce(value, 'null'), ',') || ']' AS data, max(key) AS last, count(*) AS size
       FROM (SELECT key, value FROM ${this.opts.table} WHERE key LIKE ? AND key > ? ORDER BY key LIMIT ?)`,
      `${prefix}%`,
      after,
      SQLITE_PAGE,
    )) as { keys: string; data: string | null; last: string | null; size: number }[];
    if (!page || page.size === 0) return { keys: [], data: [] };
    const keys = (JSON.parse(page.keys) as string[]).map((key) => key.slice(prefix.length));
    // Keyv's stored texts are JSON, so the page's array of them reads as they would one by one.
    const data = deserialize<unknown>(page.data!) as unknown as StoredPage["data"];
    return page.size < SQLITE_PAGE ? { keys, data } : { keys, data, next: page.last! };
  }

  async setMany(entries: { key: string; value: unknown }[]): Promise<boolean[]> {
    // The json_each alias is not the table's `value` column; `WHERE true` lets SQLite parse the upsert.
    await this.query(
      `INSERT INTO ${this.opts.table} (key, value)
       SELECT json_extract(entry.value, '$[0]'), json_extract(entry.value, '$[1]') FROM json_each(?) AS entry WHERE true
       ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      JSON.stringify(entries.map(({ key, value }) => [key, value])),
    );
    return entries.map(() => true);
  }
}

/** Opens the adapter for one namespace; its calls are reported as `reporting` says. */
type AdapterFactory = (namespace: Namespace, reporting: Reporting) => Promise<Keyv>;

/** Deletes a namespace's entries expired before `now`; resolves with how many were deleted. */
/** Deletes what expired before `now`; a sweep of many batches ends after the batch under way once `signal` aborts. */
type Sweep = (now: number, signal?: AbortSignal) => Promise<number>;

/** How to close a Keyv opened here, where its adapter's own disconnect is not it. */
const closers = new WeakMap<Keyv, () => Promise<void>>();

/** The sweep of each Keyv opened here over a store that expires lazily (Redis expires by itself). */
const sweeps = new WeakMap<Keyv, Sweep>();

/** The PostgreSQL under each store opened here on one. */
const databases = new WeakMap<Record<Namespace, Keyv>, Postgres>();

/** The store's SQLite file, for newswire's own tables beside Keyv's (see {@link sqliteOf}). */
export interface Sqlite {
  /** One statement (one SQL text: node-sqlite3 runs only the first of several). */
  query: Query;
}

/** The adapter of each Keyv opened here on SQLite. */
const sqliteAdapters = new WeakMap<Keyv, SqliteAdapter>();

/** The SQLite under each store opened here on one. */
const sqliteFiles = new WeakMap<Record<Namespace, Keyv>, Sqlite>();

/** Rows per SQLite delete: short write transactions, so the poller's writes never wait long. */
const SQLITE_SWEEP_BATCH = 10_000;

/** How long the sweep of one PostgreSQL table may take. */
const POSTGRES_SWEEP_TIMEOUT_MS = 5 * 60_000;

/** How long a connection to a Redis or PostgreSQL server may take. */
export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Keyv stores `{"value":…,"expires":epochMs}` as the row's text (expires absent without a TTL).
 * The sweep walks the table by rowid range, one short transaction per batch.
 */
function sqliteSweep(adapter: SqliteAdapter, table: string): Sweep {
  const expired = "CASE WHEN json_valid(value) THEN json_extract(value, '$.expires') END < ?";
  return async (now, signal) => {
    const [range] = (await adapter.query(`SELECT min(rowid) AS low, max(rowid) AS high FROM ${table}`)) as { low: number | null; high: number | null }[];
    let deleted = 0;
    for (let from = range?.low ?? 0; from <= (range?.high ?? -1); from += SQLITE_SWEEP_BATCH) {
      const rows = (await adapter.query(
        `DELETE FROM ${table} WHERE rowid >= ? AND rowid < ? AND ${expired} RETURNING 1`,
        from,
        from + SQLITE_SWEEP_BATCH,
        now,
      )) as unknown[];
      deleted += rows.length;
      if (signal?.aborted) break;
    }
    return deleted;
  };
}

/** Keyv's options for every namespace: failures reach the caller instead of reading as "not found". */
const keyvOptions = { serialize, deserialize, throwOnErrors: true } as const;

/** The file of a `sqlite://PATH` store URL (":memory:" for an in-memory store). */
export function sqlitePath(url: string): string {
  return url.replace(/^sqlite:\/\//, "");
}

async function sqliteFactory(url: string): Promise<AdapterFactory> {
  const path = sqlitePath(url);
  if (path === "") throw new ConfigError("STORE_URL sqlite:// needs a file path, e.g. sqlite://data/newswire.sqlite");
  if (path !== ":memory:") {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      throw new ConfigError(`STORE_URL folder ${dirname(path)} cannot be created: ${(error as NodeJS.ErrnoException).code}`);
    }
  }
  return async (namespace, reporting) => {
    const adapter = new SqliteAdapter({ uri: `sqlite://${path}`, table: namespace, busyTimeout: 10_000 });
    // WAL: readers never wait for the writer, and a commit is one append instead of a journal
    // rewrite. synchronous=NORMAL keeps every commit across a process crash (only a power loss
    // may drop the last ones), which is the durability the outbox needs.
    await withDeadline(adapter.query("PRAGMA journal_mode=WAL"), "open", STORE_TIMEOUT_MS);
    await adapter.query("PRAGMA synchronous=NORMAL");
    const keyv = new Keyv({ ...keyvOptions, store: guardAdapter(adapter, namespace, reporting), namespace });
    sweeps.set(keyv, sqliteSweep(adapter, namespace));
    sqliteAdapters.set(keyv, adapter);
    return keyv;
  };
}

/**
 * A Redis client (not yet connected) for the server at `url`. A command sent while the server is
 * away fails at once instead of waiting, unlogged, in the client's offline queue. A server never
 * reached is given up on (start-up says so); one that was reached is reconnected to for as long as
 * it takes.
 */
export async function redisClient(url: string) {
  const { createClient, defaultReconnectStrategy } = await import("@keyv/redis");
  let reached = false;
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectStrategy: (retries: number, cause: Error) => (reached ? defaultReconnectStrategy(retries) : cause),
    },
  });
  client.on("ready", () => (reached = true));
  return client;
}

async function redisFactory(url: string): Promise<AdapterFactory> {
  const { default: KeyvRedis } = await import("@keyv/redis");
  // Keyv hands its namespace to the adapter, which prefixes keys (`newswire:seen::KEY`) and scopes
  // its iterator to them; Keyv's own prefix would double it. Redis expires entries natively.
  return async (namespace, reporting) => {
    const client = await redisClient(url);
    return new Keyv({
      ...keyvOptions,
      store: guardAdapter(new KeyvRedis(client, { throwOnConnectError: true, throwOnErrors: true }), namespace, reporting),
      namespace: `newswire:${namespace}`,
      useKeyPrefix: false,
    });
  };
}

async function postgresFactory(url: string, reporting: Reporting, opened: (pool: import("pg").Pool) => void): Promise<AdapterFactory> {
  const [{ default: KeyvPostgres }, { default: pg }] = await Promise.all([import("@keyv/postgres"), import("pg")]);
  // newswire's own pool, one for all namespaces: the one @keyv/postgres would make has no "error"
  // listener, so a connection the server drops while idle (a restart) was an uncaught error that
  // ended the process. A lost connection is an outage of the store instead; the next call connects
  // anew, and that connection ends the outage. query_timeout bounds a call the server or the
  // network never answers and drops its connection, so one stuck call cannot keep a connection
  // from the pool for good. (Client-side on purpose: a statement_timeout is a startup parameter,
  // which a connection pooler such as PgBouncer refuses.)
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: STORE_TIMEOUT_MS,
    keepAlive: true,
  });
  pool.on("error", (error) => reporting.health?.failed("connection", error));
  pool.on("connect", () => reporting.health?.succeeded("connection"));
  opened(pool);
  // The adapter itself, with its table layout (key, value text), so existing data reads as before.
  class PostgresAdapter extends KeyvPostgres {
    override async connect() {
      return async (sql: string, values?: unknown[]) => (await pool.query(sql, values)).rows;
    }

    /** The pool is the namespaces' together: closeNamespaces ends it once. */
    override async disconnect() {}
  }
  let closing: Promise<void> | undefined;
  return async (namespace) => {
    const table = `newswire_${namespace}`;
    // Reading a namespace whole (feed states at start) pages by key: 1,000 rows a query, not the default 10.
    const adapter = new PostgresAdapter({ table, iterationLimit: 1_000 });
    const keyv = new Keyv({ ...keyvOptions, store: guardAdapter(adapter, namespace, reporting), namespace });
    // The same stored text as on SQLite; one statement, counted by a CTE instead of returned rows,
    // and given longer than a store call: it reads the whole table.
    const sweep = `WITH gone AS (DELETE FROM ${adapter.opts.schema}.${table} WHERE (value::jsonb ->> 'expires')::bigint < $1 RETURNING 1) SELECT count(*)::int AS deleted FROM gone`;
    sweeps.set(keyv, async (now) => {
      // pg takes a query's own query_timeout, which its types leave out.
      const query = { text: sweep, values: [now], query_timeout: POSTGRES_SWEEP_TIMEOUT_MS };
      const { rows } = await pool.query<{ deleted: number }>(query);
      return rows[0]?.deleted ?? 0;
    });
    closers.set(keyv, () => (closing ??= pool.end()));
    return keyv;
  };
}

/** A store URL fit for a log line or error: its password, if any, hidden. */
export function displayStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.href;
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//***@");
  }
}

const PROBE_KEY = "probe";

/**
 * Opens every namespace of the store at `url` and checks that it answers and takes a write,
 * within `deadlineMs` in all. Later calls are reported to `reports` (tools and tests may go without).
 * @throws ConfigError for an unsupported scheme, or naming the store and the cause when it cannot
 *   be reached or written.
 */
export async function openNamespaces(
  url: string,
  reports: Reporting = {},
  deadlineMs = 2 * STORE_TIMEOUT_MS,
): Promise<Record<Namespace, Keyv>> {
  const scheme = url.slice(0, url.indexOf(":"));
  // The calls made while opening are the probe: their failure is told by the error thrown here.
  const reporting: Reporting = {};
  let pool: import("pg").Pool | undefined;
  const factory =
    scheme === "sqlite"
      ? await sqliteFactory(url)
      : scheme === "redis" || scheme === "rediss"
        ? await redisFactory(url)
        : scheme === "postgres" || scheme === "postgresql"
          ? await postgresFactory(url, reporting, (opened) => (pool = opened))
          : undefined;
  if (!factory) throw new ConfigError(`STORE_URL scheme "${scheme}" is not supported (sqlite, redis, postgres)`);
  // Adapters that retry connecting tell why only in "error" events; the last one names the cause.
  let emitted: unknown;
  let step = "unreachable";
  const open = async (namespace: Namespace) => {
    const keyv = await factory(namespace, reporting);
    keyv.on("error", (error: unknown) => (emitted = error));
    await keyv.get(PROBE_KEY);
    return [namespace, keyv] as const;
  };
  const openAll = async () => {
    // The first opener alone: on a new SQLite file its switch to WAL takes a lock that openers racing
    // it may be refused at once (SQLITE_BUSY, no busy wait); after that they share the file freely.
    const [first, ...rest] = NAMESPACES;
    const entries = [await open(first), ...(await Promise.all(rest.map(open)))];
    const store = Object.fromEntries(entries) as Record<Namespace, Keyv>;
    step = "cannot be written";
    await store.meta.set(PROBE_KEY, Date.now());
    Object.assign(reporting, reports);
    if (pool) databases.set(store, postgres(pool, reporting));
    const adapter = sqliteAdapters.get(store.subscribers);
    // The subscribers namespace's connection: its statements in issue order, the disk-full fault
    // injection with them, as its Keyv calls have (the subscriptions' own tables are its successor).
    if (adapter) sqliteFiles.set(store, { query: reportedQuery((text, values) => adapter.query(text, ...values), reporting) });
    return store;
  };
  try {
    return await withDeadline(openAll(), "open", deadlineMs);
  } catch (error) {
    const cause = emitted ?? (error as Error).cause ?? error;
    throw new ConfigError(`store (${displayStoreUrl(url)}) ${step}: ${errorLine(cause)}`);
  }
}

/** The PostgreSQL of a store opened by {@link openNamespaces}, for newswire's own tables; undefined on SQLite and Redis. */
export function postgresOf(store: Record<Namespace, Keyv>): Postgres | undefined {
  return databases.get(store);
}

/** The SQLite file of a store opened by {@link openNamespaces}, for newswire's own tables; undefined on Redis and PostgreSQL. */
export function sqliteOf(store: Record<Namespace, Keyv>): Sqlite | undefined {
  return sqliteFiles.get(store);
}

/** Closes the connections of every namespace opened by {@link openNamespaces}. */
export async function closeNamespaces(store: Record<Namespace, Keyv>): Promise<void> {
  await Promise.all(Object.values(store).map((keyv) => (closers.get(keyv) ?? (() => keyv.disconnect()))()));
}

/**
 * Deletes the entries of `keyv`'s namespace that expired before `now`, on stores that keep them
 * (SQLite, PostgreSQL); resolves with how many. 0 for stores that expire by themselves. Once
 * `signal` aborts, a SQLite sweep ends after its batch under way (a PostgreSQL one is one statement).
 */
export async function sweepExpired(keyv: Keyv, now = Date.now(), signal?: AbortSignal): Promise<number> {
  return (await sweeps.get(keyv)?.(now, signal)) ?? 0;
}

/** A store sweep running on a timer; see {@link sweepPeriodically}. */
export interface Sweeper {
  /** Stops the timer and waits for a sweep under way to end its current batch. */
  stop(): Promise<void>;
}

/** Sweeps the expiring namespaces now and then every `intervalMs` (default daily); failures are logged. */
export function sweepPeriodically(store: Record<Namespace, Keyv>, logger: Logger, intervalMs = 24 * 60 * 60_000): Sweeper {
  let running: Promise<void> = Promise.resolve();
  // A sweep starts at start-up and may take minutes on a large table: a stop must not wait for it.
  const stopping = new AbortController();
  const sweep = (): void => {
    running = running.then(async () => {
      for (const namespace of EXPIRING_NAMESPACES) {
        try {
          const deleted = await sweepExpired(store[namespace], Date.now(), stopping.signal);
          if (deleted > 0) logger.info({ namespace, deleted }, "expired entries swept");
        } catch (error) {
          logger.warn({ namespace, err: (error as Error).message }, "expired entries could not be swept");
        }
      }
    });
  };
  sweep();
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      stopping.abort();
      await running;
    },
  };
}
