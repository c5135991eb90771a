/**
 * Statements on newswire's own tables, beside Keyv's (PostgreSQL's pool, SQLite's file): one
 * runner type for both, and the one wrapper that gives each statement the store's deadline and
 * verdict, as guard.ts gives Keyv's calls.
 */
import { withDeadline, STORE_TIMEOUT_MS, type Reporting } from "./guard.js";

/** A statement's runner: rows of the result. */
export type Query = <Row extends object = Record<string, unknown>>(text: string, values?: readonly unknown[]) => Promise<Row[]>;

/** `run` with each statement under the deadline and reported to `reporting`. */
export function reportedQuery(run: (text: string, values: readonly unknown[]) => Promise<unknown[]>, reporting: Reporting, timeoutMs = STORE_TIMEOUT_MS): Query {
  return async (text, values = []) => {
    // A statement with a CTE may write, so only a plain SELECT counts as a read.
    const kind = /^\s*select\b/i.test(text) ? "read" : "write";
    try {
      const rows = await withDeadline(run(text, values), "query", timeoutMs);
      reporting.health?.succeeded(kind);
      return rows as never;
    } catch (error) {
      reporting.health?.failed(kind, error);
      reporting.failed?.("sql");
      throw error;
    }
  };
}
