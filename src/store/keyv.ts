/**
 * Keyv instances for a `STORE_URL`, one per namespace, through the official adapters:
 * SQLite (embedded default; one table per namespace in one WAL-mode file), Redis or PostgreSQL.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Keyv from "keyv";
import KeyvSqlite from "@keyv/sqlite";
import { ConfigError } from "../config/errors.js";

/** The namespaces newswire keeps state in; each is a table (SQLite, PostgreSQL) or key prefix (Redis). */
export const NAMESPACES = ["seen", "items", "recent", "feeds", "subscribers", "outbox"] as const;
export type Namespace = (typeof NAMESPACES)[number];

/** Opens the adapter for one namespace. */
type AdapterFactory = (namespace: Namespace) => Promise<Keyv>;

async function sqliteFactory(url: string): Promise<AdapterFactory> {
  const path = url.replace(/^sqlite:\/\//, "");
  if (path === "") throw new ConfigError("STORE_URL sqlite:// needs a file path, e.g. sqlite://data/newswire.sqlite");
  if (path !== ":memory:") {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      throw new ConfigError(`STORE_URL folder ${dirname(path)} cannot be created: ${(error as NodeJS.ErrnoException).code}`);
    }
  }
  return async (namespace) => {
    const adapter = new KeyvSqlite({ uri: `sqlite://${path}`, table: namespace, busyTimeout: 10_000 });
    // WAL: readers never wait for the writer, and a commit is one append instead of a journal
    // rewrite. synchronous=NORMAL keeps every commit across a process crash (only a power loss
    // may drop the last ones), which is the durability the outbox needs.
    await adapter.query("PRAGMA journal_mode=WAL");
    await adapter.query("PRAGMA synchronous=NORMAL");
    return new Keyv({ store: adapter, namespace });
  };
}

async function redisFactory(url: string): Promise<AdapterFactory> {
  const { default: KeyvRedis } = await import("@keyv/redis");
  return async (namespace) =>
    new Keyv({
      store: new KeyvRedis(url, { namespace: `newswire:${namespace}`, throwOnConnectError: true, throwOnErrors: true }),
      namespace: undefined,
      useKeyPrefix: false,
    });
}

async function postgresFactory(url: string): Promise<AdapterFactory> {
  const { default: KeyvPostgres } = await import("@keyv/postgres");
  return async (namespace) => new Keyv({ store: new KeyvPostgres({ uri: url, table: `newswire_${namespace}` }), namespace });
}

/**
 * Opens every namespace of the store at `url` and checks that it answers.
 * @throws ConfigError for an unsupported scheme or a store that cannot be reached.
 */
export async function openNamespaces(url: string): Promise<Record<Namespace, Keyv>> {
  const scheme = url.slice(0, url.indexOf(":"));
  const factory =
    scheme === "sqlite"
      ? await sqliteFactory(url)
      : scheme === "redis" || scheme === "rediss"
        ? await redisFactory(url)
        : scheme === "postgres" || scheme === "postgresql"
          ? await postgresFactory(url)
          : undefined;
  if (!factory) throw new ConfigError(`STORE_URL scheme "${scheme}" is not supported (sqlite, redis, postgres)`);
  const entries = await Promise.all(
    NAMESPACES.map(async (namespace) => {
      try {
        const keyv = await factory(namespace);
        await keyv.get("__probe__");
        return [namespace, keyv] as const;
      } catch (error) {
        throw new ConfigError(`STORE_URL cannot be opened: ${(error as Error).message.split("\n")[0]}`);
      }
    }),
  );
  return Object.fromEntries(entries) as Record<Namespace, Keyv>;
}
