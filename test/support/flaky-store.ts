/**
 * A store that fails on demand, under the real guard (deadline, StoreError, health) and Keyv with
 * `throwOnErrors`, as openNamespaces sets them up: for unit tests of what a failing store does.
 */
import Keyv from "keyv";
import { guardAdapter, type Reporting } from "../../src/store/guard.js";

/** The switches of a {@link flakyKeyv}. */
export interface Flaky {
  /** Writes fail while set (a full disk). */
  writesFail: boolean;
  /** Reads fail too while set (a server away). */
  readsFail: boolean;
  /** The next this many writes fail, then writes work again. */
  failNextWrites: number;
  /** Writes attempted, failed ones included. */
  writes: number;
}

/** A Keyv over an in-memory adapter that fails as `flaky` says; reports to `reporting`. */
export function flakyKeyv(namespace: string, reporting: Reporting = {}): { keyv: Keyv; flaky: Flaky; data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  const flaky: Flaky = { writesFail: false, readsFail: false, failNextWrites: 0, writes: 0 };
  const full = () => Object.assign(new Error("SQLITE_FULL: database or disk is full"), { code: "SQLITE_FULL" });
  const read = () => {
    if (flaky.readsFail) throw new Error("connect ECONNREFUSED 127.0.0.1:6379");
  };
  const write = () => {
    flaky.writes++;
    read();
    if (flaky.failNextWrites > 0) {
      flaky.failNextWrites--;
      throw full();
    }
    if (flaky.writesFail) throw full();
  };
  const adapter = {
    opts: { dialect: "sqlite", url: "flaky://" },
    namespace: undefined as string | undefined,
    async get(key: string) {
      read();
      return data.get(key);
    },
    async getMany(keys: string[]) {
      read();
      return keys.map((key) => data.get(key));
    },
    async set(key: string, value: unknown) {
      write();
      data.set(key, value);
    },
    async setMany(entries: { key: string; value: unknown }[]) {
      write();
      for (const { key, value } of entries) data.set(key, value);
    },
    async delete(key: string) {
      write();
      return data.delete(key);
    },
    async deleteMany(keys: string[]) {
      write();
      return keys.map((key) => data.delete(key)).some(Boolean);
    },
    async clear() {
      write();
      data.clear();
    },
    async *iterator(prefix?: string) {
      read();
      for (const entry of data) if (!prefix || entry[0].startsWith(`${prefix}:`)) yield entry;
    },
  };
  const keyv = new Keyv({ store: guardAdapter(adapter, namespace, reporting), namespace, throwOnErrors: true });
  return { keyv, flaky, data };
}
