/**
 * The store a bench runs on: a temporary SQLite file by default, or the PostgreSQL database a
 * `postgres://…` URL names (one with "bench" in its name), emptied of newswire's tables first (a
 * clean slate every run).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { displayStoreUrl } from "../src/store/keyv.js";

export interface BenchStore {
  url: string;
  onPostgres: boolean;
  /** For the output's first line: which store, and where. */
  label: string;
  /** Removes the temporary SQLite file (a PostgreSQL database is left as the run left it). */
  cleanup(): void;
}

/**
 * Every table and sequence newswire keeps on PostgreSQL is named `newswire_…`: its own (the
 * migrations, and node-pg-migrate's record of them, `newswire_migrations`) and Keyv's, one table
 * per namespace (`newswire_<namespace>`, see postgresFactory in src/store/keyv.ts). All of them go,
 * so openState migrates from nothing and every namespace starts empty.
 */
async function emptyPostgres(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = (await client.query<{ name: string }>(
      `SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'newswire\\_%'`,
    )).rows.map(({ name }) => name);
    const sequences = (await client.query<{ name: string }>(
      `SELECT quote_ident(sequencename) AS name FROM pg_sequences WHERE schemaname = current_schema() AND sequencename LIKE 'newswire\\_%'`,
    )).rows.map(({ name }) => name);
    if (tables.length > 0) await client.query(`DROP TABLE IF EXISTS ${tables.join(", ")} CASCADE`);
    if (sequences.length > 0) await client.query(`DROP SEQUENCE IF EXISTS ${sequences.join(", ")} CASCADE`);
    return tables;
  } finally {
    await client.end();
  }
}

/** The store at `url` (postgres:// or postgresql://), emptied; without one, a temporary SQLite file. */
export async function benchStore(url: string | undefined, prefix: string): Promise<BenchStore> {
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    // Every newswire table there is dropped: only a database named for benches is taken.
    const database = new URL(url).pathname.slice(1);
    if (!database.includes("bench")) throw new Error(`the bench empties the database it is given: name one with "bench" in it, not "${database}"`);
    const dropped = await emptyPostgres(url);
    return {
      url,
      onPostgres: true,
      label: `PostgreSQL ${displayStoreUrl(url)} (${dropped.length} newswire tables dropped first)`,
      cleanup: () => undefined,
    };
  }
  if (url) throw new Error(`--store / BENCH_STORE_URL: only postgres:// URLs are supported (default: a temporary SQLite file), not ${url}`);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, "bench.sqlite");
  return { url: `sqlite://${path}`, onPostgres: false, label: `SQLite ${path} (temporary)`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
