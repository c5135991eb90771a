/**
 * Readiness (`GET /readyz`): the store answers and is not failing, Telegram answers, and the last
 * poll cycle is recent. The verdict is a pure function of the probes' results and the clock; the probes are
 * bounded in time and shared by concurrent requests, so a busy prober cannot turn /readyz into a
 * flood of getMe calls.
 */
import { GrammyError, HttpError, type Api } from "grammy";
import type { OutageState } from "../health/outage.js";

/**
 * How this instance receives updates: long polling, the webhook, or neither ("standby": in
 * long-polling mode on PostgreSQL, where only the sending instance polls Telegram).
 */
export type Role = "long-polling" | "webhook" | "standby";

/** This instance's part: how it gets updates, and whether it is the one sending broadcasts. */
export interface Part {
  role: Role;
  sending: boolean;
}

/** One check's result: ok, or what failed (short, for operators; never a secret). */
export type CheckResult = { ok: true } | { ok: false; error: string };

/** A probe resolves when its dependency answers and rejects with what went wrong. */
export type Probe = () => Promise<void>;

/** What `/readyz` answers, as JSON. */
export interface Readiness {
  ready: boolean;
  role: Role;
  /** Whether this instance sends the broadcasts (one instance of several on PostgreSQL; always true on one). */
  sending: boolean;
  /** The names of the checks that failed, e.g. ["telegram"]. */
  failed: string[];
  checks: { store: CheckResult; telegram: CheckResult; poll: CheckResult };
}

/** A probe's deadline: a dependency slower than this counts as unreachable. */
export const PROBE_TIMEOUT_MS = 3_000;

/** How long a probe's result is reused: at most one getMe per this interval, however often /readyz is asked. */
export const PROBE_REUSE_MS = 2_000;

/** The last poll cycle may be this many POLL_CRON intervals old before the instance is not ready. */
export const STALE_POLL_INTERVALS = 3;

/** The shortest staleness bound, so a per-second POLL_CRON does not flap on a busy machine. */
export const MIN_STALE_POLL_MS = 60_000;

/**
 * How old the last poll cycle may be: {@link STALE_POLL_INTERVALS} times the longest gap between
 * the schedule's next ticks, and at least {@link MIN_STALE_POLL_MS}. (Irregular schedules, such as
 * weekdays only, are judged by their upcoming gaps.)
 */
export function pollStaleAfterMs(nextTicks: readonly number[]): number {
  let longest = 0;
  for (let index = 1; index < nextTicks.length; index++) longest = Math.max(longest, nextTicks[index]! - nextTicks[index - 1]!);
  return Math.max(MIN_STALE_POLL_MS, STALE_POLL_INTERVALS * longest);
}

/** The poll check: a cycle completed within `staleAfterMs` of `now`. */
export function pollCheck(lastCycleAt: number | undefined, now: number, staleAfterMs: number): CheckResult {
  if (lastCycleAt === undefined) return { ok: false, error: "no poll cycle has completed yet" };
  const age = now - lastCycleAt;
  if (age > staleAfterMs) {
    return { ok: false, error: `the last poll cycle completed ${Math.round(age / 1000)} s ago (more than ${Math.round(staleAfterMs / 1000)} s)` };
  }
  return { ok: true };
}

/** The verdict: ready when every check is ok. */
export function readiness({ role, sending }: Part, checks: Readiness["checks"]): Readiness {
  const failed = Object.entries(checks).flatMap(([name, result]) => (result.ok ? [] : [name]));
  return { ready: failed.length === 0, role, sending, failed, checks };
}

/** Runs `probe` with a deadline of `timeoutMs`; its failure, described without secrets. */
export async function runProbe(probe: (signal: AbortSignal) => Promise<unknown>, timeoutMs = PROBE_TIMEOUT_MS): Promise<CheckResult> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await Promise.race([
      probe(signal),
      new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error(`no answer within ${timeoutMs} ms`)), { once: true })),
    ]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: describe(error, timeoutMs) };
  }
}

/**
 * Only the error's kind and code: grammY's messages name the method, and a raw network error could
 * carry the request URL, which holds the bot token.
 */
function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof GrammyError) return `Telegram answered ${error.error_code}`;
  if (error instanceof HttpError) return "Telegram cannot be reached (network error)";
  if (error instanceof Error && error.message === `no answer within ${timeoutMs} ms`) return error.message;
  if (!(error instanceof Error)) return "failed";
  // A system error's code (ECONNREFUSED) says enough; its message may hold a store URL's password.
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === "string" ? `${error.name} (${code})` : error.name;
}

/** Telegram answers getMe (with an Api that does not retry: a probe should fail fast). */
export function telegramProbe(api: Api): (signal: AbortSignal) => Promise<unknown> {
  // grammY types the signal with its own shim; Node's AbortSignal is what it uses at run time.
  return (signal) => api.getMe(signal as never);
}

/** What a store namespace offers a probe: a Keyv instance, whose reads reject when the store fails (throwOnErrors). */
export interface ProbedStore {
  get(key: string): Promise<unknown>;
}

/** The store answers a read. */
export function storeProbe(store: ProbedStore): () => Promise<unknown> {
  return () => store.get("readiness-probe");
}

/**
 * The store check: the probe's read worked, and the store's health has no outage under way. A full
 * disk fails every write while reads still work, so only the calls newswire makes can tell.
 */
export function storeCheck(read: CheckResult, outage: OutageState | undefined, now: number): CheckResult {
  if (!read.ok || !outage) return read;
  return { ok: false, error: `store calls failing for ${Math.round((now - outage.since) / 1000)} s (${outage.failures} failed)` };
}

/**
 * Shares one run of `check` among the calls while it runs and within `reuseMs` of its start.
 * `check` must not reject (as {@link runProbe}).
 */
export function reused(check: () => Promise<CheckResult>, reuseMs = PROBE_REUSE_MS, now: () => number = Date.now): () => Promise<CheckResult> {
  let last: { at: number; result: Promise<CheckResult>; settled: boolean } | undefined;
  return () => {
    const at = now();
    if (!last || (last.settled && at - last.at >= reuseMs)) {
      const run = { at, result: check(), settled: false };
      void run.result.finally(() => (run.settled = true));
      last = run;
    }
    return last.result;
  };
}
