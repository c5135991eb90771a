/**
 * Every call to a store adapter with a deadline and a verdict: a call that fails or outlasts its
 * deadline rejects with a {@link StoreError}, is counted in the store's {@link Outage} and told to
 * `counted` (the metrics); one that works ends an outage. (Keyv swallows adapter errors unless `throwOnErrors` is set, which
 * openNamespaces does, so these rejections reach the caller of every read and write.)
 */
import type Keyv from "keyv";
import type { DeserializedData } from "keyv";
import { errorLine, type Outage } from "../health/outage.js";

/** A store call that failed or timed out; the caller's change was not saved. */
export class StoreError extends Error {
  override readonly name = "StoreError";
}

/** How long one store call may take before it counts as failed. */
export const STORE_TIMEOUT_MS = 10_000;

const READS = new Set(["get", "getMany", "has", "hasMany", "readPage"]);
const WRITES = new Set(["set", "setMany", "delete", "deleteMany", "clear"]);

/** Rejects with a StoreError naming `what` when `call` fails or takes longer than `timeoutMs`. */
export async function withDeadline<T>(call: Promise<T>, what: string, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreError(`store ${what} timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([call, deadline]);
  } catch (error) {
    throw error instanceof StoreError ? error : new StoreError(`store ${what} failed: ${errorLine(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/** Where a guarded adapter reports: nowhere until set (while the store is being opened). */
export interface Reporting {
  health?: Outage;
  /** Told of every call that failed or timed out, with the namespace it was for. */
  failed?: (namespace: string) => void;
}

/** The adapter of `namespace` with its reads and writes under a deadline and reported to `reporting`. */
export function guardAdapter<Adapter extends object>(adapter: Adapter, namespace: string, reporting: Reporting, timeoutMs = STORE_TIMEOUT_MS): Adapter {
  return new Proxy(adapter, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      const name = String(property);
      const kind = READS.has(name) ? "read" : WRITES.has(name) ? "write" : undefined;
      // Bound to the adapter itself: adapters keep private state a proxy would not reach.
      if (!kind) return value.bind(target);
      return async (...args: unknown[]) => {
        try {
          const result = await withDeadline(Promise.resolve(value.apply(target, args)), name, timeoutMs);
          reporting.health?.succeeded(kind);
          return result;
        } catch (error) {
          reporting.health?.failed(kind, error);
          reporting.failed?.(namespace);
          throw error;
        }
      };
    },
    set: (target, property, value) => Reflect.set(target, property, value),
  });
}

/** One page of a namespace read whole, from an adapter that reads so (SQLite's, in keyv.ts). */
export interface StoredPage {
  /** Keys without the namespace's prefix. */
  keys: string[];
  /** Each key's stored data, as Keyv deserialises it (null for a row without a value). */
  data: (DeserializedData<unknown> | null)[];
  /** Where the next page starts; absent after the last page. */
  next?: string;
}

/** An adapter that reads a namespace whole a page at a time, each page one call. */
interface PagedAdapter {
  readPage(after?: string): Promise<StoredPage>;
}

/**
 * Every entry of a namespace by key, as Keyv's iterator yields them: keys without the namespace's prefix,
 * expired entries left out and deleted. An adapter that reads by pages is read so (one call per
 * page, under its deadline, the event loop free between pages); others through their iterator.
 */
export async function readAll(keyv: Keyv): Promise<Map<string, unknown>> {
  const store = keyv.store as Partial<PagedAdapter>;
  try {
    return typeof store.readPage === "function" ? await readPages(keyv, store as PagedAdapter) : await iterate(keyv);
  } catch (error) {
    throw error instanceof StoreError ? error : new StoreError(`store listing failed: ${errorLine(error)}`, { cause: error });
  }
}

async function readPages(keyv: Keyv, store: PagedAdapter): Promise<Map<string, unknown>> {
  const entries = new Map<string, unknown>();
  let page: StoredPage | undefined;
  do {
    page = await store.readPage(page?.next);
    const { keys, data } = page;
    const now = Date.now();
    const expired: string[] = [];
    for (let index = 0; index < keys.length; index++) {
      const stored = data[index];
      if (typeof stored?.expires === "number" && now > stored.expires) expired.push(keys[index]!);
      else entries.set(keys[index]!, stored?.value);
    }
    if (expired.length > 0) await keyv.deleteMany(expired);
  } while (page.next !== undefined);
  return entries;
}

/**
 * Through the adapter's iterator. Some adapters (PostgreSQL's) end their iterator early on an
 * error and only emit it, which would read as fewer entries: an error emitted meanwhile rejects instead.
 */
async function iterate(keyv: Keyv): Promise<Map<string, unknown>> {
  if (!keyv.iterator) throw new StoreError("the store cannot list its keys (its adapter has no iterator)");
  let failure: unknown;
  const onError = (error: unknown) => (failure ??= error);
  keyv.on("error", onError);
  try {
    const entries = new Map<string, unknown>();
    for await (const [key, value] of keyv.iterator(undefined)) entries.set(String(key), value);
    if (failure !== undefined) throw failure;
    return entries;
  } finally {
    keyv.off("error", onError);
  }
}
