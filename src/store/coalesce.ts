/**
 * Write coalescing: many callers ask for "persist the current state"; at most one write runs at a
 * time, and every request made while one runs is served by the single write that follows it.
 * Hot paths (outbox progress, the recent-items index) so cost one store write per disk round trip,
 * not one per event, while each caller still learns when its own change is durable.
 */
export type CoalescedWrite = () => Promise<void>;

/** Wraps `write` (which must persist the state as it is when it starts) into a coalescing writer. */
export function coalesce(write: () => Promise<void>): CoalescedWrite {
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;

  const run = (): Promise<void> => {
    running = write().finally(() => {
      running = undefined;
    });
    return running;
  };

  return () => {
    if (!running) return run();
    // A write is under way with older state: queue exactly one more, shared by all who ask now.
    next ??= running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      next = undefined;
      return run();
    });
    return next;
  };
}
