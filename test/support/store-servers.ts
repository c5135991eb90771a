/**
 * Stores of their own on the Redis and PostgreSQL servers CI gives (TEST_REDIS_URL,
 * TEST_POSTGRES_URL), for test files that must not share one with a test file running at the
 * same time: an instance lease is one per store.
 */
import pg from "pg";
import { redisClient } from "../../src/store/keyv.js";

/** The servers given to this run; unset where there is none. */
export const storeServers = { redis: process.env.TEST_REDIS_URL, postgres: process.env.TEST_POSTGRES_URL };

/** Why a test of `name`'s store skips here, or false when it runs. */
export const skipWithout = (name: keyof typeof storeServers) =>
  storeServers[name] ? false : `set TEST_${name.toUpperCase()}_URL to run against a ${name} server`;

/** Redis database `index` (1–15; 0 is the other tests') on the server at `base`, emptied. */
export async function redisDatabase(base: string, index: number): Promise<string> {
  const url = new URL(base);
  url.pathname = `/${index}`;
  const client = await redisClient(url.href);
  await client.connect();
  await client.flushDb();
  await client.close();
  return url.href;
}

/** A PostgreSQL database named `name` on the server at `base`, created empty. */
export async function postgresDatabase(base: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.href;
}
