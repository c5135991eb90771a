/**
 * The sender lease: of the instances on one PostgreSQL, the one holding it sends (the one budget
 * of the bot token, ~30 messages a second, is this instance's), and polls Telegram for updates
 * unless webhooks bring them. It is a session advisory lock on a connection of its own, so the
 * server drops it the moment that connection ends, however the holder died: a SIGKILLed sender's
 * lock is free as soon as its socket closes, and a standby asking every second takes over within
 * about a second. (A lock row with a heartbeat would keep the sends stopped until it expired.)
 *
 * The holder checks its connection every few seconds: once it is lost, the server may have given
 * the lock to another instance already, so this one must stop sending at once (`lost`, called once).
 * Needs a session-mode connection: a pooler in transaction mode (PgBouncer's default) cannot hold it.
 */
import pg from "pg";
import type { Logger } from "pino";
import { errorLine } from "../health/outage.js";
import { STORE_TIMEOUT_MS } from "./guard.js";
import { CONNECT_TIMEOUT_MS } from "./keyv.js";

/**
 * The advisory lock's key ("news"): the one newswire 0.x took as its instance lease, so that during
 * an upgrade an old instance and a new sender never both send (the later of them waits or is refused).
 */
const SENDER_LOCK_KEY = 0x6e657773;

/** How often a standby asks for the lease, and how often the holder checks its connection. */
export const SENDER_RETRY_MS = 1_000;
export const SENDER_CHECK_MS = 2_000;

export interface SenderLeaseOptions {
  logger: Logger;
  /** Called once, when this instance takes the lease. */
  acquired: () => void;
  /** Called once, when a held lease may be lost (its connection failed): stop sending now. */
  lost: () => void;
  retryMs?: number;
  checkMs?: number;
}

export interface SenderLease {
  /** Whether this instance holds the lease now. */
  readonly held: boolean;
  /** Gives the lease up (a standby stops asking). */
  release(): Promise<void>;
}

/** Asks for the sender lease on the PostgreSQL at `url` until this instance holds it or releases it. */
export function takeSenderLease(url: string, options: SenderLeaseOptions): SenderLease {
  const { logger, retryMs = SENDER_RETRY_MS, checkMs = SENDER_CHECK_MS } = options;
  let client: pg.Client | undefined;
  let held = false;
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  let lostCalled = false;

  const later = (run: () => Promise<void>, ms: number) => {
    if (!released) timer = setTimeout(() => void run(), ms);
  };
  const drop = async () => {
    const closing = client;
    client = undefined;
    await closing?.end().catch(() => undefined);
  };
  const lose = (error: unknown) => {
    if (lostCalled || released) return;
    lostCalled = true;
    held = false;
    logger.error({ err: errorLine(error) }, "the sender lease may be lost (its database connection failed): another instance may be sending now, so this one stops");
    void drop();
    options.lost();
  };

  const check = async () => {
    try {
      await client!.query("SELECT 1");
      later(check, checkMs);
    } catch (error) {
      lose(error);
    }
  };

  const attempt = async () => {
    try {
      if (!client) {
        const fresh = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, query_timeout: STORE_TIMEOUT_MS, keepAlive: true });
        // A connection that fails while held loses the lease; while waiting, the next attempt connects anew.
        // (Only while it is the current one: a dropped client's late events are no news.)
        fresh.on("error", (error) => {
          if (client !== fresh) return;
          if (held) lose(error);
          else void drop();
        });
        fresh.on("end", () => client === fresh && held && lose(new Error("connection ended")));
        client = fresh;
        await fresh.connect();
      }
      const [row] = (await client.query<{ taken: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS taken", [SENDER_LOCK_KEY])).rows;
      if (released) return;
      if (row?.taken) {
        held = true;
        logger.info("this instance holds the sender lease: it sends, and polls Telegram unless webhooks bring the updates");
        options.acquired();
        later(check, checkMs);
        return;
      }
    } catch (error) {
      logger.debug({ err: errorLine(error) }, "sender lease not asked for; will retry");
      await drop();
    }
    later(attempt, retryMs);
  };

  void attempt();
  return {
    get held() {
      return held;
    },
    async release() {
      released = true;
      held = false;
      clearTimeout(timer);
      // Ending the session frees the lock.
      await drop();
    },
  };
}
