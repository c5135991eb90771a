/**
 * Whether a dependency (the store, Telegram) is failing, told to the operator once per outage:
 * one log line when it starts, one when it ends, however many calls fail in between. Calls are
 * grouped by kind (reads, writes): an outage ends only when every kind that failed works again,
 * so a full disk, which fails writes while reads still work, is one outage and not one per write.
 */
import type { Logger } from "pino";

/** An outage under way, for `/status`. */
export interface OutageState {
  since: number;
  /** The first failure's message. */
  error: string;
  /** Failed calls since it started. */
  failures: number;
}

/** What to do, beyond the log line, when an outage starts or ends. */
export interface OutageListener {
  down?(state: OutageState): void;
  up?(state: OutageState): void;
}

/** The first line of an error's message: enough to name a cause, never a stack. */
export function errorLine(error: unknown): string {
  // A connection to "localhost" tries each address and fails with an AggregateError without a message.
  if (error instanceof AggregateError && !error.message && error.errors.length > 0) return errorLine(error.errors[0]);
  const message = error instanceof Error ? error.message || error.name : String(error);
  return message.split("\n")[0]!;
}

/** Tracks one dependency's health; see the module comment. */
export class Outage {
  private current: OutageState | undefined;
  private readonly failing = new Set<string>();

  constructor(
    /** Names the dependency in log lines ("store", "Telegram"). */
    readonly name: string,
    private readonly logger: Logger,
    private readonly listener: OutageListener = {},
    private readonly now: () => number = Date.now,
  ) {}

  /** The outage under way, if any. */
  get state(): OutageState | undefined {
    return this.current;
  }

  /** A call of `kind` failed. */
  failed(kind: string, error: unknown): void {
    this.failing.add(kind);
    if (this.current) {
      this.current.failures++;
      return;
    }
    this.current = { since: this.now(), error: errorLine(error), failures: 1 };
    this.logger.error({ dependency: this.name, kind, err: this.current.error }, `${this.name} is failing`);
    this.listener.down?.(this.current);
  }

  /** A call of `kind` worked. */
  succeeded(kind: string): void {
    if (!this.current || !this.failing.delete(kind) || this.failing.size > 0) return;
    const ended = this.current;
    this.current = undefined;
    this.logger.info({ dependency: this.name, downMs: this.now() - ended.since, failures: ended.failures }, `${this.name} works again`);
    this.listener.up?.(ended);
  }
}
