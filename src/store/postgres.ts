/**
 * newswire's own tables on PostgreSQL, beside Keyv's: what needs a query or an atomic claim
 * (subscriptions by topic, item claims, the delivery queue, the poll schedule) runs here as SQL on
 * the store's one pool. Every statement has the store's deadline and verdict (as guard.ts gives
 * Keyv's calls); values always travel as parameters, never in the SQL text. The schema is
 * migrated at start by node-pg-migrate from `migrations/*.sql` (one file per change, named
 * `TIMESTAMP_what.sql` with `-- Up Migration` and `-- Down Migration` sections, never edited once
 * released), under its advisory lock, so
 * instances starting together migrate once.
 */
import { fileURLToPath } from "node:url";
import type pg from "pg";
import type { Logger } from "pino";
import { STORE_TIMEOUT_MS, type Reporting } from "./guard.js";
import { reportedQuery, type Query } from "./sql.js";

/** The store's PostgreSQL, for the modules that keep their state in tables of their own. */
export interface Postgres {
  /** One statement on a connection of the pool. */
  query: Query;
  /** The pool itself, for what needs a connection of its own (a session lock). */
  readonly pool: pg.Pool;
}

/** The folder of the SQL migrations, beside src/ and dist/. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations", import.meta.url));

/** The table node-pg-migrate records applied migrations in. */
const MIGRATIONS_TABLE = "newswire_migrations";

/** A PostgreSQL over `pool`, its statements reported to `reporting` as the store's other calls are. */
export function postgres(pool: pg.Pool, reporting: Reporting, timeoutMs = STORE_TIMEOUT_MS): Postgres {
  const query = reportedQuery(async (text, values) => (await pool.query(text, values as unknown[])).rows, reporting, timeoutMs);
  return { pool, query };
}

/** Applies the migrations not yet applied; instances starting at once wait for each other's. */
export async function migrate(pool: pg.Pool, logger: Logger): Promise<void> {
  const { runner } = await import("node-pg-migrate");
  const client = await pool.connect();
  try {
    const applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      direction: "up",
      migrationsTable: MIGRATIONS_TABLE,
      checkOrder: true,
      singleTransaction: true,
      // The default fails a second instance starting at once; it should wait, then find nothing to do.
      advisoryLockMode: "wait",
      logger: { debug: () => undefined, info: () => undefined, warn: (message: string) => logger.warn(message), error: (message: string) => logger.error(message) },
    });
    if (applied.length > 0) logger.info({ migrations: applied.map((migration) => migration.name) }, "database schema migrated");
  } finally {
    client.release();
  }
}
