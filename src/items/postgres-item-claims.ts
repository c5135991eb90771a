/**
 * Item claims on PostgreSQL, shared by the instances polling one database: a claim is a row per
 * identity key, taken in one statement (`INSERT … ON CONFLICT`) so that two instances meeting one
 * story at once never both take it. A claim older than CLAIM_STALE_MS is taken over: its poll died
 * with its instance; such claims of keys no poll meets again are deleted now and then.
 */
import { randomUUID } from "node:crypto";
import type { Postgres } from "../store/postgres.js";
import { holdable, type Hold, type ItemClaims } from "./item-claims.js";

/** Far longer than a poll holds its claims (fetch, summaries, a store write or two). */
export const CLAIM_STALE_MS = 10 * 60_000;

/** Keys in order, so two instances claiming overlapping keys wait instead of deadlocking. */
const CLAIM = `
  INSERT INTO newswire_item_claims (key, owner, at)
  SELECT key, $2, $3 FROM unnest($1::text[]) AS key ORDER BY key
  ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, at = EXCLUDED.at
  WHERE newswire_item_claims.at < $4
  RETURNING key`;

const SWEEP = "DELETE FROM newswire_item_claims WHERE at < $1";

const RELEASE = "DELETE FROM newswire_item_claims WHERE key = ANY($1::text[]) AND owner = $2";

/** Claims in the table `newswire_item_claims` (migrations/1764670000007_item_claims.sql). */
export class PostgresItemClaims implements ItemClaims {
  /** This instance's name on its claims. */
  private readonly owner = randomUUID();
  private sweptAt: number | undefined;

  constructor(
    private readonly database: Postgres,
    private readonly now: () => number = Date.now,
  ) {}

  async hold(keysPerEntry: readonly (readonly string[])[]): Promise<Hold> {
    const all = [...new Set(keysPerEntry.flat())];
    if (all.length === 0) return { held: keysPerEntry.map(() => false), release: async () => undefined };
    const now = this.now();
    if (this.sweptAt === undefined || now - this.sweptAt >= CLAIM_STALE_MS) {
      this.sweptAt = now;
      // Housekeeping: a sweep that fails is made at the next one, and fails no claim.
      await this.database.query(SWEEP, [now - CLAIM_STALE_MS]).catch(() => undefined);
    }
    const taken = new Set((await this.database.query<{ key: string }>(CLAIM, [all, this.owner, now, now - CLAIM_STALE_MS])).map(({ key }) => key));
    const { held } = holdable(keysPerEntry, (key) => taken.has(key));
    // Every key taken is released, those of entries not held too.
    const release = async () => {
      await this.database.query(RELEASE, [[...taken], this.owner]).catch(() => undefined);
    };
    return { held, release };
  }
}
