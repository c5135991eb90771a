/**
 * The instance lease: the proof that this process is the only newswire on its store, taken at
 * start right after the store opens. Two processes on one store corrupt each other's state (the
 * subscribers each holds in memory, the outbox index the last writer overwrites, two long polls of
 * Telegram answered 409), so a second one refuses to start with one line instead.
 *
 * Each store has its own lease, chosen so that a crashed (even SIGKILLed) instance does not keep
 * its successor out:
 * - SQLite: a lock on a small database file beside the store (`PATH.lock`), which the operating
 *   system drops with the process: a restart after SIGKILL is taken at once (measured: the new
 *   process starts as fast as on a free store).
 * - Redis: a key (`newswire:instance`) set with NX and a 15 s expiry, renewed every 5 s and deleted
 *   on a clean stop. A SIGKILLed holder's key is taken over at once from where its pid can be
 *   checked (the same host, pid namespace and boot) when its process no longer exists; from
 *   anywhere else (another host, another container of one hostname), after at most 15 s.
 * PostgreSQL takes none: there, instances share the state in tables of their own and one of them
 * sends (src/store/sender-lease.ts).
 */
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import KeyvSqlite from "@keyv/sqlite";
import type { Logger } from "pino";
import { ConfigError } from "../config/errors.js";
import { errorLine } from "../health/outage.js";
import { displayStoreUrl, redisClient, sqlitePath } from "./keyv.js";

/** How long a Redis lease lasts unrenewed: the longest a SIGKILLed holder on another host keeps a restart out. */
export const LEASE_TTL_MS = 15_000;

/** How often a lease that can lapse or be lost (Redis, PostgreSQL) is renewed or checked. */
export const LEASE_RENEW_MS = 5_000;

/** The newswire process holding a lease: its pid, and where that pid means it. */
export interface Holder extends Place {
  pid: number;
}

/**
 * Where a process runs. Its pid names it only within its pid namespace (containers sharing a
 * hostname may each have their own) and boot; those are known on Linux only.
 */
export interface Place {
  host: string;
  /** The inode of its /proc/self/ns/pid. */
  pidNamespace?: string;
  /** Its kernel's /proc/sys/kernel/random/boot_id. */
  bootId?: string;
}

/** The outcome of an attempt to take or keep the lease. */
type Claim = { held: true } | { held: false; holder: Holder | undefined };

const HELD: Claim = { held: true };

/** One store's side of the lease. */
interface LeaseBackend {
  /** Takes the lease, or tells who holds it. Rejects when the store cannot be asked. */
  take(): Promise<Claim>;
  /** Renews or checks a held lease; absent where it cannot lapse. Rejects when the store cannot be asked. */
  keep?(): Promise<Claim>;
  /** Gives the lease up. */
  release(): Promise<void>;
}

const ONE_INSTANCE = "SQLite and Redis stores serve one instance; several instances share a PostgreSQL store";

/** What `read` returns, or undefined when it throws (a file Linux alone has). */
function readable(read: () => string): string | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** Where this process runs. */
export function here(): Place {
  const pidNamespace = readable(() => String(statSync("/proc/self/ns/pid").ino));
  const bootId = readable(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
  return { host: hostname(), ...(pidNamespace ? { pidNamespace } : {}), ...(bootId ? { bootId } : {}) };
}

/**
 * How a lease names its holder: `TOKEN PID@HOST PIDNS BOOTID` ("-" for an unknown part). The token
 * tells two leases of one process apart (tests take several).
 */
function selfName(): string {
  const place = here();
  return `${randomBytes(4).toString("hex")} ${process.pid}@${place.host} ${place.pidNamespace ?? "-"} ${place.bootId ?? "-"}`;
}

/** The holder a lease's name names (see selfName); names without a pid namespace or boot id are read too. */
export function parseHolder(name: string | undefined): Holder | undefined {
  const match = /^\S+ (\d+)@(\S*)(?: (\S+))?(?: (\S+))?$/.exec(name ?? "");
  if (!match) return undefined;
  const [, pid, host, pidNamespace, bootId] = match;
  const known = (part: string | undefined) => (part === undefined || part === "-" ? undefined : part);
  return { pid: Number(pid), host: host!, ...(known(pidNamespace) ? { pidNamespace: pidNamespace! } : {}), ...(known(bootId) ? { bootId: bootId! } : {}) };
}

/** A holder as the refusal names it; its host only when it is not this one. */
function holderText(holder: Holder): string {
  return holder.host === hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on ${holder.host}`;
}

/**
 * Whether `holder`'s pid names the same process seen from `place`: the same host, pid namespace and
 * boot, each known. (A holder in another container of the same hostname has a pid this process
 * cannot see, and would look gone.)
 */
export function sharesPids(holder: Holder, place: Place): boolean {
  const same = (mine: string | undefined, theirs: string | undefined) => mine !== undefined && mine === theirs;
  return holder.host === place.host && same(place.pidNamespace, holder.pidNamespace) && same(place.bootId, holder.bootId);
}

/** Whether `holder` is a process this one can check that no longer exists (it crashed without releasing). */
function isGone(holder: Holder | undefined): boolean {
  if (!holder || !sharesPids(holder, here())) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/**
 * SQLite: the lock file is in SQLite's default rollback-journal mode, where a connection's open
 * read transaction (a SHARED lock) keeps every other connection from committing. To take the
 * lease, a process writes its name (a commit: it fails while another holds the lease), then opens
 * a read transaction that it keeps for its lifetime and checks that the name read is its own (two
 * processes starting together may both commit; the last one wins). The locks are the operating
 * system's (fcntl), dropped with the process however it ends. A row with a heartbeat would keep a
 * SIGKILLed instance's restart out until the row expired.
 */
async function sqliteBackend(url: string, self: string): Promise<LeaseBackend> {
  // A busy wait covers another process's own take, which holds the file for milliseconds; a held
  // lease makes the commit fail after it.
  const db = new KeyvSqlite({ uri: `sqlite://${sqlitePath(url)}.lock`, table: "holder", busyTimeout: 500 });
  const holderName = async () => ((await db.query("SELECT value FROM holder WHERE key = 'instance'")) as { value: string }[])[0]?.value;
  return {
    async take() {
      try {
        await db.query("BEGIN IMMEDIATE");
        await db.query("INSERT INTO holder (key, value) VALUES ('instance', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", self);
        await db.query("COMMIT");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "SQLITE_BUSY") throw error;
        await db.query("ROLLBACK").catch(() => undefined);
        return { held: false, holder: parseHolder(await holderName()) };
      }
      await db.query("BEGIN");
      const name = await holderName();
      if (name === self) return HELD;
      await db.query("COMMIT");
      return { held: false, holder: parseHolder(name) };
    },
    release: () => db.close(),
  };
}

const REDIS_KEY = "newswire:instance";

/** Sets the lease to ARGV[1] for ARGV[3] ms when it is absent, ARGV[1] or ARGV[2]; replies 1, or the holder's name. */
const REDIS_CLAIM = `local holder = redis.call('GET', KEYS[1])
if not holder or holder == ARGV[1] or holder == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return holder`;

const REDIS_RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Redis: a key that expires unless renewed. A key found absent while running (a Redis without
 * persistence restarted) is set again: nobody else holds it.
 */
async function redisBackend(url: string, self: string): Promise<LeaseBackend> {
  const client = await redisClient(url);
  // A failed command rejects, and the renewal says so; the event alone would end the process.
  client.on("error", () => undefined);
  await client.connect();
  /** Sets the lease to this process unless another holds it (`replacing` aside); resolves with that other's name. */
  const claim = async (replacing = ""): Promise<string | undefined> => {
    const reply = await client.eval(REDIS_CLAIM, { keys: [REDIS_KEY], arguments: [self, replacing, String(LEASE_TTL_MS)] });
    return reply === 1 ? undefined : String(reply);
  };
  const outcome = (holder: string | undefined): Claim => (holder === undefined ? HELD : { held: false, holder: parseHolder(holder) });
  return {
    async take() {
      const holder = await claim();
      return outcome(holder !== undefined && isGone(parseHolder(holder)) ? await claim(holder) : holder);
    },
    keep: async () => outcome(await claim()),
    async release() {
      await client.eval(REDIS_RELEASE, { keys: [REDIS_KEY], arguments: [self] }).catch(() => undefined);
      await client.close();
    },
  };
}

/** A held instance lease. */
export interface InstanceLease {
  /** Renews or checks the lease now (a timer does so every {@link LEASE_RENEW_MS}). */
  keep(): Promise<void>;
  /** Stops renewing and gives the lease up. */
  release(): Promise<void>;
}

/**
 * Takes the instance lease of the store at `url` (already opened, so its URL is valid). While it
 * runs, a lease taken over by another instance (after a stall longer than {@link LEASE_TTL_MS})
 * is logged and `lost` is called, once.
 * @throws ConfigError naming the store and its holder when another instance holds it, or the cause
 *   when the store cannot be asked.
 */
export async function takeInstanceLease(url: string, { logger, lost }: { logger: Logger; lost: () => void }): Promise<InstanceLease> {
  const scheme = url.slice(0, url.indexOf(":"));
  // An in-memory SQLite store is this process's alone; on PostgreSQL instances cooperate.
  if ((scheme === "sqlite" && sqlitePath(url) === ":memory:") || scheme === "postgres" || scheme === "postgresql") {
    return { keep: async () => undefined, release: async () => undefined };
  }
  const self = selfName();
  const store = displayStoreUrl(url);
  let backend: LeaseBackend;
  let claim: Claim;
  try {
    backend = scheme === "sqlite" ? await sqliteBackend(url, self) : await redisBackend(url, self);
    claim = await backend.take();
  } catch (error) {
    throw new ConfigError(`store (${store}) instance lease cannot be taken: ${errorLine(error)}`);
  }
  if (!claim.held) {
    await backend.release().catch(() => undefined);
    const holder = claim.holder ? `, ${holderText(claim.holder)}` : "";
    throw new ConfigError(`another newswire instance is using this store (${store}${holder}): stop it first; ${ONE_INSTANCE}`);
  }

  let failing = false;
  let ended = false;
  let keeping: Promise<void> = Promise.resolve();
  const keepOnce = async () => {
    if (ended || !backend.keep) return;
    try {
      const kept = await backend.keep();
      if (failing) logger.info("instance lease renewed again");
      failing = false;
      if (kept.held) return;
      ended = true;
      clearInterval(timer);
      logger.error(
        { holder: kept.holder },
        "another newswire instance took this store's lease while this one could not keep it (a stall, a lost connection): stopping",
      );
      lost();
    } catch (error) {
      if (!failing) logger.warn({ err: errorLine(error) }, "instance lease not renewed; retrying");
      failing = true;
    }
  };
  const keep = () => (keeping = keeping.then(keepOnce));
  const timer = backend.keep ? setInterval(keep, LEASE_RENEW_MS).unref() : undefined;
  return {
    keep,
    async release() {
      clearInterval(timer);
      await keeping;
      ended = true;
      await backend.release();
    },
  };
}
